/**
 * Alerts after a recorded tracker run, for the worker and `strata sync`: the tracker's
 * conditions are evaluated against the run history and what opened or closed is sent. It never
 * throws and never changes the run's outcome; a worker does not wait for it (the job is done),
 * the CLI does (the process would end before the alert left).
 */
import { reachesAnyone, trackerAlertSettings } from '../core/alerts.js';
import type { ProjectConfig } from '../core/definitions/schema.js';
import type { TrackerModel } from '../core/model/types.js';
import type { HistoryLocation, RunHistory } from '../trackers/history.js';
import { settlesWithin } from '../trackers/settles.js';
import type { AlertEvent } from './event.js';
import { evaluateTracker } from './evaluate.js';
import { Notifier, silentAlertLog, type AlertLog, type RetryPolicy } from './notifier.js';
import { AlertStore } from './store.js';

export interface RunAlertsOptions {
  env?: NodeJS.ProcessEnv;
  log?: AlertLog;
  retry?: Partial<RetryPolicy>;
  now?: () => Date;
}

export interface AfterRun {
  config: ProjectConfig;
  tracker: TrackerModel;
  /** The history the run was recorded in, and where it lives (the alert state lives beside it). */
  history: RunHistory;
  location: HistoryLocation;
}

export class RunAlerts {
  private readonly stores = new Map<string, Promise<AlertStore>>();
  private readonly pending = new Set<Promise<AlertEvent[]>>();
  private readonly log: AlertLog;

  constructor(private readonly options: RunAlertsOptions = {}) {
    this.log = options.log ?? silentAlertLog;
  }

  /** Evaluates the tracker's alerts; resolves with the events sent, never rejects. */
  afterRun(run: AfterRun): Promise<AlertEvent[]> {
    const settings = trackerAlertSettings(run.config.alerts, run.tracker.definition);
    // No channel reaches anyone: no database work for projects without alerts.
    if (!settings.enabled || !reachesAnyone(settings.routing)) return Promise.resolve([]);
    const task = this.evaluate(run).catch((e: unknown) => {
      this.log.warn(
        { tracker: run.tracker.name, error: (e as Error).message },
        'could not evaluate alerts after the run',
      );
      return [];
    });
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
    return task;
  }

  private async evaluate(run: AfterRun): Promise<AlertEvent[]> {
    const store = await this.store(run.location);
    const notifier = new Notifier(run.config.alerts, {
      ...(this.options.env ? { env: this.options.env } : {}),
      log: this.log,
      ...(this.options.retry ? { retry: this.options.retry } : {}),
    });
    const now = this.options.now?.() ?? new Date();
    return evaluateTracker(run.tracker, run.config, run.history, { store, notifier, now });
  }

  private store(location: HistoryLocation): Promise<AlertStore> {
    const key = JSON.stringify(location);
    let store = this.stores.get(key);
    if (!store) {
      store = AlertStore.open(location);
      store.catch(() => this.stores.delete(key));
      this.stores.set(key, store);
    }
    return store;
  }

  /**
   * Waits up to `timeoutMs` for alerts still being delivered, then closes the stores. Never
   * rejects: it runs in a worker's shutdown, which must end.
   */
  async close(timeoutMs = 15_000): Promise<void> {
    await settlesWithin(Promise.allSettled([...this.pending]), timeoutMs);
    const stores = [...this.stores.values()];
    this.stores.clear();
    await settlesWithin(
      Promise.allSettled(stores.map(async (s) => (await s.catch(() => undefined))?.close())),
      timeoutMs,
    );
  }
}
