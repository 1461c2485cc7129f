/**
 * `strata pipeline run|status|pause|resume|audit|dead-letters`, called in-process with
 * scripted sources, against real Redis (leases) and a project on disk: exit codes, what is
 * printed (no secret), and the clash of two pipelines on one raw table in `strata validate`.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  EXIT_PAUSED,
  pipelineAuditCommand,
  pipelineDeadLettersCommand,
  pipelinePauseCommand,
  pipelineResumeCommand,
  pipelineRunCommand,
  pipelineStatusCommand,
  type PipelineCommandDeps,
  type PipelineStatusView,
} from '../../src/cli/pipeline-commands.js';
import { validateCommand } from '../../src/cli/commands.js';
import { UsageError } from '../../src/engines/open-engine.js';
import { PipelineLeases } from '../../src/pipelines/lease.js';
import type { PipelineStateStore } from '../../src/pipelines/state.js';
import { committedThrough, Feed, feedFactory, OpsProject, until } from '../pipelines/project-support.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../service/support.js';

const SECRET_URL = 'postgres://repl:cli-s3cret-pw@db.internal/studio';
const ENRICH = `processors:
  - type: graphql_enrich
    endpoint: env:EDGE_URL
    query: "query($id: ID!) { item(id: $id) { colour } }"
    variables: { id: item_id }
    outputs: { colour: item.colour }
    retries: 0
`;

const prefix = uniquePrefix('cli-pipeline');
const flags = { redis: REDIS_URL, queuePrefix: prefix };
const redis = new Redis(REDIS_URL);
const leases = new PipelineLeases(redis, { prefix, owner: 'probe' });

let project: OpsProject;
let store: PipelineStateStore;
let feeds: Map<string, Feed>;
let stdout: string;
let stderr: string;

afterAll(async () => {
  redis.disconnect();
  await deleteKeys(prefix);
});

beforeEach(async () => {
  project = new OpsProject();
  project.writePipeline('studio');
  project.writePipeline('enriched', ENRICH);
  feeds = new Map([
    ['studio', new Feed()],
    ['enriched', new Feed()],
  ]);
  for (const feed of feeds.values())
    feed.change('c', { item_id: 1, name: 'a', qty: 1 }).change('c', { item_id: 2, name: 'b', qty: 2 });
  store = await project.openStore();
  stdout = '';
  stderr = '';
});

afterEach(async () => {
  await store.close();
  project.cleanup();
});

function deps(extra: Partial<PipelineCommandDeps> = {}): PipelineCommandDeps {
  return {
    openSource: feedFactory(feeds),
    env: { OPS_DB_URL: SECRET_URL, EDGE_URL: 'http://edge.internal/graphql' },
    logger: { info: () => undefined, warn: () => undefined },
    out: (text) => (stdout += text),
    err: (text) => (stderr += text),
    ...extra,
  };
}

/** Runs a pipeline until it has committed its feed, then stops it as Ctrl-C would. */
async function runUntilCommitted(name: string, extra: Partial<PipelineCommandDeps> = {}): Promise<number> {
  const controller = new AbortController();
  const running = pipelineRunCommand(project.dir, name, flags, deps({ signal: controller.signal, ...extra }));
  const feed = feeds.get(name)!;
  await until('committed', async () => committedThrough(await store.get(name), feed.lastSeq));
  expect(await leases.holder(name)).toMatchObject({ owner: expect.stringMatching(/:\d+$/) });
  controller.abort();
  return running;
}

async function status(name?: string): Promise<PipelineStatusView[]> {
  stdout = '';
  expect(await pipelineStatusCommand(project.dir, name, { ...flags, json: true }, deps())).toBe(0);
  return JSON.parse(stdout) as PipelineStatusView[];
}

describe('strata pipeline run', () => {
  it('runs until stopped, then exits 0 with the status idle and the lease released', async () => {
    expect(await runUntilCommitted('studio')).toBe(0);
    expect(stdout).toContain('pipeline studio stopped; committed through position 3');
    expect(await leases.holder('studio')).toBeUndefined();
    expect(await store.get('studio')).toMatchObject({ status: 'idle', eventsTotal: 2 });
    expect((await project.rows('studio_item')).map((r) => r.item_id)).toEqual([1, 2]);
  });

  it('refuses to run beside the worker holding the lease, naming it', async () => {
    const lease = await new PipelineLeases(redis, { prefix, owner: 'worker-7:4242' }).tryAcquire('studio');
    try {
      await expect(pipelineRunCommand(project.dir, 'studio', flags, deps())).rejects.toThrow(
        'pipeline studio is already running on worker-7:4242 (it holds the lease, fence',
      );
      expect(feeds.get('studio')!.opened).toBe(0);
    } finally {
      await lease!.release();
    }
  });

  it('a paused pipeline exits 3 with the reason; a failing one exits 1 with the error, redacted', async () => {
    await store.update('studio', { status: 'paused', pausedReason: 'upstream migration' });
    // Not even opened: a source that cannot be reached does not turn a pause into a failure.
    feeds.get('studio')!.failWith = new Error('unreachable');
    expect(await pipelineRunCommand(project.dir, 'studio', flags, deps())).toBe(EXIT_PAUSED);
    expect(stderr).toContain('pipeline studio is paused:\nupstream migration');
    expect(await store.get('studio')).toMatchObject({ status: 'paused' });
    expect(await leases.holder('studio')).toBeUndefined();

    feeds.get('enriched')!.failWith = new Error(`could not connect to ${SECRET_URL}`);
    expect(await pipelineRunCommand(project.dir, 'enriched', flags, deps())).toBe(1);
    expect(stderr).toContain(
      'pipeline enriched failed: could not connect to postgres://repl:[redacted]@db.internal',
    );
    expect(stderr).not.toContain('cli-s3cret-pw');
    expect(await store.get('enriched')).toMatchObject({ status: 'failed' });
    expect((await store.get('enriched'))?.error).not.toContain('cli-s3cret-pw');
  });

  it('an unknown pipeline is a usage error with a suggestion', async () => {
    const attempt = pipelineRunCommand(project.dir, 'studoi', flags, deps());
    await expect(attempt).rejects.toBeInstanceOf(UsageError);
    await expect(pipelineStatusCommand(project.dir, 'studoi', flags, deps())).rejects.toThrow(
      "unknown pipeline 'studoi' (did you mean studio?)",
    );
    await expect(pipelinePauseCommand(project.dir, 'nothing_like_it', {}, deps())).rejects.toThrow(
      "unknown pipeline 'nothing_like_it'; pipelines: enriched, studio",
    );
  });
});

describe('strata pipeline status, pause, resume', () => {
  it('status shows each pipeline (text and --json), pause and resume change it', async () => {
    expect(await runUntilCommitted('studio')).toBe(0);
    const [enriched, studio] = await status();
    expect(enriched).toMatchObject({ name: 'enriched', status: 'never run', defined: true, lease: null });
    expect(studio).toMatchObject({
      name: 'studio',
      status: 'idle',
      position: '3',
      positionSeq: '3',
      eventsTotal: 2,
      deadLetters: 0,
      lease: null,
      lag: { seconds: expect.any(Number) },
    });
    expect(studio!.worker).toMatch(/:\d+$/);
    expect(studio!.lastCommitAt).toBeDefined();

    stdout = '';
    expect(await pipelineStatusCommand(project.dir, 'studio', flags, deps())).toBe(0);
    expect(stdout).toMatch(/^studio: idle \(last run by .+:\d+\), no lease \(no worker runs it\)\n/);
    expect(stdout).toContain('  position 3 (seq 3), last commit ');
    expect(stdout).toContain('  events 2, dead letters 0\n');

    stdout = '';
    expect(await pipelinePauseCommand(project.dir, 'studio', { reason: 'vendor maintenance' }, deps())).toBe(
      0,
    );
    expect(stdout).toContain('pipeline studio paused');
    expect((await status('studio'))[0]).toMatchObject({
      status: 'paused',
      pausedReason: 'vendor maintenance',
    });
    stdout = '';
    await pipelinePauseCommand(project.dir, 'studio', {}, deps());
    expect(stdout).toBe('pipeline studio is already paused\n');
    stdout = '';
    await pipelineStatusCommand(project.dir, 'studio', flags, deps());
    expect(stdout).toMatch(/ {2}paused at .+: vendor maintenance\n/);

    stdout = '';
    expect(await pipelineResumeCommand(project.dir, 'studio', deps())).toBe(0);
    expect(stdout).toContain('pipeline studio resumed');
    const [resumed] = await status('studio');
    expect(resumed!.status).toBe('idle');
    expect(resumed!.pausedReason).toBeUndefined();
    stdout = '';
    await pipelineResumeCommand(project.dir, 'studio', deps());
    expect(stdout).toBe('pipeline studio is not paused (status: idle): nothing to do\n');

    // The lease a worker holds shows beside the state.
    const lease = await new PipelineLeases(redis, { prefix, owner: 'worker-9:99' }).tryAcquire('studio');
    try {
      expect((await status('studio'))[0]!.lease).toEqual({ owner: 'worker-9:99', fence: lease!.token });
    } finally {
      await lease!.release();
    }
  });
});

describe('strata pipeline dead-letters and audit', () => {
  it('lists the events an enrichment gave up on, newest first', async () => {
    const fetch = vi.fn(async () => new Response('service unavailable', { status: 503 }));
    expect(await runUntilCommitted('enriched', { enrich: { fetch, backoffMs: () => 0 } })).toBe(0);
    expect(fetch).toHaveBeenCalled();
    stdout = '';
    expect(await pipelineDeadLettersCommand(project.dir, 'enriched', {}, deps())).toBe(0);
    expect(stdout).toContain('2 dead letter(s) in raw.enriched__dead_letters, newest first:');
    expect(stdout).toMatch(
      /public\.item c at seq 3: processors\[0\] \(graphql_enrich\) gave up after 1 attempt\(s\): HTTP 503: the answer is not JSON \(service unavailable\)\n {4}row \{"item_id":2,"name":"b","qty":2\}/,
    );
    stdout = '';
    await pipelineDeadLettersCommand(project.dir, 'enriched', { json: true, limit: '1' }, deps());
    const rows = JSON.parse(stdout) as { seq: string; upstreamTable: string }[];
    expect(rows).toEqual([expect.objectContaining({ seq: '3', upstreamTable: 'public.item' })]);
    expect((await status('enriched'))[0]!.deadLetters).toBe(2);

    stdout = '';
    await pipelineDeadLettersCommand(project.dir, 'studio', {}, deps());
    expect(stdout).toBe('no dead letters for pipeline studio (it has not run yet)\n');
    await expect(pipelineDeadLettersCommand(project.dir, 'enriched', { limit: '0' }, deps())).rejects.toThrow(
      '--limit expects a positive integer',
    );
  });

  it('audit: exit 0 when the keys match, 1 with the keys listed when they do not; status shows the last one', async () => {
    const feed = feeds.get('studio')!;
    feed.auditable = true;
    expect(await runUntilCommitted('studio')).toBe(0);

    stdout = '';
    expect(await pipelineAuditCommand(project.dir, 'studio', { wait: '1s' }, deps())).toBe(0);
    expect(stdout).toBe(
      'public.item: source 2 keys, raw table 2 keys, compared at position 3\n' +
        '  missing from the raw table: none\n  extra in the raw table: none\n',
    );

    feed.phantomKeys.push('["42"]');
    stdout = '';
    expect(await pipelineAuditCommand(project.dir, 'studio', { wait: '1s' }, deps())).toBe(1);
    expect(stdout).toContain('  missing from the raw table: 1 (0 confirmed): ["42"]\n');
    expect(stderr).toContain('mismatches found');
    stdout = '';
    expect(await pipelineAuditCommand(project.dir, 'studio', { wait: '1s', json: true }, deps())).toBe(1);
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({ table: 'public.item', missing: ['["42"]'], confirmedMissing: ['["42"]'] }),
    ]);
    expect((await status('studio'))[0]!.lastAudit).toEqual([
      expect.objectContaining({
        table: 'public.item',
        sourceKeys: 3,
        targetKeys: 2,
        missing: 1,
        confirmedMissing: 1,
      }),
    ]);

    // A source that cannot list its keys.
    await expect(pipelineAuditCommand(project.dir, 'enriched', { wait: '1s' }, deps())).rejects.toThrow(
      'cannot be queried for its keys',
    );
  });
});

describe('strata validate', () => {
  it('two pipelines writing one raw table: an error at the second one, with its position', async () => {
    project.writeFile(
      'definitions/pipelines/zz_backfill.yaml',
      `name: zz_backfill
source: { type: debezium, files: [backfill.ndjson], tables: [archive.item] }
sink:
  type: iceberg
  namespace: raw
  tables: { archive.item: studio_item }
`,
    );
    let printed = '';
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      printed += String(text);
      return true;
    });
    let code: number | void;
    try {
      code = await validateCommand(project.dir);
    } finally {
      write.mockRestore();
    }
    expect(code).toBe(1);
    expect(printed).toContain(
      "zz_backfill.yaml:6:27: error: archive.item would land in raw.studio_item, which pipeline 'studio'",
    );
  });
});
