/**
 * Runs every reference query (queries/qNN.sql) on DuckDB, PostgreSQL and MariaDB over the
 * generated data and prints its row count and first rows per engine:
 * `npx tsx test/tpch/check-queries.ts [q01 ...]`. A helper for writing the queries; the
 * test (tpch.test.ts) is what checks the inputs.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../../src/engines/engine.js';
import { memoryDuckDb, mysql, postgres, uniqueSchema } from '../support/databases.js';
import { loadTpch } from './generate.js';
import { referenceSql } from './harness.js';

const QUERIES = fileURLToPath(new URL('./queries', import.meta.url));

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const names = readdirSync(QUERIES)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.slice(0, -4))
    .filter((n) => only.length === 0 || only.includes(n))
    .sort();
  for (const [name, open] of [
    ['duckdb', memoryDuckDb],
    ['postgres', postgres],
    ['mysql', mysql],
  ] as [string, () => Promise<Engine>][]) {
    const engine = await open();
    const schema = uniqueSchema('tpchq');
    try {
      const t0 = Date.now();
      await loadTpch(engine, schema);
      console.log(`${name}: loaded in ${Date.now() - t0} ms`);
      for (const q of names) {
        try {
          const { rows } = await engine.query(referenceSql(q, schema));
          console.log(`  ${q}: ${rows.length} rows ${JSON.stringify(rows.slice(0, 3))}`);
        } catch (e) {
          console.log(`  ${q}: ERROR ${(e as Error).message.split('\n')[0]}`);
        }
      }
    } finally {
      if (name === 'postgres') await engine.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      if (name === 'mysql') await engine.execute(`DROP DATABASE IF EXISTS ${schema}`);
      await engine.close();
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
