/**
 * A worker killed (SIGKILL) during a sync: BullMQ's stalled-job check hands the job to another
 * worker, which runs it with the same run id, and the BI table (mode append, idempotent by
 * run id) gets every row exactly once. The killed worker is a real `strata worker` process,
 * caught at a chosen moment by holding a lock: on the destination table (it dies inside its
 * INSERT, nothing committed), or on the run history (it dies after its write committed, before
 * the job was acknowledged: without a stable run id the rerun would append the rows again).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { enqueueSync, openSyncQueue, type SyncJobData } from '../../src/trackers/scheduler.js';
import {
  runIdForJob,
  startWorker,
  type StrataWorker,
  type SyncJobSummary,
} from '../../src/trackers/worker.js';
import { RunHistory } from '../../src/trackers/history.js';
import { historyLocation } from '../../src/trackers/locations.js';
import { loadProject } from '../../src/project/load-project.js';
import { POSTGRES_URL, uniqueSchema } from '../support/databases.js';
import { REPO_ROOT } from '../support/example-project.js';
import {
  createProject,
  deleteKeys,
  ITEMS,
  REDIS_URL,
  silentLogger,
  uniquePrefix,
  type TestProject,
} from './support.js';

const prefix = uniquePrefix('crash');
const schema = uniqueSchema('svc_crash');
const queue = openSyncQueue({ redis: REDIS_URL, prefix });
const admin = new pg.Client({ connectionString: POSTGRES_URL });
const locker = new pg.Client({ connectionString: POSTGRES_URL });
let project: TestProject;
let child: ChildProcess | undefined;
let rescuer: StrataWorker | undefined;
const runIds: string[] = [];

beforeAll(async () => {
  project = await createProject();
  await admin.connect();
  await locker.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  for (const name of ['mid_write', 'after_write']) {
    project.writeTracker(name.replace('_', '-'), {
      destinations: [
        { type: 'table', connection: 'env:STRATA_TEST_BI_URL', table: `${schema}.${name}`, mode: 'append' },
      ],
    });
    await admin.query(`CREATE TABLE ${schema}.${name} (item_id text, name text, qty bigint)`);
  }
  // The run history exists before the workers start (they only write to it).
  await (await openHistory()).close();
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rescuer?.close();
  await queue.close();
  await locker.end().catch(() => undefined);
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.query('DELETE FROM strata_sync_ledger WHERE run_id = ANY($1)', [runIds]).catch(() => undefined);
  await admin.end();
  await deleteKeys(prefix);
  project?.cleanup();
});

/** Starts `strata worker` and resolves once it is ready; collects its JSON log lines. */
async function startChildWorker(logs: Record<string, unknown>[]): Promise<ChildProcess> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli.ts',
      '--project',
      project.dir,
      'worker',
      '--redis',
      REDIS_URL,
      '--queue-prefix',
      prefix,
      '--concurrency',
      '1',
      '--lock-duration',
      '1500',
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, STRATA_TEST_BI_URL: POSTGRES_URL },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const ready = new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) =>
      reject(new Error(`strata worker exited with ${code}: ${JSON.stringify(logs)}`)),
    );
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'worker ready') resolve();
      } catch {
        logs.push({ msg: line });
      }
    });
  });
  await ready;
  return proc;
}

function openHistory(): Promise<RunHistory> {
  return RunHistory.open(historyLocation(project.dir, loadProject(project.dir).config));
}

/** Kills the child worker; resolves once it is gone. */
async function kill(proc: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
  proc.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

/** A second worker that checks for stalled jobs often; resolves with the job once it finished it. */
async function rescue(jobId: string): Promise<{ job: Job<SyncJobData, SyncJobSummary>; stalled: string[] }> {
  rescuer = await startWorker({
    projectDir: project.dir,
    redis: REDIS_URL,
    prefix,
    concurrency: 1,
    lockDuration: 1500,
    stalledInterval: 500,
    env: { ...process.env, STRATA_TEST_BI_URL: POSTGRES_URL },
    logger: silentLogger(),
  });
  const stalled: string[] = [];
  rescuer.worker.on('stalled', (id) => stalled.push(id));
  try {
    const job = await new Promise<Job<SyncJobData, SyncJobSummary>>((resolve, reject) => {
      rescuer!.worker.on('completed', (j) => j.id === jobId && resolve(j));
      rescuer!.worker.on('failed', (j, e) => j?.id === jobId && reject(e));
    });
    return { job, stalled };
  } finally {
    await rescuer.close();
    rescuer = undefined;
  }
}

async function expectExactlyOnce(table: string, runId: string): Promise<void> {
  const { rows } = await admin.query(
    `SELECT item_id, name, qty::int AS qty FROM ${schema}.${table} ORDER BY item_id`,
  );
  expect(rows).toEqual(ITEMS.map(([item_id, name, qty]) => ({ item_id, name, qty })));
  const ledger = await admin.query('SELECT count(*)::int AS n FROM strata_sync_ledger WHERE run_id = $1', [
    runId,
  ]);
  expect(ledger.rows[0].n).toBe(1);
  // The run is recorded once, by the worker that finished it.
  const history = await openHistory();
  try {
    const runs = await history.list({ tracker: table.replace('_', '-') });
    expect(runs.map((r) => [r.id, r.status])).toEqual([[runId, 'succeeded']]);
  } finally {
    await history.close();
  }
}

test('killed inside its INSERT: another worker reruns the job with the same run id; no row lost', async () => {
  // Hold the destination table: the worker's INSERT waits inside its transaction.
  await locker.query('BEGIN');
  await locker.query(`LOCK TABLE ${schema}.mid_write IN ACCESS EXCLUSIVE MODE`);
  const logs: Record<string, unknown>[] = [];
  child = await startChildWorker(logs);
  const jobId = await enqueueSync(queue, 'mid-write', 'manual');
  await vi.waitFor(
    async () => {
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE $1`,
        [`insert into%${schema}%mid_write%`],
      );
      expect(rows[0].n).toBeGreaterThan(0);
    },
    { timeout: 15_000, interval: 50 },
  );
  const childRunId = logs.find((l) => l.msg === 'sync started')?.runId;
  await kill(child);
  // Let the dead worker's INSERT through: its transaction never commits.
  await locker.query('COMMIT');

  const { job, stalled } = await rescue(jobId);
  const runId = runIdForJob(job);
  runIds.push(runId);
  expect(stalled).toEqual([jobId]);
  expect(childRunId).toBe(runId);
  expect(job.returnvalue).toMatchObject({
    runId,
    status: 'succeeded',
    destinations: [{ status: 'succeeded' }],
  });
  await expectExactlyOnce('mid_write', runId);
});

test('killed after its write committed, before the job finished: the rerun does not append again', async () => {
  // Hold the run history for writing: the worker writes the table, then waits to record its run.
  const location = historyLocation(project.dir, loadProject(project.dir).config);
  if (location.client !== 'sqlite') throw new Error('this test expects the default SQLite run history');
  const runsDb = new Database(location.filename);
  runsDb.exec('BEGIN IMMEDIATE');
  try {
    const logs: Record<string, unknown>[] = [];
    child = await startChildWorker(logs);
    const jobId = await enqueueSync(queue, 'after-write', 'manual');
    await vi.waitFor(
      async () => {
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.after_write`);
        expect(rows[0].n).toBe(ITEMS.length);
      },
      { timeout: 15_000, interval: 50 },
    );
    const childRunId = logs.find((l) => l.msg === 'sync started')?.runId;
    await kill(child);
    runsDb.exec('ROLLBACK');

    const { job, stalled } = await rescue(jobId);
    const runId = runIdForJob(job);
    runIds.push(runId);
    expect(stalled).toEqual([jobId]);
    expect(childRunId).toBe(runId);
    // The ledger knew the run id: the rerun wrote nothing.
    expect(job.returnvalue).toMatchObject({
      runId,
      status: 'succeeded',
      destinations: [{ status: 'succeeded' }],
    });
    await expectExactlyOnce('after_write', runId);
  } finally {
    if (runsDb.inTransaction) runsDb.exec('ROLLBACK');
    runsDb.close();
  }
});
