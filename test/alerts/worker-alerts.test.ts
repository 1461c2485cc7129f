/**
 * Alerts from a worker: a job whose run fails (and is retried by BullMQ with the same run id)
 * raises one alert, not one per attempt; the next successful job sends one recovery notice. A
 * second channel that is down costs nothing but log lines: the worker keeps taking jobs.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { enqueueSync, openSyncQueue, type SyncJobData } from '../../src/trackers/scheduler.js';
import { startWorker, type StrataWorker, type SyncJobSummary } from '../../src/trackers/worker.js';
import {
  capturingLogger,
  createProject,
  deleteKeys,
  fileDestination,
  REDIS_URL,
  uniquePrefix,
  type TestProject,
} from '../service/support.js';
import { startWebhook, type WebhookReceiver } from './receivers.js';

const prefix = uniquePrefix('alerts-worker');
const queue = openSyncQueue({ redis: REDIS_URL, prefix });
let project: TestProject;
let hook: WebhookReceiver;
let worker: StrataWorker;
const { logger, lines } = capturingLogger();

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

beforeAll(async () => {
  project = await createProject();
  hook = await startWebhook();
  writeFileSync(
    join(project.dir, 'strata.yaml'),
    JSON.stringify({
      duckdb: { database: project.database },
      alerts: {
        channels: {
          hook: { type: 'webhook', url: 'env:W_HOOK_URL' },
          down: { type: 'webhook', url: 'env:W_DOWN_URL' },
        },
        delivery: { attempts: 2 },
      },
    }),
  );
  // `blocked` is a file, so `blocked/flaky.json` cannot be written until it goes.
  writeFileSync(join(project.dir, 'blocked'), '');
  project.writeTracker('flaky', { destinations: [fileDestination('blocked/flaky.json')] });
  worker = await startWorker({
    projectDir: project.dir,
    redis: REDIS_URL,
    prefix,
    concurrency: 1,
    pipelines: false,
    logger,
    env: {
      ...process.env,
      W_HOOK_URL: hook.url,
      W_DOWN_URL: `http://127.0.0.1:${await closedPort()}/down-secret-4242`,
    },
  });
});

afterAll(async () => {
  await worker?.close();
  await queue.close();
  await deleteKeys(prefix);
  await hook?.close();
  project?.cleanup();
});

/** Resolves once the job is finished for good (completed, or failed with no attempt left). */
function finished(id: string): Promise<'completed' | 'failed'> {
  return new Promise((resolve) => {
    const onCompleted = (job: Job<SyncJobData, SyncJobSummary>) => {
      if (job.id !== id) return;
      off();
      resolve('completed');
    };
    const onFailed = (job: Job<SyncJobData, SyncJobSummary> | undefined) => {
      if (job?.id !== id || job.attemptsMade < (job.opts.attempts ?? 1)) return;
      off();
      resolve('failed');
    };
    const off = () => {
      worker.worker.off('completed', onCompleted);
      worker.worker.off('failed', onFailed);
    };
    worker.worker.on('completed', onCompleted);
    worker.worker.on('failed', onFailed);
  });
}

async function until(done: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a retried failing job alerts once; the next success sends one recovery; a down channel hurts nothing', async () => {
  const id = await enqueueSync(queue, 'flaky', 'manual', {
    attempts: 2,
    backoff: { type: 'fixed', delay: 50 },
  });
  expect(await finished(id)).toBe('failed');
  await until(() => hook.bodies.length >= 1, 'the alert');
  // The down channel's delivery gives up (2 attempts, 1 s apart) in the background.
  await until(() => lines.some((l) => l.msg === 'alert not delivered'), 'the down channel to give up');
  expect(hook.bodies).toEqual([
    expect.objectContaining({ key: 'tracker:flaky:failed_run', state: 'firing', tracker: 'flaky' }),
  ]);

  rmSync(join(project.dir, 'blocked'));
  const next = await enqueueSync(queue, 'flaky', 'manual');
  expect(await finished(next)).toBe('completed');
  await until(() => hook.bodies.length >= 2, 'the recovery notice');
  expect(hook.bodies[1]).toEqual(
    expect.objectContaining({ key: 'tracker:flaky:failed_run', state: 'resolved' }),
  );
  expect(JSON.stringify(lines)).not.toContain('down-secret-4242');
  expect(JSON.stringify(lines)).not.toContain(hook.url);
});
