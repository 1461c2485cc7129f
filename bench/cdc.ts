/**
 * `npm run bench:cdc`: CDC pipelines from the local PostgreSQL into the embedded Iceberg
 * warehouse, each figure beside a baseline measured in the same run.
 *  1. throughput: N changes (inserts, then updates of a quarter of them) streamed by logical
 *     replication and committed to Iceberg, from the first write to the last commit
 *     (baseline: PostgreSQL's own COPY of the same rows, and the warehouse's bulk append);
 *  2. the initial snapshot of an N-row table (DBLog chunks between watermarks);
 *  3. freshness at 1,000 changes/s: the time from a PostgreSQL commit to the row being
 *     readable in the raw table's current Iceberg snapshot (what `strata run` reads), p50
 *     and p95, with the default commit interval (1 s) and with 200 ms (baseline: the
 *     writer's own INSERT + COMMIT round trip).
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { readParquetSql } from '../src/warehouse/index.js';
import { PG_URL, startRun as start, Upstream } from '../test/pipelines/pg-support.js';
import { PipelineEnvironment, projectOf, type Project } from '../test/pipelines/support.js';

const N = Number(process.env.BENCH_CDC_ROWS ?? 200_000);
const RATE = 1_000;
const FRESHNESS_SECONDS = Number(process.env.BENCH_CDC_SECONDS ?? 20);

const TABLE = `(id bigint PRIMARY KEY, name text NOT NULL, qty integer, price numeric(12, 2), updated_at timestamptz, batch integer)`;
const ROWS = (from: number, to: number, batch = 0) =>
  `SELECT g, 'item ' || g, g % 100, (g % 1000) / 10.0, now(), ${batch} FROM generate_series(${from}, ${to}) g`;

const perSecond = (n: number, ms: number) => Math.round((n * 1000) / ms);
const fmt = (n: number) => n.toLocaleString('en-US');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function pipeline(upstream: Upstream, sink: string): Project {
  return projectOf([
    {
      path: 'pipelines/p.yaml',
      kind: 'pipeline',
      text: `name: ${upstream.pipeline}
source:
  type: postgres
  connection: env:STUDIO_DB_URL
  tables: [${upstream.schema}.item]
  snapshot: false
sink: ${sink}
`,
    },
  ]);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function committedEvents(env: PipelineEnvironment, name: string): Promise<number> {
  return (await env.store.get(name))?.eventsTotal ?? 0;
}

async function slotExists(upstream: Upstream): Promise<boolean> {
  const rows = await upstream.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active`, [
    `strata_${upstream.pipeline}`,
  ]);
  return rows.length > 0;
}

/** PostgreSQL's own COPY of N rows (out to a file, back into an empty table): the upstream's ceiling. */
async function copyBaseline(upstream: Upstream): Promise<number> {
  const file = `/tmp/strata-bench-cdc-${upstream.schema}.csv`;
  await upstream.query(`CREATE TABLE $schema.copy_source ${TABLE}`);
  await upstream.query(`INSERT INTO $schema.copy_source ${ROWS(1, N)}`);
  await upstream.query(`COPY $schema.copy_source TO '${file}' (FORMAT csv)`);
  await upstream.query(`CREATE TABLE $schema.copy_target ${TABLE}`);
  const t0 = performance.now();
  await upstream.query(`COPY $schema.copy_target FROM '${file}' (FORMAT csv)`);
  return performance.now() - t0;
}

/** The warehouse's bulk append of the same N rows in 10k batches: the sink's ceiling. */
async function appendBaseline(env: PipelineEnvironment): Promise<number> {
  const id = { namespace: 'baseline', name: 'item' };
  await env.warehouse.createTable(id, [
    { name: 'id', type: 'long' },
    { name: 'name', type: 'string' },
    { name: 'qty', type: 'long' },
    { name: 'price', type: 'decimal(38, 9)' },
    { name: 'updated_at', type: 'timestamp' },
    { name: '_op', type: 'string' },
    { name: '_op_ts', type: 'timestamp' },
    { name: '_seq', type: 'long' },
  ]);
  const now = new Date().toISOString();
  const t0 = performance.now();
  for (let from = 1; from <= N; from += 10_000) {
    const rows = [];
    for (let g = from; g < Math.min(from + 10_000, N + 1); g++)
      rows.push({
        id: g,
        name: `item ${g}`,
        qty: g % 100,
        price: (g % 1000) / 10,
        updated_at: now,
        _op: 'c',
        _op_ts: now,
        _seq: g,
      });
    await env.warehouse.appendRows(id, rows);
  }
  return performance.now() - t0;
}

async function throughput(): Promise<void> {
  const upstream = await Upstream.create();
  const env = await PipelineEnvironment.create();
  try {
    const copyMs = await copyBaseline(upstream);
    const appendMs = await appendBaseline(env);
    await upstream.query(`CREATE TABLE $schema.item ${TABLE}`);
    const project = pipeline(upstream, '{ type: iceberg, namespace: raw }');
    const run = start(env, project);
    await until(() => slotExists(upstream), 'the replication slot');
    const updates = N / 4;
    const t0 = performance.now();
    for (let from = 1; from <= N; from += 20_000)
      await upstream.query(`INSERT INTO $schema.item ${ROWS(from, Math.min(from + 19_999, N))}`);
    for (let from = 1; from <= updates; from += 20_000)
      await upstream.query(
        `UPDATE $schema.item SET qty = qty + 1 WHERE id BETWEEN ${from} AND ${Math.min(from + 19_999, updates)}`,
      );
    const written = performance.now() - t0;
    const total = N + updates;
    await until(async () => (await committedEvents(env, upstream.pipeline)) >= total, 'the last commit');
    const endToEnd = performance.now() - t0;
    await run.stop();

    console.log(
      `stream: ${fmt(total)} changes (${fmt(N)} inserts, ${fmt(updates)} updates) into Iceberg in ${(endToEnd / 1000).toFixed(1)} s = ` +
        `${fmt(perSecond(total, endToEnd))} changes/s end to end (upstream writes took ${(written / 1000).toFixed(1)} s; ` +
        `${(endToEnd / written).toFixed(2)}x the writes' own time)`,
    );
    console.log(
      `  baselines: PostgreSQL COPY of ${fmt(N)} rows ${fmt(perSecond(N, copyMs))} rows/s (${(copyMs / 1000).toFixed(1)} s); ` +
        `Iceberg bulk append ${fmt(perSecond(N, appendMs))} rows/s; the pipeline = ${(perSecond(total, endToEnd) / perSecond(N, copyMs)).toFixed(2)}x COPY, ` +
        `${(perSecond(total, endToEnd) / perSecond(N, appendMs)).toFixed(2)}x the bulk append`,
    );

    // 2. The initial snapshot of the same table, by a new pipeline.
    const snapshotUpstream = { ...upstream, pipeline: `${upstream.pipeline}_s` } as Upstream;
    const snapshotEnv = await PipelineEnvironment.create();
    try {
      const snapshotProject = projectOf([
        {
          path: 'pipelines/s.yaml',
          kind: 'pipeline',
          text: `name: ${snapshotUpstream.pipeline}
source: { type: postgres, connection: env:STUDIO_DB_URL, tables: [${upstream.schema}.item] }
sink: { type: iceberg, namespace: raw }
`,
        },
      ]);
      const t1 = performance.now();
      const snap = start(snapshotEnv, snapshotProject);
      await until(
        async () => (await committedEvents(snapshotEnv, snapshotUpstream.pipeline)) >= N,
        'the snapshot',
      );
      const snapshotMs = performance.now() - t1;
      await snap.stop();
      console.log(
        `snapshot: ${fmt(N)} rows in ${(snapshotMs / 1000).toFixed(1)} s = ${fmt(perSecond(N, snapshotMs))} rows/s ` +
          `(${(perSecond(N, snapshotMs) / perSecond(N, copyMs)).toFixed(2)}x COPY)`,
      );
    } finally {
      await snapshotEnv.dispose();
      await upstream
        .query(`SELECT pg_drop_replication_slot('strata_${snapshotUpstream.pipeline}')`)
        .catch(() => undefined);
      await upstream.query(`DROP PUBLICATION IF EXISTS strata_${snapshotUpstream.pipeline}`);
    }
  } finally {
    await env.dispose();
    await upstream.dispose();
  }
}

/** Commits 50-row transactions every 50 ms and notes when each becomes readable in Iceberg. */
async function freshness(commitInterval: string): Promise<void> {
  const upstream = await Upstream.create();
  const env = await PipelineEnvironment.create();
  const writer = new pg.Client({ connectionString: PG_URL });
  await writer.connect();
  try {
    await upstream.query(`CREATE TABLE $schema.item ${TABLE}`);
    const project = pipeline(
      upstream,
      `{ type: iceberg, namespace: raw, commitInterval: ${commitInterval} }`,
    );
    const run = start(env, project);
    await until(() => slotExists(upstream), 'the replication slot');
    const committedAt = new Map<number, number>();
    const roundTrips: number[] = [];
    const visible = new Map<number, number>();
    let stopPolling = false;
    const poller = (async () => {
      const raw = { namespace: 'raw', name: 'item' };
      while (!stopPolling) {
        try {
          const state = await env.warehouse.load(raw);
          const { files, schema } = await env.warehouse.planFiles(state);
          const reader = await env.duckdb.runAndReadAll(
            `SELECT max(batch) FROM (${readParquetSql(files, schema)})`,
          );
          const seen = Number(reader.getRows()[0]![0] ?? -1);
          const now = performance.now();
          for (const batch of committedAt.keys())
            if (batch <= seen && !visible.has(batch)) visible.set(batch, now);
        } catch {
          // the raw table does not exist before the first commit
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const batches = (FRESHNESS_SECONDS * RATE) / 50;
    const t0 = performance.now();
    for (let batch = 1; batch <= batches; batch++) {
      const due = t0 + batch * 50;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const from = (batch - 1) * 50 + 1;
      const t = performance.now();
      await writer.query(`INSERT INTO ${upstream.schema}.item ${ROWS(from, from + 49, batch)}`);
      const done = performance.now();
      roundTrips.push(done - t);
      committedAt.set(batch, done);
    }
    const rate = (batches * 50 * 1000) / (performance.now() - t0);
    await until(async () => visible.size >= batches, 'every batch to be visible', 60_000);
    stopPolling = true;
    await poller;
    await run.stop();
    const latencies = [...committedAt].map(([batch, at]) => visible.get(batch)! - at);
    const heartbeat = (await env.store.get(upstream.pipeline))?.lagSeconds;
    console.log(
      `freshness (commitInterval ${commitInterval}) at ${fmt(Math.round(rate))} changes/s for ${FRESHNESS_SECONDS} s: ` +
        `PostgreSQL commit -> readable in Iceberg p50 ${(percentile(latencies, 50) / 1000).toFixed(2)} s, ` +
        `p95 ${(percentile(latencies, 95) / 1000).toFixed(2)} s, max ${(Math.max(...latencies) / 1000).toFixed(2)} s ` +
        `(baseline: the writer's INSERT+COMMIT round trip p50 ${percentile(roundTrips, 50).toFixed(1)} ms, p95 ${percentile(roundTrips, 95).toFixed(1)} ms; ` +
        `pipeline-reported lag at the last commit ${heartbeat?.toFixed(2) ?? '?'} s)`,
    );
  } finally {
    await writer.end();
    await env.dispose();
    await upstream.dispose();
  }
}

await throughput();
await freshness('1s');
await freshness('200ms');
