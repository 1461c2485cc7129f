/**
 * The TPC-H yardstick (issue 13): each TPC-H question written as one input over the shared
 * TPC-H sources (definitions/inputs/qNN.yaml) is compiled for each engine's dialect, run on
 * the generated data, and compared with the hand-written reference query (queries/qNN.sql).
 * README.md lists which questions are inputs today and why the others are not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import type { Row } from '../../src/core/values/cell.js';
import { collect, type Engine } from '../../src/engines/engine.js';
import { readDefinitionFiles } from '../../src/project/load-project.js';
import { memoryDuckDb, mysql, postgres, uniqueSchema } from '../support/databases.js';
import { compareRows, referenceSql } from './harness.js';
import { loadTpch } from './generate.js';

const PROJECT = fileURLToPath(new URL('.', import.meta.url));
const INPUTS = readdirSync(`${PROJECT}/definitions/inputs`)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();
/** Compiler checks on the same data: checks/<name>.yaml (an input, without name:) and <name>.sql. */
const CHECKS = readdirSync(`${PROJECT}/checks`)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();
const QUERIES = readdirSync(`${PROJECT}/queries`)
  .filter((f) => f.endsWith('.sql'))
  .map((f) => f.slice(0, -'.sql'.length))
  .sort();

/** Each engine's answers to the reference queries, compared across engines at the end. */
const answers = new Map<string, Map<string, Row[]>>();

function definitionFiles(schema: string): DefinitionFile[] {
  const checks = CHECKS.map((check) => ({
    path: `checks/${check}.yaml`,
    kind: 'input' as const,
    text: `name: check_${check}\n${readFileSync(`${PROJECT}/checks/${check}.yaml`, 'utf8')}`,
  }));
  return [...readDefinitionFiles(PROJECT), ...checks].map((f) => ({
    ...f,
    text: f.text.replaceAll('tpch.', `${schema}.`),
  }));
}

const engines: [string, () => Promise<Engine>][] = [
  ['duckdb', memoryDuckDb],
  ['postgres', postgres],
  ['mysql', mysql],
];

describe.each(engines)('TPC-H inputs on %s', (name, open) => {
  let engine: Engine;
  const schema = uniqueSchema('tpch');
  const files = definitionFiles(schema);
  const { model, diagnostics } = buildModel(files);

  beforeAll(async () => {
    engine = await open();
    await loadTpch(engine, schema);
  }, 60_000);
  afterAll(async () => {
    if (!engine) return;
    if (name === 'postgres') await engine.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    if (name === 'mysql') await engine.execute(`DROP DATABASE IF EXISTS ${schema}`);
    await engine.close();
  });

  it('the data is whole: every foreign key has its row', async () => {
    const orphans = `
      select 'nation' as t, count(*) as n from ${schema}.nation where n_regionkey not in (select r_regionkey from ${schema}.region)
      union all select 'supplier', count(*) from ${schema}.supplier where s_nationkey not in (select n_nationkey from ${schema}.nation)
      union all select 'customer', count(*) from ${schema}.customer where c_nationkey not in (select n_nationkey from ${schema}.nation)
      union all select 'partsupp', count(*) from ${schema}.partsupp where ps_partkey not in (select p_partkey from ${schema}.part)
        or ps_suppkey not in (select s_suppkey from ${schema}.supplier)
      union all select 'orders', count(*) from ${schema}.orders where o_custkey not in (select c_custkey from ${schema}.customer)
      union all select 'lineitem', count(*) from ${schema}.lineitem l where l_orderkey not in (select o_orderkey from ${schema}.orders)
        or not exists (select 1 from ${schema}.partsupp where ps_partkey = l.l_partkey and ps_suppkey = l.l_suppkey)`;
    const rows = await collect(engine.stream(orphans));
    expect(rows.filter((r) => r[1] !== 0)).toEqual([]);
  });

  it('the reference queries are the 22 of TPC-H', () => {
    expect(QUERIES).toEqual(Array.from({ length: 22 }, (_, i) => `q${String(i + 1).padStart(2, '0')}`));
  });

  it.each(QUERIES)('reference %s runs and answers (rows, no NULL in the first)', async (query) => {
    const rows = await collect(engine.stream(referenceSql(query, schema)));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).not.toContain(null);
    if (!answers.has(query)) answers.set(query, new Map());
    answers.get(query)!.set(name, rows);
  });

  it('the TPC-H project validates', () => {
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  });

  it.each(CHECKS)('check %s', async (check) => {
    const compiled = new Compiler(model).compile(`check_${check}`, { dialect: engine.dialect });
    const actual = await collect(engine.stream(compiled.sql));
    const sql = readFileSync(`${PROJECT}/checks/${check}.sql`, 'utf8').replaceAll('tpch.', `${schema}.`);
    const expected = await collect(engine.stream(sql));
    expect(expected.length).toBeGreaterThan(0);
    const problem = compareRows(actual, expected, false);
    expect(problem, `${problem}\n${compiled.sql}`).toBeUndefined();
  });

  it.each(INPUTS)('%s gives the reference answer', async (input) => {
    const compiled = new Compiler(model).compile(input, { dialect: engine.dialect });
    const ordered = (model.inputs.get(input)?.definition.sort ?? []).length > 0;
    const actual = await collect(engine.stream(compiled.sql));
    const expected = await collect(engine.stream(referenceSql(input.slice(0, 3), schema)));
    expect(expected.length, `the reference query ${input}.sql returns rows`).toBeGreaterThan(0);
    const problem = compareRows(actual, expected, ordered);
    expect(problem, `${problem}\n${compiled.sql}`).toBeUndefined();
  });
});

describe('TPC-H reference answers', () => {
  it.each(QUERIES)('%s: DuckDB, PostgreSQL and MariaDB agree', (query) => {
    const byEngine = answers.get(query);
    expect([...(byEngine?.keys() ?? [])].sort()).toEqual(['duckdb', 'mysql', 'postgres']);
    const duckdb = byEngine!.get('duckdb')!;
    for (const other of ['postgres', 'mysql']) {
      expect(compareRows(byEngine!.get(other)!, duckdb, false), other).toBeUndefined();
    }
  });
});
