/**
 * Near-real-time trackers: a change to a table (a pipeline commit, a compaction) queues a run,
 * trigger `change`, of every `refresh: on_change` tracker that reads it. Runs are debounced
 * per tracker with BullMQ deduplication: the first change queues a run `debounce` later; more
 * changes meanwhile join it; a change while it runs queues exactly one follow-up (so nothing
 * committed after the run read its tables is left behind). The run itself still skips when
 * nothing that determines its result changed.
 */
import type { Queue } from 'bullmq';
import { durationMs, type ProjectConfig } from '../core/definitions/schema.js';
import type { TrackerModel } from '../core/model/types.js';
import { onChangeTrackerTables, trackersReading } from '../core/trackers.js';
import { Compiler as ProjectCompiler } from '../core/compile.js';
import { loadProject } from '../project/load-project.js';
import { Redis } from 'ioredis';
import {
  configuredRedisUrl,
  openSyncQueue,
  SYNC_JOB,
  SYNC_JOB_OPTIONS,
  type SyncJobData,
} from './scheduler.js';

/** The least time between change-triggered runs of one tracker, unless configured. */
export const DEFAULT_CHANGE_DEBOUNCE_MS = 5_000;
/** Notices arriving this close together are matched against the trackers once. */
const COALESCE_MS = 200;
/** How long the definitions read for matching are reused (a commit a second must not reload them each time). */
export const PROJECT_REUSE_MS = 5_000;

export function changeDebounceMs(tracker: TrackerModel, config: ProjectConfig): number {
  const text = tracker.definition.freshness?.debounce ?? config.freshness?.debounce;
  return text ? durationMs(text) : DEFAULT_CHANGE_DEBOUNCE_MS;
}

/** The BullMQ deduplication id of a tracker's change-triggered runs. */
export function changeRunId(tracker: string): string {
  return `change:${tracker}`;
}

/** Queues the debounced change-triggered run of each tracker; returns the trackers' names. */
export async function enqueueChangeRuns(
  queue: Queue<SyncJobData>,
  trackers: readonly TrackerModel[],
  config: ProjectConfig,
): Promise<string[]> {
  for (const tracker of trackers) {
    const debounce = changeDebounceMs(tracker, config);
    await queue.add(
      SYNC_JOB,
      { tracker: tracker.name, trigger: 'change' },
      {
        ...SYNC_JOB_OPTIONS,
        delay: debounce,
        deduplication: { id: changeRunId(tracker.name), keepLastIfActive: true },
      },
    );
  }
  return trackers.map((t) => t.name);
}

export interface ChangeProject {
  config: ProjectConfig;
  trackers: Iterable<TrackerModel>;
  compiler: ProjectCompiler;
}

/** The project's definitions as they are on disk now; undefined while they have errors. */
export function currentChangeProject(projectDir: string): ChangeProject | undefined {
  const project = loadProject(projectDir);
  if (project.diagnostics.some((d) => d.severity === 'error')) return undefined;
  return {
    config: project.config,
    trackers: project.model.trackers.values(),
    compiler: new ProjectCompiler(project.model),
  };
}

export interface ChangeTriggerOptions {
  queue: Queue<SyncJobData>;
  /** The project as it is now (reloaded by the caller as definitions change); undefined: none valid. */
  project: () => ChangeProject | undefined;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

/**
 * Takes change notices (tables that changed) from anywhere in a process and queues the runs
 * they make due. Notices are gathered for a moment, so a burst of commits costs one match.
 * Never throws: a failure to queue is logged, and the tracker's schedule still runs it.
 */
export class ChangeTrigger {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** The project last read, until PROJECT_REUSE_MS passed, with what its trackers read. */
  private cached: { at: number; project: ChangeProject; reading: Map<TrackerModel, Set<string>> } | undefined;

  constructor(private readonly options: ChangeTriggerOptions) {}

  /** The project and what its on_change trackers read; reread from the definitions every few seconds. */
  private current(): { project: ChangeProject; reading: Map<TrackerModel, Set<string>> } | undefined {
    const now = Date.now();
    if (this.cached && now - this.cached.at < PROJECT_REUSE_MS) return this.cached;
    const project = this.options.project();
    if (!project) return undefined;
    this.cached = { at: now, project, reading: onChangeTrackerTables(project.trackers, project.compiler) };
    return this.cached;
  }

  notify(tables: readonly string[]): void {
    if (tables.length === 0) return;
    for (const table of tables) this.pending.add(table);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, COALESCE_MS);
  }

  /** Queues what was notified so far (a closing process does not drop its last notices). */
  async close(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }
    await this.flushing;
  }

  private async flush(): Promise<void> {
    const tables = [...this.pending];
    this.pending = new Set();
    try {
      const current = this.current();
      if (!current) return;
      const due = trackersReading(current.reading, tables);
      if (due.length === 0) return;
      const queued = await enqueueChangeRuns(this.options.queue, due, current.project.config);
      this.options.log.info({ tables, trackers: queued }, 'tables changed: tracker runs queued');
    } catch (e) {
      this.options.log.warn(
        { tables, error: (e as Error).message },
        'tables changed, but the tracker runs could not be queued (their schedules still run them)',
      );
    }
  }
}

/** Where a command reports the tables it changed. */
export interface ChangeAnnouncer {
  notify(tables: readonly string[]): void;
  /** Queues what was reported, then lets go of Redis. */
  close(): Promise<void>;
}

const NO_ANNOUNCER: ChangeAnnouncer = { notify: () => undefined, close: async () => undefined };

/**
 * For commands outside the service (`strata pipeline run`, `strata compact`): when Redis is
 * configured and answers, their changes queue the on_change trackers' runs like a worker's;
 * otherwise nothing is queued (said on stderr when Redis is configured but unreachable).
 */
export async function openChangeAnnouncer(
  projectDir: string,
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<ChangeAnnouncer> {
  const url = configuredRedisUrl(config, env);
  if (!url || !(await redisAnswers(url))) {
    if (url)
      warn('warning: cannot reach Redis: on_change trackers are not queued for the tables this changes');
    return NO_ANNOUNCER;
  }
  const queue = openSyncQueue({ redis: url });
  const quiet = { info: () => undefined, warn: (_: object, message: string) => warn(`warning: ${message}`) };
  const trigger = new ChangeTrigger({ queue, project: () => currentChangeProject(projectDir), log: quiet });
  return {
    notify: (tables) => trigger.notify(tables),
    close: async () => {
      await trigger.close();
      await queue.close().catch(() => queue.disconnect());
    },
  };
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** A command's changed tables, announced once (see openChangeAnnouncer); nothing when none changed. */
export async function announceTableChanges(
  projectDir: string,
  config: ProjectConfig,
  tables: readonly string[],
): Promise<void> {
  if (tables.length === 0) return;
  const announcer = await openChangeAnnouncer(projectDir, config);
  announcer.notify(tables);
  await announcer.close();
}
