/**
 * Scheduled audits (spec §9): the supervisor keeps one Job Scheduler per pipeline on the
 * audit queue, and its audit worker runs the audits jobs ask for, recording them; a mismatch
 * is confirmed by a second audit; a source that cannot list its keys is not audited, and
 * that is no failure.
 */
import { QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AUDIT_QUEUE,
  DEFAULT_AUDIT_SCHEDULE,
  enqueueAudit,
  openAuditQueue,
  type AuditJobData,
  type AuditJobSummary,
} from '../../src/pipelines/audit-queue.js';
import { PipelineSupervisor } from '../../src/pipelines/supervisor.js';
import { bullConnection } from '../../src/trackers/scheduler.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../service/support.js';
import { capturing, committedThrough, Feed, feedFactory, OpsProject, until } from './project-support.js';

let cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function start(names: Record<string, string>, auditable = true) {
  const project = new OpsProject();
  const feeds = new Map<string, Feed>();
  for (const [name, extra] of Object.entries(names)) {
    project.writePipeline(name, extra);
    const feed = new Feed();
    feed.auditable = auditable;
    feed.change('c', { item_id: 1, name: 'a', qty: 1 }).change('c', { item_id: 2, name: 'b', qty: 2 });
    feeds.set(name, feed);
  }
  const prefix = uniquePrefix('audits');
  const store = await project.openStore();
  const queue = openAuditQueue({ redis: REDIS_URL, prefix });
  const events = new QueueEvents(AUDIT_QUEUE, { connection: bullConnection(REDIS_URL), prefix });
  await events.waitUntilReady();
  const { logger, lines } = capturing();
  const supervisor = new PipelineSupervisor({
    projectDir: project.dir,
    redis: REDIS_URL,
    prefix,
    owner: 'w1',
    env: {},
    logger,
    openSource: feedFactory(feeds),
    scanIntervalMs: 200,
    leaseTtlMs: 2_000,
    auditCatchUpMs: 2_000,
  });
  supervisor.start();
  cleanup.push(async () => {
    await supervisor.stop();
    await events.close();
    await queue.close();
    await store.close();
    await deleteKeys(prefix);
    project.cleanup();
  });
  return { project, feeds, store, queue, events, lines };
}

/** Runs an audit job and waits for its outcome. */
async function audit(
  queue: ReturnType<typeof openAuditQueue>,
  events: QueueEvents,
  pipeline: string,
): Promise<AuditJobSummary> {
  const id = await enqueueAudit(queue, pipeline);
  const job = await queue.getJob(id);
  return (await job!.waitUntilFinished(events, 20_000)) as AuditJobSummary;
}

async function schedulers(queue: ReturnType<typeof openAuditQueue>) {
  const all = await queue.getJobSchedulers(0, -1, true);
  return Object.fromEntries(
    all.map((s) => [
      s.key,
      { pattern: s.pattern, tz: s.tz, pipeline: (s.template?.data as AuditJobData)?.pipeline },
    ]),
  );
}

describe('pipeline audits', () => {
  it('one scheduler per pipeline (hourly by default, UTC), following the definitions', async () => {
    const { project, queue } = await start({ p1: '', p2: 'audit: { schedule: "*/10 * * * *" }\n' });
    await until('both schedulers', async () => Object.keys(await schedulers(queue)).length === 2);
    expect(await schedulers(queue)).toEqual({
      'audit:p1': { pattern: DEFAULT_AUDIT_SCHEDULE, tz: 'UTC', pipeline: 'p1' },
      'audit:p2': { pattern: '*/10 * * * *', tz: 'UTC', pipeline: 'p2' },
    });
    expect(DEFAULT_AUDIT_SCHEDULE).toBe('0 * * * *');

    project.writePipeline('p1', 'audit: { schedule: "30 2 * * *" }\n');
    project.removePipeline('p2');
    await until('p2 gone, p1 changed', async () => {
      const now = await schedulers(queue);
      return !now['audit:p2'] && now['audit:p1']?.pattern === '30 2 * * *';
    });
    expect(Object.keys(await schedulers(queue))).toEqual(['audit:p1']);
  });

  it('an audit job records the comparison; a mismatch found twice is confirmed and warned about', async () => {
    const { feeds, store, queue, events, lines } = await start({ p1: '' });
    const feed = feeds.get('p1')!;
    await until('committed', async () => committedThrough(await store.get('p1'), feed.lastSeq));

    const clean = await audit(queue, events, 'p1');
    expect(clean).toEqual({
      pipeline: 'p1',
      auditable: true,
      tables: [{ table: 'public.item', sourceKeys: 2, targetKeys: 2, missing: 0, extra: 0, lagging: false }],
    });
    expect((await store.audits('p1'))[0]).toMatchObject({ table: 'public.item', missing: [], extra: [] });

    // A row upstream that never reached the raw table.
    feed.phantomKeys.push('["99"]');
    const first = await audit(queue, events, 'p1');
    expect(first.tables[0]).toMatchObject({ sourceKeys: 3, targetKeys: 2, missing: 1 });
    expect((await store.audits('p1'))[0]).toMatchObject({ missing: ['["99"]'], confirmedMissing: [] });
    expect(lines.some((l) => l.msg.startsWith('pipeline audit confirmed mismatches'))).toBe(false);

    await audit(queue, events, 'p1');
    expect((await store.audits('p1'))[0]).toMatchObject({
      missing: ['["99"]'],
      confirmedMissing: ['["99"]'],
    });
    const warning = lines.find((l) => l.msg.startsWith('pipeline audit confirmed mismatches'));
    expect(warning).toMatchObject({
      pipeline: 'p1',
      table: 'public.item',
      confirmedMissing: 1,
      missingKeys: ['["99"]'],
    });
  });

  it('a source without snapshotKeys is not auditable: the job completes, said once in the log', async () => {
    const { feeds, store, queue, events, lines } = await start({ p1: '' }, false);
    await until('committed', async () => committedThrough(await store.get('p1'), feeds.get('p1')!.lastSeq));
    expect(await audit(queue, events, 'p1')).toEqual({ pipeline: 'p1', auditable: false, tables: [] });
    expect(await audit(queue, events, 'p1')).toEqual({ pipeline: 'p1', auditable: false, tables: [] });
    expect(lines.filter((l) => l.msg === 'pipeline not auditable')).toHaveLength(1);
    expect(await store.audits('p1')).toEqual([]);
  });
});
