/**
 * The pipeline supervisor of `strata worker` (spec §9: each pipeline in exactly one worker at
 * a time), against real Redis and a project on disk, with scripted sources: fair shares, a
 * dead worker's pipelines taken over after its leases expire with every event landing once,
 * definition changes, failures retried with backoff beside healthy pipelines, pause and resume.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { PipelineLeases } from '../../src/pipelines/lease.js';
import type { PipelineStateStore } from '../../src/pipelines/state.js';
import {
  fairShare,
  PipelineSupervisor,
  retryDelay,
  type SupervisorOptions,
} from '../../src/pipelines/supervisor.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../service/support.js';
import {
  capturing,
  committedThrough,
  Feed,
  feedFactory,
  OpsProject,
  silent,
  until,
} from './project-support.js';

const SECRET_URL = 'postgres://repl:s3cret-ops-pw@db.internal/studio';

interface Setup {
  project: OpsProject;
  feeds: Map<string, Feed>;
  prefix: string;
  store: PipelineStateStore;
  supervisors: PipelineSupervisor[];
}

let setup: Setup | undefined;

afterEach(async () => {
  if (!setup) return;
  await Promise.all(setup.supervisors.map((s) => s.stop()));
  await setup.store.close();
  await deleteKeys(setup.prefix);
  setup.project.cleanup();
  setup = undefined;
});

async function prepare(names: string[], rows = 3): Promise<Setup> {
  const project = new OpsProject();
  const feeds = new Map<string, Feed>();
  for (const name of names) {
    project.writePipeline(name);
    const feed = new Feed();
    for (let i = 1; i <= rows; i++) feed.change('c', { item_id: i, name: `${name}-${i}`, qty: i });
    feeds.set(name, feed);
  }
  setup = {
    project,
    feeds,
    prefix: uniquePrefix('supervisor'),
    store: await project.openStore(),
    supervisors: [],
  };
  return setup;
}

function supervisor(s: Setup, owner: string, extra: Partial<SupervisorOptions> = {}): PipelineSupervisor {
  const sup = new PipelineSupervisor({
    projectDir: s.project.dir,
    redis: REDIS_URL,
    prefix: s.prefix,
    owner,
    env: { OPS_DB_URL: SECRET_URL },
    logger: silent(),
    openSource: feedFactory(s.feeds),
    scanIntervalMs: 200,
    leaseTtlMs: 3_000,
    audits: false,
    ...extra,
  });
  s.supervisors.push(sup);
  sup.start();
  return sup;
}

/** Every pipeline has committed its feed's last event. */
async function allCommitted(s: Setup, names = [...s.feeds.keys()]): Promise<boolean> {
  for (const name of names)
    if (!committedThrough(await s.store.get(name), s.feeds.get(name)!.lastSeq)) return false;
  return true;
}

describe('fair share and backoff', () => {
  it('ceil(pipelines / live workers); delays double from 1 s up to 5 min', () => {
    expect([fairShare(6, 2), fairShare(7, 2), fairShare(1, 3), fairShare(0, 2), fairShare(5, 0)]).toEqual([
      3, 4, 1, 0, 5,
    ]);
    const policy = { initialMs: 1_000, maxMs: 300_000, healthyMs: 60_000 };
    expect([1, 2, 3, 9, 10, 20].map((n) => retryDelay(n, policy))).toEqual([
      1_000, 2_000, 4_000, 256_000, 300_000, 300_000,
    ]);
  });
});

describe('the pipeline supervisor', () => {
  it("a second worker gets half the pipelines; a dead worker's pipelines move once its leases expire; each event lands once", async () => {
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const s = await prepare(names);
    // Alone, w1 takes all 6; when w2 joins, w1 hands 3 over gracefully.
    const w1 = supervisor(s, 'w1');
    await until('w1 holds all 6', () => w1.holding().size === 6);
    await until('every pipeline committed', () => allCommitted(s));
    const w2 = supervisor(s, 'w2');

    await until('3 pipelines on each worker', () => w1.holding().size === 3 && w2.holding().size === 3);
    const held = [...w1.holding().keys(), ...w2.holding().keys()].sort();
    expect(held).toEqual(names);
    // Each running again, in exactly one place (never two: see maxOpenAtOnce below).
    await until('every pipeline running', () => [...s.feeds.values()].every((f) => f.openNow === 1));

    for (const [name, feed] of s.feeds) feed.change('u', { item_id: 1, name: `${name}-1b`, qty: 10 });
    await until('the updates committed', () => allCommitted(s));
    const owners = new Map<string, string>();
    for (const name of names) owners.set(name, (await s.store.get(name))!.worker!);
    expect(new Set(owners.values())).toEqual(new Set(['w1', 'w2']));

    // w1 dies: no release, no goodbye. Its pipelines wait for their leases to expire.
    const orphans = [...w1.holding().keys()];
    await w1.kill();
    for (const [name, feed] of s.feeds) {
      feed.change('c', { item_id: 4, name: `${name}-4`, qty: 4 });
      feed.change('d', { item_id: 2 });
    }
    await until('w2 holds all 6', () => w2.holding().size === 6);
    await until('every event committed', () => allCommitted(s));
    for (const name of orphans) expect((await s.store.get(name))?.worker).toBe('w2');

    for (const [name, feed] of s.feeds) {
      const rows = await s.project.rows(`${name}_item`);
      // Every event once, in order: seq 2.. (1 is the schema).
      expect(rows.map((r) => r._seq)).toEqual(Array.from({ length: feed.lastSeq - 1 }, (_, i) => i + 2));
      expect(rows.map((r) => [r._op, r.item_id])).toEqual([
        ['c', 1],
        ['c', 2],
        ['c', 3],
        ['u', 1],
        ['c', 4],
        ['d', 2],
      ]);
      // Never open in two places at once, through the rebalance and the takeover.
      expect(feed.maxOpenAtOnce).toBe(1);
    }

    // A graceful stop releases every lease and leaves the registry.
    await w2.stop();
    const redis = new Redis(REDIS_URL);
    try {
      const leases = new PipelineLeases(redis, { prefix: s.prefix, owner: 'probe' });
      for (const name of names) expect(await leases.holder(name)).toBeUndefined();
      expect(await redis.zrange(`${s.prefix}:pipeline-workers`, '0', '-1')).toEqual([]);
    } finally {
      redis.disconnect();
    }
    for (const name of names) expect((await s.store.get(name))?.status).toBe('idle');
  });

  it('a changed definition restarts the pipeline with it; a removed one is stopped and released', async () => {
    const s = await prepare(['p1', 'p2']);
    const feed = s.feeds.get('p1')!;
    const { logger, lines } = capturing();
    const w = supervisor(s, 'w1', { logger });
    await until('committed', () => allCommitted(s));
    expect(feed.contexts).toHaveLength(1);

    s.project.writePipeline('p1', 'processors:\n  - { type: filter, where: "qty > 1" }\n');
    await until('restarted with the filter', () => feed.contexts.some((c) => c.pipeline.processors?.length));
    feed.change('c', { item_id: 7, name: 'small', qty: 0 });
    feed.change('c', { item_id: 8, name: 'large', qty: 5 });
    await until('committed', () => allCommitted(s));
    const rows = await s.project.rows('p1_item');
    expect(rows.map((r) => r.item_id)).toEqual([1, 2, 3, 8]);
    expect(feed.maxOpenAtOnce).toBe(1);

    s.project.removePipeline('p2');
    await until('p2 released', () => !w.holding().has('p2'));
    expect(s.feeds.get('p2')!.openNow).toBe(0);
    const redis = new Redis(REDIS_URL);
    try {
      expect(
        await new PipelineLeases(redis, { prefix: s.prefix, owner: 'probe' }).holder('p2'),
      ).toBeUndefined();
    } finally {
      redis.disconnect();
    }

    // An invalid definition is logged, and the last valid one keeps running as it was.
    const opened = feed.opened;
    s.project.writePipeline('p1', 'processors:\n  - { type: filter, where: "qty >" }\n');
    await until('the errors logged', () => lines.some((l) => l.msg.startsWith('invalid definitions')));
    feed.change('c', { item_id: 9, name: 'after', qty: 9 });
    await until('committed', () => allCommitted(s, ['p1']));
    expect(feed.opened).toBe(opened);
    expect(w.holding().get('p1')).toBe('running');
  });

  it('a failing source: status failed (redacted), retried with backoff; the other pipelines keep committing', async () => {
    const s = await prepare(['good', 'broken']);
    const broken = s.feeds.get('broken')!;
    broken.failWith = new Error(`could not connect to ${SECRET_URL}`);
    const { logger, lines } = capturing();
    supervisor(s, 'w1', { logger, backoff: { initialMs: 100, maxMs: 400 } });

    const failures = () => lines.filter((l) => l.msg === 'pipeline failed; retrying after a backoff');
    await until('4 failures', () => failures().length >= 4);
    expect(
      failures()
        .slice(0, 4)
        .map((l) => l.retryInMs),
    ).toEqual([100, 200, 400, 400]);
    const state = await s.store.get('broken');
    expect(state?.status).toBe('failed');
    expect(state?.error).toContain('could not connect to postgres://repl:[redacted]@db.internal/studio');
    expect(JSON.stringify(lines)).not.toContain('s3cret-ops-pw');

    const good = s.feeds.get('good')!;
    await until('good committed', () => allCommitted(s, ['good']));
    good.change('c', { item_id: 9, name: 'more', qty: 9 });
    await until('good keeps committing', () => allCommitted(s, ['good']));
    expect((await s.store.get('good'))?.status).toBe('running');

    // The source comes back: the next retry runs it.
    broken.failWith = undefined;
    await until('broken recovered', () => allCommitted(s, ['broken']));
    expect((await s.store.get('broken'))?.status).toBe('running');
    expect((await s.store.get('broken'))?.error).toBeUndefined();
  });

  it('a pause stops the runner and keeps the lease; a resume runs it again', async () => {
    const s = await prepare(['p1']);
    const feed = s.feeds.get('p1')!;
    const w = supervisor(s, 'w1');
    await until('committed', () => allCommitted(s));

    await s.store.update('p1', {
      status: 'paused',
      pausedReason: 'maintenance',
      pausedAt: new Date().toISOString(),
    });
    await until('paused', () => w.holding().get('p1') === 'paused' && feed.openNow === 0);
    feed.change('c', { item_id: 5, name: 'while paused', qty: 5 });
    expect(w.holding().has('p1')).toBe(true);
    expect((await s.store.get('p1'))?.status).toBe('paused');

    await s.store.update('p1', { status: 'idle', pausedReason: undefined, pausedAt: undefined });
    await until('resumed and committed', () => allCommitted(s));
    expect(w.holding().get('p1')).toBe('running');
    expect((await s.project.rows('p1_item')).map((r) => r.item_id)).toEqual([1, 2, 3, 5]);
  });

  it('a pipeline taken while paused is not started (its source is not even opened)', async () => {
    const s = await prepare(['p1']);
    const feed = s.feeds.get('p1')!;
    feed.failWith = new Error('unreachable');
    await s.store.update('p1', { status: 'paused', pausedReason: 'before any worker' });
    const { logger, lines } = capturing();
    const w = supervisor(s, 'w1', { logger });
    await until('held, paused', () => w.holding().get('p1') === 'paused');
    expect(lines.filter((l) => l.msg.startsWith('pipeline failed'))).toEqual([]);
    expect(await s.store.get('p1')).toMatchObject({ status: 'paused', pausedReason: 'before any worker' });

    feed.failWith = undefined;
    await s.store.update('p1', { status: 'idle', pausedReason: undefined });
    await until('resumed and committed', () => allCommitted(s));
  });
});
