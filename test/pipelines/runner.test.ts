/**
 * The pipeline runner against the ChangeSource contract (issue 9 items 3-5): batches
 * committed with their position and acknowledged only after, restarts that skip what was
 * committed, schema evolution (add, drop unconsumed, drop consumed pauses and resumes),
 * TRUNCATE, unchanged TOAST columns, filters turning updates into deletes, and two runners
 * racing on one position.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DefinitionFile } from '../../src/core/model/build.js';
import type { TableSchema } from '../../src/pipelines/events.js';
import { PositionConflictError, runPipeline, type PipelineRunOptions } from '../../src/pipelines/runner.js';
import { IcebergSink } from '../../src/pipelines/sink.js';
import { EventScript, PipelineEnvironment, ScriptedSource, projectOf, type Project } from './support.js';

const TALENT_SOURCE = `name: talent
table: studio_raw.talent
primaryKey: talent_id
cdc: { orderBy: [_op_ts, _seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: talent_id, type: integer }
  - { name: name, type: string }
  - { name: agency, type: string }
`;

const TALENT_INPUT = `name: talent_by_agency
from: talent
fields: [talent.agency, talent.name]
`;

const TRACKER = `name: agency_tracker
input: talent_by_agency
schedule: "0 * * * *"
destinations:
  - { type: file, path: out/agency.csv }
`;

function pipelineYaml(extra = ''): string {
  return `name: studio
source:
  type: postgres
  connection: env:STUDIO_DB_URL
  tables: [public.talent]
sink: { type: iceberg, namespace: studio_raw, commitEvents: 3, commitInterval: 50ms }
${extra}`;
}

function project(pipeline = pipelineYaml(), source = TALENT_SOURCE, input = TALENT_INPUT): Project {
  const files: DefinitionFile[] = [
    { path: 'sources/talent.yaml', kind: 'source', text: source },
    { path: 'inputs/talent_by_agency.yaml', kind: 'input', text: input },
    { path: 'trackers/agency.yaml', kind: 'tracker', text: TRACKER },
    { path: 'pipelines/studio.yaml', kind: 'pipeline', text: pipeline },
  ];
  return projectOf(files);
}

const SCHEMA: TableSchema = {
  table: 'public.talent',
  columns: [
    { name: 'talent_id', type: 'integer' },
    { name: 'name', type: 'string' },
    { name: 'agency', type: 'string' },
    { name: 'bio', type: 'string' },
  ],
  primaryKey: ['talent_id'],
};

const RAW = { namespace: 'studio_raw', name: 'talent' };

describe('the pipeline runner', () => {
  let env: PipelineEnvironment;
  afterEach(async () => env?.dispose());

  async function run(p: Project, source: ScriptedSource, extra: Partial<PipelineRunOptions> = {}) {
    return runPipeline({
      pipeline: p.pipeline,
      compiler: p.compiler,
      warehouse: env.warehouse,
      duckdb: env.duckdb,
      source,
      store: env.store,
      ...extra,
    });
  }

  it('lands creates, updates and deletes with _op, _op_ts and _seq, acknowledging each commit after it', async () => {
    env = await PipelineEnvironment.create();
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'r', { talent_id: 1, name: 'Ada', agency: 'CAA', bio: 'x' })
      .change('public.talent', 'c', { talent_id: 2, name: 'Bo', agency: 'WME', bio: null })
      .change('public.talent', 'u', { talent_id: 1, name: 'Ada', agency: 'UTA', bio: 'x' })
      .change('public.talent', 'd', { talent_id: 2 })
      .change('public.talent', 'c', { talent_id: 3, name: 'Cy', agency: 'CAA', bio: 'y' });
    const source = new ScriptedSource(script.events, { batch: 2 });
    expect(await run(project(), source)).toEqual({ kind: 'ended' });

    const rows = await env.rows(RAW);
    expect(rows.map((r) => [r._op, r._seq, r.talent_id])).toEqual([
      ['r', 2, 1],
      ['c', 3, 2],
      ['u', 4, 1],
      ['d', 5, 2],
      ['c', 6, 3],
    ]);
    expect(rows[0]!._op_ts).toEqual(new Date('2026-01-01T00:00:00.000Z'));
    expect(await env.latest(RAW, 'talent_id')).toEqual([
      { talent_id: 1, name: 'Ada', agency: 'UTA', bio: 'x' },
      { talent_id: 3, name: 'Cy', agency: 'CAA', bio: 'y' },
    ]);
    // Acknowledged in order, the last one the last event's position.
    const acked = source.acknowledged.map((p) => p.seq);
    expect(acked).toEqual([...acked].sort((a, b) => Number(a - b)));
    expect(acked.at(-1)).toBe(6n);
    const sink = new IcebergSink(env.warehouse, project().pipeline.definition);
    expect((await sink.committed()).position?.seq).toBe(6n);
    const state = await env.store.get('studio');
    expect(state).toMatchObject({ status: 'idle', eventsTotal: 5, positionSeq: '6' });
  });

  it('after a crash between commit and acknowledge, resumes after the committed position without writing twice', async () => {
    env = await PipelineEnvironment.create();
    const script = new EventScript().schema(SCHEMA);
    for (let i = 1; i <= 10; i++)
      script.change('public.talent', i % 3 === 0 ? 'u' : 'c', {
        talent_id: i % 4,
        name: `n${i}`,
        agency: 'A',
        bio: null,
      });
    const crash = new Error('killed');
    let commits = 0;
    const first = new ScriptedSource(script.events, { batch: 4 });
    await expect(
      run(project(), first, {
        afterCommit: () => {
          if (++commits === 2) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    // The second commit is in the warehouse, but the source never heard of it.
    expect(first.acknowledged).toHaveLength(1);

    // The source resends from its acknowledged position: events already committed come again.
    const second = new ScriptedSource(script.events, {
      batch: 4,
      startAt: () => first.acknowledged[0]!.resume,
    });
    expect(await run(project(), second)).toEqual({ kind: 'ended' });
    const seqs = (await env.rows(RAW)).map((r) => r._seq);
    expect(seqs).toEqual([...new Set(seqs)]);
    expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 2));
  });

  it('skips events at or before the committed position when a source sends them again', async () => {
    env = await PipelineEnvironment.create();
    const script = new EventScript().schema(SCHEMA);
    for (let i = 1; i <= 6; i++)
      script.change('public.talent', 'c', { talent_id: i, name: `n${i}`, agency: 'A', bio: null });
    await run(project(), new ScriptedSource(script.events));
    // A source that replays from the very beginning (a slot that was never acknowledged).
    const replaying = new ScriptedSource(script.events, { startAt: () => undefined });
    expect(await run(project(), replaying)).toEqual({ kind: 'ended' });
    expect((await env.rows(RAW)).map((r) => r.talent_id)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('commits by size: commitEvents changes per commit', async () => {
    env = await PipelineEnvironment.create();
    const script = new EventScript().schema(SCHEMA);
    for (let i = 1; i <= 9; i++)
      script.change('public.talent', 'c', { talent_id: i, name: 'n', agency: 'A', bio: null });
    const commits: number[] = [];
    await run(project(), new ScriptedSource(script.events, { batch: 100 }), {
      afterCommit: (info) => {
        commits.push(info.events);
      },
    });
    expect(commits.filter((n) => n > 0)).toEqual([3, 3, 3]);
  });

  it('commits by time while the source is quiet, and records heartbeats end to end', async () => {
    env = await PipelineEnvironment.create();
    const source = new ScriptedSource(new EventScript().schema(SCHEMA).events, { follow: true });
    const controller = new AbortController();
    const committed: number[] = [];
    const running = run(project(), source, {
      signal: controller.signal,
      afterCommit: (info) => {
        committed.push(info.events);
        if (committed.length === 2) controller.abort();
      },
    });
    // Positions after the schema's.
    source.push({
      kind: 'change',
      table: 'public.talent',
      op: 'c',
      row: { talent_id: 1, name: 'Ada', agency: 'A', bio: null },
      ts: new Date().toISOString(),
      position: { seq: 2n, resume: '2' },
    });
    await new Promise((done) => setTimeout(done, 300));
    source.push({ kind: 'heartbeat', ts: new Date().toISOString(), position: { seq: 3n, resume: '3' } });
    expect(await running).toEqual({ kind: 'stopped' });
    expect(committed).toEqual([1, 0]);
    const heartbeats = await env.rows({ namespace: 'studio_raw', name: 'studio__heartbeats' });
    expect(heartbeats).toHaveLength(1);
    const state = await env.store.get('studio');
    expect(state?.heartbeatLatencyMs).toBeGreaterThanOrEqual(0);
    expect(state?.lastHeartbeatAt).toBeDefined();
  });

  it('schema evolution: a new column flows in (opt_in), an unconsumed dropped column goes on as NULL', async () => {
    env = await PipelineEnvironment.create();
    const withPhone: TableSchema = {
      ...SCHEMA,
      columns: [...SCHEMA.columns, { name: 'phone', type: 'string' }],
    };
    const withoutBio: TableSchema = {
      ...withPhone,
      columns: withPhone.columns.filter((c) => c.name !== 'bio'),
    };
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'c', { talent_id: 1, name: 'Ada', agency: 'A', bio: 'b' })
      .schema(withPhone)
      .change('public.talent', 'c', { talent_id: 2, name: 'Bo', agency: 'A', bio: 'c', phone: '555' })
      .schema(withoutBio)
      .change('public.talent', 'u', { talent_id: 1, name: 'Ada', agency: 'B', phone: '556' });
    expect(await run(project(), new ScriptedSource(script.events))).toEqual({ kind: 'ended' });
    expect(await env.latest(RAW, 'talent_id')).toEqual([
      { talent_id: 1, name: 'Ada', agency: 'B', bio: null, phone: '556' },
      { talent_id: 2, name: 'Bo', agency: 'A', bio: 'c', phone: '555' },
    ]);
  });

  it('schema evolution opt_out: only consumed columns are written', async () => {
    env = await PipelineEnvironment.create();
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'c', { talent_id: 1, name: 'Ada', agency: 'A', bio: 'b' });
    await run(project(pipelineYaml('schemaEvolution: opt_out\n')), new ScriptedSource(script.events));
    expect(await env.latest(RAW, 'talent_id')).toEqual([{ talent_id: 1, name: 'Ada', agency: 'A' }]);
  });

  it('dropping a consumed column pauses at the change, names who reads it, and resumes from there once the definitions change', async () => {
    env = await PipelineEnvironment.create();
    const withoutAgency: TableSchema = {
      ...SCHEMA,
      columns: SCHEMA.columns.filter((c) => c.name !== 'agency'),
    };
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'c', { talent_id: 1, name: 'Ada', agency: 'A', bio: null })
      .schema(withoutAgency)
      .change('public.talent', 'c', { talent_id: 2, name: 'Bo', bio: null });
    const outcome = await run(project(), new ScriptedSource(script.events));
    expect(outcome.kind).toBe('paused');
    const reason = outcome.kind === 'paused' ? outcome.reason : '';
    expect(reason).toContain('public.talent: column agency was dropped upstream');
    expect(reason).toContain('sources: talent; inputs: talent_by_agency; trackers: agency_tracker');
    expect((await env.rows(RAW)).map((r) => r.talent_id)).toEqual([1]);
    const state = await env.store.get('studio');
    expect(state).toMatchObject({ status: 'paused', positionSeq: '2' });

    // Still paused: a run does nothing.
    expect((await run(project(), new ScriptedSource(script.events))).kind).toBe('paused');

    // The source stops reading agency; the operator resumes.
    await env.store.update('studio', { status: 'idle', pausedReason: undefined, pausedAt: undefined });
    const fixed = project(
      pipelineYaml(),
      TALENT_SOURCE.replace('  - { name: agency, type: string }\n', ''),
      TALENT_INPUT.replace('talent.agency, ', ''),
    );
    expect(await run(fixed, new ScriptedSource(script.events))).toEqual({ kind: 'ended' });
    expect((await env.rows(RAW)).map((r) => r.talent_id)).toEqual([1, 2]);
  });

  it('TRUNCATE deletes every key the raw table holds', async () => {
    env = await PipelineEnvironment.create();
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'c', { talent_id: 1, name: 'Ada', agency: 'A', bio: null })
      .change('public.talent', 'c', { talent_id: 2, name: 'Bo', agency: 'A', bio: null })
      .truncate('public.talent')
      .change('public.talent', 'c', { talent_id: 3, name: 'Cy', agency: 'A', bio: null });
    await run(project(), new ScriptedSource(script.events));
    expect((await env.latest(RAW, 'talent_id')).map((r) => r.talent_id)).toEqual([3]);
  });

  it('keeps the value of a column an update left out (an unchanged TOAST value)', async () => {
    env = await PipelineEnvironment.create();
    const long = 'x'.repeat(5000);
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'c', { talent_id: 1, name: 'Ada', agency: 'A', bio: long })
      .change('public.talent', 'c', { talent_id: 2, name: 'Bo', agency: 'A', bio: 'short' })
      .change('public.talent', 'u', { talent_id: 1, name: 'Ada', agency: 'B' })
      .change('public.talent', 'u', { talent_id: 1, name: 'Ada', agency: 'C' })
      .change('public.talent', 'u', { talent_id: 2, name: 'Bo', agency: 'D' });
    // Commits of 3: the second update of key 1 finds the value in the same batch, the others in the table.
    await run(project(), new ScriptedSource(script.events));
    expect(await env.latest(RAW, 'talent_id')).toEqual([
      { talent_id: 1, name: 'Ada', agency: 'C', bio: long },
      { talent_id: 2, name: 'Bo', agency: 'D', bio: 'short' },
    ]);
  });

  it('a filter drops rows that never match and turns an update leaving it into a delete', async () => {
    env = await PipelineEnvironment.create();
    const filtered = pipelineYaml(
      `processors:\n  - { type: filter, where: "agency <> 'X' AND talent_id < 100" }\n`,
    );
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'c', { talent_id: 1, name: 'Ada', agency: 'A', bio: null })
      .change('public.talent', 'c', { talent_id: 2, name: 'Bo', agency: 'X', bio: null })
      .change('public.talent', 'c', { talent_id: 100, name: 'Cy', agency: 'A', bio: null })
      .change('public.talent', 'u', { talent_id: 1, name: 'Ada', agency: 'X', bio: null })
      .change('public.talent', 'c', { talent_id: 3, name: 'Di', agency: 'B', bio: null });
    await run(project(filtered), new ScriptedSource(script.events));
    const rows = await env.rows(RAW);
    expect(rows.map((r) => [r._op, r.talent_id])).toEqual([
      ['c', 1],
      ['d', 1],
      ['c', 3],
    ]);
  });

  it('a project keeps the listed columns and the key', async () => {
    env = await PipelineEnvironment.create();
    const projected = pipelineYaml(`processors:\n  - { type: project, fields: [name, agency] }\n`);
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.talent', 'c', { talent_id: 1, name: 'Ada', agency: 'A', bio: 'secret' });
    await run(project(projected), new ScriptedSource(script.events));
    expect(await env.latest(RAW, 'talent_id')).toEqual([{ talent_id: 1, name: 'Ada', agency: 'A' }]);
  });

  it('a runner whose position moved under it stops without committing; a stale lease is fenced off', async () => {
    env = await PipelineEnvironment.create();
    const script = new EventScript().schema(SCHEMA);
    for (let i = 1; i <= 6; i++)
      script.change('public.talent', 'c', { talent_id: i, name: 'n', agency: 'A', bio: null });
    const p = project();
    // Runner A reads the position, then B commits everything before A's first commit.
    let raced = false;
    const a = new ScriptedSource(script.events);
    const originalStart = a.start.bind(a);
    a.start = (from) => {
      const inner = originalStart(from);
      return {
        async *[Symbol.asyncIterator]() {
          for await (const batch of inner) {
            if (!raced) {
              raced = true;
              await run(p, new ScriptedSource(script.events), { fence: 1 });
            }
            yield batch;
          }
        },
      };
    };
    await expect(run(p, a, { fence: 1 })).rejects.toBeInstanceOf(PositionConflictError);
    // A runner with an older fence cannot even start.
    await expect(run(p, new ScriptedSource(script.events), { fence: 0 })).rejects.toThrow(/newer lease/);
    const seqs = (await env.rows(RAW)).map((r) => r._seq);
    expect(seqs).toEqual([2, 3, 4, 5, 6, 7]);
  });
});
