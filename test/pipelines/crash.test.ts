/**
 * kill -9 of `strata pipeline run` at random points over many rounds (issue 9 item 9): while
 * writers keep changing the upstream table, the pipeline process is killed before, during and
 * after commits and between a commit and its acknowledgement. Every write carries a unique
 * value, so the raw table must hold each exactly once, and in the end the latest view must
 * equal the table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCatalog, Warehouse, readParquetSql } from '../../src/warehouse/index.js';
import { CLI } from '../support/cli.js';
import { deleteKeys, REDIS_URL } from '../service/support.js';
import { eventually, PG_URL, Upstream } from './pg-support.js';

const ROUNDS = 8;
const RAW = { namespace: 'raw', name: 'item' };

let upstream: Upstream;
let dir: string;
const prefix = `strata-crash-${randomUUID().slice(0, 8)}`;
let child: ChildProcess | undefined;

beforeAll(async () => {
  upstream = await Upstream.create();
  await upstream.query(`CREATE TABLE $schema.item (id integer PRIMARY KEY, name text NOT NULL, qty integer)`);
  await upstream.query(`INSERT INTO $schema.item SELECT g, 'seed ' || g, 0 FROM generate_series(1, 3000) g`);
  dir = mkdtempSync(join(tmpdir(), 'strata-crash-'));
  mkdirSync(join(dir, 'definitions', 'pipelines'), { recursive: true });
  mkdirSync(join(dir, 'definitions', 'sources'), { recursive: true });
  writeFileSync(join(dir, 'strata.yaml'), 'engine: duckdb\n');
  writeFileSync(
    join(dir, 'definitions', 'pipelines', 'p.yaml'),
    `name: ${upstream.pipeline}
source:
  type: postgres
  connection: env:STUDIO_DB_URL
  tables: [${upstream.schema}.item]
sink: { type: iceberg, namespace: raw, commitEvents: 300, commitInterval: 100ms }
heartbeat: 500ms
`,
  );
  writeFileSync(
    join(dir, 'definitions', 'sources', 'item.yaml'),
    `name: item
table: raw.item
primaryKey: id
cdc: { orderBy: [_seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: id, type: integer }
  - { name: name, type: string }
  - { name: qty, type: integer }
`,
  );
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await upstream?.dispose();
  await deleteKeys(prefix);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function startPipeline(): ChildProcess {
  const proc = spawn(
    process.execPath,
    [
      CLI,
      '--project',
      dir,
      'pipeline',
      'run',
      upstream.pipeline,
      '--redis',
      REDIS_URL,
      '--queue-prefix',
      prefix,
    ],
    { env: { ...process.env, STUDIO_DB_URL: PG_URL }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  proc.on('exit', (code, signal) => {
    if (code !== null && code !== 0 && signal === null) console.error(`pipeline exited ${code}: ${stderr}`);
  });
  return proc;
}

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (proc.exitCode !== null || proc.signalCode !== null) done();
    else proc.once('exit', () => done());
  });
}

/** Changes with a unique name each; deletes only of keys that existed (RETURNING tells). */
class Writer {
  readonly names: string[] = [];
  readonly deleted: number[] = [];
  private stopped = false;
  private client = new pg.Client({ connectionString: PG_URL });
  private done: Promise<void> | undefined;
  private n = 0;

  async start(): Promise<void> {
    await this.client.connect();
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const i = ++this.n;
      const name = `w${i}`;
      const id = 1 + ((i * 7919) % 3500);
      if (i % 7 === 0) {
        const gone = await this.client.query(
          `DELETE FROM ${upstream.schema}.item WHERE id = $1 RETURNING id`,
          [id],
        );
        if (gone.rowCount) this.deleted.push(id);
      } else {
        await this.client.query(
          `INSERT INTO ${upstream.schema}.item VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, qty = item.qty + 1`,
          [id, name, i],
        );
        this.names.push(name);
      }
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    await this.client.end();
  }
}

async function rawRows(): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const duckdb = await instance.connect();
  const catalog = SqliteCatalog.open(join(dir, '.strata', 'catalog.db'), 'strata');
  try {
    const warehouse = new Warehouse({ root: join(dir, '.strata', 'warehouse'), catalog, duckdb });
    const state = await warehouse.load(RAW);
    const { files, schema } = await warehouse.planFiles(state);
    const reader = await duckdb.runAndReadAll(
      `SELECT id, name, qty, _op, _seq FROM (${readParquetSql(files, schema)})`,
    );
    return reader.getRowObjectsJS();
  } finally {
    await catalog.close();
    duckdb.closeSync();
    instance.closeSync();
  }
}

function latest(rows: Record<string, unknown>[]): string[] {
  const byKey = new Map<number, Record<string, unknown>>();
  for (const row of rows) {
    const id = Number(row.id);
    const had = byKey.get(id);
    if (!had || BigInt(had._seq as bigint) < BigInt(row._seq as bigint)) byKey.set(id, row);
  }
  return [...byKey.values()]
    .filter((r) => r._op !== 'd')
    .map((r) => `${Number(r.id)}|${String(r.name)}|${Number(r.qty)}`)
    .sort();
}

describe('kill -9 of a pipeline process', () => {
  it(`loses and repeats nothing over ${ROUNDS} rounds of random kills while writers keep writing`, async () => {
    const writer = new Writer();
    const redis = new Redis(REDIS_URL);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        child = startPipeline();
        if (round === 0) {
          // Writes before the slot exists reach only the snapshot: the writer starts once it does.
          await eventually(
            async () =>
              (
                await upstream.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [
                  `strata_${upstream.pipeline}`,
                ])
              ).length === 1,
            30_000,
            'the replication slot',
          );
          await writer.start();
        }
        // From the snapshot's first chunks to well into streaming: every phase gets its kills.
        await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 1600)));
        child.kill('SIGKILL');
        await exited(child);
        // The dead process's lease would expire in its TTL: let it go now, as expiry would.
        await redis.del(`${prefix}:pipeline:${upstream.pipeline}:lease`);
      }
    } finally {
      await writer.stop();
    }

    // A last run that is left to catch up, then stopped cleanly.
    child = startPipeline();
    const upstreamRows = async () =>
      (
        await upstream.query<{ id: number; name: string; qty: number }>(
          `SELECT id, name, qty FROM $schema.item`,
        )
      )
        .map((r) => `${r.id}|${r.name}|${r.qty}`)
        .sort();
    const expected = await upstreamRows();
    await eventually(
      async () => JSON.stringify(latest(await rawRows())) === JSON.stringify(expected),
      45_000,
      'the latest view to equal the table',
    );
    child.kill('SIGTERM');
    await exited(child);
    redis.disconnect();

    const rows = await rawRows();
    // No change applied twice: each write's unique name once, each delete once. (A snapshot
    // read may also carry a name written before its chunk: that is a copy, not a change.)
    const names = new Map<string, number>();
    for (const row of rows.filter((r) => r._op === 'c' || r._op === 'u'))
      names.set(String(row.name), (names.get(String(row.name)) ?? 0) + 1);
    const twice = [...names].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    // None lost: every write reached the raw table.
    const missing = writer.names.filter((n) => !names.has(n));
    expect(missing).toEqual([]);
    expect(rows.filter((r) => r._op === 'd')).toHaveLength(writer.deleted.length);
    expect(new Set(rows.map((r) => String(r._seq))).size).toBe(rows.length);
    expect(writer.names.length).toBeGreaterThan(200);
  }, 150_000);
});
