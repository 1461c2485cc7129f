/**
 * Every Strata metric (docs/metrics.md), on a registry of its own: tests, and `serve` with an
 * in-process worker, hold several without colliding, and nothing lands on prom-client's global
 * registry. Labels are bounded sets only (trackers, pipelines and tables of the project, outcome,
 * trigger, destination kind, queue state): never run ids, error messages or anything a request
 * chooses.
 *
 * Counters and histograms are fed as things happen (runs, API calls, retries, compiles,
 * queries, scheduled starts); gauges of state held elsewhere (queue counts, tracker freshness,
 * pipeline state) are filled from `ScrapeSources` at each scrape, so they are never older than
 * the scrape.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DestinationDefinition, EngineName } from '../core/definitions/schema.js';
import type { DestinationObserver, RetryReason } from '../destinations/destination.js';
import type { RunStatus, TrackerRun } from '../trackers/history.js';
import type { TrackerFreshness } from '../trackers/freshness.js';
import type { SyncObserver } from '../trackers/sync.js';

export type DestinationKind = DestinationDefinition['type'];
export type Role = 'serve' | 'worker';
/** Who compiled or queried: a tracker run, or a GraphQL API request. */
export type Origin = 'tracker' | 'api';

/** Job counts by state, per queue, as BullMQ's getJobCounts tells them. */
export interface QueueCounts {
  queue: string;
  counts: Record<string, number>;
}

/** What a scrape reports of one pipeline (from its state and latest audits). */
export interface PipelineSnapshot {
  pipeline: string;
  status: string;
  /** Now minus the time of the newest change or heartbeat committed; undefined before the first commit. */
  lagSeconds?: number;
  lagBytes?: number;
  deadLetters: number;
  /** The latest audit of each table: mismatches confirmed by two audits in a row. */
  audits: { table: string; missing: number; extra: number }[];
}

/** Where the scrape-time gauges come from; each is optional (a worker has no freshness view). */
export interface ScrapeSources {
  queues?: () => Promise<QueueCounts[]>;
  trackers?: () => Promise<TrackerFreshness[]>;
  pipelines?: () => Promise<PipelineSnapshot[]>;
}

type SourceName = keyof ScrapeSources;

/** Queue states reported (BullMQ's names; completed jobs are only kept for a while, so not counted). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;
export const PIPELINE_STATUSES = ['idle', 'running', 'paused', 'failed'] as const;
/** Outcomes of a run as counted; `queued` and `dry_run` are never recorded runs. */
const RUN_OUTCOMES: readonly RunStatus[] = ['succeeded', 'partial', 'failed', 'skipped'];

/** A source that does not answer in this time is reported as failed; the scrape still answers. */
const SOURCE_TIMEOUT_MS = 5_000;

// Sub-second API calls up to runs of many minutes.
const RUN_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const FAST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const LAG_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600];

export interface MetricsOptions {
  role: Role;
  version?: string;
  /** Node.js process metrics (`process_*`, `nodejs_*`); default true. */
  processMetrics?: boolean;
}

export class StrataMetrics {
  readonly registry = new Registry();

  readonly runs: Counter<'tracker' | 'outcome' | 'trigger'>;
  readonly runDuration: Histogram<'tracker'>;
  readonly resultRows: Counter<'tracker'>;
  readonly destinationWrites: Counter<'destination_kind' | 'outcome'>;
  readonly rowsWritten: Counter<'destination_kind' | 'operation'>;
  readonly bytesSent: Counter<'destination_kind'>;
  readonly apiCalls: Counter<'destination_kind'>;
  readonly rateLimited: Counter<'destination_kind'>;
  readonly retries: Counter<'destination_kind' | 'reason'>;
  readonly scheduleLag: Histogram<'queue'>;
  readonly compileDuration: Histogram<'origin'>;
  readonly queryDuration: Histogram<'origin' | 'engine'>;
  readonly scrapeErrors: Counter<'source'>;

  private readonly queueJobs: Gauge<'queue' | 'state'>;
  private readonly dataAge: Gauge<'tracker'>;
  private readonly successAge: Gauge<'tracker'>;
  private readonly stale: Gauge<'tracker'>;
  private readonly freshnessState: Gauge<'tracker' | 'state'>;
  private readonly pipelineLag: Gauge<'pipeline'>;
  private readonly pipelineLagBytes: Gauge<'pipeline'>;
  private readonly pipelineStatus: Gauge<'pipeline' | 'status'>;
  private readonly pipelineDeadLetters: Gauge<'pipeline'>;
  private readonly auditMismatches: Gauge<'pipeline' | 'table' | 'kind'>;

  private sources: ScrapeSources = {};

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'strata_info',
      help: 'Always 1: which Strata process this is (role serve or worker) and its version.',
      labelNames: ['role', 'version'],
      registers,
    }).set({ role: options.role, version: options.version ?? 'unknown' }, 1);

    this.runs = new Counter({
      name: 'strata_tracker_runs_total',
      help: 'Tracker runs finished, by tracker, outcome (succeeded, partial, failed, skipped) and trigger (schedule, manual, change).',
      labelNames: ['tracker', 'outcome', 'trigger'],
      registers,
    });
    this.runDuration = new Histogram({
      name: 'strata_tracker_run_duration_seconds',
      help: 'Duration of tracker runs (start to end as recorded in the run history), skipped runs included.',
      labelNames: ['tracker'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.resultRows = new Counter({
      name: 'strata_tracker_result_rows_total',
      help: "Rows the trackers' queries returned and handed to their destinations.",
      labelNames: ['tracker'],
      registers,
    });
    this.destinationWrites = new Counter({
      name: 'strata_destination_writes_total',
      help: 'Destination writes of tracker runs, by destination kind and outcome (succeeded, failed, skipped).',
      labelNames: ['destination_kind', 'outcome'],
      registers,
    });
    this.rowsWritten = new Counter({
      name: 'strata_destination_rows_written_total',
      help: 'Rows (records, cells rows) destinations created, updated or deleted.',
      labelNames: ['destination_kind', 'operation'],
      registers,
    });
    this.bytesSent = new Counter({
      name: 'strata_destination_bytes_sent_total',
      help: "Request bytes sent to destinations' APIs (for files and tables: bytes written).",
      labelNames: ['destination_kind'],
      registers,
    });
    this.apiCalls = new Counter({
      name: 'strata_destination_api_calls_total',
      help: "Requests sent to destinations' APIs, reads and each retry included.",
      labelNames: ['destination_kind'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'strata_destination_rate_limited_total',
      help: 'Requests a destination answered with 429 Too Many Requests.',
      labelNames: ['destination_kind'],
      registers,
    });
    this.retries = new Counter({
      name: 'strata_destination_retries_total',
      help: 'Requests retried after backoff, by reason (rate_limited, server_error, network, unknown_outcome).',
      labelNames: ['destination_kind', 'reason'],
      registers,
    });
    this.scheduleLag = new Histogram({
      name: 'strata_schedule_lag_seconds',
      help: "Time from a scheduled job's planned start (its cron time) to a worker starting it.",
      labelNames: ['queue'],
      buckets: LAG_BUCKETS,
      registers,
    });
    this.compileDuration = new Histogram({
      name: 'strata_compile_duration_seconds',
      help: 'Time to compile an input to SQL, by origin (tracker runs, api requests; cached API compiles are not counted).',
      labelNames: ['origin'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.queryDuration = new Histogram({
      name: 'strata_query_duration_seconds',
      help: 'Time to run a compiled query and read its rows, by origin and engine (answers from the API result cache are not counted).',
      labelNames: ['origin', 'engine'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.scrapeErrors = new Counter({
      name: 'strata_metrics_scrape_errors_total',
      help: 'Scrapes whose gauges of a source (queues, trackers, pipelines) could not be read: those gauges are then absent.',
      labelNames: ['source'],
      registers,
    });
    // Known from the start, so that rate() and alerts see 0 rather than nothing.
    for (const source of ['queues', 'trackers', 'pipelines'] as const) this.scrapeErrors.inc({ source }, 0);

    this.queueJobs = new Gauge({
      name: 'strata_queue_jobs',
      help: 'Jobs in a BullMQ queue by state (waiting, active, delayed, failed, prioritized), at scrape time.',
      labelNames: ['queue', 'state'],
      registers,
    });
    this.dataAge = new Gauge({
      name: 'strata_tracker_data_age_seconds',
      help: 'Age of the newest source change the last successful run of a tracker included (absent when its engine cannot tell).',
      labelNames: ['tracker'],
      registers,
    });
    this.successAge = new Gauge({
      name: 'strata_tracker_last_success_age_seconds',
      help: 'Seconds since the last successful run of a tracker started (absent when it never succeeded).',
      labelNames: ['tracker'],
      registers,
    });
    this.stale = new Gauge({
      name: 'strata_tracker_stale',
      help: '1 when a scheduled tracker had no successful run within staleAfter schedule intervals, else 0.',
      labelNames: ['tracker'],
      registers,
    });
    this.freshnessState = new Gauge({
      name: 'strata_tracker_freshness_state',
      help: "1 for a tracker's freshness state (fresh, stale, pending, unscheduled), 0 for the others.",
      labelNames: ['tracker', 'state'],
      registers,
    });
    this.pipelineLag = new Gauge({
      name: 'strata_pipeline_lag_seconds',
      help: 'Now minus the time of the newest change or heartbeat a CDC pipeline committed to the warehouse.',
      labelNames: ['pipeline'],
      registers,
    });
    this.pipelineLagBytes = new Gauge({
      name: 'strata_pipeline_lag_bytes',
      help: 'Bytes of the source log not yet committed (PostgreSQL WAL), when the source tells.',
      labelNames: ['pipeline'],
      registers,
    });
    this.pipelineStatus = new Gauge({
      name: 'strata_pipeline_status',
      help: "1 for a pipeline's status (idle, running, paused, failed), 0 for the others.",
      labelNames: ['pipeline', 'status'],
      registers,
    });
    this.pipelineDeadLetters = new Gauge({
      name: 'strata_pipeline_dead_letters',
      help: 'Events of a pipeline set aside as dead letters so far.',
      labelNames: ['pipeline'],
      registers,
    });
    this.auditMismatches = new Gauge({
      name: 'strata_pipeline_audit_mismatches',
      help: "Keys the latest audit of a pipeline's table found missing from or extra in the warehouse, confirmed by the audit before it.",
      labelNames: ['pipeline', 'table', 'kind'],
      registers,
    });
  }

  /** Where the scrape-time gauges come from (replaces earlier sources). */
  setSources(sources: ScrapeSources): void {
    this.sources = sources;
  }

  /** The text Prometheus scrapes: the gauges refreshed from their sources first. */
  async scrape(): Promise<string> {
    await Promise.all([
      this.refresh('queues', (all) => this.setQueues(all)),
      this.refresh('trackers', (all) => this.setTrackers(all)),
      this.refresh('pipelines', (all) => this.setPipelines(all)),
    ]);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A finished run: its outcome, duration, rows, and what each destination did. */
  recordRun(run: TrackerRun, kinds: readonly DestinationKind[] = []): void {
    if (!RUN_OUTCOMES.includes(run.status)) return;
    this.runs.inc({ tracker: run.tracker, outcome: run.status, trigger: run.trigger });
    const seconds = (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000;
    if (Number.isFinite(seconds)) this.runDuration.observe({ tracker: run.tracker }, Math.max(0, seconds));
    if (run.status === 'skipped') return;
    this.resultRows.inc({ tracker: run.tracker }, run.rows);
    // A run's outcomes are in the order of the tracker's destinations (sync.ts builds them so).
    run.destinations.forEach((outcome, i) => {
      const kind = kinds[i];
      if (!kind) return;
      this.destinationWrites.inc({ destination_kind: kind, outcome: outcome.status });
      this.rowsWritten.inc({ destination_kind: kind, operation: 'created' }, outcome.created);
      this.rowsWritten.inc({ destination_kind: kind, operation: 'updated' }, outcome.updated);
      this.rowsWritten.inc({ destination_kind: kind, operation: 'deleted' }, outcome.deleted);
      this.bytesSent.inc({ destination_kind: kind }, outcome.bytes);
    });
  }

  /** A scheduled job started `lagSeconds` after its planned time. */
  observeScheduleLag(queue: string, lagSeconds: number): void {
    this.scheduleLag.observe({ queue }, Math.max(0, lagSeconds));
  }

  /** Hooks for destinations' requests: calls, 429s and retries per destination kind. */
  destinationObserver(): DestinationObserver {
    return {
      apiCall: (kind) => this.apiCalls.inc({ destination_kind: kind }),
      rateLimited: (kind) => this.rateLimited.inc({ destination_kind: kind }),
      retried: (kind, reason: RetryReason) => this.retries.inc({ destination_kind: kind, reason }),
    };
  }

  /** Hooks for a tracker run: the destinations' requests, and compile and query durations. */
  syncObserver(): SyncObserver {
    return {
      ...this.destinationObserver(),
      compiled: (seconds) => this.compileDuration.observe({ origin: 'tracker' }, seconds),
      queried: (seconds, engine) => this.observeQuery('tracker', engine, seconds),
    };
  }

  observeCompile(origin: Origin, seconds: number): void {
    this.compileDuration.observe({ origin }, seconds);
  }

  observeQuery(origin: Origin, engine: EngineName, seconds: number): void {
    this.queryDuration.observe({ origin, engine }, seconds);
  }

  /** Runs one source within SOURCE_TIMEOUT_MS; its gauges are cleared first, so a failure leaves them absent, not stale. */
  private async refresh<K extends SourceName>(
    name: K,
    apply: (values: Awaited<ReturnType<NonNullable<ScrapeSources[K]>>>) => void,
  ): Promise<void> {
    const source = this.sources[name] as (() => Promise<Parameters<typeof apply>[0]>) | undefined;
    if (!source) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), SOURCE_TIMEOUT_MS);
      });
      const values = await Promise.race([source(), timeout]);
      apply(values);
    } catch {
      this.clear(name);
      this.scrapeErrors.inc({ source: name });
    } finally {
      clearTimeout(timer);
    }
  }

  private clear(name: SourceName): void {
    if (name === 'queues') this.queueJobs.reset();
    if (name === 'trackers') for (const g of [this.dataAge, this.successAge, this.stale]) g.reset();
    if (name === 'trackers') this.freshnessState.reset();
    if (name === 'pipelines') {
      for (const g of [this.pipelineLag, this.pipelineLagBytes, this.pipelineDeadLetters]) g.reset();
      this.pipelineStatus.reset();
      this.auditMismatches.reset();
    }
  }

  private setQueues(all: QueueCounts[]): void {
    this.clear('queues');
    for (const { queue, counts } of all)
      for (const state of QUEUE_STATES) this.queueJobs.set({ queue, state }, counts[state] ?? 0);
  }

  private setTrackers(all: TrackerFreshness[]): void {
    this.clear('trackers');
    for (const f of all) {
      const tracker = f.tracker;
      if (f.dataAgeSeconds !== undefined) this.dataAge.set({ tracker }, f.dataAgeSeconds);
      if (f.successAgeSeconds !== undefined) this.successAge.set({ tracker }, f.successAgeSeconds);
      this.stale.set({ tracker }, f.state === 'stale' ? 1 : 0);
      for (const state of ['fresh', 'stale', 'pending', 'unscheduled'] as const)
        this.freshnessState.set({ tracker, state }, f.state === state ? 1 : 0);
    }
  }

  private setPipelines(all: PipelineSnapshot[]): void {
    this.clear('pipelines');
    for (const p of all) {
      const pipeline = p.pipeline;
      if (p.lagSeconds !== undefined) this.pipelineLag.set({ pipeline }, p.lagSeconds);
      if (p.lagBytes !== undefined) this.pipelineLagBytes.set({ pipeline }, p.lagBytes);
      this.pipelineDeadLetters.set({ pipeline }, p.deadLetters);
      for (const status of PIPELINE_STATUSES)
        this.pipelineStatus.set({ pipeline, status }, p.status === status ? 1 : 0);
      for (const audit of p.audits) {
        this.auditMismatches.set({ pipeline, table: audit.table, kind: 'missing' }, audit.missing);
        this.auditMismatches.set({ pipeline, table: audit.table, kind: 'extra' }, audit.extra);
      }
    }
  }
}
