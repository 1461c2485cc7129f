/** Queue gauges: job counts by state, read from Redis at scrape time. */
import type { Queue } from 'bullmq';
import { QUEUE_STATES, type QueueCounts } from './metrics.js';

export async function queueCounts(queues: readonly Queue[]): Promise<QueueCounts[]> {
  return Promise.all(
    queues.map(async (queue) => ({ queue: queue.name, counts: await queue.getJobCounts(...QUEUE_STATES) })),
  );
}
