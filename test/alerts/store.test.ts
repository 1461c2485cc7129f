/**
 * The shared alert state: processes racing to open (or close) the same condition, each with its
 * own connection to the same database, SQLite or PostgreSQL: exactly one wins each transition.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/alerts/store.js';
import type { HistoryLocation } from '../../src/trackers/history.js';
import { POSTGRES_URL, uniqueSchema } from '../support/databases.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-alert-store-'));
const schema = uniqueSchema('alerts');
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function postgresLocation(): Promise<HistoryLocation> {
  const client = new pg.Client(POSTGRES_URL);
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  cleanups.push(async () => {
    const c = new pg.Client(POSTGRES_URL);
    await c.connect();
    await c.query(`DROP SCHEMA ${schema} CASCADE`);
    await c.end();
  });
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { client: 'postgres', connection: url.toString() };
}

const facts = { condition: 'failed_run' as const, subject: 'tracker:t', message: 'boom' };

describe.each([
  ['SQLite', async (): Promise<HistoryLocation> => ({ client: 'sqlite', filename: join(dir, 'runs.db') })],
  ['PostgreSQL', postgresLocation],
])('on %s', (_, location) => {
  it('of processes racing, exactly one opens a condition, and exactly one closes it', async () => {
    const where = await location();
    const stores = await Promise.all([1, 2, 3, 4].map(() => AlertStore.open(where)));
    cleanups.push(async () => void (await Promise.all(stores.map((s) => s.close()))));
    const now = new Date('2026-12-06T10:00:00Z');
    const raised = await Promise.all(
      [...stores, ...stores].map((s) => s.raise('tracker:t:failed_run', facts, now)),
    );
    expect(raised.filter(Boolean)).toHaveLength(1);
    expect(await stores[0]!.raise('tracker:t:failed_run', facts, now)).toBe(false);

    const later = new Date('2026-12-06T11:00:00Z');
    const resolved = await Promise.all(
      [...stores, ...stores].map((s) => s.resolve('tracker:t:failed_run', later)),
    );
    expect(resolved.filter(Boolean)).toEqual([{ openedAt: now.toISOString() }]);
    expect(await stores[1]!.resolve('tracker:t:failed_run', later)).toBeUndefined();

    // A new episode.
    expect(await stores[2]!.raise('tracker:t:failed_run', facts, later)).toBe(true);
    expect(await stores[3]!.get('tracker:t:failed_run')).toEqual({
      key: 'tracker:t:failed_run',
      condition: 'failed_run',
      subject: 'tracker:t',
      state: 'open',
      openedAt: later.toISOString(),
      message: 'boom',
      episodes: 2,
    });
  });
});
