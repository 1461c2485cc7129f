/** syncSchedules: the Job Schedulers in Redis follow the trackers' schedules. */
import { CronExpressionParser } from 'cron-parser';
import { afterAll, describe, expect, test } from 'vitest';
import {
  enqueueSync,
  openSyncQueue,
  schedulerId,
  syncSchedules,
  type SchedulableTracker,
} from '../../src/trackers/scheduler.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from './support.js';

const prefix = uniquePrefix('scheduler');
const queue = openSyncQueue({ redis: REDIS_URL, prefix });

afterAll(async () => {
  await queue.close();
  await deleteKeys(prefix);
});

const tracker = (name: string, schedule?: string, timezone?: string): SchedulableTracker => ({
  name,
  definition: { ...(schedule ? { schedule } : {}), ...(timezone ? { timezone } : {}) },
});

async function schedulers() {
  const all = await queue.getJobSchedulers(0, -1, true);
  return Object.fromEntries(
    all.map((s) => [
      s.key,
      { pattern: s.pattern, tz: s.tz, tracker: s.template?.data?.tracker, next: s.next },
    ]),
  );
}

function nextRun(pattern: string, tz: string, after: number): number {
  return CronExpressionParser.parse(pattern, { tz, currentDate: new Date(after) })
    .next()
    .getTime();
}

describe('syncSchedules', () => {
  test('adds, changes and removes schedulers as trackers change; leaves other schedulers alone', async () => {
    await queue.upsertJobScheduler('other', { every: 3_600_000 }, { name: 'not-a-tracker' });

    let changes = await syncSchedules(queue, [
      tracker('alpha', '*/5 * * * *'),
      tracker('beta', '0 9 * * *', 'America/Los_Angeles'),
      tracker('gamma'),
    ]);
    expect(changes).toEqual({ added: ['alpha', 'beta'], changed: [], removed: [], unchanged: [] });
    let now = await schedulers();
    expect(Object.keys(now).sort()).toEqual(['other', 'tracker:alpha', 'tracker:beta']);
    expect(now['tracker:alpha']).toMatchObject({ pattern: '*/5 * * * *', tz: 'UTC', tracker: 'alpha' });
    expect(now['tracker:beta']).toMatchObject({
      pattern: '0 9 * * *',
      tz: 'America/Los_Angeles',
      tracker: 'beta',
    });
    // The job template: the tracker, retried with exponential backoff.
    const beta = await queue.getJobScheduler(schedulerId('beta'));
    expect(beta?.template?.opts).toMatchObject({
      attempts: 3,
      backoff: { type: 'exponential', delay: 5000 },
    });

    // Nothing changed: nothing is written.
    changes = await syncSchedules(queue, [
      tracker('alpha', '*/5 * * * *'),
      tracker('beta', '0 9 * * *', 'America/Los_Angeles'),
      tracker('gamma'),
    ]);
    expect(changes).toEqual({ added: [], changed: [], removed: [], unchanged: ['alpha', 'beta'] });

    // alpha's cron and beta's time zone change; gamma gains a schedule.
    changes = await syncSchedules(queue, [
      tracker('alpha', '0 * * * *'),
      tracker('beta', '0 9 * * *', 'Asia/Tokyo'),
      tracker('gamma', '30 6 * * 1'),
    ]);
    expect(changes).toEqual({ added: ['gamma'], changed: ['alpha', 'beta'], removed: [], unchanged: [] });
    now = await schedulers();
    expect(now['tracker:alpha']).toMatchObject({ pattern: '0 * * * *', tz: 'UTC' });
    expect(now['tracker:beta']).toMatchObject({ pattern: '0 9 * * *', tz: 'Asia/Tokyo' });
    expect(now['tracker:gamma']).toMatchObject({ pattern: '30 6 * * 1', tz: 'UTC' });

    // alpha is deleted, beta loses its schedule: their schedulers go, gamma's and the other stay.
    changes = await syncSchedules(queue, [tracker('beta'), tracker('gamma', '30 6 * * 1')]);
    expect(changes).toEqual({ added: [], changed: [], removed: ['alpha', 'beta'], unchanged: ['gamma'] });
    expect(Object.keys(await schedulers()).sort()).toEqual(['other', 'tracker:gamma']);
    // Their pending jobs went with them: only gamma's next job waits.
    const delayed = (await queue.getDelayed()).filter((j) => j.name === 'sync');
    expect(delayed.map((j) => j.data.tracker)).toEqual(['gamma']);

    changes = await syncSchedules(queue, []);
    expect(changes.removed).toEqual(['gamma']);
    expect(Object.keys(await schedulers())).toEqual(['other']);
  });

  test('the time zone decides the next run', async () => {
    const before = Date.now();
    await syncSchedules(queue, [
      tracker('la', '0 9 * * *', 'America/Los_Angeles'),
      tracker('utc', '0 9 * * *'),
    ]);
    const now = await schedulers();
    const la = now['tracker:la']!.next!;
    const utc = now['tracker:utc']!.next!;
    expect(la).toBe(nextRun('0 9 * * *', 'America/Los_Angeles', before));
    expect(utc).toBe(nextRun('0 9 * * *', 'UTC', before));
    // 09:00 in Los Angeles is 16:00 or 17:00 UTC (daylight saving time or not); in UTC, 09:00.
    expect([16, 17]).toContain(new Date(la).getUTCHours());
    expect(new Date(utc).getUTCHours()).toBe(9);
    // The scheduler's next job waits until then.
    const job = (await queue.getDelayed()).find((j) => j.data.tracker === 'la');
    expect(job!.timestamp + job!.delay).toBe(la);
    await syncSchedules(queue, []);
  });

  test('enqueueSync queues a run now with retries', async () => {
    const id = await enqueueSync(queue, 'alpha', 'manual');
    const job = await queue.getJob(id);
    expect(job?.name).toBe('sync');
    expect(job?.data).toEqual({ tracker: 'alpha', trigger: 'manual' });
    expect(job?.opts).toMatchObject({ attempts: 3, backoff: { type: 'exponential', delay: 5000 } });
    expect(await job?.getState()).toBe('waiting');
  });
});
