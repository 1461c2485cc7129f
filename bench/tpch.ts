/**
 * `npm run bench:tpch`: the TPC-H inputs (test/tpch) against their reference SQL on the
 * machine's PostgreSQL and MariaDB, at `BENCH_TPCH_FACTOR` times the test data (10 by default:
 * about 60,000 lines). Each input is compiled for the engine's dialect; the two queries run
 * alternately `BENCH_TPCH_RUNS` times after a warm-up, their row counts checked equal; prints
 * the ratio of the medians per question and their geometric mean per engine. The data is
 * loaded into a schema of its own, dropped after.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Compiler } from '../src/core/compile.js';
import type { Dialect } from '../src/core/definitions/schema.js';
import { buildModel } from '../src/core/model/build.js';
import { collect, type Engine } from '../src/engines/engine.js';
import { readDefinitionFiles } from '../src/project/load-project.js';
import { mysql, postgres, uniqueSchema } from '../test/support/databases.js';
import { loadTpch, SCALE } from '../test/tpch/generate.js';
import { referenceSql } from '../test/tpch/harness.js';

const FACTOR = Number(process.env.BENCH_TPCH_FACTOR ?? 10);
const RUNS = Number(process.env.BENCH_TPCH_RUNS ?? 3);
const PROJECT = join(import.meta.dirname, '..', 'test', 'tpch');
const ENGINES: [string, () => Promise<Engine>, Dialect][] = [
  ['postgres', postgres, 'postgres'],
  ['mariadb', mysql, 'mysql'],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(engine: Engine, sql: string): Promise<{ ms: number; rows: number }> {
  const start = performance.now();
  const rows = await collect(engine.stream(sql));
  return { ms: performance.now() - start, rows: rows.length };
}

const scale = SCALE as unknown as Record<string, number>;
for (const key of Object.keys(scale)) scale[key] = scale[key]! * FACTOR;

for (const [name, open, dialect] of ENGINES) {
  const engine = await open();
  const schema = uniqueSchema('tpch_bench');
  try {
    const start = performance.now();
    await loadTpch(engine, schema);
    console.log(
      `${name}: ${FACTOR}x the test data loaded in ${((performance.now() - start) / 1000).toFixed(1)} s`,
    );
    const files = readDefinitionFiles(PROJECT).map((f) => ({
      ...f,
      text: f.text.replaceAll('tpch.', `${schema}.`),
    }));
    const compiler = new Compiler(buildModel(files).model);
    const questions = [...compiler.model.inputs.keys()].filter((q) => /^q\d\d$/.test(q)).sort();
    const ratios: number[] = [];
    for (const q of questions) {
      const strataSql = compiler.compile(q, { dialect }).sql;
      const handSql = referenceSql(q, schema);
      const [a, b] = [await timed(engine, strataSql), await timed(engine, handSql)];
      if (a.rows !== b.rows)
        throw new Error(`${name} ${q}: ${a.rows} rows against the reference's ${b.rows}`);
      const times = { strata: [] as number[], hand: [] as number[] };
      for (let i = 0; i < RUNS; i++) {
        times.strata.push((await timed(engine, strataSql)).ms);
        times.hand.push((await timed(engine, handSql)).ms);
      }
      const ratio = median(times.strata) / Math.max(median(times.hand), 0.5);
      ratios.push(ratio);
      console.log(
        `${name.padEnd(8)} ${q} ${median(times.strata).toFixed(0).padStart(6)} ms vs reference ` +
          `${median(times.hand).toFixed(0).padStart(6)} ms = ${ratio.toFixed(2)}x (${a.rows} rows)`,
      );
    }
    const geomean = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
    console.log(
      `${name}: geometric mean ${geomean.toFixed(2)}x the reference, worst ${Math.max(...ratios).toFixed(2)}x`,
    );
  } finally {
    await engine.execute(
      name === 'postgres' ? `DROP SCHEMA IF EXISTS ${schema} CASCADE` : `DROP DATABASE IF EXISTS ${schema}`,
    );
    await engine.close();
  }
}
