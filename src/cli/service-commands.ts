/**
 * `strata serve` and `strata worker`: long-running, until SIGINT or SIGTERM. Both stop within a
 * bounded time, Redis reachable or not: running jobs get `--shutdown-grace` to finish, then are
 * handed back to the queue (a second signal hands them back at once).
 */
import { resolve } from 'node:path';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { error as diagnostic, StrataError } from '../core/diagnostics.js';
import { UsageError, type EngineChoice } from '../engines/open-engine.js';
import { registerSecrets } from '../engines/secrets.js';
import { metricsToken } from '../metrics/access.js';
import { readConfig } from '../project/load-project.js';
import { createAuthenticator } from '../service/auth/authenticator.js';
import { AuthConfigError } from '../service/auth/jwt.js';
import { DEFAULT_HOST } from '../service/options.js';
import { configuredRedisUrl } from '../trackers/scheduler.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface ServiceFlags extends EngineChoice {
  redis?: string;
  queuePrefix?: string;
  concurrency?: string;
  shutdownGrace?: string;
}

export interface ServeFlags extends ServiceFlags {
  port?: string;
  host?: string;
  withWorker?: boolean;
}

/**
 * Where `strata serve` listens: `--host`, then STRATA_SERVE_HOST, then strata.yaml `serve.host`,
 * then this machine only. Credentials travel in headers and the service speaks plain HTTP, so
 * reaching it from elsewhere is an explicit choice (behind a TLS-terminating proxy).
 */
export function serveHost(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  config: ProjectConfig = {},
): string {
  return flag ?? (env.STRATA_SERVE_HOST || config.serve?.host || DEFAULT_HOST);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export interface WorkerFlags extends ServiceFlags {
  lockDuration?: string;
  /** False with `--no-pipelines`: no CDC pipelines. */
  pipelines?: boolean;
  metricsPort?: string;
  metricsHost?: string;
  /** False with `--no-maintenance`: no warehouse maintenance jobs. */
  maintenance?: boolean;
}

/**
 * The worker's metrics server: `--metrics-port`, then strata.yaml `metrics.port`; none when
 * neither is set (many workers on one machine would otherwise fight over one port).
 */
export function workerMetricsSettings(
  flags: Pick<WorkerFlags, 'metricsPort' | 'metricsHost'>,
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
): { metricsPort?: number; metricsHost?: string; metricsToken?: string } {
  const port =
    flags.metricsPort === undefined
      ? config.metrics?.port
      : positiveInteger('--metrics-port', flags.metricsPort, 0, 0);
  if (port === undefined) return {};
  if (port > 65535)
    throw new UsageError(`--metrics-port expects a port number (0-65535), got '${flags.metricsPort}'`);
  const host = flags.metricsHost ?? config.metrics?.host;
  const token = checkedMetricsToken(config, env);
  return {
    metricsPort: port,
    ...(host ? { metricsHost: host } : {}),
    ...(token ? { metricsToken: token } : {}),
  };
}

/** `--redis`, then strata.yaml `redis.url`, then `REDIS_URL`, then the local default. */
export function redisUrl(
  flag: string | undefined,
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const url = flag ?? configuredRedisUrl(config, env) ?? DEFAULT_REDIS_URL;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UsageError(`invalid Redis URL '${url.replace(/\/\/[^@/]*@/, '//***@')}'`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:')
    throw new UsageError(`a Redis URL starts with redis:// or rediss://`);
  return url;
}

function positiveInteger(flag: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${flag} expects an integer of at least ${min}, got '${value}'`);
  return n;
}

function shutdownGrace(flags: ServiceFlags, fallback: number): number {
  return positiveInteger('--shutdown-grace', flags.shutdownGrace, fallback, 0);
}

/**
 * After a bounded shutdown, whatever a library left open (a reconnect timer to an unreachable
 * Redis) must not keep the process alive.
 */
function exitSoon(): void {
  setTimeout(() => process.exit(), 1000).unref();
}

function queuePrefix(flags: ServiceFlags, env: NodeJS.ProcessEnv): string | undefined {
  return flags.queuePrefix ?? env.STRATA_QUEUE_PREFIX ?? undefined;
}

function engineChoice(flags: EngineChoice): EngineChoice {
  return {
    ...(flags.engine ? { engine: flags.engine } : {}),
    ...(flags.database ? { database: flags.database } : {}),
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      done(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/**
 * Settings the service could not use (a JWT secret missing from the environment, or too short)
 * stop `strata serve` before it starts: it would only answer 503 to everyone.
 */
function checkAuthSettings(config: ProjectConfig, dir: string): void {
  try {
    createAuthenticator(config.auth, dir);
  } catch (e) {
    if (e instanceof AuthConfigError)
      throw new StrataError([diagnostic('auth_config', e.message, undefined, 'see docs/auth.md')]);
    throw e;
  }
}

/** strata.yaml `metrics.token`, resolved now: a token that cannot be read stops the command before it starts. */
function checkedMetricsToken(
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  try {
    const token = metricsToken(config, env);
    if (token) registerSecrets([token]);
    return token;
  } catch (e) {
    throw new StrataError([
      diagnostic(
        'metrics_config',
        `metrics.token: ${(e as Error).message}`,
        undefined,
        'see docs/metrics.md',
      ),
    ]);
  }
}

export async function serveCommand(projectDir: string, flags: ServeFlags): Promise<number> {
  const dir = resolve(projectDir);
  // Invalid definitions do not stop the service (it logs them and keeps the last good state);
  // only the Redis URL and the port must be usable.
  const { config } = readConfig(dir);
  const port = positiveInteger('--port', flags.port, 3000, 0);
  if (port > 65535) throw new UsageError(`--port expects a port number (0-65535), got '${flags.port}'`);
  const redis = redisUrl(flags.redis, config);
  registerSecrets([redis]);
  checkAuthSettings(config, dir);
  const scrapeToken = checkedMetricsToken(config);
  const prefix = queuePrefix(flags, process.env);
  const host = serveHost(flags.host, process.env, config);
  const { createService } = await import('../service/create-service.js');
  const { WorkerService } = await import('../service/worker.service.js');
  const { defaultLogger, redactRedisUrl, settlesWithin, DEFAULT_SHUTDOWN_GRACE_MS } =
    await import('../trackers/worker.js');
  const graceMs = shutdownGrace(flags, DEFAULT_SHUTDOWN_GRACE_MS);
  const logger = defaultLogger();
  const app = await createService({
    projectDir: dir,
    port,
    host,
    redisUrl: redis,
    ...(prefix ? { prefix } : {}),
    withWorker: flags.withWorker ?? false,
    worker: { concurrency: positiveInteger('--concurrency', flags.concurrency, 2), shutdownGraceMs: graceMs },
    engine: engineChoice(flags),
    logger,
  });
  logger.info(
    { url: await app.getUrl(), redis: redactRedisUrl(redis), worker: flags.withWorker ?? false },
    'strata serve is listening',
  );
  if (!isLoopback(host))
    logger.warn(
      { host },
      'listening beyond this machine over plain HTTP: put a TLS-terminating proxy in front (credentials travel in headers)',
    );
  if (!isLoopback(host) && !scrapeToken)
    logger.warn(
      { host },
      'GET /metrics is open to anyone who reaches this service (it names trackers and pipelines): set metrics.token in strata.yaml',
    );
  const signal = await untilSignal();
  logger.info({ signal, graceMs }, 'shutting down (signal again to hand running jobs back now)');
  const handBack = () => app.get(WorkerService).handBack();
  process.once('SIGINT', handBack);
  process.once('SIGTERM', handBack);
  // The worker's close is bounded; the margin covers the rest of the service.
  if (!(await settlesWithin(app.close(), graceMs + 15_000))) logger.warn('the service did not close in time');
  process.off('SIGINT', handBack);
  process.off('SIGTERM', handBack);
  exitSoon();
  return 0;
}

export async function workerCommand(projectDir: string, flags: WorkerFlags): Promise<number> {
  const dir = resolve(projectDir);
  const { config } = readConfig(dir);
  const redis = redisUrl(flags.redis, config);
  const concurrency = positiveInteger('--concurrency', flags.concurrency, 2);
  const lockDuration = positiveInteger('--lock-duration', flags.lockDuration, 30_000, 1000);
  const prefix = queuePrefix(flags, process.env);
  const { startWorker, DEFAULT_SHUTDOWN_GRACE_MS } = await import('../trackers/worker.js');
  const worker = await startWorker({
    projectDir: dir,
    redis,
    concurrency,
    lockDuration,
    shutdownGraceMs: shutdownGrace(flags, DEFAULT_SHUTDOWN_GRACE_MS),
    ...(prefix ? { prefix } : {}),
    engine: engineChoice(flags),
    handleSignals: true,
    pipelines: flags.pipelines !== false,
    ...workerMetricsSettings(flags, config),
    maintenance: flags.maintenance !== false,
  });
  // Asked for metrics that cannot be served (the port is taken): say so rather than run without.
  try {
    await worker.metricsServer;
  } catch (e) {
    await worker.close();
    throw new StrataError([diagnostic('metrics_port', `cannot serve /metrics: ${(e as Error).message}`)]);
  }
  await worker.closed;
  exitSoon();
  return 0;
}
