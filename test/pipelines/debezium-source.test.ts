/**
 * The debezium source end to end: pipelines run over newline-delimited files and over a
 * JetStream stream on the NATS server at 127.0.0.1:4222, into a warehouse read back with
 * hand-written SQL. Exactly once across stops, crashes between commit and acknowledge,
 * redeliveries and a reset warehouse.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DefinitionFile } from '../../src/core/model/build.js';
import type { Logger } from '../../src/destinations/destination.js';
import { runPipeline, type CommitInfo, type PipelineRunOptions } from '../../src/pipelines/runner.js';
import { DebeziumSource, type DebeziumSourceOptions } from '../../src/pipelines/sources/debezium/index.js';
import { openSource } from '../../src/pipelines/sources/index.js';
import { UNAVAILABLE_VALUE } from '../../src/pipelines/sources/debezium/envelope.js';
import { decimalBytes, pgChange, pgHeartbeat, pgTombstone } from './fixtures/debezium/envelopes.js';
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
