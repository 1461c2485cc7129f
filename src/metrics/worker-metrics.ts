/**
 * A worker's /metrics (`strata worker --metrics-port N`): its own counters (runs it made, API
 * calls, retries, schedule lag, compile and query durations) and the shared queues' job counts.
 * Freshness and pipeline gauges come from `strata serve`, which sees the whole project.
 */
import type { Queue } from 'bullmq';
import { openAuditQueue } from '../pipelines/audit-queue.js';
import { openSyncQueue } from '../trackers/scheduler.js';
import { settlesWithin } from '../trackers/settles.js';
import type { StrataMetrics } from './metrics.js';
import { queueCounts } from './queues.js';
import { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './server.js';

const CLOSE_MS = 3_000;

export interface WorkerMetricsOptions extends MetricsServerOptions {
  redis: string;
  prefix: string;
}

export async function startWorkerMetrics(
  metrics: StrataMetrics,
  options: WorkerMetricsOptions,
): Promise<MetricsServer> {
  const connection = { redis: options.redis, prefix: options.prefix };
  const queues: Queue[] = [openSyncQueue(connection), openAuditQueue(connection)];
  metrics.setSources({ queues: () => queueCounts(queues) });
  let server: MetricsServer;
  try {
    server = await startMetricsServer(metrics, options);
  } catch (e) {
    await closeQueues(queues);
    throw e;
  }
  return {
    url: server.url,
    port: server.port,
    close: async () => {
      await server.close();
      await closeQueues(queues);
    },
  };
}

/** Bounded: an unreachable Redis never answers a close. */
async function closeQueues(queues: readonly Queue[]): Promise<void> {
  await Promise.all(
    queues.map(async (queue) => {
      if (!(await settlesWithin(queue.close(), CLOSE_MS))) await settlesWithin(queue.disconnect(), CLOSE_MS);
    }),
  );
}
