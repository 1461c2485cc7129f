/**
 * `strata validate --database` on PostgreSQL and MariaDB: a wrong column in a `sql:`, a
 * missing table, a declared type the column does not have, and a row filter with a caller
 * attribute, each reported at its YAML node with the engine's own message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatabase } from '../../src/checks/database.js';
import { buildModel } from '../../src/core/model/build.js';
import type { Engine } from '../../src/engines/engine.js';
import type { MySqlEngine } from '../../src/engines/mysql.js';
import type { PostgresEngine } from '../../src/engines/postgres.js';
import { mysql, postgres, uniqueSchema } from '../support/databases.js';

const schema = uniqueSchema('check');

/** One good source and one whose problems are on known lines (`line:col` in the comments). */
function sources(): { path: string; kind: 'source'; text: string }[] {
  const good = [
    'name: film',
    `table: ${schema}.film`,
    'primaryKey: [film_id]',
    'fields:',
    '  - { name: film_id, type: string }',
    '  - { name: runtime_seconds, type: integer }',
    '  - { name: runtime_minutes, type: integer, sql: runtime_seconds / 60 }',
    '  - { name: vendor_id, type: string }',
    'measures:',
    '  - { name: long_films, aggregate: count, filter: "runtime_seconds > 7200" }',
    'access:',
    '  rowFilters:',
    '    - { role: vendor, filter: "vendor_id = {user.vendor_id}" }',
    '',
  ].join('\n');
  const bad = [
    'name: bad_film',
    `table: ${schema}.film`,
    'fields:',
    '  - { name: film_id, type: integer }', // 4:28 type
    '  - { name: runtime_minutes, type: integer, sql: 1 + runtime_secnds / 60 }', // 5:54 column
    '',
  ].join('\n');
  const missing = [
    'name: lost',
    `table: ${schema}.lost_film`, // 2:8
    'fields:',
    '  - { name: anything, type: string, sql: no_such_column }',
    '',
  ].join('\n');
  return [
    { path: 'film.yaml', kind: 'source', text: good },
    { path: 'bad_film.yaml', kind: 'source', text: bad },
    { path: 'lost.yaml', kind: 'source', text: missing },
  ];
}

async function expectProblems(engine: Engine, columnMessage: RegExp, missingMessage: RegExp): Promise<void> {
  const { model, diagnostics: built } = buildModel(sources());
  expect(built.filter((d) => d.severity === 'error')).toEqual([]);
  const { diagnostics } = await checkDatabase(model, engine);
  const byFile = (file: string) => diagnostics.filter((d) => d.location?.file === file);
  expect(byFile('film.yaml')).toEqual([]);
  const bad = byFile('bad_film.yaml');
  expect(bad.map((d) => [d.code, d.location?.line, d.location?.col])).toEqual([
    ['database_type', 4, 28],
    ['database_expression', 5, 54],
  ]);
  expect(bad[1]!.message).toMatch(columnMessage);
  const lost = byFile('lost.yaml');
  expect(lost.map((d) => [d.code, d.location?.line, d.location?.col])).toEqual([['database_relation', 2, 8]]);
  expect(lost[0]!.message).toMatch(missingMessage);
}

describe('validate --database on PostgreSQL', () => {
  let engine: PostgresEngine;
  beforeAll(async () => {
    engine = await postgres();
    await engine.execute(`CREATE SCHEMA ${schema}`);
    await engine.execute(
      `CREATE TABLE ${schema}.film (film_id TEXT, runtime_seconds INTEGER, vendor_id TEXT)`,
    );
  });
  afterAll(async () => {
    await engine?.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await engine?.close();
  });

  it('reports a wrong column, a missing table and a wrong type at their nodes', async () => {
    await expectProblems(
      engine,
      /^sql of field 'bad_film\.runtime_minutes' does not compile on postgres: column "runtime_secnds" does not exist/,
      /^table check_.*\.lost_film does not exist in postgres .*relation ".*lost_film" does not exist/,
    );
  });
});

describe('validate --database on MariaDB', () => {
  let engine: MySqlEngine;
  beforeAll(async () => {
    engine = await mysql();
    await engine.execute(`CREATE DATABASE ${schema}`);
    await engine.execute(
      `CREATE TABLE ${schema}.film (film_id VARCHAR(20), runtime_seconds INTEGER, vendor_id VARCHAR(20))`,
    );
  });
  afterAll(async () => {
    await engine?.execute(`DROP DATABASE IF EXISTS ${schema}`);
    await engine?.close();
  });

  it('reports a wrong column, a missing table and a wrong type at their nodes', async () => {
    await expectProblems(
      engine,
      /^sql of field 'bad_film\.runtime_minutes' does not compile on mysql: Unknown column 'runtime_secnds'/,
      /^table check_.*\.lost_film does not exist in mysql .*lost_film' doesn't exist/,
    );
  });
});
