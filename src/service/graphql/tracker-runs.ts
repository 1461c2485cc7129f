/**
 * Trackers through the API: their recorded runs, and `syncTracker`. A real run is queued like
 * any other (so workers run it, one run of a tracker at a time, with the shared rate limits)
 * and awaited for up to the request's deadline: the answer is the recorded run, or the run
 * still `queued` with its id. A dry run is planned in this process and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { openEngine } from '../../engines/open-engine.js';
import {
  RunHistory,
  type DestinationOutcome,
  type HistoryLocation,
  type TrackerRun,
} from '../../trackers/history.js';
import { trackerFreshness, type TrackerFreshness } from '../../trackers/freshness.js';
import { historyLocation } from '../../trackers/locations.js';
import {
  bullConnection,
  enqueueSync,
  openSyncQueue,
  SYNC_QUEUE,
  type SyncJobData,
} from '../../trackers/scheduler.js';
import { planTracker, type DestinationPlan } from '../../trackers/sync.js';
import { runIdForJob } from '../../trackers/worker.js';
import type { ResolvedServiceOptions } from '../options.js';
import type { ProjectState } from '../project/project.service.js';

export class TrackerRuns {
  private readonly histories = new Map<string, Promise<RunHistory>>();
  private queue: Queue<SyncJobData> | undefined;
  private events: QueueEvents | undefined;

  constructor(private readonly options: ResolvedServiceOptions) {}

  async recent(state: ProjectState, tracker: string, limit: number): Promise<TrackerRun[]> {
    const history = await this.history(state);
    return history.list({ tracker, limit });
  }

  async freshness(state: ProjectState, tracker: string): Promise<TrackerFreshness> {
    const history = await this.history(state);
    const staleAfter = state.project.config.freshness?.staleAfter;
    return trackerFreshness(
      state.project.model.trackers.get(tracker)!,
      history,
      staleAfter ? { staleAfter } : {},
    );
  }

  async sync(state: ProjectState, name: string, dryRun: boolean, timeoutMs: number): Promise<TrackerRun> {
    return dryRun ? this.plan(state, name) : this.queueAndWait(state, name, timeoutMs);
  }

  private async plan(state: ProjectState, name: string): Promise<TrackerRun> {
    const tracker = state.project.model.trackers.get(name)!;
    const startedAt = new Date().toISOString();
    const { rows, plans } = await planTracker(tracker, {
      compiler: state.compiler,
      projectDir: this.options.projectDir,
      openEngine: () => openEngine(this.options.projectDir, this.options.engine ?? {}, state.project.config),
    });
    const destinations = plans.map(outcomeOfPlan);
    return {
      id: `dry-run-${randomUUID()}`,
      tracker: name,
      trigger: 'manual',
      status: destinations.some((d) => d.status === 'failed') ? 'failed' : 'dry_run',
      startedAt,
      endedAt: new Date().toISOString(),
      rows,
      destinations,
      apiCalls: destinations.reduce((n, d) => n + d.apiCalls, 0),
      bytes: 0,
    };
  }

  private async queueAndWait(state: ProjectState, name: string, timeoutMs: number): Promise<TrackerRun> {
    const queue = (this.queue ??= openSyncQueue({
      redis: this.options.redisUrl,
      prefix: this.options.prefix,
    }));
    const jobId = await enqueueSync(queue, name, 'manual');
    const job = (await queue.getJob(jobId))!;
    const id = runIdForJob(job);
    this.events ??= new QueueEvents(SYNC_QUEUE, {
      connection: bullConnection(this.options.redisUrl),
      prefix: this.options.prefix,
    });
    try {
      await job.waitUntilFinished(this.events, timeoutMs);
    } catch {
      // Not finished in time (or failed: the history says which); answer with what is known.
    }
    const recorded = await (await this.history(state)).get(id);
    return (
      recorded ??
      ({
        id,
        tracker: name,
        trigger: 'manual',
        status: 'queued',
        startedAt: new Date(job.timestamp).toISOString(),
        endedAt: '',
        rows: 0,
        destinations: [],
        apiCalls: 0,
        bytes: 0,
      } as TrackerRun)
    );
  }

  private history(state: ProjectState): Promise<RunHistory> {
    const location: HistoryLocation = historyLocation(this.options.projectDir, state.project.config);
    const key = JSON.stringify(location);
    let history = this.histories.get(key);
    if (!history) {
      history = RunHistory.open(location);
      history.catch(() => this.histories.delete(key));
      this.histories.set(key, history);
    }
    return history;
  }

  async close(): Promise<void> {
    await this.events?.close().catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    for (const history of this.histories.values()) await (await history.catch(() => undefined))?.close();
  }
}

function outcomeOfPlan(plan: DestinationPlan): DestinationOutcome {
  if ('status' in plan)
    return {
      destination: plan.destination,
      status: plan.status,
      created: 0,
      updated: 0,
      deleted: 0,
      unchanged: 0,
      apiCalls: 0,
      bytes: 0,
      error: plan.reason,
    };
  return {
    destination: plan.destination,
    status: 'succeeded',
    created: plan.creates,
    updated: plan.updates,
    deleted: plan.deletes,
    unchanged: plan.unchanged,
    apiCalls: plan.apiCalls.length,
    bytes: 0,
  };
}
