/**
 * `npm run bench:warehouse`: the embedded Iceberg warehouse, each figure with a baseline
 * measured in the same run.
 *  1. append throughput: 1M CDC rows in 100 commits of 10k (baseline: the same batches
 *     written as plain Parquet files by DuckDB, no Iceberg commit);
 *  2. a latest-view query over a raw table with 10 versions per key, before vs after
 *     compaction;
 *  3. a 2-column input vs the same answer read through a wide "core view" joining every
 *     demo source (how trackers were fed before a semantic layer).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compactSource } from '../src/cdc/compaction.js';
import { Compiler } from '../src/core/compile.js';
import { buildModel } from '../src/core/model/build.js';
import { buildDemoWarehouse } from '../src/demo/build-warehouse.js';
import { DuckDbEngine } from '../src/engines/duckdb.js';
import { collect } from '../src/engines/engine.js';
import { IcebergDuckDbEngine } from '../src/engines/iceberg-duckdb.js';
import { loadProject } from '../src/project/load-project.js';
import { SqliteCatalog } from '../src/warehouse/catalog.js';
import { Warehouse } from '../src/warehouse/table.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH = 10_000;
const VERSIONS = 10;
const DEMO_SCALE = Number(process.env.BENCH_DEMO_SCALE ?? 4);
const REPEATS = 5;

const root = mkdtempSync(join(tmpdir(), 'strata-bench-wh-'));
const ms = (t: number) => `${t.toFixed(0)} ms`;

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

async function time(run: () => Promise<unknown>, repeats = REPEATS): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

async function openWarehouse(dir: string) {
  mkdirSync(dir, { recursive: true });
  const duckdb = await DuckDbEngine.open({ path: ':memory:' });
  const catalog = SqliteCatalog.open(join(dir, 'catalog.db'));
  const warehouse = new Warehouse({ root: join(dir, 'warehouse'), catalog, duckdb: duckdb.rawConnection });
  const reader = () =>
    IcebergDuckDbEngine.open({
      root: join(dir, 'warehouse'),
      catalog: SqliteCatalog.open(join(dir, 'catalog.db')),
    });
  return {
    duckdb,
    catalog,
    warehouse,
    reader,
    close: async () => (await catalog.close(), await duckdb.close()),
  };
}

const KEYS = ROWS / VERSIONS;
/** Batch `b` of a change log where every key changes VERSIONS times, in log order. */
const batchSql = (b: number) => `
  SELECT i % ${KEYS} AS id, 'name ' || (i % ${KEYS}) AS name, CAST((i * 7) % 100000 AS DECIMAL(18, 2)) / 100 AS amount,
         ['open', 'approved', 'paid', 'void'][1 + (i // ${KEYS} + i) % 4] AS status,
         CASE WHEN i // ${KEYS} = ${VERSIONS - 1} AND i % 10 = 0 THEN 'd' WHEN i < ${KEYS} THEN 'c' ELSE 'u' END AS _op,
         TIMESTAMP '2026-01-01' + to_seconds(i) AS _op_ts, i + 1 AS _seq
  FROM range(${b * BATCH}, ${(b + 1) * BATCH}) t(i)`;

async function appendThroughput() {
  const { duckdb, warehouse, close } = await openWarehouse(join(root, 'append'));
  const plainDir = join(root, 'plain');
  mkdirSync(plainDir, { recursive: true });
  const batches = ROWS / BATCH;
  let start = performance.now();
  for (let b = 0; b < batches; b++)
    await duckdb.execute(`COPY (${batchSql(b)}) TO '${join(plainDir, `b${b}.parquet`)}' (FORMAT parquet)`);
  const plainMs = performance.now() - start;
  const id = { namespace: 'raw', name: 'orders_changes' };
  await warehouse.createTable(id, [
    { name: 'id', type: 'long' },
    { name: 'name', type: 'string' },
    { name: 'amount', type: 'decimal(18, 2)' },
    { name: 'status', type: 'string' },
    { name: '_op', type: 'string' },
    { name: '_op_ts', type: 'timestamp' },
    { name: '_seq', type: 'long' },
  ]);
  start = performance.now();
  for (let b = 0; b < batches; b++) await warehouse.appendQuery(id, batchSql(b));
  const icebergMs = performance.now() - start;
  await close();
  return { plainMs, icebergMs, batches };
}

const SOURCE = `name: order_state
table: raw.orders_changes
primaryKey: id
cdc: { orderBy: [_op_ts, _seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: id, type: integer }
  - { name: status, type: string }
  - { name: amount, type: decimal }
measures:
  - { name: orders, aggregate: count }
  - { name: total, aggregate: sum, sql: amount }
`;
const INPUT =
  'name: by_status\nfrom: order_state\nfields: [order_state.status, order_state.orders, order_state.total]\n';

async function compactionSpeedup() {
  const { warehouse, reader, close } = await openWarehouse(join(root, 'append'));
  const { model } = buildModel([
    { path: 's.yaml', kind: 'source', text: SOURCE },
    { path: 'i.yaml', kind: 'input', text: INPUT },
  ]);
  const sql = new Compiler(model).compile('by_status', { dialect: 'duckdb' }).sql;
  const engine = await reader();
  const run = async () => (await collect(engine.stream(sql))).map((r) => JSON.stringify(r)).sort();
  const before = await run();
  const beforeMs = await time(run);
  const result = await compactSource(warehouse, model.sources.get('order_state')!);
  const after = await run();
  const afterMs = await time(run);
  if (JSON.stringify(before) !== JSON.stringify(after)) throw new Error('compaction changed the answer');
  await engine.close();
  await close();
  return { beforeMs, afterMs, result };
}

async function coreViewSpeedup() {
  const { duckdb, warehouse, reader, close } = await openWarehouse(join(root, 'demo'));
  await buildDemoWarehouse(warehouse, duckdb.rawConnection, { scale: DEMO_SCALE });
  const project = loadProject(join(import.meta.dirname, '..'));
  const input = 'name: movie_titles\nfrom: movie\nfields: [movie.title, movie.status]\n';
  const sources = [...project.model.sources.values()].map((s) => ({
    path: s.file,
    kind: 'source' as const,
    text: readFileSync(s.file, 'utf8'),
  }));
  const { model } = buildModel([...sources, { path: 'movie_titles.yaml', kind: 'input', text: input }]);
  const twoColumns = new Compiler(model).compile('movie_titles', { dialect: 'duckdb' }).sql;
  const coreView = `
    WITH talent_latest AS (
      SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY talent_id ORDER BY _op_ts DESC, _seq DESC) AS rn FROM studio_raw.talent_changes
      ) WHERE rn = 1 AND _op <> 'd'),
    core AS (
      SELECT m.movie_id, m.title, m.status, m.genre, m.budget_usd, p.production_id, p.country, p.start_date,
             sd.shoot_day_id, sd.shoot_date, sd.scheduled_hours, l.name AS location_name, po.po_id, po.amount_usd,
             v.name AS vendor_name, mt.role, t.full_name, t.agency
      FROM studio.movie m
      LEFT JOIN studio.production p ON p.movie_id = m.movie_id
      LEFT JOIN studio.shoot_day sd ON sd.production_id = p.production_id
      LEFT JOIN studio.location l ON l.location_id = sd.location_id
      LEFT JOIN studio.purchase_order po ON po.production_id = p.production_id
      LEFT JOIN studio.vendor v ON v.vendor_id = po.vendor_id
      LEFT JOIN studio.movie_talent mt ON mt.movie_id = m.movie_id
      LEFT JOIN talent_latest t ON t.talent_id = mt.talent_id
      WHERE NOT m.is_test)
    SELECT title, status FROM (SELECT DISTINCT movie_id, title, status FROM core)`;
  const engine = await reader();
  const answer = async (sql: string) =>
    (await collect(engine.stream(sql))).map((r) => JSON.stringify(r)).sort();
  if (JSON.stringify(await answer(twoColumns)) !== JSON.stringify(await answer(coreView)))
    throw new Error('the core view gives a different answer');
  const inputMs = await time(() => collect(engine.stream(twoColumns)));
  const coreMs = await time(() => collect(engine.stream(coreView)), 3);
  await engine.close();
  await close();
  return { inputMs, coreMs };
}

try {
  console.log(
    `node ${process.version}; ${ROWS.toLocaleString('en')} CDC rows, ${VERSIONS} versions per key; demo scale ${DEMO_SCALE}\n`,
  );
  const append = await appendThroughput();
  const rate = (n: number, t: number) => Math.round((n / t) * 1000).toLocaleString('en');
  console.log(
    `1. append: ${append.batches} commits of ${BATCH.toLocaleString('en')} rows in ${ms(append.icebergMs)} = ${rate(ROWS, append.icebergMs)} rows/s`,
  );
  console.log(
    `   baseline, the same batches as plain Parquet files: ${ms(append.plainMs)} = ${rate(ROWS, append.plainMs)} rows/s; Iceberg commits cost ${(append.icebergMs / append.plainMs).toFixed(2)}x`,
  );
  const compaction = await compactionSpeedup();
  console.log(
    `2. latest-view query: ${ms(compaction.beforeMs)} over ${compaction.result.filesBefore} files / ${compaction.result.rowsBefore.toLocaleString('en')} rows, ${ms(compaction.afterMs)} after compaction (${compaction.result.filesAfter} file, ${compaction.result.rowsAfter.toLocaleString('en')} rows): ${(compaction.beforeMs / compaction.afterMs).toFixed(1)}x faster`,
  );
  const core = await coreViewSpeedup();
  console.log(
    `3. 2-column input: ${ms(core.inputMs)}; the same answer through a core view joining every source: ${ms(core.coreMs)}: ${(core.coreMs / core.inputMs).toFixed(1)}x faster`,
  );
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
