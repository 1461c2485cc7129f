/**
 * Metrics without a worker: pipeline gauges from a real pipeline state store, schedule lag from
 * what Job Scheduler jobs carry, a source that fails, and the bearer token of both endpoints.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { StrataMetrics } from '../../src/metrics/metrics.js';
import { plannedStart, scheduleLagSeconds } from '../../src/metrics/schedule-lag.js';
import { startMetricsServer } from '../../src/metrics/server.js';
import { PipelineStateStore } from '../../src/pipelines/state.js';
import { createService } from '../../src/service/create-service.js';
import { snapshot } from '../../src/service/metrics/metrics.service.js';
import { histogram, sample, scrape, series, type Scrape } from '../support/prometheus.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createProject, REDIS_URL, silentLogger, uniquePrefix, deleteKeys } from '../service/support.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function scrapeOf(metrics: StrataMetrics): Promise<Scrape> {
  const text = await metrics.scrape();
  return {
    status: 200,
    contentType: metrics.contentType,
    text,
    families: new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f])),
  };
}

describe('pipeline gauges', () => {
  test('lag, status, dead letters and confirmed audit mismatches per table, from the state store', async () => {
    const store = await PipelineStateStore.open({ client: 'sqlite', filename: join(dir, 'runs.db') });
    try {
      const committedAt = Date.UTC(2026, 0, 5, 9, 0, 0);
      await store.update('studio', {
        status: 'running',
        lastCommitAt: new Date(committedAt).toISOString(),
        lagSeconds: 2,
        lagBytes: 4096,
        deadLetters: 3,
      });
      const audit = {
        pipeline: 'studio',
        at: new Date(committedAt).toISOString(),
        sourceKeys: 10,
        targetKeys: 10,
        missing: ['["k1"]', '["k2"]'],
        extra: ['["k9"]'],
        confirmedMissing: ['["k1"]'],
        confirmedExtra: [],
      };
      await store.recordAudit({ ...audit, table: 'studio.talent', confirmedMissing: ['["k0"]', '["k1"]'] });
      await store.recordAudit({ ...audit, table: 'studio.talent' }); // the newest of the table counts
      await store.recordAudit({
        ...audit,
        table: 'studio.agency',
        confirmedMissing: [],
        confirmedExtra: ['["x"]'],
      });
      const now = committedAt + 10_000;
      const metrics = new StrataMetrics({ role: 'serve', processMetrics: false });
      metrics.setSources({
        pipelines: async () => [
          snapshot('studio', await store.get('studio'), await store.audits('studio'), now),
          snapshot('never-ran', undefined, [], now),
        ],
      });
      const s = await scrapeOf(metrics);
      // Committed 10 s ago, 2 s behind its newest change then: 12 s.
      expect(sample(s, 'strata_pipeline_lag_seconds', { pipeline: 'studio' })).toBe(12);
      expect(sample(s, 'strata_pipeline_lag_seconds', { pipeline: 'never-ran' })).toBeUndefined();
      expect(sample(s, 'strata_pipeline_lag_bytes', { pipeline: 'studio' })).toBe(4096);
      expect(sample(s, 'strata_pipeline_dead_letters', { pipeline: 'studio' })).toBe(3);
      expect(
        series(s, 'strata_pipeline_status', { pipeline: 'studio' }).filter((x) => x.value === 1),
      ).toEqual([{ labels: { pipeline: 'studio', status: 'running' }, value: 1 }]);
      expect(sample(s, 'strata_pipeline_status', { pipeline: 'never-ran', status: 'idle' })).toBe(1);
      const mismatch = (table: string, kind: string) =>
        sample(s, 'strata_pipeline_audit_mismatches', { pipeline: 'studio', table, kind });
      expect([mismatch('studio.talent', 'missing'), mismatch('studio.talent', 'extra')]).toEqual([1, 0]);
      expect([mismatch('studio.agency', 'missing'), mismatch('studio.agency', 'extra')]).toEqual([0, 1]);
    } finally {
      await store.close();
    }
  });
});

describe('scrape-time sources', () => {
  test('a failing source leaves its gauges absent and is counted; the others still answer', async () => {
    const metrics = new StrataMetrics({ role: 'serve', processMetrics: false });
    let fail = false;
    metrics.setSources({
      queues: async () => {
        if (fail) throw new Error('Redis is down');
        return [{ queue: 'strata-sync', counts: { waiting: 4, active: 1 } }];
      },
      trackers: async () => [
        { tracker: 't', state: 'stale', staleAfter: 2, reason: '', successAgeSeconds: 7200 },
      ],
    });
    const first = await scrapeOf(metrics);
    expect(sample(first, 'strata_queue_jobs', { queue: 'strata-sync', state: 'waiting' })).toBe(4);
    expect(sample(first, 'strata_queue_jobs', { queue: 'strata-sync', state: 'failed' })).toBe(0);
    fail = true;
    const second = await scrapeOf(metrics);
    expect(series(second, 'strata_queue_jobs')).toEqual([]);
    expect(sample(second, 'strata_metrics_scrape_errors_total', { source: 'queues' })).toBe(1);
    expect(sample(second, 'strata_tracker_stale', { tracker: 't' })).toBe(1);
    expect(sample(second, 'strata_tracker_last_success_age_seconds', { tracker: 't' })).toBe(7200);
  });

  test('run records: duration from the recorded start and end, outcomes of destinations by kind', async () => {
    const metrics = new StrataMetrics({ role: 'worker', processMetrics: false });
    const outcome = { created: 2, updated: 1, deleted: 0, unchanged: 5, apiCalls: 3, bytes: 100 };
    metrics.recordRun(
      {
        id: 'r1',
        tracker: 't',
        trigger: 'change',
        status: 'partial',
        startedAt: '2026-01-05T09:00:00.000Z',
        endedAt: '2026-01-05T09:00:42.000Z',
        rows: 8,
        apiCalls: 3,
        bytes: 100,
        destinations: [
          { destination: 'google_sheets 1Ab/Tab', status: 'succeeded', ...outcome },
          {
            destination: 'airtable appX/T',
            status: 'failed',
            ...outcome,
            created: 0,
            updated: 0,
            error: 'x',
          },
        ],
      },
      ['google_sheets', 'airtable'],
    );
    const s = await scrapeOf(metrics);
    expect(
      sample(s, 'strata_tracker_runs_total', { tracker: 't', outcome: 'partial', trigger: 'change' }),
    ).toBe(1);
    expect(histogram(s, 'strata_tracker_run_duration_seconds', { tracker: 't' })).toEqual({
      count: 1,
      sum: 42,
      infBucket: 1,
    });
    expect(
      sample(s, 'strata_destination_rows_written_total', {
        destination_kind: 'google_sheets',
        operation: 'updated',
      }),
    ).toBe(1);
    expect(
      sample(s, 'strata_destination_writes_total', { destination_kind: 'airtable', outcome: 'failed' }),
    ).toBe(1);
    expect(sample(s, 'strata_destination_bytes_sent_total', { destination_kind: 'airtable' })).toBe(100);
  });
});

describe('schedule lag', () => {
  const job = (opts: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id: 'repeat:tracker:t:1767603600000',
    opts,
    repeatJobKey: 'tracker:t',
    processedOn: 1767603600000 + 1500,
    attemptsMade: 0,
    ...extra,
  });

  test('from the planned time a Job Scheduler job carries to the start of its first attempt', () => {
    expect(plannedStart(job({ prevMillis: 1767603600000 }))).toBe(1767603600000);
    expect(scheduleLagSeconds(job({ prevMillis: 1767603600000 }))).toBe(1.5);
    // Without prevMillis, the id's last part is the same time.
    expect(scheduleLagSeconds(job({}))).toBe(1.5);
    // Not made by a scheduler, or a retry (its delay is the backoff): no lag.
    expect(scheduleLagSeconds(job({}, { repeatJobKey: undefined }))).toBeUndefined();
    expect(scheduleLagSeconds(job({ prevMillis: 1767603600000 }, { attemptsMade: 1 }))).toBeUndefined();
  });
});

describe('bearer token (strata.yaml metrics.token)', () => {
  test('a worker metrics server asks for it', async () => {
    const metrics = new StrataMetrics({ role: 'worker', processMetrics: false });
    const server = await startMetricsServer(metrics, { port: 0, token: 'scrape-secret-1' });
    try {
      expect((await scrape(server.url)).status).toBe(401);
      expect((await scrape(server.url, { Authorization: 'Bearer wrong' })).status).toBe(401);
      const ok = await scrape(server.url, { Authorization: 'Bearer scrape-secret-1' });
      expect(ok.status).toBe(200);
      expect(sample(ok, 'strata_info', { role: 'worker' })).toBe(1);
    } finally {
      await server.close();
    }
  });

  test('serve asks for it, and refuses to serve when its variable is unset', async () => {
    const project = await createProject();
    const prefix = uniquePrefix('metrics-token');
    writeFileSync(join(project.dir, 'strata.yaml'), 'metrics: { token: env:STRATA_TEST_METRICS_TOKEN }\n');
    process.env.STRATA_TEST_METRICS_TOKEN = 'scrape-secret-2';
    const app = await createService({
      projectDir: project.dir,
      port: 0,
      host: '127.0.0.1',
      redisUrl: REDIS_URL,
      prefix,
      logger: silentLogger(),
      watch: false,
      reloadIntervalMs: 0,
    });
    try {
      const url = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/metrics`;
      expect((await scrape(url)).status).toBe(401);
      const ok = await scrape(url, { Authorization: 'Bearer scrape-secret-2' });
      expect(ok.status).toBe(200);
      expect(sample(ok, 'strata_info', { role: 'serve' })).toBe(1);
      delete process.env.STRATA_TEST_METRICS_TOKEN;
      expect((await scrape(url, { Authorization: 'Bearer scrape-secret-2' })).status).toBe(503);
    } finally {
      delete process.env.STRATA_TEST_METRICS_TOKEN;
      await app.close();
      await deleteKeys(prefix);
      project.cleanup();
    }
  });
});
