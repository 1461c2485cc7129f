/** What `strata serve` is started with; injected as SERVICE_OPTIONS. */
import type { Logger as PinoLogger } from 'pino';
import type { EngineChoice } from '../engines/open-engine.js';
import type { WorkerOptions } from '../trackers/worker.js';

export interface ServiceOptions {
  projectDir: string;
  /** HTTP port (0: any free port). */
  port: number;
  /** Interface to listen on (default DEFAULT_HOST: this machine only; the service speaks plain HTTP). */
  host?: string;
  redisUrl: string;
  /** Queue key prefix (default `strata`). */
  prefix?: string;
  /** Also run a tracker worker in this process (`--with-worker`). */
  withWorker?: boolean;
  /** Options of that worker (concurrency, lock duration, ...). */
  worker?: Partial<Omit<WorkerOptions, 'projectDir' | 'redis' | 'prefix' | 'logger' | 'handleSignals'>>;
  engine?: EngineChoice;
  /** Reload the definitions (and re-apply the schedules) this often, changed or not (default 60 s). */
  reloadIntervalMs?: number;
  /** Watch definitions/ and trackers/ and reload on change (default true). */
  watch?: boolean;
  /** Quiet time after the last file change before reloading (default 300 ms). */
  debounceMs?: number;
  logger?: PinoLogger;
}

export type ResolvedServiceOptions = ServiceOptions & { logger: PinoLogger; prefix: string };

export const SERVICE_OPTIONS = Symbol('strata.service.options');

/**
 * The service speaks plain HTTP and credentials travel in its headers: reaching it from other
 * machines (through a TLS-terminating proxy) must be asked for.
 */
export const DEFAULT_HOST = '127.0.0.1';
