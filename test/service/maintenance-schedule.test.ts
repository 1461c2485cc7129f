/**
 * Scheduled maintenance through a real Redis (a queue prefix of its own) and a real worker:
 * the Job Schedulers follow strata.yaml `maintenance:` (project default, per-table override,
 * `off`); a scheduled job runs on a worker and compacts the table without changing an answer;
 * a failing job is logged, retried, and leaves the worker taking jobs.
 */
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAINTENANCE_JOB,
  MAINTENANCE_JOB_OPTIONS,
  maintenanceSchedulerId,
  openMaintenanceQueue,
  syncMaintenanceSchedules,
  type MaintenanceJobData,
  type MaintenanceJobSummary,
} from '../../src/cdc/maintenance-queue.js';
import type { TableMaintenance } from '../../src/cdc/maintenance.js';
import { loadProject } from '../../src/project/load-project.js';
import { createService } from '../../src/service/create-service.js';
import { startWorker, type StrataWorker } from '../../src/trackers/worker.js';
import { createCdcProject, RAW_COLUMNS, TABLE, type CdcProject } from '../cdc/support.js';
import { capturingLogger, deleteKeys, REDIS_URL, uniquePrefix } from './support.js';

const prefix = uniquePrefix('maintenance');
const queue = openMaintenanceQueue({ redis: REDIS_URL, prefix });
let project: CdcProject;
const workers: StrataWorker[] = [];

beforeAll(async () => {
  project = createCdcProject({
    maintenance: {
      schedule: '30 2 * * *',
      timezone: 'Europe/Paris',
      tables: { 'raw.thing_changes': { schedule: '0 4 * * 0' } },
    },
  });
  const opened = await project.open();
  try {
    await opened.warehouse.createTable(TABLE, RAW_COLUMNS);
    for (let seq = 1; seq <= 6; seq++)
      await opened.warehouse.appendRows(TABLE, [
        {
          id: seq % 3,
          val: `v${seq}`,
          _op: seq === 5 ? 'd' : 'u',
          _op_ts: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
          _seq: seq,
        },
      ]);
  } finally {
    await opened.close();
  }
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close(true)));
  await queue.close();
  await deleteKeys(prefix);
  project?.cleanup();
});

async function schedulers() {
  const all = await queue.getJobSchedulers(0, 100, true);
  return new Map(all.map((s) => [s.key, { pattern: s.pattern, tz: s.tz, data: s.template?.data }]));
}

function completion(
  worker: StrataWorker,
  table: string,
): Promise<{ summary: MaintenanceJobSummary; attempts: number }> {
  return new Promise((resolve) => {
    const onCompleted = (
      job: Job<MaintenanceJobData, MaintenanceJobSummary>,
      summary: MaintenanceJobSummary,
    ) => {
      if (job.data.table !== table) return;
      worker.maintenance!.worker.off('completed', onCompleted);
      resolve({ summary, attempts: job.attemptsMade });
    };
    worker.maintenance!.worker.on('completed', onCompleted);
  });
}

describe('scheduled maintenance', () => {
  it('keeps one Job Scheduler per CDC table, as strata.yaml says', async () => {
    const { model, config } = loadProject(project.dir);
    const changes = await syncMaintenanceSchedules(queue, model, config);
    expect(changes.added).toEqual(['raw.thing_changes']);
    expect(await schedulers()).toEqual(
      new Map([
        [
          maintenanceSchedulerId('raw.thing_changes'),
          { pattern: '0 4 * * 0', tz: 'Europe/Paris', data: { table: 'raw.thing_changes' } },
        ],
      ]),
    );
    // Unchanged definitions change nothing; `off` removes the scheduler.
    expect((await syncMaintenanceSchedules(queue, model, config)).unchanged).toEqual(['raw.thing_changes']);
    project.writeConfig({ maintenance: { tables: { thing: { schedule: 'off' } } } });
    const off = loadProject(project.dir);
    expect((await syncMaintenanceSchedules(queue, off.model, off.config)).removed).toEqual([
      'raw.thing_changes',
    ]);
    expect((await schedulers()).size).toBe(0);
    // The default: daily at 03:00 UTC.
    project.writeConfig({});
    const plain = loadProject(project.dir);
    await syncMaintenanceSchedules(queue, plain.model, plain.config);
    expect((await schedulers()).get(maintenanceSchedulerId('raw.thing_changes'))).toMatchObject({
      pattern: '0 3 * * *',
      tz: 'UTC',
    });
  });

  it('a scheduled job runs on a worker and compacts the table without changing an answer', async () => {
    const answers = await project.answers();
    expect(answers.length).toBeGreaterThan(0);
    const worker = await startWorker({
      projectDir: project.dir,
      redis: REDIS_URL,
      prefix,
      name: 'maintainer',
      pipelines: false,
      logger: capturingLogger().logger,
    });
    workers.push(worker);
    const done = completion(worker, 'raw.thing_changes');
    // The scheduler the service keeps, made to fire every second (its job template unchanged),
    // so the test does not wait for 03:00.
    await queue.upsertJobScheduler(
      maintenanceSchedulerId('raw.thing_changes'),
      { pattern: '* * * * * *', tz: 'UTC' },
      { name: MAINTENANCE_JOB, data: { table: 'raw.thing_changes' }, opts: MAINTENANCE_JOB_OPTIONS },
    );
    const { summary } = await done;
    await queue.removeJobScheduler(maintenanceSchedulerId('raw.thing_changes'));
    expect(summary).toMatchObject({ table: 'raw.thing_changes', compacted: true, newSnapshot: true });
    expect(await project.answers()).toEqual(answers);
  });

  it('a failing job is logged and retried, and the worker goes on taking jobs', async () => {
    const { logger, lines } = capturingLogger();
    let calls = 0;
    const worker = await startWorker({
      projectDir: project.dir,
      redis: REDIS_URL,
      prefix,
      name: 'flaky-maintainer',
      pipelines: false,
      logger,
      maintenanceRun: async (_dir, table): Promise<TableMaintenance> => {
        calls++;
        if (calls === 1) throw new Error('the catalog is unreachable');
        return { table, expiredSnapshots: 0, removedFiles: [], rewrittenManifests: 0, newSnapshot: false };
      },
    });
    workers.push(worker);
    // Stop the first worker taking this job: only the flaky one runs it.
    await workers[0]!.close(true);
    const done = completion(worker, 'raw.thing_changes');
    await queue.add(
      MAINTENANCE_JOB,
      { table: 'raw.thing_changes' },
      { ...MAINTENANCE_JOB_OPTIONS, backoff: { type: 'fixed', delay: 10 } },
    );
    const { attempts } = await done;
    expect(attempts).toBe(2);
    const failure = lines.find((l) => l.msg === 'maintenance job failed');
    expect(failure).toMatchObject({
      table: 'raw.thing_changes',
      willRetry: true,
      error: 'the catalog is unreachable',
    });
    // Still taking jobs.
    const next = completion(worker, 'raw.other');
    await queue.add(MAINTENANCE_JOB, { table: 'raw.other' }, MAINTENANCE_JOB_OPTIONS);
    expect((await next).summary.table).toBe('raw.other');
  });

  it('strata serve keeps the maintenance schedulers in Redis', async () => {
    const servePrefix = uniquePrefix('maintenance-serve');
    const serveQueue = openMaintenanceQueue({ redis: REDIS_URL, prefix: servePrefix });
    project.writeConfig({ maintenance: { tables: { thing: { schedule: '15 1 * * *' } } } });
    const app = await createService({
      projectDir: project.dir,
      port: 0,
      host: '127.0.0.1',
      redisUrl: REDIS_URL,
      prefix: servePrefix,
      logger: capturingLogger().logger,
      debounceMs: 50,
      reloadIntervalMs: 0,
    });
    try {
      const all = await serveQueue.getJobSchedulers(0, -1, true);
      expect(all.map((s) => [s.key, s.pattern, s.tz])).toEqual([
        [maintenanceSchedulerId('raw.thing_changes'), '15 1 * * *', 'UTC'],
      ]);
    } finally {
      await app.close();
      await serveQueue.close();
      await deleteKeys(servePrefix);
    }
  });
});
