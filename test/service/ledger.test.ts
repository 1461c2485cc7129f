/**
 * Issue 7 §4 with workers: the run ledger lives in Redis, shared by every worker. Keyless
 * Airtable append adds a run's rows on every run, and a retried job whose first attempt lost
 * a response does not add them twice.
 */
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { CLAIM_TTL_MS } from '../../src/destinations/ledger.js';
import { RedisRunLedger } from '../../src/destinations/redis-ledger.js';
import { loadProject } from '../../src/project/load-project.js';
import { enqueueSync, openSyncQueue, type SyncJobData } from '../../src/trackers/scheduler.js';
import { startWorker, type StrataWorker, type SyncJobSummary } from '../../src/trackers/worker.js';
import { startFakeAirtable, type FakeAirtable } from '../support/fake-airtable.js';
import {
  createProject,
  deleteKeys,
  ITEMS,
  REDIS_URL,
  silentLogger,
  uniquePrefix,
  type TestProject,
} from './support.js';

const prefix = uniquePrefix('ledger');
const connections = [new Redis(REDIS_URL), new Redis(REDIS_URL)];

afterAll(async () => {
  await deleteKeys(prefix);
  for (const c of connections) c.disconnect();
});

describe('RedisRunLedger', () => {
  test('every connection reads what another wrote; claims are kept a day', async () => {
    const [a, b] = connections.map((redis) => new RedisRunLedger(redis, { prefix: `${prefix}:l:` }));
    const now = Date.UTC(2026, 0, 5, 9);
    const longAgo = now - CLAIM_TTL_MS - 1;
    await a!.write('run-0', 'airtable:appX/T', 0, { sentAt: longAgo, records: ['rec0'] }, longAgo);
    await a!.write('run-1', 'airtable:appX/T', 0, { sentAt: now }, now);
    await a!.write('run-1', 'airtable:appX/T', 1, { sentAt: now, records: ['rec1', 'rec2'] }, now + 10);
    expect(await b!.read('run-1', 'airtable:appX/T')).toEqual(
      new Map([
        [0, { sentAt: now }],
        [1, { sentAt: now, records: ['rec1', 'rec2'] }],
      ]),
    );
    expect(await b!.read('run-2', 'airtable:appX/T')).toEqual(new Map());
    expect(await b!.claimed('airtable:appX/T', now)).toEqual(new Set(['rec1', 'rec2']));
    // A claim older than a day is dropped when newer ones are written.
    expect(await b!.claimed('airtable:appX/T', 0)).not.toContain('rec0');
  });
});

describe('keyless Airtable append under workers', () => {
  const queue = openSyncQueue({ redis: REDIS_URL, prefix });
  let project: TestProject;
  let airtable: FakeAirtable;
  let worker: StrataWorker;

  beforeAll(async () => {
    project = await createProject();
    project.writeTracker('log', {
      destinations: [{ type: 'airtable', baseId: 'appLedger', table: 'Log', mode: 'append' }],
    });
    airtable = await startFakeAirtable();
    const loaded = loadProject(project.dir);
    const labels = new Compiler(loaded.model)
      .compile('items', { dialect: 'duckdb' })
      .columns.map((c) => c.label);
    airtable.createTable('appLedger', 'Log', labels);
    worker = await startWorker({
      projectDir: project.dir,
      redis: REDIS_URL,
      prefix,
      concurrency: 1,
      env: {
        ...process.env,
        STRATA_AIRTABLE_TOKEN: airtable.token,
        STRATA_AIRTABLE_ENDPOINT_URL: airtable.url,
      },
      logger: silentLogger(),
    });
  });

  afterAll(async () => {
    await worker?.close();
    await queue.close();
    await airtable?.close();
    project?.cleanup();
  });

  function finished(id: string): Promise<Job<SyncJobData, SyncJobSummary>> {
    return new Promise((resolve, reject) => {
      worker.worker.on('completed', (job) => job.id === id && resolve(job));
      worker.worker.on(
        'failed',
        (job, e) => job?.id === id && job.attemptsMade >= (job.opts.attempts ?? 1) && reject(e),
      );
    });
  }

  test('each run appends its rows; a retried job does not append them twice', async () => {
    const first = await enqueueSync(queue, 'log', 'manual', { attempts: 1 });
    await finished(first);
    expect(airtable.records('appLedger', 'Log')).toHaveLength(ITEMS.length);

    // The second run's POST is applied but its answer is lost: the job fails and is retried.
    airtable.fail({ status: 422, method: 'POST', afterApply: true });
    const second = await enqueueSync(queue, 'log', 'manual', {
      attempts: 2,
      backoff: { type: 'fixed', delay: 200 },
    });
    const job = await finished(second);
    expect(job.attemptsMade).toBe(2);
    expect(job.returnvalue.destinations).toEqual([expect.objectContaining({ status: 'succeeded' })]);
    expect(airtable.records('appLedger', 'Log')).toHaveLength(2 * ITEMS.length);
    expect(airtable.writes().filter((w) => w.method === 'POST')).toHaveLength(2);
    // What the retry read came from Redis, where every worker finds it.
    const keys = await connections[0]!.keys(`${prefix}:ledger:*`);
    expect(keys.some((k) => k.endsWith(':claimed'))).toBe(true);
  });
});
