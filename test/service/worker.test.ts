/** Workers on one Redis share the jobs; every run is recorded once; a retried job keeps its run id. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RunHistory } from '../../src/trackers/history.js';
import { historyLocation } from '../../src/trackers/locations.js';
import { enqueueSync, openSyncQueue, syncSchedules, type SyncJobData } from '../../src/trackers/scheduler.js';
import {
  runIdForJob,
  startWorker,
  type StrataWorker,
  type SyncJobSummary,
} from '../../src/trackers/worker.js';
import { loadProject } from '../../src/project/load-project.js';
import {
  createProject,
  deleteKeys,
  fileDestination,
  ITEMS,
  REDIS_URL,
  silentLogger,
  uniquePrefix,
  type TestProject,
} from './support.js';

type SyncJob = Job<SyncJobData, SyncJobSummary>;

const prefix = uniquePrefix('worker');
const queue = openSyncQueue({ redis: REDIS_URL, prefix });
let project: TestProject;
let workers: StrataWorker[] = [];
let history: RunHistory;

beforeAll(async () => {
  project = await createProject();
  for (const name of ['alpha', 'beta', 'gamma'])
    project.writeTracker(name, { destinations: [fileDestination(`out/${name}.json`)] });
  // `blocked` is a file, so the folder `blocked/` cannot be made: the destination fails until it goes.
  writeFileSync(join(project.dir, 'blocked'), '');
  project.writeTracker('flaky', { destinations: [fileDestination('blocked/flaky.json')] });
  project.writeTracker('ticking', {
    schedule: '* * * * * *',
    destinations: [fileDestination('out/ticking.json')],
  });
  workers = await Promise.all(
    ['w1', 'w2'].map((name) =>
      startWorker({
        projectDir: project.dir,
        redis: REDIS_URL,
        prefix,
        concurrency: 1,
        name,
        logger: silentLogger(),
      }),
    ),
  );
  history = await RunHistory.open(historyLocation(project.dir, loadProject(project.dir).config));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await history?.close();
  await queue.close();
  await deleteKeys(prefix);
  project?.cleanup();
});

/** Every job that becomes active / completes / fails on any worker, with the worker's name. */
function watchWorkers() {
  const active: { worker: string; job: string }[] = [];
  const completed = new Map<string, { worker: string; job: SyncJob }>();
  const failed: { worker: string; job: SyncJob }[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const off: (() => void)[] = [];
  for (const [i, { worker }] of workers.entries()) {
    const name = `w${i + 1}`;
    const onActive = (job: SyncJob) => active.push({ worker: name, job: job.id! });
    const onCompleted = (job: SyncJob) => {
      if (completed.has(job.id!)) throw new Error(`job ${job.id} completed twice`);
      completed.set(job.id!, { worker: name, job });
      wake();
    };
    const onFailed = (job: SyncJob | undefined) => {
      if (job) failed.push({ worker: name, job });
      wake();
    };
    worker.on('active', onActive);
    worker.on('completed', onCompleted);
    worker.on('failed', onFailed);
    off.push(() => {
      worker.off('active', onActive);
      worker.off('completed', onCompleted);
      worker.off('failed', onFailed);
    });
  }
  const until = async (done: () => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for jobs');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  return { active, completed, failed, until, stop: () => off.forEach((f) => f()) };
}

describe('workers', () => {
  test('two workers share the jobs: each runs some, none runs twice, each run is recorded once', async () => {
    const watch = watchWorkers();
    const ids: string[] = [];
    for (let i = 0; i < 2; i++)
      for (const name of ['alpha', 'beta', 'gamma']) ids.push(await enqueueSync(queue, name, 'manual'));
    await watch.until(() => ids.every((id) => watch.completed.has(id)));
    watch.stop();

    expect(watch.failed).toEqual([]);
    // Each job ran on one worker (a job whose tracker was running elsewhere waited, then came back).
    expect([...new Set(watch.active.map((a) => a.job))].sort()).toEqual([...ids].sort());
    const byWorker = new Set(ids.map((id) => watch.completed.get(id)!.worker));
    expect(byWorker).toEqual(new Set(['w1', 'w2']));

    const runIds = ids.map((id) => runIdForJob(watch.completed.get(id)!.job));
    expect(new Set(runIds).size).toBe(ids.length);
    for (const id of ids) {
      const { job } = watch.completed.get(id)!;
      expect(job.returnvalue).toMatchObject({
        runId: runIdForJob(job),
        tracker: job.data.tracker,
        status: 'succeeded',
        rows: ITEMS.length,
      });
    }
    const runs = (await history.list({ limit: 100 })).filter((r) => runIds.includes(r.id));
    expect(runs.map((r) => r.id).sort()).toEqual([...runIds].sort());
    for (const run of runs)
      expect(run).toMatchObject({ trigger: 'manual', status: 'succeeded', rows: ITEMS.length });

    const alpha = JSON.parse(readFileSync(join(project.dir, 'out', 'alpha.json'), 'utf8'));
    expect(alpha).toEqual(ITEMS.map(([item_id, name, qty]) => ({ item_id, name, qty })));
  });

  test('runs of one tracker never overlap, whichever workers take its jobs', async () => {
    const watch = watchWorkers();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await enqueueSync(queue, 'beta', 'manual'));
    await watch.until(() => ids.every((id) => watch.completed.has(id)));
    watch.stop();
    expect(watch.failed).toEqual([]);
    const runIds = new Set(ids.map((id) => runIdForJob(watch.completed.get(id)!.job)));
    const runs = (await history.list({ tracker: 'beta', limit: 100 }))
      .filter((r) => runIds.has(r.id))
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    expect(runs).toHaveLength(4);
    for (const [earlier, later] of runs.slice(1).map((r, i) => [runs[i]!, r] as const))
      expect(later.startedAt >= earlier.endedAt, `${earlier.id} and ${later.id} overlap`).toBe(true);
    // Both workers were asked: the later jobs waited for the running one rather than fail.
    expect(watch.active.length).toBeGreaterThanOrEqual(4);
  });

  test('a failed run is retried with the same run id, and recorded as one run', async () => {
    const watch = watchWorkers();
    let failedRun: { id: string; status: string; error?: string } | undefined;
    const first = new Promise<void>((resolve) => {
      const onFailed = async () => {
        for (const { worker } of workers) worker.off('failed', onFailed);
        // The obstacle goes, so the retry (600 ms later) can succeed; the first attempt is recorded as failed.
        rmSync(join(project.dir, 'blocked'), { force: true });
        failedRun = (await history.list({ tracker: 'flaky' }))[0];
        resolve();
      };
      for (const { worker } of workers) worker.on('failed', onFailed);
    });
    const id = await enqueueSync(queue, 'flaky', 'manual', { backoff: { type: 'fixed', delay: 600 } });
    await first;
    await watch.until(() => watch.completed.has(id));
    watch.stop();

    const job = watch.completed.get(id)!.job;
    const runId = runIdForJob(job);
    expect(job.attemptsMade).toBe(2);
    expect(failedRun).toMatchObject({ id: runId, status: 'failed' });
    expect(failedRun?.error).toMatch(/flaky\.json|blocked/);
    expect(job.returnvalue).toMatchObject({ runId, status: 'succeeded' });
    const runs = await history.list({ tracker: 'flaky' });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: runId, status: 'succeeded', trigger: 'manual' });
  });

  test('a scheduled tracker runs as trigger "schedule"', async () => {
    const watch = watchWorkers();
    await syncSchedules(queue, loadProject(project.dir).model.trackers.values());
    await watch.until(() => [...watch.completed.values()].some(({ job }) => job.data.tracker === 'ticking'));
    await syncSchedules(queue, []);
    watch.stop();
    const { job } = [...watch.completed.values()].find(({ job }) => job.data.tracker === 'ticking')!;
    const runs = await history.list({ tracker: 'ticking' });
    expect(runs.find((r) => r.id === runIdForJob(job))).toMatchObject({
      trigger: 'schedule',
      status: 'succeeded',
    });
  });

  test('a job for a tracker that no longer exists fails at once, without retries', async () => {
    const watch = watchWorkers();
    const id = await enqueueSync(queue, 'ghost', 'manual');
    await watch.until(() => watch.failed.some((f) => f.job.id === id));
    watch.stop();
    const job = await queue.getJob(id);
    expect(await job?.getState()).toBe('failed');
    expect(job?.failedReason).toBe("tracker 'ghost' no longer exists");
    expect(job?.attemptsMade).toBe(1);
  });
});
