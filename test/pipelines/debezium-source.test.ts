/**
 * The debezium source end to end: pipelines run over newline-delimited files and over a
 * JetStream stream on the NATS server at 127.0.0.1:4222, into a warehouse read back with
 * hand-written SQL. Exactly once across stops, crashes between commit and acknowledge,
 * redeliveries and a reset warehouse.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import type { DefinitionFile } from '../../src/core/model/build.js';
import type { Logger } from '../../src/destinations/destination.js';
import type { PipelineEvent } from '../../src/pipelines/events.js';
import { runPipeline, type CommitInfo, type PipelineRunOptions } from '../../src/pipelines/runner.js';
import { DebeziumSource, type DebeziumSourceOptions } from '../../src/pipelines/sources/debezium/index.js';
import { IcebergSink } from '../../src/pipelines/sink.js';
import { openSource } from '../../src/pipelines/sources/index.js';
import { UNAVAILABLE_VALUE } from '../../src/pipelines/sources/debezium/envelope.js';
import {
  decimalBytes,
  pgChange,
  pgHeartbeat,
  pgTombstone,
  type TalentRow,
} from './fixtures/debezium/envelopes.js';
import { PipelineEnvironment, projectOf, type Project } from './support.js';

const TALENT_SOURCE = `name: talent
table: studio_raw.talent
primaryKey: talent_id
cdc: { orderBy: [_op_ts, _seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: talent_id, type: integer }
  - { name: name, type: string }
  - { name: agency, type: string }
`;

const RAW = { namespace: 'studio_raw', name: 'talent' };
/** 2026-01-01T10:00:00Z: each test message is a second after the one before. */
const T0 = Date.UTC(2026, 0, 1, 10);

function project(source: string, commitEvents = 3): Project {
  const pipeline = `name: studio
source:
  type: debezium
  tables: [public.talent]
${source}
sink: { type: iceberg, namespace: studio_raw, commitEvents: ${commitEvents}, commitInterval: 50ms }
`;
  const files: DefinitionFile[] = [
    { path: 'sources/talent.yaml', kind: 'source', text: TALENT_SOURCE },
    { path: 'pipelines/studio.yaml', kind: 'pipeline', text: pipeline },
  ];
  return projectOf(files);
}

/** A logger that keeps what it is told. */
class Recorder implements Logger {
  readonly lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, ...(fields ? { fields } : {}) });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) });
  }
  text(): string {
    return JSON.stringify(this.lines);
  }
}

let env: PipelineEnvironment | undefined;
let projectDir: string | undefined;
const sources: DebeziumSource[] = [];

afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  await env?.dispose();
  env = undefined;
  if (projectDir) await rm(projectDir, { recursive: true, force: true });
  projectDir = undefined;
});

async function setUp(): Promise<{ env: PipelineEnvironment; dir: string }> {
  env = await PipelineEnvironment.create();
  projectDir = await mkdtemp(join(tmpdir(), 'strata-debezium-'));
  await mkdir(join(projectDir, 'cdc'));
  return { env, dir: projectDir };
}

function sourceFor(
  p: Project,
  logger: Logger = new Recorder(),
  options: DebeziumSourceOptions = {},
  variables: NodeJS.ProcessEnv = {},
): DebeziumSource {
  const source = new DebeziumSource(
    { pipeline: p.pipeline.definition, projectDir: projectDir!, env: variables, logger },
    options,
  );
  sources.push(source);
  return source;
}

async function run(p: Project, source: DebeziumSource, extra: Partial<PipelineRunOptions> = {}) {
  return runPipeline({
    pipeline: p.pipeline,
    compiler: p.compiler,
    warehouse: env!.warehouse,
    duckdb: env!.duckdb,
    source,
    store: env!.store,
    ...extra,
  });
}

const lines = (...messages: string[]) => `${messages.join('\n')}\n`;

describe('debezium source: files', () => {
  it('lands c/u/d/r, skips tombstones and other tables, keeps unchanged TOAST values, applies a truncate; a second run writes nothing', async () => {
    const { dir } = await setUp();
    const at = (i: number) => T0 + i * 1000;
    const bio = "Ada's long biography";
    await writeFile(
      join(dir, 'cdc/talent.ndjson'),
      lines(
        pgChange({
          op: 'r',
          after: { talent_id: 1, name: 'Ada', agency: 'CAA', bio },
          tsMs: at(1),
          keyed: true,
        }),
        pgChange({ op: 'r', after: { talent_id: 2, name: 'Bo', agency: 'WME' }, tsMs: at(2), keyed: true }),
        pgChange({ op: 'c', after: { talent_id: 3, name: 'Cy', agency: 'UTA' }, tsMs: at(3), keyed: true }),
        pgChange({ op: 't', tsMs: at(4), keyed: true }),
        pgChange({
          op: 'c',
          after: { talent_id: 1, name: 'Ada', agency: 'UTA', bio, fee: decimalBytes(9999n), born: 7441 },
          tsMs: at(5),
          keyed: true,
        }),
        pgChange({
          op: 'c',
          after: { talent_id: 2, name: 'Bo', agency: 'WME', bio: 'Bo' },
          tsMs: at(6),
          keyed: true,
        }),
        pgHeartbeat(at(7)),
        pgChange({
          op: 'u',
          after: {
            talent_id: 1,
            name: 'Ada',
            agency: 'CAA',
            bio: UNAVAILABLE_VALUE,
            fee: decimalBytes(10000n),
            born: 7441,
          },
          tsMs: at(8),
          keyed: true,
        }),
        pgChange({ op: 'd', before: { talent_id: 2, name: 'Bo', agency: 'WME' }, tsMs: at(9), keyed: true }),
        pgTombstone(2),
        pgChange({
          op: 'c',
          after: { talent_id: 9, name: 'Log' },
          tsMs: at(10),
          table: 'audit_log',
          keyed: true,
        }),
        '',
        pgChange({ op: 'c', after: { talent_id: 4, name: 'Di', agency: 'ICM' }, tsMs: at(11), keyed: true }),
        pgChange({
          op: 'u',
          after: { talent_id: 4, name: 'Di', agency: 'ICM', bio: 'Di' },
          tsMs: at(12),
          keyed: true,
        }),
      ),
    );
    const p = project('  files: [cdc/talent.ndjson]');
    const commits: CommitInfo[] = [];
    expect(await run(p, sourceFor(p), { afterCommit: (info) => void commits.push(info) })).toEqual({
      kind: 'ended',
    });

    const latest = await env!.latest(RAW, 'talent_id');
    expect(latest).toEqual([
      {
        talent_id: 1,
        name: 'Ada',
        agency: 'CAA',
        bio,
        fee: expect.anything(),
        born: expect.anything(),
        updated_at: null,
        signed_at: null,
        active: null,
        rating: null,
        tags: null,
      },
      {
        talent_id: 4,
        name: 'Di',
        agency: 'ICM',
        bio: 'Di',
        fee: null,
        born: null,
        updated_at: null,
        signed_at: null,
        active: null,
        rating: null,
        tags: null,
      },
    ]);
    expect(String(latest[0]!.fee)).toMatch(/^100(\.0+)?$/);
    expect(new Date(latest[0]!.born as Date).toISOString().slice(0, 10)).toBe('1990-05-17');

    // Line numbers become _seq (file 0: seq = line); a truncate deletes every key at its line.
    const rows = await env!.rows(RAW, '_seq, talent_id');
    expect(rows.map((r) => [r._op, r._seq, r.talent_id])).toEqual([
      ['r', 1, 1],
      ['r', 2, 2],
      ['c', 3, 3],
      ['d', 4, 1],
      ['d', 4, 2],
      ['d', 4, 3],
      ['c', 5, 1],
      ['c', 6, 2],
      ['u', 8, 1],
      ['d', 9, 2],
      ['c', 13, 4],
      ['u', 14, 4],
    ]);
    expect(rows.find((r) => r._seq === 8)!._op_ts).toEqual(new Date(at(8)));
    // The unchanged TOAST value was filled from the row before it.
    expect(rows.find((r) => r._seq === 8)!.bio).toBe(bio);
    const heartbeats = await env!.rows({ namespace: 'studio_raw', name: 'studio__heartbeats' });
    expect(heartbeats).toHaveLength(1);
    const state = await env!.store.get('studio');
    expect(state?.schemas['public.talent']?.primaryKey).toEqual(['talent_id']);
    expect(state?.positionSeq).toBe('14');

    // Again: the source resumes after line 14, at the end of the file.
    const again: CommitInfo[] = [];
    expect(await run(p, sourceFor(p), { afterCommit: (info) => void again.push(info) })).toEqual({
      kind: 'ended',
    });
    expect(again).toEqual([]);
    expect(await env!.rows(RAW, '_seq, talent_id')).toHaveLength(rows.length);
  });

  it('stopped after its first commit, resumes after the committed line: every event exactly once, across files', async () => {
    const { dir } = await setUp();
    const first: string[] = [];
    const second: string[] = [];
    for (let i = 1; i <= 7; i++)
      first.push(
        pgChange({ op: 'c', after: { talent_id: i, name: `n${i}` }, tsMs: T0 + i * 1000, keyed: true }),
      );
    for (let i = 1; i <= 5; i++)
      second.push(
        pgChange({
          op: 'u',
          after: { talent_id: i, name: `m${i}` },
          tsMs: T0 + (10 + i) * 1000,
          keyed: true,
        }),
      );
    await writeFile(join(dir, 'cdc/a.ndjson'), lines(...first));
    // The last line without a newline after it.
    await writeFile(join(dir, 'cdc/b.ndjson'), second.join('\n'));
    const p = project('  files: [cdc/a.ndjson, cdc/b.ndjson]', 3);

    const controller = new AbortController();
    const stopped = await run(p, sourceFor(p, new Recorder(), { batch: 2 }), {
      signal: controller.signal,
      afterCommit: () => controller.abort(),
    });
    expect(stopped).toEqual({ kind: 'stopped' });
    const partial = await env!.rows(RAW);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(12);

    expect(await run(p, sourceFor(p, new Recorder(), { batch: 2 }))).toEqual({ kind: 'ended' });
    const rows = await env!.rows(RAW);
    const seqs = rows.map((r) => r._seq as number);
    expect(new Set(seqs).size).toBe(12);
    // File 1's lines are above 2^32.
    const fileB = 2 ** 32;
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, fileB + 1, fileB + 2, fileB + 3, fileB + 4, fileB + 5]);
    expect((await env!.latest(RAW, 'talent_id')).map((r) => r.name)).toEqual([
      'm1',
      'm2',
      'm3',
      'm4',
      'm5',
      'n6',
      'n7',
    ]);
  });

  it('a malformed line fails the run naming the file and line; the events before it are committed', async () => {
    const { dir } = await setUp();
    await writeFile(
      join(dir, 'cdc/talent.ndjson'),
      lines(
        pgChange({ op: 'c', after: { talent_id: 1, name: 'Ada' }, tsMs: T0, keyed: true }),
        '{"op": "c", "after": {"talent_id": 2',
      ),
    );
    const p = project('  files: [cdc/talent.ndjson]', 1);
    await expect(run(p, sourceFor(p))).rejects.toThrow(/^cdc\/talent\.ndjson:2: not JSON \(/);
    expect((await env!.rows(RAW)).map((r) => r.talent_id)).toEqual([1]);
    // It fails again at the same line rather than skipping it.
    await expect(run(p, sourceFor(p))).rejects.toThrow(/^cdc\/talent\.ndjson:2: /);
  });

  it('a missing file, and a committed position the file no longer matches, are errors', async () => {
    const { dir } = await setUp();
    const p = project('  files: [cdc/missing.ndjson]');
    await expect(run(p, sourceFor(p))).rejects.toThrow('cdc/missing.ndjson: no such file');

    const q = project('  files: [cdc/talent.ndjson]', 1);
    const two = lines(
      pgChange({ op: 'c', after: { talent_id: 1, name: 'Ada' }, tsMs: T0, keyed: true }),
      pgChange({ op: 'c', after: { talent_id: 2, name: 'Bo' }, tsMs: T0 + 1000, keyed: true }),
    );
    await writeFile(join(dir, 'cdc/talent.ndjson'), two);
    await run(q, sourceFor(q));
    // Rewritten shorter: the committed offset is past its end.
    await writeFile(join(dir, 'cdc/talent.ndjson'), two.slice(0, 40));
    await expect(run(q, sourceFor(q))).rejects.toThrow(
      /cdc\/talent\.ndjson is shorter .* than the committed position/,
    );
  });

  it('is what the registry opens for a debezium pipeline', async () => {
    await setUp();
    const p = project('  files: [cdc/talent.ndjson]');
    const source = await openSource({
      pipeline: p.pipeline.definition,
      projectDir: projectDir!,
      env: {},
      logger: new Recorder(),
    });
    expect(source).toBeInstanceOf(DebeziumSource);
    expect(await source.lag?.()).toEqual({});
    await source.close();
  });
});

// ----------------------------------------------------------------- JetStream

const NATS = 'nats://127.0.0.1:4222';
/** The server runs without auth and accepts any user: the credentials are there to be kept secret. */
const PASSWORD = 's3cret-Pass-41d9';
const NATS_ENV = { TEST_NATS_URL: `nats://strata:${PASSWORD}@127.0.0.1:4222` };

let nc: NatsConnection | undefined;
let stream: string | undefined;

afterEach(async () => {
  if (nc && stream) await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
  await nc?.drain();
  nc = undefined;
  stream = undefined;
});

/** A stream of its own (`strata_test_<random>`, subjects `<name>.>` and its heartbeat subject). */
async function createStream(): Promise<string> {
  nc = await connect({ servers: NATS });
  stream = `strata_test_${randomBytes(6).toString('hex')}`;
  await (
    await nc.jetstreamManager()
  ).streams.add({
    name: stream,
    subjects: [`${stream}.>`, `__debezium-heartbeat.${stream}`],
  });
  return stream;
}

/** As Debezium Server's NATS JetStream sink publishes: subject `<prefix>.<schema>.<table>`, the value as payload. */
async function publish(table: string, value: string): Promise<number> {
  const ack = await nc!.jetstream().publish(`${stream}.${table}`, new TextEncoder().encode(value));
  return ack.seq;
}

async function consumerInfo(name = 'strata_studio') {
  return (await nc!.jetstreamManager()).consumers.info(stream!, name);
}

/** Polls until `check` holds; fails naming `what` after the deadline (a busy machine is slow, never wrong). */
async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  deadlineMs = 15_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

function natsProject(extra = '', commitEvents = 100): Project {
  return project(`  nats: { url: env:TEST_NATS_URL, stream: ${stream}${extra} }`, commitEvents);
}

/** Runs the pipeline following the stream until a commit reaches `seq`, then stops it. */
async function runUntil(
  p: Project,
  source: DebeziumSource,
  seq: bigint,
  extra: Partial<PipelineRunOptions> = {},
): Promise<CommitInfo[]> {
  const controller = new AbortController();
  const commits: CommitInfo[] = [];
  const running = run(p, source, {
    ...extra,
    signal: controller.signal,
    afterCommit: async (info) => {
      commits.push(info);
      await extra.afterCommit?.(info);
    },
  });
  let failed: unknown;
  running.catch((e: unknown) => (failed = e));
  await waitFor(`a commit at ${seq}`, () => {
    if (failed) throw failed;
    return commits.some((c) => c.position.seq >= seq);
  });
  controller.abort();
  expect(await running).toEqual({ kind: 'stopped' });
  await source.close();
  return commits;
}

const talent = (op: 'c' | 'u' | 'r', id: number, name: string, i: number, more: Partial<TalentRow> = {}) =>
  pgChange({ op, after: { talent_id: id, name, agency: 'CAA', ...more }, tsMs: T0 + i * 1000 });

/** A change of a table the pipeline does not read. */
const auditLog = (i: number) =>
  pgChange({ op: 'c', after: { talent_id: 9, name: 'log' }, tsMs: T0 + i * 1000, table: 'audit_log' });

describe('debezium source: JetStream', () => {
  it('follows the stream; stopped and restarted after more messages, writes each once; acks messages of other tables too', async () => {
    await setUp();
    await createStream();
    const bio = 'x'.repeat(3000);
    await publish('studio.public.talent', talent('r', 1, 'Ada', 1, { bio }));
    await publish('studio.public.talent', talent('c', 2, 'Bo', 2));
    await publish('studio.public.talent', talent('u', 1, 'Ada L.', 3, { bio: UNAVAILABLE_VALUE }));
    await publish('studio.public.audit_log', auditLog(4));
    await nc!
      .jetstream()
      .publish(`__debezium-heartbeat.${stream}`, new TextEncoder().encode(pgHeartbeat(T0 + 5000)));
    const last = await publish('studio.public.talent', talent('c', 3, 'Cy', 6));
    expect(last).toBe(6);

    const logger = new Recorder();
    const p = natsProject();
    await runUntil(p, sourceFor(p, logger, {}, NATS_ENV), 6n);
    let rows = await env!.rows(RAW);
    expect(rows.map((r) => [r._op, r._seq, r.talent_id])).toEqual([
      ['r', 1, 1],
      ['c', 2, 2],
      ['u', 3, 1],
      ['c', 6, 3],
    ]);
    // The NATS sink publishes the value alone: the key comes from the Strata source over the raw
    // table, so the unchanged value is looked up there (never NULL, never the placeholder).
    expect(rows[0]!.bio).toBe(bio);
    expect(rows[2]!.bio).toBe(bio);
    expect((await env!.store.get('studio'))?.schemas['public.talent']?.primaryKey).toEqual(['talent_id']);
    expect(await env!.rows({ namespace: 'studio_raw', name: 'studio__heartbeats' })).toHaveLength(1);
    let info = await consumerInfo();
    expect([info.ack_floor.stream_seq, info.num_ack_pending, info.config.ack_policy]).toEqual([6, 0, 'all']);
    expect(info.config.max_ack_pending).toBeGreaterThanOrEqual(20_000);

    await publish(
      'studio.public.talent',
      pgChange({ op: 'd', before: { talent_id: 2, name: 'Bo' }, tsMs: T0 + 7000 }),
    );
    await publish('studio.public.audit_log', auditLog(8));
    await publish('studio.public.talent', talent('c', 4, 'Di', 9));
    await publish('studio.public.audit_log', auditLog(10));
    // A longer ack_wait: the consumer, all acknowledged, is kept and updated in place.
    const second = sourceFor(p, logger, { ackWaitMs: 120_000 }, NATS_ENV);
    const commits = await runUntil(p, second, 9n, {
      afterCommit: () => undefined,
    });
    expect(commits.length).toBeGreaterThan(0);
    rows = await env!.rows(RAW);
    expect(rows.map((r) => [r._op, r._seq, r.talent_id])).toEqual([
      ['r', 1, 1],
      ['c', 2, 2],
      ['u', 3, 1],
      ['c', 6, 3],
      ['d', 7, 2],
      ['c', 9, 4],
    ]);
    expect((await env!.latest(RAW, 'talent_id')).map((r) => [r.talent_id, r.name])).toEqual([
      [1, 'Ada L.'],
      [3, 'Cy'],
      [4, 'Di'],
    ]);
    // The trailing message of another table is acknowledged too: nothing is left pending.
    await waitFor('everything acknowledged', async () => {
      info = await consumerInfo();
      return info.ack_floor.stream_seq === 10 && info.num_ack_pending === 0;
    });
    expect(info.config.ack_wait).toBe(120_000 * 1_000_000);
    expect(logger.lines.map((l) => l.message).filter((m) => m.startsWith('recreating'))).toEqual([]);
    // The password never shows.
    expect(logger.text()).not.toContain(PASSWORD);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('a crash between commit and acknowledge: the unacknowledged messages come again, nothing is written twice', async () => {
    await setUp();
    await createStream();
    for (let i = 1; i <= 5; i++) await publish('studio.public.talent', talent('c', i, `n${i}`, i));
    const p = natsProject('', 2);
    const crash = new Error('killed between commit and acknowledge');
    const first = sourceFor(p, new Recorder(), {}, NATS_ENV);
    await expect(
      run(p, first, {
        afterCommit: () => {
          throw crash;
        },
      }),
    ).rejects.toBe(crash);
    await first.close();
    // Committed up to 2, acknowledged nothing: the consumer holds them as delivered.
    const committed = await new IcebergSink(env!.warehouse, p.pipeline.definition).committed();
    expect(committed.position?.seq).toBe(2n);
    const info = await consumerInfo();
    expect(info.ack_floor.stream_seq).toBe(0);
    expect(info.num_ack_pending).toBeGreaterThan(0);

    const logger = new Recorder();
    await runUntil(p, sourceFor(p, logger, {}, NATS_ENV), 5n);
    const rows = await env!.rows(RAW);
    expect(rows.map((r) => r._seq)).toEqual([1, 2, 3, 4, 5]);
    expect(logger.lines.map((l) => l.message)).toContain(
      'recreating the JetStream consumer: 5 messages delivered to an earlier run were never acknowledged (recreated so they come now, not after ack_wait)',
    );
    expect((await consumerInfo()).ack_floor.stream_seq).toBe(5);
  });

  it('within a session, messages redelivered after ack_wait are skipped; acknowledge moves the ack floor; close ends the iterator', async () => {
    await setUp();
    await createStream();
    for (let i = 1; i <= 3; i++) await publish('studio.public.talent', talent('c', i, `n${i}`, i));
    const p = natsProject();
    const source = sourceFor(p, new Recorder(), { ackWaitMs: 1000 }, NATS_ENV);
    const iterator = source.start(undefined)[Symbol.asyncIterator]();
    const seen: PipelineEvent[] = [];
    while (seen.filter((e) => e.kind === 'change').length < 3) {
      const batch = await iterator.next();
      expect(batch.done).toBe(false);
      if (!batch.done) seen.push(...batch.value);
    }
    expect(seen.map((e) => [e.kind, e.position.seq])).toEqual([
      ['schema', 1n],
      ['change', 1n],
      ['change', 2n],
      ['change', 3n],
    ]);
    expect(await source.lag()).toEqual({ events: 3 });
    // Not acknowledged within ack_wait: the server delivers them again.
    await waitFor('a redelivery', async () => (await consumerInfo()).num_redelivered > 0);
    await publish('studio.public.talent', talent('c', 4, 'n4', 4));
    const next = await iterator.next();
    expect(next.done).toBe(false);
    expect(next.done ? [] : next.value.map((e) => [e.kind, e.position.seq])).toEqual([['change', 4n]]);

    const fourth = next.done ? undefined : next.value[0]!.position;
    expect(fourth?.resume).toBe(JSON.stringify({ stream, seq: 4, base: 0 }));
    await source.acknowledge(fourth!);
    const info = await consumerInfo();
    expect(info.ack_floor.stream_seq).toBe(4);
    expect(await source.lag()).toEqual({ events: 0 });

    // Waiting for a message that never comes: close() ends the wait.
    const waiting = iterator.next();
    await source.close();
    expect(await waiting).toEqual({ done: true, value: undefined });
  });

  it('a consumer that acknowledged past the committed position (a reset warehouse) or went missing is recreated there', async () => {
    await setUp();
    await createStream();
    for (let i = 1; i <= 3; i++) await publish('studio.public.talent', talent('c', i, `n${i}`, i));
    const p = natsProject();
    await runUntil(p, sourceFor(p, new Recorder(), {}, NATS_ENV), 3n);
    expect((await consumerInfo()).ack_floor.stream_seq).toBe(3);

    // A new, empty warehouse: the consumer is past everything it holds.
    await env!.dispose();
    env = await PipelineEnvironment.create();
    const logger = new Recorder();
    await runUntil(p, sourceFor(p, logger, {}, NATS_ENV), 3n);
    expect((await env.rows(RAW)).map((r) => r._seq)).toEqual([1, 2, 3]);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'recreating the JetStream consumer: it acknowledged up to 3, past the committed position 0 (was the warehouse reset?)',
    ]);

    // Deleted meanwhile: made again after the committed position.
    await (await nc!.jetstreamManager()).consumers.delete(stream!, 'strata_studio');
    await publish('studio.public.talent', talent('c', 4, 'n4', 4));
    const again = new Recorder();
    await runUntil(p, sourceFor(p, again, {}, NATS_ENV), 4n);
    expect((await env.rows(RAW)).map((r) => r._seq)).toEqual([1, 2, 3, 4]);
    expect(again.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'recreating the JetStream consumer: it is missing (deleted, or expired)',
    ]);
    expect((await consumerInfo()).config.opt_start_seq).toBe(4);
  });

  it('reads only its subject filter; a malformed message fails the run naming the stream sequence and subject', async () => {
    await setUp();
    await createStream();
    await publish('studio.public.talent', talent('c', 1, 'Ada', 1));
    // Another subject the consumer does not read: never delivered, so never an error.
    await publish('studio.public.other', '{not json');
    await publish('studio.public.talent', '{"op": "c", "after": {"talent_id": 2}');
    const p = natsProject(`, subjects: [${stream}.studio.public.talent], consumer: studio_reader`, 1);
    const source = sourceFor(p, new Recorder(), {}, NATS_ENV);
    await expect(run(p, source)).rejects.toThrow(
      new RegExp(
        `^stream ${stream} sequence 3 \\(subject ${stream}\\.studio\\.public\\.talent\\): not JSON \\(`,
      ),
    );
    await source.close();
    expect((await env!.rows(RAW)).map((r) => r.talent_id)).toEqual([1]);
    expect((await consumerInfo('studio_reader')).config.filter_subject).toBe(
      `${stream}.studio.public.talent`,
    );
  });

  it('files first, then the stream, whose seqs continue above 2^48; restarted, nothing comes twice', async () => {
    const { dir } = await setUp();
    await createStream();
    await writeFile(
      join(dir, 'cdc/backfill.ndjson'),
      lines(talent('r', 1, 'Ada', 1), talent('r', 2, 'Bo', 2)),
    );
    await publish('studio.public.talent', talent('u', 1, 'Ada L.', 3));
    await publish('studio.public.talent', talent('c', 3, 'Cy', 4));
    const p = project(
      `  files: [cdc/backfill.ndjson]\n  nats: { url: env:TEST_NATS_URL, stream: ${stream} }`,
      100,
    );
    const base = 2n ** 48n;
    await runUntil(p, sourceFor(p, new Recorder(), {}, NATS_ENV), base + 2n);
    await publish('studio.public.talent', talent('c', 4, 'Di', 5));
    await runUntil(p, sourceFor(p, new Recorder(), {}, NATS_ENV), base + 3n);
    const rows = await env!.rows(RAW);
    const b = 2 ** 48;
    expect(rows.map((r) => [r._seq, r.talent_id])).toEqual([
      [1, 1],
      [2, 2],
      [b + 1, 1],
      [b + 2, 3],
      [b + 3, 4],
    ]);
    expect((await env!.store.get('studio'))?.position).toBe(JSON.stringify({ stream, seq: 3, base: b }));
  });

  it('cannot connect: the error names the server, never the password', async () => {
    await setUp();
    stream = 'unused';
    const p = natsProject();
    const source = sourceFor(
      p,
      new Recorder(),
      {},
      { TEST_NATS_URL: `nats://strata:${PASSWORD}@127.0.0.1:1` },
    );
    const error = await run(p, source).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/^cannot connect to NATS at nats:\/\/127\.0\.0\.1:1: /);
    expect(error?.message).not.toContain(PASSWORD);
    stream = undefined;
  });
});
