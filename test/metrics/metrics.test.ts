/**
 * GET /metrics of `strata serve` and of a `strata worker` on the real Redis: trackers run by the
 * worker (a file extract, an Airtable table whose fake answers 429 once, a tracker whose
 * credentials are missing, one on a per-second schedule), both endpoints scraped over HTTP and
 * read with a Prometheus text-format parser. Values are asserted by count, never by speed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { withWarehouse } from '../../src/engines/warehouse-location.js';
import { createService } from '../../src/service/create-service.js';
import { enqueueSync, openSyncQueue } from '../../src/trackers/scheduler.js';
import { startWorker, type StrataWorker } from '../../src/trackers/worker.js';
import { startFakeAirtable, type FakeAirtable } from '../support/fake-airtable.js';
import { expressions, familyOf, metricNames, readDashboard, variableMetricNames } from './dashboard.js';
import { histogram, sample, scrape, series, type Scrape } from '../support/prometheus.js';
import {
  createProject,
  deleteKeys,
  fileDestination,
  REDIS_URL,
  silentLogger,
  uniquePrefix,
  type TestProject,
} from '../service/support.js';

const prefix = uniquePrefix('metrics');
const queue = openSyncQueue({ redis: REDIS_URL, prefix });
const waitFor = (check: () => Promise<void> | void) => vi.waitFor(check, { timeout: 20_000, interval: 100 });

let project: TestProject;
let airtable: FakeAirtable;
let app: INestApplication;
let worker: StrataWorker;
let serveUrl: string;
let workerUrl: string;

/** The example project's `shop.item`, moved into the embedded Iceberg warehouse (which tells data age). */
async function icebergProject(): Promise<TestProject> {
  const p = await createProject();
  writeFileSync(join(p.dir, 'strata.yaml'), '{}\n');
  await withWarehouse(p.dir, {}, async (warehouse) => {
    const id = { namespace: 'shop', name: 'item' };
    await warehouse.createTable(id, [
      { name: 'item_id', type: 'string' },
      { name: 'name', type: 'string' },
      { name: 'qty', type: 'int' },
    ]);
    await warehouse.appendRows(id, [
      { item_id: 'i1', name: 'anvil', qty: 3 },
      { item_id: 'i2', name: 'bucket', qty: 5 },
      { item_id: 'i3', name: 'crate', qty: 7 },
    ]);
  });
  return p;
}

beforeAll(async () => {
  project = await icebergProject();
  airtable = await startFakeAirtable({ rateLimit: false });
  airtable.createTable('appMetrics', 'Items', ['Item Id', 'Name', 'Qty']);
  project.writeTracker('hourly', {
    schedule: '0 * * * *',
    destinations: [fileDestination('out/hourly.json')],
  });
  project.writeTracker('ticking', {
    schedule: '* * * * * *',
    destinations: [fileDestination('out/ticking.json')],
  });
  project.writeTracker('yearly', {
    schedule: '0 0 1 1 *',
    destinations: [fileDestination('out/yearly.json')],
  });
  project.writeTracker('to-airtable', {
    destinations: [
      { type: 'airtable', baseId: 'appMetrics', table: 'Items', mode: 'upsert', key: ['item_id'] },
    ],
  });
  project.writeTracker('broken', {
    destinations: [{ type: 'table', connection: 'env:STRATA_TEST_METRICS_MISSING_URL', table: 'bi.items' }],
  });

  app = await createService({
    projectDir: project.dir,
    port: 0,
    host: '127.0.0.1',
    redisUrl: REDIS_URL,
    prefix,
    logger: silentLogger(),
    watch: false,
    reloadIntervalMs: 0,
  });
  serveUrl = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/metrics`;
  worker = await startWorker({
    projectDir: project.dir,
    redis: REDIS_URL,
    prefix,
    concurrency: 2,
    logger: silentLogger(),
    pipelines: false,
    metricsPort: 0,
    env: {
      ...process.env,
      STRATA_AIRTABLE_TOKEN: airtable.token,
      STRATA_AIRTABLE_ENDPOINT_URL: airtable.url,
    },
  });
  workerUrl = (await worker.metricsServer)!.url;
});

afterAll(async () => {
  await worker?.close();
  await app?.close();
  await queue.close();
  await deleteKeys(prefix);
  await airtable?.close();
  project?.cleanup();
});

/** Queues a manual run and waits until its job has finished (completed or failed). */
async function runNow(tracker: string): Promise<void> {
  const id = await enqueueSync(queue, tracker, 'manual', { attempts: 1 });
  await waitFor(async () => {
    expect(['completed', 'failed']).toContain(await queue.getJobState(id));
  });
}

describe('GET /metrics', () => {
  test('a worker counts runs, rows, API calls, 429s and retries; serve tells queues and freshness', async () => {
    // The first request to the base is refused once; Retry-After: 0 keeps the retry immediate.
    airtable.fail({ status: 429, headers: { 'Retry-After': '0' }, times: 1 });
    await runNow('hourly');
    await runNow('to-airtable');
    await runNow('broken');

    // The per-second schedule's jobs run as they come: wait for two scheduled runs, then read all.
    let fromWorker: Scrape;
    await waitFor(async () => {
      fromWorker = await scrape(workerUrl);
      expect(
        sample(fromWorker, 'strata_tracker_runs_total', {
          tracker: 'ticking',
          trigger: 'schedule',
          outcome: 'succeeded',
        }),
      ).toBeGreaterThanOrEqual(2);
    });
    const w = fromWorker!;
    expect(w.status).toBe(200);
    expect(w.contentType).toContain('text/plain');
    expect(sample(w, 'strata_info', { role: 'worker' })).toBe(1);

    // Runs by tracker, outcome and trigger.
    expect(
      sample(w, 'strata_tracker_runs_total', { tracker: 'hourly', outcome: 'succeeded', trigger: 'manual' }),
    ).toBe(1);
    expect(
      sample(w, 'strata_tracker_runs_total', {
        tracker: 'to-airtable',
        outcome: 'succeeded',
        trigger: 'manual',
      }),
    ).toBe(1);
    expect(
      sample(w, 'strata_tracker_runs_total', { tracker: 'broken', outcome: 'failed', trigger: 'manual' }),
    ).toBe(1);
    expect(series(w, 'strata_tracker_runs_total', { tracker: 'broken' })).toHaveLength(1);
    expect(histogram(w, 'strata_tracker_run_duration_seconds', { tracker: 'hourly' })).toMatchObject({
      count: 1,
      infBucket: 1,
    });
    expect(sample(w, 'strata_tracker_result_rows_total', { tracker: 'hourly' })).toBe(3);

    // Rows and bytes per destination kind; the failed table destination wrote nothing.
    const fileRuns = sample(w, 'strata_destination_writes_total', {
      destination_kind: 'file',
      outcome: 'succeeded',
    })!;
    expect(fileRuns).toBeGreaterThanOrEqual(3); // hourly + at least two ticks
    expect(
      sample(w, 'strata_destination_rows_written_total', { destination_kind: 'file', operation: 'created' }),
    ).toBe(3 * fileRuns);
    expect(sample(w, 'strata_destination_bytes_sent_total', { destination_kind: 'file' })).toBeGreaterThan(0);
    expect(
      sample(w, 'strata_destination_rows_written_total', {
        destination_kind: 'airtable',
        operation: 'created',
      }),
    ).toBe(3);
    expect(
      sample(w, 'strata_destination_writes_total', { destination_kind: 'table', outcome: 'failed' }),
    ).toBe(1);
    expect(
      sample(w, 'strata_destination_rows_written_total', { destination_kind: 'table', operation: 'created' }),
    ).toBe(0);

    // Every request the fake received was counted, the 429 among them, and retried once.
    expect(sample(w, 'strata_destination_api_calls_total', { destination_kind: 'airtable' })).toBe(
      airtable.requests.length,
    );
    expect(airtable.requests.filter((r) => r.status === 429)).toHaveLength(1);
    expect(sample(w, 'strata_destination_rate_limited_total', { destination_kind: 'airtable' })).toBe(1);
    expect(
      sample(w, 'strata_destination_retries_total', { destination_kind: 'airtable', reason: 'rate_limited' }),
    ).toBe(1);
    expect(sample(w, 'strata_destination_bytes_sent_total', { destination_kind: 'airtable' })).toBe(
      airtable.requests.reduce((n, r) => n + r.bytes, 0),
    );

    // Scheduled jobs' lag, compile and query durations.
    expect(
      histogram(w, 'strata_schedule_lag_seconds', { queue: 'strata-sync' })!.count,
    ).toBeGreaterThanOrEqual(2);
    expect(
      histogram(w, 'strata_compile_duration_seconds', { origin: 'tracker' })!.count,
    ).toBeGreaterThanOrEqual(4);
    const queries = histogram(w, 'strata_query_duration_seconds', { origin: 'tracker', engine: 'duckdb' })!;
    // The broken tracker's query runs too (its destination fails afterwards).
    expect(queries.count).toBeGreaterThanOrEqual(5);

    // The worker reads the shared queue's counts at scrape time: the broken job failed (one attempt).
    expect(sample(w, 'strata_queue_jobs', { queue: 'strata-sync', state: 'failed' })).toBe(1);
    for (const state of ['waiting', 'active', 'delayed'])
      expect(sample(w, 'strata_queue_jobs', { queue: 'strata-sync', state })).toBeGreaterThanOrEqual(0);
    // Node.js process metrics, on the same registry.
    expect(w.families.has('process_cpu_user_seconds_total')).toBe(true);

    // serve: queues, and every tracker's freshness from the run history.
    const s = await scrape(serveUrl);
    expect(s.status).toBe(200);
    expect(sample(s, 'strata_info', { role: 'serve' })).toBe(1);
    expect(sample(s, 'strata_queue_jobs', { queue: 'strata-sync', state: 'failed' })).toBe(1);
    // Scheduled trackers each have their next job delayed.
    expect(sample(s, 'strata_queue_jobs', { queue: 'strata-sync', state: 'delayed' })).toBeGreaterThanOrEqual(
      2,
    );
    const dataAge = sample(s, 'strata_tracker_data_age_seconds', { tracker: 'hourly' });
    expect(dataAge).toBeGreaterThanOrEqual(0);
    expect(
      sample(s, 'strata_tracker_last_success_age_seconds', { tracker: 'hourly' }),
    ).toBeGreaterThanOrEqual(0);
    expect(sample(s, 'strata_tracker_stale', { tracker: 'hourly' })).toBe(0);
    expect(sample(s, 'strata_tracker_freshness_state', { tracker: 'hourly', state: 'fresh' })).toBe(1);
    expect(sample(s, 'strata_tracker_freshness_state', { tracker: 'yearly', state: 'pending' })).toBe(1);
    expect(
      sample(s, 'strata_tracker_freshness_state', { tracker: 'to-airtable', state: 'unscheduled' }),
    ).toBe(1);
    // Never succeeded: no success age, and no data age.
    expect(sample(s, 'strata_tracker_last_success_age_seconds', { tracker: 'broken' })).toBeUndefined();
    expect(sample(s, 'strata_tracker_data_age_seconds', { tracker: 'broken' })).toBeUndefined();
    expect(sample(s, 'strata_metrics_scrape_errors_total', { source: 'trackers' })).toBe(0);
  });

  test('the worker metrics server answers GET /metrics only', async () => {
    const other = await fetch(workerUrl.replace('/metrics', '/health'));
    expect(other.status).toBe(404);
    await other.text();
    const post = await fetch(workerUrl, { method: 'POST' });
    expect(post.status).toBe(405);
    await post.text();
  });
});

describe('the Grafana dashboard (ops/grafana/strata.json)', () => {
  test('every metric its PromQL reads is exported, with series, by serve or a worker', async () => {
    const dashboard = readDashboard();
    const used = new Set<string>(variableMetricNames(dashboard));
    for (const { expr } of expressions(dashboard)) for (const name of metricNames(expr)) used.add(name);
    expect(used.size).toBeGreaterThan(20);

    await runNow('hourly');
    const scrapes = [await scrape(serveUrl), await scrape(workerUrl)];
    const families = new Set(scrapes.flatMap((s) => [...s.families.keys()]));
    const withSeries = new Set(
      scrapes.flatMap((s) => [...s.families.values()].filter((f) => f.metrics.length > 0).map((f) => f.name)),
    );
    const missing = [...used].map((n) => familyOf(n, families)).filter((n) => !families.has(n));
    expect(missing).toEqual([]);
    // This project has no pipelines: their gauges are declared but empty (test below fills them).
    const empty = [...used]
      .map((n) => familyOf(n, families))
      .filter((n) => !withSeries.has(n) && !n.startsWith('strata_pipeline_'));
    expect(empty).toEqual([]);
  });
});
