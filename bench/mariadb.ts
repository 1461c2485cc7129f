/**
 * `npm run bench:mariadb`: the example project's inputs compiled for mysql, on MariaDB (or
 * MySQL 8) over the demo data (`generateStudioData`, loaded into a scratch database that is
 * dropped afterwards). Baseline, in the same run: the SQL the mysql dialect emitted before
 * it read filter-only subtrees from derived tables joined once (the correlatedJoins
 * capability switched on again: every related node joined inside the correlated EXISTS, as
 * the other dialects emit it). Only inputs whose SQL differs are timed, each form alternately
 * after a warm-up, answers checked equal; a form slower than SLOW_MS runs once. Prints the
 * medians, per-input speed-ups (before / after) and their geometric mean.
 *
 * Besides the example inputs, filters over filter-only subtrees that the examples lack: the
 * shapes that reach the derived tables (one subtree correlated to the outer row, several
 * subtrees in one condition, a CDC source inside one).
 *
 * Environment: STRATA_BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306/test),
 * BENCH_MARIADB_RUNS (default 5), BENCH_MARIADB_SCALE (demo scale, default 1),
 * BENCH_MARIADB_TIMEOUT_S (per statement, default 300).
 */
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import { Compiler } from '../src/core/compile.js';
import { buildModel, type DefinitionFile } from '../src/core/model/build.js';
import { NameAllocator, SqlBuilder } from '../src/core/plan/emit.js';
import { dialectFor } from '../src/core/sql/dialects/index.js';
import { generateStudioData } from '../src/demo/studio-data.js';
import { loadDemoIntoMysql } from '../test/support/mysql-text.js';
import { collect } from '../src/engines/engine.js';
import { MySqlEngine } from '../src/engines/mysql.js';
import { readDefinitionFiles } from '../src/project/load-project.js';
import type { Cell } from '../src/core/values/cell.js';

const URL = process.env.STRATA_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const RUNS = Number(process.env.BENCH_MARIADB_RUNS ?? 5);
const SCALE = Number(process.env.BENCH_MARIADB_SCALE ?? 1);
const TIMEOUT_MS = Number(process.env.BENCH_MARIADB_TIMEOUT_S ?? 300) * 1000;
const SLOW_MS = 2000;
const REPO_ROOT = new globalThis.URL('..', import.meta.url).pathname;

const EXTRA_INPUTS: Record<string, string> = {
  productions_abroad_or_nowhere: `from: production
fields: [production.name]
filters:
  - any:
      - { field: location.country, op: not_equals, valueFrom: production.country }
      - { field: location.country, op: is_null }`,
  cast_named_unlike_title: `from: movie
fields: [movie.title]
filters:
  - { field: talent.full_name, op: not_equals, valueFrom: movie.title }`,
  cast_from_abroad: `from: movie
fields: [movie.title]
filters:
  - { field: talent.country, op: not_equals, valueFrom: production.country }`,
  locations_unlike_po_currency: `from: production
fields: [production.name]
filters:
  - { field: location.country, op: not_equals, valueFrom: purchase_order.currency }`,
};

const suffix = `${process.pid}_${Math.floor(Math.random() * 1e6)}`;
const schemas: Record<string, string> = {
  studio: `bench_studio_${suffix}`,
  studio_raw: `bench_raw_${suffix}`,
};
const rename = (text: string) =>
  text.replaceAll('studio_raw.', `${schemas.studio_raw}.`).replaceAll('studio.', `${schemas.studio}.`);

function model() {
  const files: DefinitionFile[] = [
    ...readDefinitionFiles(REPO_ROOT).map((f) => ({ ...f, text: rename(f.text) })),
    ...Object.entries(EXTRA_INPUTS).map(([name, text]) => ({
      path: `${name}.yaml`,
      kind: 'input' as const,
      text: `name: ${name}\n${text}\n`,
    })),
  ];
  const built = buildModel(files);
  if (built.diagnostics.length > 0) throw new Error(built.diagnostics.map((d) => d.message).join('\n'));
  return built.model;
}

/**
 * The baseline: the same logical plan emitted with the related nodes joined inside the
 * EXISTS. Undefined for an input that compares with a measure at another grain: those plans
 * stay inside compile.ts, and the builder refuses to go without them.
 */
function baselineSql(compiler: Compiler, input: string): string | undefined {
  const compiled = compiler.compile(input, { dialect: 'mysql' });
  const dialect = dialectFor('mysql');
  try {
    const { select, materialize } = new SqlBuilder(new NameAllocator(), compiled.timezone, undefined, {
      ...dialect.capabilities,
      correlatedJoins: true,
    }).build(compiled.plan);
    return dialect.render(select, materialize);
  } catch {
    return undefined;
  }
}

async function load(): Promise<void> {
  const admin = await mysql.createConnection(URL);
  const tables = generateStudioData({ scale: SCALE }).map((t) => ({
    ...t,
    schema: schemas[t.schema] ?? t.schema,
  }));
  for (const name of Object.values(schemas)) await admin.query(`CREATE DATABASE ${name}`);
  await loadDemoIntoMysql(admin, tables);
  await admin.end();
}

async function drop(): Promise<void> {
  const admin = await mysql.createConnection(URL);
  for (const name of Object.values(schemas)) await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.end();
}

const canonical = (rows: Cell[][]) => rows.map((row) => JSON.stringify(row)).sort();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A run's time and rows; `rows` is undefined when the statement timeout stopped it. */
async function timed(engine: MySqlEngine, sql: string): Promise<{ ms: number; rows?: Cell[][] }> {
  const start = performance.now();
  try {
    const rows = await collect(engine.stream(sql));
    return { ms: performance.now() - start, rows };
  } catch (e) {
    if (!/max_statement_time|maximum statement execution time/i.test(String(e))) throw e;
    return { ms: TIMEOUT_MS };
  }
}

async function main(): Promise<void> {
  const compiler = new Compiler(model());
  await load();
  const engine = await MySqlEngine.connect(URL, { readOnly: true, statementTimeoutMs: TIMEOUT_MS });
  const [[version]] = (await collect(engine.stream('SELECT VERSION()'))) as [[string]];
  console.log(`${version}; demo scale ${SCALE}; median of ${RUNS} runs (one run above ${SLOW_MS} ms)\n`);
  const speedups: number[] = [];
  const skipped: string[] = [];
  try {
    for (const input of compiler.model.inputs.keys()) {
      const after = compiler.compile(input, { dialect: 'mysql' }).sql;
      const before = baselineSql(compiler, input);
      if (before === undefined) skipped.push(input);
      if (before === undefined || before === after) continue;
      const first = { before: await timed(engine, before), after: await timed(engine, after) };
      if (!first.after.rows) throw new Error(`${input}: timed out after ${TIMEOUT_MS} ms`);
      const timedOut = first.before.rows === undefined;
      if (
        !timedOut &&
        JSON.stringify(canonical(first.before.rows!)) !== JSON.stringify(canonical(first.after.rows))
      )
        throw new Error(`${input}: the two forms give different answers`);
      const times = { before: [first.before.ms], after: [first.after.ms] };
      for (let run = 1; run < RUNS; run++)
        for (const form of ['before', 'after'] as const) {
          if (times[form][0]! > SLOW_MS) continue;
          times[form].push((await timed(engine, form === 'before' ? before : after)).ms);
        }
      const [b, a] = [median(times.before), median(times.after)];
      speedups.push(b / a);
      const atLeast = timedOut ? '>' : ' ';
      console.log(
        `${input.padEnd(34)} before ${atLeast}${b.toFixed(1).padStart(9)} ms  after ${a.toFixed(1).padStart(7)} ms  ` +
          `${atLeast}${(b / a).toFixed(1).padStart(7)}x faster  (${first.after.rows.length} rows)`,
      );
    }
    const mean = Math.exp(speedups.reduce((s, x) => s + Math.log(x), 0) / speedups.length);
    console.log(
      `\n${speedups.length} inputs changed; geometric mean speed-up ${mean.toFixed(1)}x ` +
        `(a timed-out baseline counts as the timeout)`,
    );
    if (skipped.length > 0) console.log(`no baseline (measures at another grain): ${skipped.join(', ')}`);
  } finally {
    await engine.close();
    await drop();
  }
}

await main();
