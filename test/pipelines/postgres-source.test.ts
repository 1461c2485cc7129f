/**
 * The postgres source against the machine's PostgreSQL (issue 9 item 2): the snapshot racing
 * live updates and deletes, restarts that write each change once, unchanged TOAST values,
 * key changes, TRUNCATE, heartbeats, schema changes, and the setup errors a user meets.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicationSetupError } from '../../src/pipelines/sources/postgres/catalog.js';
import { auditPipeline } from '../../src/pipelines/audit.js';
import { RawTableReader } from '../../src/pipelines/raw-reader.js';
import { IcebergSink } from '../../src/pipelines/sink.js';
import { openSource } from '../../src/pipelines/sources/index.js';
import { PipelineEnvironment } from './support.js';
import { eventually, PG_URL, pgProject, startRun, Upstream } from './pg-support.js';

const RAW = { namespace: 'raw', name: 'item' };

describe('the postgres source', () => {
  let env: PipelineEnvironment | undefined;
  let upstream: Upstream | undefined;
  afterEach(async () => {
    await env?.dispose();
    await upstream?.dispose();
    env = undefined;
    upstream = undefined;
  });

  async function setUp(rows: number): Promise<{ env: PipelineEnvironment; upstream: Upstream }> {
    env = await PipelineEnvironment.create();
    upstream = await Upstream.create();
    await upstream.query(
      `CREATE TABLE $schema.item (id integer PRIMARY KEY, name text NOT NULL, qty integer, bio text, seen timestamptz)`,
    );
    await upstream.query(
      `INSERT INTO $schema.item SELECT g, 'item ' || g, g % 7, NULL, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
         FROM generate_series(1, $1::int) g`,
      [rows],
    );
    return { env, upstream };
  }

  /** The upstream table and the raw table's latest view, as comparable rows. */
  async function compare(
    e: PipelineEnvironment,
    u: Upstream,
  ): Promise<{ upstream: unknown[]; raw: unknown[] }> {
    const up = await u.query<{ id: number; name: string; qty: number | null }>(
      `SELECT id, name, qty FROM $schema.item ORDER BY id`,
    );
    let raw: Record<string, unknown>[] = [];
    try {
      raw = await e.latest(RAW, 'id');
    } catch {
      raw = [];
    }
    return {
      upstream: up.map((r) => [r.id, r.name, r.qty]),
      raw: raw.map((r) => [r.id, r.name, r.qty]),
    };
  }

  async function caughtUp(e: PipelineEnvironment, u: Upstream): Promise<void> {
    let difference = '';
    await eventually(
      async () => {
        const { upstream: a, raw: b } = await compare(e, u);
        const left = new Set(a.map((r) => JSON.stringify(r)));
        const right = new Set(b.map((r) => JSON.stringify(r)));
        const missing = [...left].filter((r) => !right.has(r));
        const extra = [...right].filter((r) => !left.has(r));
        difference = `missing ${missing.length} (${missing.slice(0, 5).join(' ')}), extra ${extra.length} (${extra.slice(0, 5).join(' ')})`;
        if (missing.length === 0 && extra.length === 0) return true;
        throw new Error(difference);
      },
      30_000,
      'the raw table to match the upstream table',
    );
  }

  it('copies existing rows without locking while updates, deletes and inserts race it, then streams', async () => {
    const { env: e, upstream: u } = await setUp(12_000);
    const project = pgProject(u, ['item']);
    const run = startRun(e, project);
    // Once the slot exists the snapshot starts copying: the writers start then, so they race it.
    await eventually(
      async () =>
        (await u.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`strata_${u.pipeline}`]))
          .length === 1,
      30_000,
      'the replication slot',
    );
    // Three writers keep going while the snapshot copies its chunks: none of them waits on it.
    const writers = await Promise.all(
      [0, 1, 2].map(async () => {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        return client;
      }),
    );
    await Promise.all(
      writers.map(async (client, w) => {
        for (let i = w; i < 600; i += 3) {
          const id = 1 + ((i * 7919) % 12_000);
          const sql =
            i % 5 === 0
              ? `DELETE FROM ${u.schema}.item WHERE id = ${id}`
              : i % 5 === 1
                ? `INSERT INTO ${u.schema}.item VALUES (${20_000 + i}, 'new ${i}', 1)`
                : `UPDATE ${u.schema}.item SET qty = qty + 100, name = name || '!' WHERE id = ${id}`;
          await client.query(sql);
        }
        await client.end();
      }),
    );
    await caughtUp(e, u);
    expect(await run.stop()).toEqual({ kind: 'stopped' });

    const rows = await e.rows(RAW);
    expect(new Set(rows.map((r) => r._seq)).size).toBe(rows.length);
    expect(rows.filter((r) => r._op === 'r').length).toBeGreaterThan(11_000);
    // The race did happen: changes streamed before the snapshot's last chunk was released.
    const lastRead = Math.max(...rows.filter((r) => r._op === 'r').map((r) => Number(r._seq)));
    expect(rows.some((r) => r._op !== 'r' && Number(r._seq) < lastRead)).toBe(true);
    const latestSeen = await e.latest(RAW, 'id');
    const seen = await u.query<{ id: number; seen: Date }>(
      `SELECT id, seen FROM $schema.item ORDER BY id LIMIT 50`,
    );
    for (const row of seen) expect(latestSeen.find((r) => r.id === row.id)?.seen).toEqual(row.seen);
    const state = await e.store.get(u.pipeline);
    expect(state?.schemas[`${u.schema}.item`]?.primaryKey).toEqual(['id']);
  });

  it('writes each change once across restarts, including a crash between commit and acknowledgement', async () => {
    const { env: e, upstream: u } = await setUp(3_000);
    const project = pgProject(u, ['item']);
    const first = startRun(e, project);
    await caughtUp(e, u);
    await first.stop();
    const afterSnapshot = (await e.rows(RAW)).length;

    // A restart with nothing new writes nothing.
    await u.query(`UPDATE $schema.item SET qty = -1 WHERE id <= 10`);
    let crashed = false;
    const second = startRun(e, project, {
      afterCommit: () => {
        if (crashed) return;
        crashed = true;
        throw new Error('crash after the commit, before the slot is told');
      },
    });
    await expect(second.outcome).rejects.toThrow(/crash after the commit/);
    await u.query(`DELETE FROM $schema.item WHERE id BETWEEN 11 AND 20`);
    const third = startRun(e, project);
    await caughtUp(e, u);
    await third.stop();

    const rows = await e.rows(RAW);
    expect(new Set(rows.map((r) => String(r._seq))).size).toBe(rows.length);
    // 10 updates and 10 deletes, each once.
    expect(rows.length).toBe(afterSnapshot + 20);
    expect(rows.filter((r) => r._op === 'u').length).toBe(10);
    expect(rows.filter((r) => r._op === 'd').length).toBe(10);
  });

  it('keeps unchanged TOAST values, follows key changes and TRUNCATE, and passes heartbeats through', async () => {
    const { env: e, upstream: u } = await setUp(5);
    await u.query(
      `UPDATE $schema.item SET bio = (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 400) g) WHERE id = 1`,
    );
    const bio = (await u.query<{ bio: string }>(`SELECT bio FROM $schema.item WHERE id = 1`))[0]!.bio;
    expect(bio.length).toBe(12_800);
    const project = pgProject(u, ['item']);
    const run = startRun(e, project);
    await caughtUp(e, u);
    // The update does not touch bio: pgoutput sends it as "unchanged", not as a value.
    await u.query(`UPDATE $schema.item SET qty = 42 WHERE id = 1`);
    await u.query(`UPDATE $schema.item SET id = 500 WHERE id = 2`);
    await caughtUp(e, u);
    const latest = await e.latest(RAW, 'id');
    expect(latest.find((r) => r.id === 1)).toMatchObject({ qty: 42, bio });
    expect(latest.map((r) => r.id)).toEqual([1, 3, 4, 5, 500]);

    await eventually(
      async () => ((await e.store.get(u.pipeline))?.lastHeartbeatAt ?? '') !== '',
      20_000,
      'a heartbeat',
    );
    await u.query(`TRUNCATE $schema.item`);
    await u.query(`INSERT INTO $schema.item VALUES (7, 'after', 1)`);
    await caughtUp(e, u);
    await run.stop();
    expect((await e.latest(RAW, 'id')).map((r) => r.id)).toEqual([7]);
    const state = await e.store.get(u.pipeline);
    expect(state?.heartbeatLatencyMs).toBeGreaterThanOrEqual(0);
    expect(state?.lagBytes).toBeGreaterThanOrEqual(0);
  });

  it('adds a new column, goes on when an unconsumed one is dropped, pauses at a consumed one, and resumes there after the definitions change', async () => {
    const { env: e, upstream: u } = await setUp(3);
    const source = {
      path: 'sources/item.yaml',
      kind: 'source' as const,
      text: `name: item
table: raw.item
primaryKey: id
cdc: { orderBy: [_seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: id, type: integer }
  - { name: qty, type: integer }
`,
    };
    const project = pgProject(u, ['item'], [source]);
    const run = startRun(e, project);
    await caughtUp(e, u);
    await u.query(`ALTER TABLE $schema.item ADD COLUMN genre text`);
    await u.query(`UPDATE $schema.item SET genre = 'drama' WHERE id = 1`);
    await eventually(
      async () => (await e.latest(RAW, 'id')).some((r) => r.genre === 'drama'),
      30_000,
      'the new column',
    );
    // bio is read by nobody: the pipeline goes on, writing NULL for it.
    await u.query(`ALTER TABLE $schema.item DROP COLUMN bio`);
    await u.query(`UPDATE $schema.item SET name = 'still going' WHERE id = 3`);
    await eventually(
      async () => (await e.latest(RAW, 'id')).some((r) => r.name === 'still going'),
      30_000,
      'the change after an unconsumed column was dropped',
    );
    await u.query(`ALTER TABLE $schema.item DROP COLUMN qty`);
    await u.query(`UPDATE $schema.item SET name = 'renamed' WHERE id = 2`);
    const outcome = await run.outcome;
    expect(outcome.kind).toBe('paused');
    expect(outcome.kind === 'paused' && outcome.reason).toMatch(/qty/);
    expect(outcome.kind === 'paused' && outcome.reason).toMatch(/sources: item/);
    // Nothing after the change was written.
    expect((await e.latest(RAW, 'id')).find((r) => r.id === 2)?.name).toBe('item 2');
    expect((await e.store.get(u.pipeline))?.status).toBe('paused');

    // The source stops reading qty; resumed, the pipeline continues from the change.
    const fixed = pgProject(
      u,
      ['item'],
      [{ ...source, text: source.text.replace('  - { name: qty, type: integer }\n', '') }],
    );
    await e.store.update(u.pipeline, { status: 'idle', pausedReason: undefined });
    const resumed = startRun(e, fixed);
    await eventually(
      async () => (await e.latest(RAW, 'id')).find((r) => r.id === 2)?.name === 'renamed',
      30_000,
      'the change after the pause',
    );
    await resumed.stop();
    const rows = await e.rows(RAW);
    expect(rows.filter((r) => r.name === 'renamed')).toHaveLength(1);
    expect(new Set(rows.map((r) => String(r._seq))).size).toBe(rows.length);
  });

  it('audits keys against the raw table: clean after a run, then planted losses and phantoms, confirmed on the second audit', async () => {
    const { env: e, upstream: u } = await setUp(200);
    const project = pgProject(u, ['item']);
    const run = startRun(e, project);
    await caughtUp(e, u);
    const audit = async () => {
      const source = await openSource({
        pipeline: project.pipeline.definition,
        projectDir: e.dir,
        env: { STUDIO_DB_URL: PG_URL },
        logger: { info: () => {}, warn: () => {} },
      });
      try {
        return await auditPipeline({
          pipeline: project.pipeline.definition,
          source,
          sink: new IcebergSink(e.warehouse, project.pipeline.definition),
          reader: new RawTableReader(e.warehouse, e.duckdb),
          store: e.store,
          catchUpMs: run.stopped ? 500 : 30_000,
        });
      } finally {
        await source.close();
      }
    };
    const [clean] = await audit();

    expect(clean).toMatchObject({ sourceKeys: 200, targetKeys: 200, missing: [], extra: [] });

    // Keys changing while audits run are in flight, not mismatches: nothing is confirmed.
    const writer = new pg.Client({ connectionString: PG_URL });
    await writer.connect();
    let writing = true;
    const writes = (async () => {
      for (let i = 0; writing; i++) {
        await writer.query(`INSERT INTO ${u.schema}.item VALUES ($1, 'churn', 1)`, [10_000 + i]);
        if (i > 3) await writer.query(`DELETE FROM ${u.schema}.item WHERE id = $1`, [10_000 + i - 3]);
      }
    })();
    const during = [...(await audit()), ...(await audit())];
    writing = false;
    await writes;
    await writer.query(`DELETE FROM ${u.schema}.item WHERE id >= 10000`);
    await writer.end();
    for (const record of during)
      expect(record).toMatchObject({ confirmedMissing: [], confirmedExtra: [], lagging: false });
    await caughtUp(e, u);

    // A lost delete of key 5 would leave it behind; a lost insert of key 999 never arrives.
    const rows = await e.rows(RAW);
    const seq5 = rows.filter((r) => r.id === 5).at(-1)!._seq as number;
    await e.warehouse.appendRows(RAW, [
      { id: 5, _op: 'd', _op_ts: '2026-01-01T00:00:00Z', _seq: seq5 + 1 },
      { id: 999, name: 'phantom', _op: 'c', _op_ts: '2026-01-01T00:00:00Z', _seq: 1 },
    ]);
    const [first] = await audit();
    expect(first!.missing).toEqual(['["5"]']);
    expect(first!.extra).toEqual(['["999"]']);
    expect(first!.confirmedMissing).toEqual([]);
    const [second] = await audit();
    expect(second!.confirmedMissing).toEqual(['["5"]']);
    expect(second!.confirmedExtra).toEqual(['["999"]']);
    expect(second!.lagging).toBe(false);
    // A change the stopped pipeline has not carried yet: the audit says it lags, and confirms nothing.
    await run.stop();
    await u.query(`INSERT INTO $schema.item VALUES (1000, 'new', 1)`);
    const [third] = await audit();
    expect(third).toMatchObject({ lagging: true, confirmedMissing: [], confirmedExtra: [] });
    expect(third!.missing).toEqual(['["1000"]', '["5"]']);
    expect((await e.store.audits(u.pipeline, { limit: 10 })).length).toBe(6);
  });

  it('explains every missing requirement at once', async () => {
    env = await PipelineEnvironment.create();
    upstream = await Upstream.create();
    const u = upstream;
    await u.query(`CREATE TABLE $schema.item (id integer, name text)`);
    await u.query(`CREATE TABLE $schema.ok (id integer PRIMARY KEY)`);
    const run = startRun(env, pgProject(u, ['item', 'missing', 'ok']));
    const error = await run.outcome.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ReplicationSetupError);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`${u.schema}\\.item has no primary key`));
    expect(message).toMatch(new RegExp(`table ${u.schema}\\.missing does not exist`));
    expect(message).not.toMatch(/\.ok/);
    expect(message).not.toMatch(/postgres:\/\//);
  });
});
