/**
 * Near-real-time trackers: a pipeline commit queues one debounced run (trigger `change`) of
 * each `refresh: on_change` tracker that reads the committed table, and none of the others;
 * notices arriving while a run waits join it, and one arriving while it runs queues exactly one
 * follow-up. Against real Redis, a real worker and the embedded warehouse.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import {
  enqueueMaintenance,
  MaintenanceWorker,
  openMaintenanceQueue,
} from '../../src/cdc/maintenance-queue.js';
import { Compiler } from '../../src/core/compile.js';
import { onChangeTrackerTables, trackersReading } from '../../src/core/trackers.js';
import { loadProject } from '../../src/project/load-project.js';
import { ChangeTrigger, changeRunId, currentChangeProject } from '../../src/trackers/change-trigger.js';
import { RunHistory, type TrackerRun } from '../../src/trackers/history.js';
import { historyLocation } from '../../src/trackers/locations.js';
import { bullConnection, SYNC_QUEUE, type SyncJobData } from '../../src/trackers/scheduler.js';
import { startWorker, type StrataWorker } from '../../src/trackers/worker.js';
import { Feed, feedFactory, OpsProject, silent, until } from '../pipelines/project-support.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from './support.js';

const prefixes: string[] = [];
const projects: OpsProject[] = [];

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix);
  for (const project of projects) project.cleanup();
});

const source = (name: string, table: string) => `name: ${name}
table: ${table}
primaryKey: item_id
cdc: { orderBy: [_seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: item_id, type: integer }
  - { name: name, type: string }
  - { name: qty, type: integer }
`;
const input = (name: string, from: string) =>
  `name: ${name}\nfrom: ${from}\nfields: [${from}.item_id, ${from}.name, ${from}.qty]\nsort: [${from}.item_id]\n`;
const tracker = (name: string, inputName: string, refresh: 'on_change' | 'always', out: string) =>
  `name: ${name}\ninput: ${inputName}\nrefresh: ${refresh}\ndestinations:\n  - { type: file, path: ${out} }\n`;

/** A project: pipeline p1 lands public.item in raw.p1_item; three trackers, one of which it concerns. */
function changeProject(debounce: string): OpsProject {
  const project = new OpsProject();
  projects.push(project);
  project.writePipeline('p1');
  for (const dir of ['definitions/sources', 'definitions/inputs', 'trackers'])
    mkdirSync(join(project.dir, dir), { recursive: true });
  project.writeFile('strata.yaml', `freshness: { debounce: ${debounce} }\n`);
  project.writeFile('definitions/sources/item.yaml', source('item', 'raw.p1_item'));
  project.writeFile('definitions/sources/other.yaml', source('other', 'raw.other_item'));
  project.writeFile('definitions/inputs/items.yaml', input('items', 'item'));
  project.writeFile('definitions/inputs/others.yaml', input('others', 'other'));
  // reads the committed table, on_change: runs on each commit (debounced)
  project.writeFile(
    'trackers/live.yaml',
    tracker('live', 'items', 'on_change', join(project.dir, 'live.json')),
  );
  // on_change, but another table: never
  project.writeFile(
    'trackers/elsewhere.yaml',
    tracker('elsewhere', 'others', 'on_change', join(project.dir, 'x.json')),
  );
  // reads the table, but refresh: always runs on its schedule or by hand only
  project.writeFile('trackers/daily.yaml', tracker('daily', 'items', 'always', join(project.dir, 'd.json')));
  return project;
}

async function runsOf(history: RunHistory): Promise<TrackerRun[]> {
  return (await history.list({ limit: 100 })).reverse();
}

describe('change-triggered runs', () => {
  it('finds the on_change trackers that read a table, whatever the catalog prefix or case', () => {
    const project = changeProject('1s');
    const loaded = loadProject(project.dir);
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const compiler = new Compiler(loaded.model);
    const due = (tables: string[]) =>
      trackersReading(onChangeTrackerTables(loaded.model.trackers.values(), compiler), tables).map(
        (t) => t.name,
      );
    expect(due(['raw.p1_item'])).toEqual(['live']);
    expect(due(['iceberg.RAW.p1_item', 'raw.unrelated'])).toEqual(['live']);
    expect(due(['raw.other_item'])).toEqual(['elsewhere']);
    expect(due(['raw.unrelated'])).toEqual([]);
  });

  it('a pipeline commit runs each on_change tracker reading the table once, debounced, and no other', async () => {
    const project = changeProject('1s');
    const prefix = uniquePrefix('change-runs');
    prefixes.push(prefix);
    const feed = new Feed()
      .change('c', { item_id: 1, name: 'a', qty: 1 })
      .change('c', { item_id: 2, name: 'b', qty: 2 });
    const history = await RunHistory.open(historyLocation(project.dir, {}));
    let worker: StrataWorker | undefined;
    try {
      worker = await startWorker({
        projectDir: project.dir,
        redis: REDIS_URL,
        prefix,
        name: 'w-change',
        logger: silent(),
        pipelineOptions: {
          openSource: feedFactory(new Map([['p1', feed]])),
          scanIntervalMs: 200,
          leaseTtlMs: 3_000,
          audits: false,
        },
      });
      const file = join(project.dir, 'live.json');
      const written = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown[]) : []);
      await until('the first change run', async () => written().length === 2, 30_000);

      // A burst of changes within the debounce window: one more run, which reads all of them.
      feed
        .change('u', { item_id: 1, name: 'a2', qty: 10 })
        .change('c', { item_id: 3, name: 'c', qty: 3 })
        .change('d', { item_id: 2, name: 'b', qty: 2 });
      await until(
        'the burst to reach the tracker',
        async () =>
          JSON.stringify(written()) ===
          JSON.stringify([
            { item_id: 1, name: 'a2', qty: 10 },
            { item_id: 3, name: 'c', qty: 3 },
          ]),
        30_000,
      );
      // Longer than the debounce: a second run for the same burst would have started by now.
      await new Promise((done) => setTimeout(done, 2_500));
      const runs = await runsOf(history);
      expect(runs.map((r) => [r.tracker, r.trigger, r.status])).toEqual([
        ['live', 'change', 'succeeded'],
        ['live', 'change', 'succeeded'],
      ]);
      expect(existsSync(join(project.dir, 'x.json'))).toBe(false);
      expect(existsSync(join(project.dir, 'd.json'))).toBe(false);
    } finally {
      await worker?.close();
      await history.close();
    }
  });

  it('notices while a run waits join it; those while it runs queue exactly one follow-up', async () => {
    const project = changeProject('300ms');
    const prefix = uniquePrefix('change-debounce');
    prefixes.push(prefix);
    const queue = new Queue<SyncJobData>(SYNC_QUEUE, { connection: bullConnection(REDIS_URL), prefix });
    const trigger = new ChangeTrigger({
      queue,
      project: () => currentChangeProject(project.dir),
      log: { info: () => undefined, warn: () => undefined },
    });
    const started: string[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((done) => (release = done));
    let worker: Worker<SyncJobData> | undefined;
    try {
      for (let i = 0; i < 5; i++) trigger.notify(['raw.p1_item']);
      await trigger.close();
      trigger.notify(['raw.p1_item']);
      await trigger.close();
      // One waiting run, delayed by the debounce, holding the tracker's deduplication id.
      const [waiting, ...more] = await queue.getDelayed();
      expect(more).toEqual([]);
      expect(waiting!.data).toEqual({ tracker: 'live', trigger: 'change' });
      expect(waiting!.opts.delay).toBe(300);
      expect(await queue.getDeduplicationJobId(changeRunId('live'))).toBe(waiting!.id);

      worker = new Worker<SyncJobData>(
        SYNC_QUEUE,
        async (job) => {
          started.push(`${job.data.tracker}:${job.data.trigger}`);
          if (started.length === 1) await blocked;
        },
        { connection: bullConnection(REDIS_URL), prefix },
      );

      await until('the run to start', () => started.length === 1, 20_000);
      for (let i = 0; i < 3; i++) {
        trigger.notify(['raw.p1_item']);
        await trigger.close();
      }
      release();
      await until('the follow-up run', () => started.length === 2, 20_000);
      // Nothing else comes: the three notices made one follow-up.
      await new Promise((done) => setTimeout(done, 1_000));
      expect(started).toEqual(['live:change', 'live:change']);
      expect(await queue.getJobCounts('delayed', 'waiting', 'active')).toEqual({
        delayed: 0,
        waiting: 0,
        active: 0,
      });
    } finally {
      release();
      await worker?.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('a maintenance job that compacted a table reports it changed; one that did not, does not', async () => {
    const prefix = uniquePrefix('change-maintenance');
    prefixes.push(prefix);
    const changed: string[][] = [];
    const compaction = (committed: boolean) => ({
      table: 'raw.p1_item',
      filesBefore: 3,
      filesAfter: committed ? 1 : 3,
      rowsBefore: 9,
      rowsAfter: committed ? 4 : 9,
      committed,
    });
    const results = [compaction(true), compaction(false)];
    const maintenance = new MaintenanceWorker({
      projectDir: '/nowhere',
      redis: REDIS_URL,
      prefix,
      name: 'maintenance-test',
      logger: silent(),
      run: async (_dir, table) => ({
        table,
        compaction: results.shift()!,
        expiredSnapshots: 0,
        removedFiles: [],
        rewrittenManifests: 0,
        newSnapshot: true,
      }),
      onTablesChanged: (tables) => changed.push(tables),
    });
    const queue = openMaintenanceQueue({ redis: REDIS_URL, prefix });
    try {
      await enqueueMaintenance(queue, 'raw.p1_item');
      await enqueueMaintenance(queue, 'raw.p1_item');
      await until(
        'both jobs done',
        async () => (await queue.getJobCounts('completed')).completed === 2,
        20_000,
      );
      expect(changed).toEqual([['raw.p1_item']]);
    } finally {
      await maintenance.close(1_000);
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
