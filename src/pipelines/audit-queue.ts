/**
 * Scheduled audits (spec §9): a BullMQ queue beside the tracker syncs, with one Job Scheduler
 * per pipeline (id `audit:<name>`, the definition's `audit.schedule`, hourly by default, in
 * UTC) and workers that run `auditPipeline` for the named pipeline. A job goes to whichever
 * worker is free, not necessarily the one running the pipeline: an audit reads the source and
 * the warehouse, never the runner.
 */
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Logger as PinoLogger } from 'pino';
import type { ProjectConfig, PipelineDefinition } from '../core/definitions/schema.js';
import type { Logger } from '../destinations/destination.js';
import { redact } from '../engines/secrets.js';
import {
  openQueue,
  bullConnection,
  DEFAULT_QUEUE_PREFIX,
  syncJobSchedulers,
  type QueueConnection,
  type ScheduleChanges,
  type WantedScheduler,
} from '../trackers/scheduler.js';
import { settlesWithin } from '../trackers/settles.js';
import { auditPipeline, type TableAudit } from './audit.js';
import type { DefinitionsLog, PipelineProject } from './definitions-watch.js';
import { RawTableReader } from './raw-reader.js';
import { withPipelineResources, type SourceFactory, type WarehouseOpener } from './resources.js';
import { IcebergSink } from './sink.js';
import type { PipelineStateStore } from './state.js';

export const AUDIT_QUEUE = 'strata-pipeline-audits';
export const AUDIT_JOB = 'audit';
/** Scheduler ids are `audit:<pipeline>`; other schedulers on the queue are left alone. */
export const AUDIT_SCHEDULER_PREFIX = 'audit:';
export const DEFAULT_AUDIT_SCHEDULE = '0 * * * *';

export interface AuditJobData {
  pipeline: string;
}

/**
 * No retries: the next scheduled audit comes anyway, and a mismatch is only reported when two
 * audits in a row find it. Finished jobs are kept for a while, as sync jobs are.
 */
export const AUDIT_JOB_OPTIONS = {
  attempts: 1,
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 1000 },
} satisfies JobsOptions;

export function auditSchedulerId(pipeline: string): string {
  return `${AUDIT_SCHEDULER_PREFIX}${pipeline}`;
}

export function openAuditQueue(connection: QueueConnection): Queue<AuditJobData> {
  return openQueue<AuditJobData>(AUDIT_QUEUE, connection);
}

/** One scheduler per pipeline, on its audit cron (hourly by default), in UTC. */
export function wantedAuditSchedulers(
  pipelines: Iterable<{ name: string; definition: Pick<PipelineDefinition, 'audit'> }>,
): Map<string, WantedScheduler<AuditJobData>> {
  const wanted = new Map<string, WantedScheduler<AuditJobData>>();
  for (const pipeline of pipelines)
    wanted.set(auditSchedulerId(pipeline.name), {
      pattern: pipeline.definition.audit?.schedule ?? DEFAULT_AUDIT_SCHEDULE,
      tz: 'UTC',
      job: { name: AUDIT_JOB, data: { pipeline: pipeline.name }, opts: AUDIT_JOB_OPTIONS },
    });
  return wanted;
}

export function syncAuditSchedules(
  queue: Queue<AuditJobData>,
  pipelines: Iterable<{ name: string; definition: Pick<PipelineDefinition, 'audit'> }>,
): Promise<ScheduleChanges> {
  return syncJobSchedulers(queue, AUDIT_SCHEDULER_PREFIX, wantedAuditSchedulers(pipelines));
}

/** Queues an audit of `pipeline` now; returns the job id. */
export async function enqueueAudit(queue: Queue<AuditJobData>, pipeline: string): Promise<string> {
  const job = await queue.add(AUDIT_JOB, { pipeline }, AUDIT_JOB_OPTIONS);
  return job.id!;
}

export type AuditOutcome =
  | { kind: 'audited'; tables: TableAudit[] }
  /** The source cannot list its keys (a Debezium stream). */
  | { kind: 'not_auditable'; reason: string };

export interface RunAuditOptions {
  pipeline: PipelineDefinition;
  projectDir: string;
  config: ProjectConfig;
  env: NodeJS.ProcessEnv;
  store: PipelineStateStore;
  logger: Logger;
  openSource?: SourceFactory;
  openWarehouse?: WarehouseOpener;
  /** How long to wait for the pipeline to commit past the source's position (default 60 s). */
  catchUpMs?: number;
}

/** Audits a pipeline now: a source opened only for its keys and a heartbeat, the raw tables through a warehouse of its own. */
export async function runAudit(options: RunAuditOptions): Promise<AuditOutcome> {
  const { pipeline } = options;
  return withPipelineResources(options, async ({ opened, source }) => {
    if (!source.snapshotKeys)
      return {
        kind: 'not_auditable',
        reason: `a ${pipeline.source.type} source cannot be queried for its keys, so pipeline ${pipeline.name} cannot be audited`,
      };
    const tables = await auditPipeline({
      pipeline,
      source,
      sink: new IcebergSink(opened.warehouse, pipeline),
      reader: new RawTableReader(opened.warehouse, opened.duckdb),
      store: options.store,
      ...(options.catchUpMs !== undefined ? { catchUpMs: options.catchUpMs } : {}),
    });
    return { kind: 'audited', tables };
  });
}

/** A finished audit job's return value. */
export interface AuditJobSummary {
  pipeline: string;
  auditable: boolean;
  tables: {
    table: string;
    sourceKeys: number;
    targetKeys: number;
    missing: number;
    extra: number;
    lagging: boolean;
  }[];
}

export interface AuditWorkerOptions extends QueueConnection {
  projectDir: string;
  env: NodeJS.ProcessEnv;
  logger: PinoLogger;
  /** Shown on jobs as `processedBy`. */
  name: string;
  openSource?: SourceFactory;
  openWarehouse?: WarehouseOpener;
  catchUpMs?: number;
  /** The project in force and its state store, when the definitions were valid once. */
  context(): Promise<{ project: PipelineProject; store: PipelineStateStore } | undefined>;
}

/**
 * The audit side of a worker: keeps the schedulers in step with the pipelines and runs the
 * audit jobs. Opened on first use, so a project without pipelines costs no connection but
 * the queue's (whose first sync removes the schedulers of pipelines deleted meanwhile).
 */
export class PipelineAudits {
  private queue: Queue<AuditJobData> | undefined;
  private worker: Worker<AuditJobData, AuditJobSummary> | undefined;
  private synced: string | undefined;
  private readonly notAuditable = new Set<string>();

  constructor(private readonly options: AuditWorkerOptions) {}

  /** Makes the schedulers match `pipelines` (only when they changed since the last sync), and takes jobs once there is a pipeline. */
  async sync(
    pipelines: readonly { name: string; definition: Pick<PipelineDefinition, 'audit'> }[],
  ): Promise<void> {
    const wanted = JSON.stringify([...wantedAuditSchedulers(pipelines)].map(([id, w]) => [id, w.pattern]));
    if (pipelines.length > 0) this.startWorker();
    if (wanted === this.synced) return;
    this.queue ??= openAuditQueue(this.options);
    const changes = await syncAuditSchedules(this.queue, pipelines);
    this.synced = wanted;
    if (changes.added.length + changes.changed.length + changes.removed.length > 0)
      this.options.logger.info(changes, 'pipeline audit schedules updated');
  }

  private startWorker(): void {
    if (this.worker) return;
    const log = this.options.logger;
    this.worker = new Worker<AuditJobData, AuditJobSummary>(AUDIT_QUEUE, (job) => this.process(job), {
      connection: bullConnection(this.options.redis),
      prefix: this.options.prefix ?? DEFAULT_QUEUE_PREFIX,
      concurrency: 1,
      name: this.options.name,
    });
    this.worker.on('error', (e) => log.warn({ error: e.message }, 'audit worker error'));
    this.worker.on('failed', (job, e) => {
      if (job)
        log.warn(
          { job: job.id, pipeline: job.data.pipeline, error: redact(e.message) },
          'pipeline audit failed',
        );
    });
  }

  private async process(job: Job<AuditJobData, AuditJobSummary>): Promise<AuditJobSummary> {
    const name = job.data.pipeline;
    const context = await this.options.context();
    if (!context) throw new Error('no valid definitions yet: cannot audit');
    const pipeline = context.project.model.pipelines.get(name);
    if (!pipeline) throw new UnrecoverableError(`pipeline '${name}' no longer exists`);
    const log = this.options.logger.child({ pipeline: name, job: job.id });
    const outcome = await runAudit({
      pipeline: pipeline.definition,
      projectDir: this.options.projectDir,
      config: context.project.config,
      env: this.options.env,
      store: context.store,
      logger: pinoAsLogger(log),
      ...(this.options.openSource ? { openSource: this.options.openSource } : {}),
      ...(this.options.openWarehouse ? { openWarehouse: this.options.openWarehouse } : {}),
      ...(this.options.catchUpMs !== undefined ? { catchUpMs: this.options.catchUpMs } : {}),
    });
    if (outcome.kind === 'not_auditable') {
      // Said once per process: it stays true until the source changes, and is no failure.
      if (!this.notAuditable.has(name)) log.info({ reason: outcome.reason }, 'pipeline not auditable');
      this.notAuditable.add(name);
      return { pipeline: name, auditable: false, tables: [] };
    }
    this.notAuditable.delete(name);
    for (const audit of outcome.tables) logAudit(log, audit);
    return { pipeline: name, auditable: true, tables: outcome.tables.map(summarize) };
  }

  /** Stops taking jobs; a running audit gets `graceMs` to finish (its job is retried as stalled otherwise). */
  async close(graceMs: number): Promise<void> {
    const worker = this.worker;
    if (worker && !(await settlesWithin(worker.close(), graceMs)))
      await settlesWithin(worker.close(true), 1000);
    if (this.queue) await settlesWithin(this.queue.close(), 1000);
    if (worker) await settlesWithin(worker.disconnect(), 1000);
    if (this.queue) await settlesWithin(this.queue.disconnect(), 1000);
  }
}

/** pino as the pipelines' logger. */
export function pinoAsLogger(log: PinoLogger): Logger {
  return {
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
  };
}

function summarize(audit: TableAudit): AuditJobSummary['tables'][number] {
  return {
    table: audit.table,
    sourceKeys: audit.sourceKeys,
    targetKeys: audit.targetKeys,
    missing: audit.missing.length,
    extra: audit.extra.length,
    lagging: audit.lagging,
  };
}

function logAudit(log: DefinitionsLog, audit: TableAudit): void {
  log.info({ ...summarize(audit), position: audit.position }, 'pipeline audited');
  if (audit.confirmedMissing.length + audit.confirmedExtra.length === 0) return;
  log.warn(
    {
      table: audit.table,
      confirmedMissing: audit.confirmedMissing.length,
      confirmedExtra: audit.confirmedExtra.length,
      missingKeys: audit.confirmedMissing.slice(0, 20),
      extraKeys: audit.confirmedExtra.slice(0, 20),
    },
    'pipeline audit confirmed mismatches: keys differ between the source and the raw table in two audits in a row',
  );
}
