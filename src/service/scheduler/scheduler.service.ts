/**
 * Keeps the BullMQ Job Schedulers equal to the last good definitions: applies them at start,
 * after every reload, and again after Redis comes back. Never throws: a failure is logged and
 * retried on the next reload. Two kinds: tracker syncs, and warehouse maintenance of every
 * CDC table (strata.yaml `maintenance:`; cdc/maintenance-queue.ts).
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Logger as PinoLogger } from 'pino';
import {
  openMaintenanceQueue,
  syncMaintenanceSchedules,
  type MaintenanceJobData,
} from '../../cdc/maintenance-queue.js';
import { unknownTableSettings } from '../../cdc/maintenance.js';
import {
  openSyncQueue,
  syncSchedules,
  type ScheduleChanges,
  type SyncJobData,
} from '../../trackers/scheduler.js';
import { settlesWithin } from '../../trackers/worker.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';
import { ProjectService, type ProjectState } from '../project/project.service.js';
import { RedisService } from '../redis.service.js';

export type ApplyOutcome =
  | { status: 'applied'; changes: ScheduleChanges; maintenance: ScheduleChanges; at: Date }
  | { status: 'nothing-loaded' }
  | { status: 'redis-down' }
  | { status: 'failed'; error: string };

type Listener = (outcome: ApplyOutcome) => void;

const APPLY_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 3_000;

@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private queueInstance: Queue<SyncJobData> | undefined;
  private maintenanceQueueInstance: Queue<MaintenanceJobData> | undefined;
  private applied: { state: ProjectState; schedules: number; at: Date } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** The last apply could not reach Redis. */
  private pending = false;
  private unsubscribe: (() => void) | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly log: PinoLogger;

  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(ProjectService) private readonly project: ProjectService,
    @Inject(RedisService) private readonly redis: RedisService,
  ) {
    this.log = options.logger.child({ component: 'scheduler' });
  }

  get queue(): Queue<SyncJobData> {
    this.queueInstance ??= openSyncQueue({ redis: this.options.redisUrl, prefix: this.options.prefix });
    return this.queueInstance;
  }

  get maintenanceQueue(): Queue<MaintenanceJobData> {
    this.maintenanceQueueInstance ??= openMaintenanceQueue({
      redis: this.options.redisUrl,
      prefix: this.options.prefix,
    });
    return this.maintenanceQueueInstance;
  }

  /** How many tracker schedules the last successful apply left in Redis. */
  get schedules(): number {
    return this.applied?.schedules ?? 0;
  }

  get lastApplied(): Date | undefined {
    return this.applied?.at;
  }

  onApplied(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async onApplicationBootstrap(): Promise<void> {
    // Every reload re-applies, even an unchanged state: Redis may have lost or gained schedulers.
    this.unsubscribe = this.project.onReload(() => void this.apply());
    // Redis back after an outage: apply what could not be applied meanwhile.
    const onReady = () => {
      if (this.pending) void this.apply();
    };
    this.redis.client.on('ready', onReady);
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = () => {
      unsubscribe();
      this.redis.client.off('ready', onReady);
    };
    await this.apply();
  }

  /** Bounded: an unreachable Redis never answers a close, so the queue is then disconnected. */
  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await settlesWithin(this.chain, CLOSE_TIMEOUT_MS);
    for (const queue of [this.queueInstance, this.maintenanceQueueInstance]) {
      if (queue && !(await settlesWithin(queue.close(), CLOSE_TIMEOUT_MS)))
        await settlesWithin(queue.disconnect(), CLOSE_TIMEOUT_MS);
    }
  }

  /** Applies the project's current state; runs one at a time, in order. */
  apply(): Promise<ApplyOutcome> {
    const next = this.chain.then(() => this.applyNow());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async applyNow(): Promise<ApplyOutcome> {
    const outcome = await this.attempt();
    this.pending = outcome.status === 'redis-down' || outcome.status === 'failed';
    for (const listener of this.listeners) listener(outcome);
    return outcome;
  }

  private logMaintenanceChanges(changes: ScheduleChanges, unknown: string[]): void {
    if (changes.added.length + changes.changed.length + changes.removed.length > 0)
      this.log.info(
        { added: changes.added, changed: changes.changed, removed: changes.removed },
        'maintenance schedules updated',
      );
    if (unknown.length > 0)
      this.log.warn(
        { tables: unknown },
        'strata.yaml maintenance.tables names tables that are not CDC tables',
      );
  }

  private async attempt(): Promise<ApplyOutcome> {
    const state = this.project.current;
    if (!state) return { status: 'nothing-loaded' };
    if ((await this.redis.ping()) === 'down') return { status: 'redis-down' };
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Redis did not answer within ${APPLY_TIMEOUT_MS / 1000} s`)),
          APPLY_TIMEOUT_MS,
        );
      });
      const { model, config } = state.project;
      const changes = await Promise.race([syncSchedules(this.queue, model.trackers.values()), timeout]);
      const maintenance = await Promise.race([
        syncMaintenanceSchedules(this.maintenanceQueue, model, config),
        timeout,
      ]);
      this.logMaintenanceChanges(maintenance, unknownTableSettings(model, config));
      const at = new Date();
      this.applied = {
        state,
        schedules: changes.added.length + changes.changed.length + changes.unchanged.length,
        at,
      };
      if (changes.added.length + changes.changed.length + changes.removed.length > 0) {
        this.log.info(
          { added: changes.added, changed: changes.changed, removed: changes.removed },
          'schedules updated',
        );
      }
      return { status: 'applied', changes, maintenance, at };
    } catch (e) {
      const error = (e as Error).message;
      this.log.error({ error }, 'could not apply the schedules; trying again on the next reload');
      return { status: 'failed', error };
    } finally {
      clearTimeout(timer);
    }
  }
}
