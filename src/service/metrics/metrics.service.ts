/**
 * The service's metrics: one StrataMetrics (role `serve`) shared with the in-process worker
 * (`--with-worker`) and the GraphQL API, and the scrape-time gauges only `serve` can fill
 * because it holds the whole project: the queues' job counts, every tracker's freshness
 * (freshness.ts over the run history) and every pipeline's state and latest audits.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { StrataMetrics, type PipelineSnapshot } from '../../metrics/metrics.js';
import { queueCounts } from '../../metrics/queues.js';
import { strataVersion } from '../../version.js';
import { openAuditQueue } from '../../pipelines/audit-queue.js';
import { PipelineStateStore, type AuditRecord, type PipelineState } from '../../pipelines/state.js';
import { trackerFreshness, type TrackerFreshness } from '../../trackers/freshness.js';
import { RunHistory, type HistoryLocation } from '../../trackers/history.js';
import { historyLocation } from '../../trackers/locations.js';
import { settlesWithin } from '../../trackers/settles.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';
import { ProjectService, type ProjectState } from '../project/project.service.js';
import { SchedulerService } from '../scheduler/scheduler.service.js';

const CLOSE_MS = 3_000;
/** Audits read per pipeline to find each table's latest. */
const AUDITS_READ = 100;

/** One open store per location (strata.yaml `runs:` may change while the service runs). */
class PerLocation<T extends { close(): Promise<void> }> {
  private current: { key: string; value: Promise<T> } | undefined;

  constructor(private readonly open: (location: HistoryLocation) => Promise<T>) {}

  get(location: HistoryLocation): Promise<T> {
    const key = JSON.stringify(location);
    if (this.current?.key !== key) {
      const previous = this.current?.value;
      const value = this.open(location);
      // A failed open is tried again at the next scrape.
      value.catch(() => {
        if (this.current?.value === value) this.current = undefined;
      });
      this.current = { key, value };
      void previous?.then((p) => p.close()).catch(() => undefined);
    }
    return this.current.value;
  }

  async close(): Promise<void> {
    const value = this.current?.value;
    this.current = undefined;
    await (await value?.catch(() => undefined))?.close();
  }
}

@Injectable()
export class MetricsService implements OnApplicationShutdown {
  readonly metrics = new StrataMetrics({ role: 'serve', version: strataVersion() });
  private readonly histories = new PerLocation((location) => RunHistory.open(location));
  private readonly stores = new PerLocation((location) => PipelineStateStore.open(location));
  private auditQueue: Queue | undefined;

  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(ProjectService) private readonly project: ProjectService,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {
    this.metrics.setSources({
      queues: () => queueCounts(this.queues()),
      trackers: () => this.trackers(),
      pipelines: () => this.pipelines(),
    });
  }

  scrape(): Promise<string> {
    return this.metrics.scrape();
  }

  async onApplicationShutdown(): Promise<void> {
    await settlesWithin(this.histories.close(), CLOSE_MS);
    await settlesWithin(this.stores.close(), CLOSE_MS);
    const queue = this.auditQueue;
    if (queue && !(await settlesWithin(queue.close(), CLOSE_MS)))
      await settlesWithin(queue.disconnect(), CLOSE_MS);
  }

  /** The sync queue, and the audit queue once the project has pipelines. */
  private queues(): Queue[] {
    const queues: Queue[] = [this.scheduler.queue as unknown as Queue];
    if ((this.project.current?.project.model.pipelines.size ?? 0) > 0) {
      this.auditQueue ??= openAuditQueue({ redis: this.options.redisUrl, prefix: this.options.prefix });
      queues.push(this.auditQueue);
    }
    return queues;
  }

  private location(state: ProjectState): HistoryLocation {
    return historyLocation(this.options.projectDir, state.project.config);
  }

  /** Every tracker of the last good definitions, assessed now. */
  private async trackers(): Promise<TrackerFreshness[]> {
    const state = this.project.current;
    if (!state || state.project.model.trackers.size === 0) return [];
    const history = await this.histories.get(this.location(state));
    const staleAfter = state.project.config.freshness?.staleAfter;
    const now = new Date();
    const all: TrackerFreshness[] = [];
    for (const tracker of state.project.model.trackers.values())
      all.push(await trackerFreshness(tracker, history, { now, ...(staleAfter ? { staleAfter } : {}) }));
    return all;
  }

  /** Every pipeline of the definitions, as its state store tells. */
  private async pipelines(): Promise<PipelineSnapshot[]> {
    const state = this.project.current;
    const names = [...(state?.project.model.pipelines.keys() ?? [])];
    if (!state || names.length === 0) return [];
    const store = await this.stores.get(this.location(state));
    const states = new Map((await store.list()).map((p) => [p.name, p]));
    const now = Date.now();
    return Promise.all(
      names.map(async (name) =>
        snapshot(name, states.get(name), await store.audits(name, { limit: AUDITS_READ }), now),
      ),
    );
  }
}

/** A pipeline's gauges: a pipeline that never ran is idle with no lag yet. */
export function snapshot(
  name: string,
  state: PipelineState | undefined,
  audits: readonly AuditRecord[],
  now: number,
): PipelineSnapshot {
  const lagSeconds = pipelineLagSeconds(state, now);
  return {
    pipeline: name,
    status: state?.status ?? 'idle',
    ...(lagSeconds !== undefined ? { lagSeconds } : {}),
    ...(state?.lagBytes !== undefined ? { lagBytes: state.lagBytes } : {}),
    deadLetters: state?.deadLetters ?? 0,
    audits: latestPerTable(audits).map((a) => ({
      table: a.table,
      missing: a.confirmedMissing.length,
      extra: a.confirmedExtra.length,
    })),
  };
}

/**
 * Now minus the time of the newest change (or heartbeat) committed: the last commit's time less
 * the lag it had then. It keeps growing while nothing is committed, which is what an alert on a
 * stuck pipeline needs; heartbeats keep it low while the source is merely quiet.
 */
export function pipelineLagSeconds(state: PipelineState | undefined, now: number): number | undefined {
  if (!state?.lastCommitAt) return undefined;
  const committed = Date.parse(state.lastCommitAt);
  if (!Number.isFinite(committed)) return undefined;
  const newest = committed - (state.lagSeconds ?? 0) * 1000;
  return Math.max(0, (now - newest) / 1000);
}

/** Audits come newest first: the first of each table is its latest. */
function latestPerTable(audits: readonly AuditRecord[]): AuditRecord[] {
  const latest = new Map<string, AuditRecord>();
  for (const audit of audits) if (!latest.has(audit.table)) latest.set(audit.table, audit);
  return [...latest.values()];
}
