/** A small throw-away project (a DuckDB file, one source, one input) and Redis helpers. */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { pino } from 'pino';

export const REDIS_URL = process.env.STRATA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or run) uses. */
export function uniquePrefix(name: string): string {
  return `strata-test:${name}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export const ITEMS = [
  ['i1', 'anvil', 3],
  ['i2', 'bucket', 5],
  ['i3', 'crate', 7],
] as const;

export interface TestProject {
  dir: string;
  database: string;
  writeTracker(name: string, body: Record<string, unknown>): void;
  removeTracker(name: string): void;
  cleanup(): void;
}

/** Tracker YAML from a plain object (JSON is YAML). */
function yaml(body: Record<string, unknown>): string {
  return `${JSON.stringify(body, null, 1)}\n`;
}

export async function createProject(): Promise<TestProject> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-service-'));
  const database = join(dir, 'warehouse.duckdb');
  const instance = await DuckDBInstance.create(database);
  const connection = await instance.connect();
  await connection.run('CREATE SCHEMA shop');
  await connection.run('CREATE TABLE shop.item (item_id VARCHAR, name VARCHAR, qty INTEGER)');
  await connection.run(
    `INSERT INTO shop.item VALUES ${ITEMS.map(([id, name, qty]) => `('${id}', '${name}', ${qty})`).join(', ')}`,
  );
  connection.closeSync();
  instance.closeSync();
  mkdirSync(join(dir, 'definitions', 'sources'), { recursive: true });
  mkdirSync(join(dir, 'definitions', 'inputs'), { recursive: true });
  mkdirSync(join(dir, 'trackers'), { recursive: true });
  writeFileSync(join(dir, 'strata.yaml'), yaml({ duckdb: { database } }));
  writeFileSync(
    join(dir, 'definitions', 'sources', 'item.yaml'),
    yaml({
      name: 'item',
      table: 'shop.item',
      primaryKey: 'item_id',
      fields: [
        { name: 'item_id', type: 'string' },
        { name: 'name', type: 'string' },
        { name: 'qty', type: 'integer' },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'definitions', 'inputs', 'items.yaml'),
    yaml({
      name: 'items',
      from: 'item',
      fields: ['item.item_id', 'item.name', 'item.qty'],
      sort: [{ field: 'item.item_id', direction: 'asc' }],
    }),
  );
  return {
    dir,
    database,
    writeTracker: (name, body) =>
      writeFileSync(join(dir, 'trackers', `${name}.yaml`), yaml({ name, input: 'items', ...body })),
    removeTracker: (name) => rmSync(join(dir, 'trackers', `${name}.yaml`), { force: true }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A file destination under the project (no credentials needed). */
export function fileDestination(path: string) {
  return { type: 'file', path, format: 'json' };
}

export const silentLogger = () => pino({ level: 'silent' });

/** A logger whose lines the test can read. */
export function capturingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}
