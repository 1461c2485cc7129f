/**
 * The example project checks clean with `validate --database` on PostgreSQL and MariaDB: the
 * demo's tables created (empty: the checks read no rows) in private schemas, and every
 * source's table, expressions, filters and declared types checked on each engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatabase } from '../../src/checks/database.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel } from '../../src/core/model/build.js';
import { generateStudioData, type DemoColumnType } from '../../src/demo/studio-data.js';
import type { Engine } from '../../src/engines/engine.js';
import { readDefinitionFiles } from '../../src/project/load-project.js';
import { mysql, postgres, uniqueSchema } from '../support/databases.js';
import { REPO_ROOT } from '../support/example-project.js';
import { MYSQL_DEMO_TYPES } from '../support/mysql-text.js';

const schema = uniqueSchema('example');
const schemas: Record<string, string> = { studio: schema, studio_raw: `${schema}_raw` };
const rename = (text: string) =>
  text.replaceAll('studio_raw.', `${schema}_raw.`).replaceAll('studio.', `${schema}.`);
const { model, diagnostics: built } = buildModel(
  readDefinitionFiles(REPO_ROOT).map((f) => ({ ...f, text: rename(f.text) })),
);
const tables = generateStudioData().map((t) => ({ ...t, schema: schemas[t.schema] ?? t.schema }));

/** Creates the demo's tables, empty, with `types` for their columns. */
async function createTables(engine: Engine, types: Record<DemoColumnType, string>, quote: string) {
  for (const table of tables) {
    const columns = table.columns.map((c) => `${quote}${c.name}${quote} ${types[c.type]}`).join(', ');
    await engine.execute(`CREATE TABLE ${table.schema}.${table.name} (${columns})`);
  }
}

async function expectClean(engine: Engine): Promise<void> {
  expect(built).toEqual([]);
  const { diagnostics, sources } = await checkDatabase(model, engine);
  expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  expect(sources).toBe(8);
}

describe('the example project on PostgreSQL', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await postgres();
    for (const name of Object.values(schemas)) await engine.execute(`CREATE SCHEMA ${name}`);
    await createTables(
      engine,
      {
        VARCHAR: 'TEXT',
        BIGINT: 'BIGINT',
        INTEGER: 'INTEGER',
        DOUBLE: 'DOUBLE PRECISION',
        'DECIMAL(18,2)': 'NUMERIC(18,2)',
        BOOLEAN: 'BOOLEAN',
        DATE: 'DATE',
        TIMESTAMP: 'TIMESTAMP',
      },
      '"',
    );
  });
  afterAll(async () => {
    for (const name of Object.values(schemas)) await engine?.execute(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await engine?.close();
  });

  it('checks clean', () => expectClean(engine));
});

describe('the example project on MariaDB', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await mysql();
    for (const name of Object.values(schemas)) await engine.execute(`CREATE DATABASE ${name}`);
    await createTables(engine, MYSQL_DEMO_TYPES, '`');
  });
  afterAll(async () => {
    for (const name of Object.values(schemas)) await engine?.execute(`DROP DATABASE IF EXISTS ${name}`);
    await engine?.close();
  });

  it('checks clean', () => expectClean(engine));
});
