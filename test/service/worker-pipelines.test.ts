/**
 * `strata worker` runs the project's pipelines beside the tracker jobs (unless
 * `--no-pipelines`), and its bounded close stops them gracefully: the runner commits what it
 * read, the status goes back to idle and the lease is released for another worker.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { PipelineLeases } from '../../src/pipelines/lease.js';
import { startWorker } from '../../src/trackers/worker.js';
import {
  committedThrough,
  Feed,
  feedFactory,
  OpsProject,
  silent,
  until,
} from '../pipelines/project-support.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from './support.js';

const prefix = uniquePrefix('worker-pipelines');
const project = new OpsProject();

afterAll(async () => {
  await deleteKeys(prefix);
  project.cleanup();
});

describe('workers and pipelines', () => {
  it('a worker runs the pipelines and releases them when it closes; --no-pipelines runs none', async () => {
    project.writePipeline('p1');
    const feed = new Feed().change('c', { item_id: 1, name: 'a', qty: 1 });
    const feeds = new Map([['p1', feed]]);
    const store = await project.openStore();
    const redis = new Redis(REDIS_URL);
    try {
      const trackersOnly = await startWorker({
        projectDir: project.dir,
        redis: REDIS_URL,
        prefix,
        name: 'trackers-only',
        logger: silent(),
        pipelines: false,
      });
      expect(trackersOnly.pipelines).toBeUndefined();

      const worker = await startWorker({
        projectDir: project.dir,
        redis: REDIS_URL,
        prefix,
        name: 'w1',
        logger: silent(),
        pipelineOptions: {
          openSource: feedFactory(feeds),
          scanIntervalMs: 200,
          leaseTtlMs: 1_500,
          audits: false,
        },
      });
      await until('committed', async () => committedThrough(await store.get('p1'), feed.lastSeq));
      expect(await store.get('p1')).toMatchObject({ status: 'running', worker: 'w1' });
      expect([...worker.pipelines!.holding().keys()]).toEqual(['p1']);

      feed.change('c', { item_id: 2, name: 'b', qty: 2 });
      await worker.close();
      await trackersOnly.close();
      expect(feed.openNow).toBe(0);
      expect(await new PipelineLeases(redis, { prefix, owner: 'probe' }).holder('p1')).toBeUndefined();
      expect((await store.get('p1'))?.status).toBe('idle');
      // The trackers-only worker never took it.
      expect(feed.opened).toBe(1);
    } finally {
      redis.disconnect();
      await store.close();
    }
  });
});
