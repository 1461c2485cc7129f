/** PostgreSQL's table versions for `refresh: on_change`: its row-change counters, which a commit moves. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEngine } from '../../src/engines/postgres.js';

const URL = process.env.STRATA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `versions_${process.pid}_${Date.now()}`;
let writer: pg.Client;

beforeAll(async () => {
  writer = new pg.Client({ connectionString: URL });
  await writer.connect();
  await writer.query(
    `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.item (id int); CREATE TABLE ${schema}.other (id int)`,
  );
  await writer.query(`CREATE VIEW ${schema}.item_view AS SELECT * FROM ${schema}.item`);
});

afterAll(async () => {
  await writer.query(`DROP SCHEMA ${schema} CASCADE`);
  await writer.end();
});

/** A committed write, its counts flushed at once (PostgreSQL would within ~10 s of the writer going idle). */
async function write(sql: string): Promise<void> {
  await writer.query(sql);
  await writer.query('SELECT pg_stat_force_next_flush()');
}

describe('PostgreSQL table versions', () => {
  it('change with each committed write to the tables read, and not with others', async () => {
    const engine = await PostgresEngine.connect(URL);
    try {
      const tables = [`${schema}.item`];
      const before = await engine.tableVersions(tables);
      expect(before).toEqual({ fingerprint: `${schema}.item=0`, source: 'table_statistics' });
      await write(`INSERT INTO ${schema}.other VALUES (1)`);
      expect(await engine.tableVersions(tables)).toEqual(before);
      await write(`INSERT INTO ${schema}.item VALUES (1), (2)`);
      const inserted = await engine.tableVersions(tables);
      expect(inserted?.fingerprint).toBe(`${schema}.item=2`);
      await write(`UPDATE ${schema}.item SET id = 3 WHERE id = 1`);
      expect((await engine.tableVersions(tables))?.fingerprint).toBe(`${schema}.item=3`);
      // A view's changes cannot be seen: unknown, so an on_change tracker reading it always runs.
      expect(await engine.tableVersions([`${schema}.item_view`])).toBeUndefined();
      expect(await engine.tableVersions(['recent'])).toBeUndefined();
    } finally {
      await engine.close();
    }
  });
});

describe('PostgreSQL connection failures', () => {
  it('say where, why in plain words, and where the setting lives, never the password', async () => {
    const refused = await PostgresEngine.connect('postgres://nobody:hunter2@127.0.0.1:1/x').catch(
      (e: Error) => e,
    );
    expect((refused as Error).message).toBe(
      'postgres: cannot connect to PostgreSQL at 127.0.0.1:1/x (nothing listens there): check the URL (postgres.connection in strata.yaml, or --database)',
    );
    const missing = await PostgresEngine.connect(URL.replace(/\/test$/, '/no_such_database')).catch(
      (e: Error) => e,
    );
    expect((missing as Error).message).toMatch(/\(that database does not exist\)/);
  });
});
