/**
 * The example project on MariaDB: the demo's tables loaded into MariaDB and into DuckDB, and
 * every example input compiled for each dialect gives the same rows on both (per-dialect
 * `sql:`, a source defined by a SELECT, a CDC source's latest rows, granularities, relative
 * dates, fan-out-safe measures, filter-only sources: the mysql dialect on real definitions).
 */
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import type { Cell } from '../../src/core/values/cell.js';
import { loadDemoTables } from '../../src/demo/load-duckdb.js';
import { generateStudioData } from '../../src/demo/studio-data.js';
import type { DuckDbEngine } from '../../src/engines/duckdb.js';
import { collect, type Engine } from '../../src/engines/engine.js';
import { MySqlEngine } from '../../src/engines/mysql.js';
import { readDefinitionFiles } from '../../src/project/load-project.js';
import { memoryDuckDb, MYSQL_URL, uniqueSchema } from '../support/databases.js';
import { REPO_ROOT } from '../support/example-project.js';
import { loadDemoIntoMysql } from '../support/mysql-text.js';

const schema = uniqueSchema('studio');
const schemas: Record<string, string> = { studio: schema, studio_raw: `${schema}_raw` };
const rename = (text: string) =>
  text.replaceAll('studio_raw.', `${schema}_raw.`).replaceAll('studio.', `${schema}.`);

/** Besides the example inputs: one reading every field a source computes per dialect. */
const perDialectFields = {
  path: 'per_dialect_fields.yaml',
  kind: 'input' as const,
  text: 'name: per_dialect_fields\nfrom: production\nfields: [production.production_id, production.duration_days, movie.title_initial]\n',
};
/**
 * Filters over filter-only subtrees that the mysql dialect reads from derived tables joined
 * once (docs/dialects.md): a CDC source's latest rows inside one, and two subtrees in one
 * condition (the anchor-and-left-joins form).
 */
const subtreeFilters = [
  {
    path: 'cast_named_unlike_title.yaml',
    kind: 'input' as const,
    text: 'name: cast_named_unlike_title\nfrom: movie\nfields: [movie.title]\nfilters:\n  - { field: talent.full_name, op: not_equals, valueFrom: movie.title }\n',
  },
  {
    path: 'cast_from_abroad.yaml',
    kind: 'input' as const,
    text: 'name: cast_from_abroad\nfrom: movie\nfields: [movie.title]\nfilters:\n  - { field: talent.country, op: not_equals, valueFrom: production.country }\n',
  },
];
const { model, diagnostics } = buildModel([
  ...readDefinitionFiles(REPO_ROOT).map((f) => ({ ...f, text: rename(f.text) })),
  perDialectFields,
  ...subtreeFilters,
]);
const compiler = new Compiler(model);
const inputs = [...model.inputs.keys()];

let duck: DuckDbEngine;
let maria: Engine;
let admin: mysql.Connection;

beforeAll(async () => {
  const tables = generateStudioData().map((t) => ({ ...t, schema: schemas[t.schema] ?? t.schema }));
  duck = await memoryDuckDb();
  await loadDemoTables(duck.rawConnection, tables);
  admin = await mysql.createConnection(MYSQL_URL);
  for (const name of Object.values(schemas)) await admin.query(`CREATE DATABASE ${name}`);
  await loadDemoIntoMysql(admin, tables);
  maria = await MySqlEngine.connect(MYSQL_URL, { readOnly: true });
}, 120_000);

afterAll(async () => {
  await duck?.close();
  await maria?.close();
  for (const name of Object.values(schemas)) await admin?.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin?.end();
});

const canonical = (rows: Cell[][]) =>
  rows
    .map((row) => JSON.stringify(row.map((v) => (typeof v === 'number' ? Number(v.toPrecision(10)) : v))))
    .sort();

describe('every example input on MariaDB', () => {
  it('the definitions load', () => expect(diagnostics).toEqual([]));

  it.each(inputs)('%s gives the same rows as on DuckDB', async (input) => {
    const onDuck = await collect(duck.stream(compiler.compile(input, { dialect: 'duckdb' }).sql));
    const sql = compiler.compile(input, { dialect: 'mysql' }).sql;
    const onMaria = await collect(maria.stream(sql));
    expect(onMaria.length, sql).toBeGreaterThan(0);
    expect(canonical(onMaria), sql).toEqual(canonical(onDuck));
  });
});
