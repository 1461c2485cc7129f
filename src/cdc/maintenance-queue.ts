/**
 * Scheduled warehouse maintenance (spec §10 `strata serve`, `strata worker`): a BullMQ queue
 * of its own beside the tracker syncs, with one Job Scheduler per maintained table (id
 * `maintain:<namespace.table>`, on the table's `maintenance` cron, daily at 03:00 UTC by
 * default), kept in step with the definitions by `strata serve`; any worker runs the jobs. A
 * failed job is logged and retried with backoff; it never stops the worker.
 */
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Logger as PinoLogger } from 'pino';
import { formatDiagnostic } from '../core/diagnostics.js';
import type { ProjectConfig } from '../core/definitions/schema.js';
import type { SemanticModel } from '../core/model/types.js';
import { openWritableWarehouse } from '../engines/warehouse-location.js';
import { redact } from '../engines/secrets.js';
import { loadProject } from '../project/load-project.js';
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
import { maintainTable, maintenanceTargets, settingsFor, type TableMaintenance } from './maintenance.js';

export const MAINTENANCE_QUEUE = 'strata-maintenance';
export const MAINTENANCE_JOB = 'maintain';
/** Scheduler ids are `maintain:<namespace.table>`; other schedulers on the queue are left alone. */
export const MAINTENANCE_SCHEDULER_PREFIX = 'maintain:';

export interface MaintenanceJobData {
  /** `namespace.table`. */
  table: string;
}

/** A finished job's return value: what maintenance did, without the deleted paths. */
export interface MaintenanceJobSummary {
  table: string;
  compacted: boolean;
  expiredSnapshots: number;
  removedFiles: number;
  rewrittenManifests: number;
  newSnapshot: boolean;
  skipped?: string;
}

/**
 * Retried with backoff (a commit race lost too often, a catalog briefly unreachable): the
 * next schedule is a day away. Finished jobs are kept for a while, as sync jobs are.
 */
export const MAINTENANCE_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 30_000 },
  removeOnComplete: { age: 30 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 1000 },
} satisfies JobsOptions;

export function maintenanceSchedulerId(table: string): string {
  return `${MAINTENANCE_SCHEDULER_PREFIX}${table}`;
}

export function openMaintenanceQueue(connection: QueueConnection): Queue<MaintenanceJobData> {
  return openQueue<MaintenanceJobData>(MAINTENANCE_QUEUE, connection);
}

/** One scheduler per maintained table whose schedule is not `off`. */
export function wantedMaintenanceSchedulers(
  model: SemanticModel,
  config: ProjectConfig,
): Map<string, WantedScheduler<MaintenanceJobData>> {
  const wanted = new Map<string, WantedScheduler<MaintenanceJobData>>();
  for (const target of maintenanceTargets(model)) {
    const settings = settingsFor(target, config);
    if (settings.schedule === 'off') continue;
    wanted.set(maintenanceSchedulerId(target.table), {
      pattern: settings.schedule,
      tz: settings.timezone,
      job: { name: MAINTENANCE_JOB, data: { table: target.table }, opts: MAINTENANCE_JOB_OPTIONS },
    });
  }
  return wanted;
}

export function syncMaintenanceSchedules(
  queue: Queue<MaintenanceJobData>,
  model: SemanticModel,
  config: ProjectConfig,
): Promise<ScheduleChanges> {
  return syncJobSchedulers(queue, MAINTENANCE_SCHEDULER_PREFIX, wantedMaintenanceSchedulers(model, config));
}

/** Queues maintenance of `table` now; returns the job id. */
export async function enqueueMaintenance(queue: Queue<MaintenanceJobData>, table: string): Promise<string> {
  const job = await queue.add(MAINTENANCE_JOB, { table }, MAINTENANCE_JOB_OPTIONS);
  return job.id!;
}

export function summarizeMaintenance(result: TableMaintenance): MaintenanceJobSummary {
  return {
    table: result.table,
    compacted: result.compaction?.committed ?? false,
    expiredSnapshots: result.expiredSnapshots,
    removedFiles: result.removedFiles.length,
    rewrittenManifests: result.rewrittenManifests,
    newSnapshot: result.newSnapshot,
    ...(result.skipped ? { skipped: result.skipped } : {}),
  };
}

/** Maintains one table of the project as the definitions say now (they may have changed since the job was queued). */
export async function runMaintenanceJob(projectDir: string, table: string): Promise<TableMaintenance> {
  const project = loadProject(projectDir);
  const errors = project.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0)
    throw new Error(`invalid definitions: ${errors.slice(0, 5).map(formatDiagnostic).join('; ')}`);
  const target = maintenanceTargets(project.model).find((t) => t.table === table);
  if (!target) throw new UnrecoverableError(`'${table}' is no longer a CDC table of the project`);
  const opened = await openWritableWarehouse(projectDir, project.config);
  try {
    return await maintainTable(opened.warehouse, target, settingsFor(target, project.config));
  } finally {
    await opened.close();
  }
}

export interface MaintenanceWorkerOptions extends QueueConnection {
  projectDir: string;
  logger: PinoLogger;
  /** Shown on jobs as `processedBy`. */
  name: string;
  /** Runs a job (default runMaintenanceJob): tests make it fail. */
  run?: (projectDir: string, table: string) => Promise<TableMaintenance>;
  /** After a compaction committed: the table it changed (on_change trackers reading it run). */
  onTablesChanged?: (tables: string[]) => void;
}

/**
 * The maintenance side of a worker: one job at a time (maintenance is I/O on the warehouse
 * disk; tracker runs should not wait behind several). Failures are logged and retried by
 * BullMQ; nothing a job throws reaches the process.
 */
export class MaintenanceWorker {
  readonly worker: Worker<MaintenanceJobData, MaintenanceJobSummary>;

  constructor(private readonly options: MaintenanceWorkerOptions) {
    const log = options.logger.child({ component: 'maintenance' });
    const run = options.run ?? runMaintenanceJob;
    this.worker = new Worker<MaintenanceJobData, MaintenanceJobSummary>(
      MAINTENANCE_QUEUE,
      async (job: Job<MaintenanceJobData, MaintenanceJobSummary>) => {
        if (job.name !== MAINTENANCE_JOB) throw new UnrecoverableError(`unknown job '${job.name}'`);
        const result = await run(options.projectDir, job.data.table);
        const summary = summarizeMaintenance(result);
        log.info({ job: job.id, ...summary }, 'table maintained');
        if (summary.compacted) options.onTablesChanged?.([result.table]);
        return summary;
      },
      {
        connection: bullConnection(options.redis),
        prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
        concurrency: 1,
        name: options.name,
      },
    );
    this.worker.on('error', (e) => log.warn({ error: redact(e.message) }, 'maintenance worker error'));
    this.worker.on('failed', (job, e) => {
      if (!job) return;
      const willRetry = job.attemptsMade < (job.opts.attempts ?? 1) && !(e instanceof UnrecoverableError);
      log.warn(
        {
          job: job.id,
          table: job.data.table,
          attempt: job.attemptsMade,
          willRetry,
          error: redact(e.message),
        },
        'maintenance job failed',
      );
    });
  }

  waitUntilReady(): Promise<unknown> {
    return this.worker.waitUntilReady();
  }

  /** Stops taking jobs; a running one gets `graceMs` to finish (then it is retried as stalled). */
  async close(graceMs: number): Promise<void> {
    if (!(await settlesWithin(this.worker.close(), graceMs)))
      await settlesWithin(this.worker.close(true), 1000);
    await settlesWithin(this.worker.disconnect(), 1000);
  }
}
