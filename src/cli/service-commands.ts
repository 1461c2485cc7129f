/** `strata serve` and `strata worker`: long-running, until SIGINT or SIGTERM. */
import { resolve } from 'node:path';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { UsageError, type EngineChoice } from '../engines/open-engine.js';
import { registerSecrets } from '../engines/secrets.js';
import { readConfig } from '../project/load-project.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface ServiceFlags extends EngineChoice {
  redis?: string;
  queuePrefix?: string;
  concurrency?: string;
}

export interface ServeFlags extends ServiceFlags {
  port?: string;
  withWorker?: boolean;
}

export interface WorkerFlags extends ServiceFlags {
  lockDuration?: string;
}

/** `--redis`, then strata.yaml `redis.url`, then `REDIS_URL`, then the local default. */
export function redisUrl(
  flag: string | undefined,
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const url = flag ?? config.redis?.url ?? env.REDIS_URL ?? DEFAULT_REDIS_URL;
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

export async function serveCommand(projectDir: string, flags: ServeFlags): Promise<number> {
  const dir = resolve(projectDir);
  // Invalid definitions do not stop the service (it logs them and keeps the last good state);
  // only the Redis URL and the port must be usable.
  const { config } = readConfig(dir);
  const port = positiveInteger('--port', flags.port, 3000, 0);
  if (port > 65535) throw new UsageError(`--port expects a port number (0-65535), got '${flags.port}'`);
  const redis = redisUrl(flags.redis, config);
  registerSecrets([redis]);
  const prefix = queuePrefix(flags, process.env);
  const { createService } = await import('../service/create-service.js');
  const { defaultLogger, redactRedisUrl } = await import('../trackers/worker.js');
  const logger = defaultLogger();
  const app = await createService({
    projectDir: dir,
    port,
    redisUrl: redis,
    ...(prefix ? { prefix } : {}),
    withWorker: flags.withWorker ?? false,
    worker: { concurrency: positiveInteger('--concurrency', flags.concurrency, 2) },
    engine: engineChoice(flags),
    logger,
  });
  logger.info(
    { url: await app.getUrl(), redis: redactRedisUrl(redis), worker: flags.withWorker ?? false },
    'strata serve is listening',
  );
  const signal = await untilSignal();
  logger.info({ signal }, 'shutting down');
  // A second signal while closing stops at once.
  const force = () => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  await app.close();
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  return 0;
}

export async function workerCommand(projectDir: string, flags: WorkerFlags): Promise<number> {
  const dir = resolve(projectDir);
  const { config } = readConfig(dir);
  const redis = redisUrl(flags.redis, config);
  const concurrency = positiveInteger('--concurrency', flags.concurrency, 2);
  const lockDuration = positiveInteger('--lock-duration', flags.lockDuration, 30_000, 1000);
  const prefix = queuePrefix(flags, process.env);
  const { startWorker } = await import('../trackers/worker.js');
  const worker = await startWorker({
    projectDir: dir,
    redis,
    concurrency,
    lockDuration,
    ...(prefix ? { prefix } : {}),
    engine: engineChoice(flags),
    handleSignals: true,
  });
  await worker.closed;
  return 0;
}
