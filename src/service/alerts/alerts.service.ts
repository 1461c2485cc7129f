/**
 * The periodic alert check of `strata serve` (docs/alerts.md): every `alerts.evaluateEvery`
 * (60 s by default) each tracker's and pipeline's conditions are evaluated on the last good
 * definitions: what runs cannot tell (a tracker going stale, a pipeline paused, audits that keep
 * finding mismatches), and failures a worker could not report. Never throws: a check that fails
 * is logged and the next one runs on time.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';
import { evaluateProject } from '../../alerts/evaluate.js';
import type { AlertEvent } from '../../alerts/event.js';
import { Notifier } from '../../alerts/notifier.js';
import { AlertStore } from '../../alerts/store.js';
import { DEFAULT_EVALUATE_EVERY } from '../../core/alerts.js';
import { durationMs } from '../../core/definitions/schema.js';
import { PipelineStateStore } from '../../pipelines/state.js';
import { RunHistory, type HistoryLocation } from '../../trackers/history.js';
import { historyLocation } from '../../trackers/locations.js';
import { settlesWithin } from '../../trackers/settles.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';
import { ProjectService } from '../project/project.service.js';

interface Stores {
  key: string;
  history: RunHistory;
  states: PipelineStateStore;
  alerts: AlertStore;
}

const CLOSE_TIMEOUT_MS = 5_000;

@Injectable()
export class AlertsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<AlertEvent[]> | undefined;
  private stores: Stores | undefined;
  private stopped = false;
  private readonly log: PinoLogger;

  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(ProjectService) private readonly project: ProjectService,
  ) {
    this.log = options.logger.child({ component: 'alerts' });
  }

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.running) await settlesWithin(this.running, CLOSE_TIMEOUT_MS);
    await this.closeStores();
  }

  /** One check now (a check already running is awaited instead); resolves with the events sent. */
  evaluate(now = new Date()): Promise<AlertEvent[]> {
    this.running ??= this.check(now).finally(() => (this.running = undefined));
    return this.running;
  }

  /** The interval is read again after every check: a reload may have changed it. */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.evaluate().finally(() => this.schedule(this.intervalMs()));
    }, delayMs);
    this.timer.unref();
  }

  private intervalMs(): number {
    const every = this.project.current?.project.config.alerts?.evaluateEvery ?? DEFAULT_EVALUATE_EVERY;
    return Math.max(100, durationMs(every));
  }

  private async check(now: Date): Promise<AlertEvent[]> {
    const state = this.project.current;
    const config = state?.project.config;
    if (!state || !config?.alerts) return [];
    try {
      const stores = await this.storesFor(historyLocation(this.options.projectDir, config));
      return await evaluateProject({
        config,
        model: state.project.model,
        history: stores.history,
        states: stores.states,
        store: stores.alerts,
        notifier: new Notifier(config.alerts, { log: this.log }),
        now,
        log: this.log,
      });
    } catch (e) {
      this.log.warn(
        { error: (e as Error).message },
        'could not check alerts; trying again at the next interval',
      );
      return [];
    }
  }

  /** The stores of the current history location (strata.yaml `runs:` may change while serving). */
  private async storesFor(location: HistoryLocation): Promise<Stores> {
    const key = JSON.stringify(location);
    if (this.stores?.key === key) return this.stores;
    await this.closeStores();
    const [history, states, alerts] = await Promise.all([
      RunHistory.open(location),
      PipelineStateStore.open(location),
      AlertStore.open(location),
    ]);
    this.stores = { key, history, states, alerts };
    return this.stores;
  }

  private async closeStores(): Promise<void> {
    const stores = this.stores;
    this.stores = undefined;
    if (stores)
      await settlesWithin(
        Promise.allSettled([stores.history.close(), stores.states.close(), stores.alerts.close()]),
        CLOSE_TIMEOUT_MS,
      );
  }
}
