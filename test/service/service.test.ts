/** `strata serve`: GET /health, and schedules that follow the definitions (and survive bad edits). */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createService } from '../../src/service/create-service.js';
import { ProjectService } from '../../src/service/project/project.service.js';
import { openSyncQueue } from '../../src/trackers/scheduler.js';
import { REPO_ROOT } from '../support/example-project.js';
import {
  capturingLogger,
  createProject,
  deleteKeys,
  fileDestination,
  ITEMS,
  REDIS_URL,
  silentLogger,
  uniquePrefix,
  type TestProject,
} from './support.js';

const prefix = uniquePrefix('service');
const queue = openSyncQueue({ redis: REDIS_URL, prefix });
let project: TestProject;
const apps: INestApplication[] = [];

beforeAll(async () => {
  project = await createProject();
  project.writeTracker('hourly', {
    schedule: '0 * * * *',
    destinations: [fileDestination('out/hourly.json')],
  });
  project.writeTracker('on-demand', { destinations: [fileDestination('out/on-demand.json')] });
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await queue.close();
  await deleteKeys(prefix);
  project?.cleanup();
});

async function health(app: INestApplication): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/health`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function schedules(): Promise<Record<string, { pattern?: string; tz?: string }>> {
  const all = await queue.getJobSchedulers(0, -1, true);
  return Object.fromEntries(all.map((s) => [s.key, { pattern: s.pattern, tz: s.tz }]));
}

const waitFor = (check: () => Promise<void> | void) => vi.waitFor(check, { timeout: 10_000, interval: 50 });

describe('strata serve', () => {
  test('health, schedules, and the last good state kept through invalid definitions', async () => {
    const { logger, lines } = capturingLogger();
    const app = await createService({
      projectDir: project.dir,
      port: 0,
      host: '127.0.0.1',
      redisUrl: REDIS_URL,
      prefix,
      logger,
      debounceMs: 50,
      reloadIntervalMs: 0,
    });
    apps.push(app);

    const first = await health(app);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: 'ok',
      redis: 'up',
      trackers: 2,
      schedules: 1,
      definitions: 'valid',
      errors: 0,
      worker: 'off',
    });
    const firstReload = first.body.lastReload as string;
    expect(Date.parse(firstReload)).not.toBeNaN();
    expect(await schedules()).toEqual({ 'tracker:hourly': { pattern: '0 * * * *', tz: 'UTC' } });

    // A broken edit: the cron is invalid. Each error is logged; the schedules stay as they were.
    writeFileSync(
      join(project.dir, 'trackers', 'hourly.yaml'),
      readFileSync(join(project.dir, 'trackers', 'hourly.yaml'), 'utf8').replace('0 * * * *', '0 * * *'),
    );
    await waitFor(async () =>
      expect((await health(app)).body).toMatchObject({ definitions: 'invalid', errors: 1 }),
    );
    const errorLine = lines.find((l) => l.level === 50 && l.msg.includes('invalid cron schedule'));
    expect(errorLine?.msg).toMatch(
      /trackers\/hourly\.yaml:\d+:\d+: error: invalid cron schedule '0 \* \* \*'/,
    );
    const during = await health(app);
    expect(during).toMatchObject({
      status: 200,
      body: { status: 'ok', trackers: 2, schedules: 1, lastReload: firstReload },
    });
    expect(await schedules()).toEqual({ 'tracker:hourly': { pattern: '0 * * * *', tz: 'UTC' } });

    // Fixed, with another schedule and time zone, plus a new scheduled tracker: the schedulers follow.
    project.writeTracker('hourly', {
      schedule: '15 8 * * *',
      timezone: 'Europe/Madrid',
      destinations: [fileDestination('out/hourly.json')],
    });
    project.writeTracker('nightly', {
      schedule: '0 2 * * *',
      destinations: [fileDestination('out/nightly.json')],
    });
    await waitFor(async () =>
      expect(await schedules()).toEqual({
        'tracker:hourly': { pattern: '15 8 * * *', tz: 'Europe/Madrid' },
        'tracker:nightly': { pattern: '0 2 * * *', tz: 'UTC' },
      }),
    );
    await waitFor(async () =>
      expect((await health(app)).body).toMatchObject({ definitions: 'valid', trackers: 3, schedules: 2 }),
    );
    expect(Date.parse((await health(app)).body.lastReload as string)).toBeGreaterThan(
      Date.parse(firstReload),
    );

    // A deleted tracker loses its scheduler.
    project.removeTracker('nightly');
    await waitFor(async () => expect(Object.keys(await schedules())).toEqual(['tracker:hourly']));

    // An explicit reload of unchanged files changes nothing.
    expect(app.get(ProjectService).reload().status).toBe('loaded');
  });

  test('503 when Redis is down, and the service does not crash', async () => {
    const app = await createService({
      projectDir: project.dir,
      port: 0,
      host: '127.0.0.1',
      redisUrl: 'redis://127.0.0.1:1',
      prefix,
      logger: silentLogger(),
      reloadIntervalMs: 0,
      watch: false,
    });
    apps.push(app);
    const response = await health(app);
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ status: 'unavailable', redis: 'down', trackers: 2, schedules: 0 });
  });
});

describe('the strata serve command', () => {
  test('serve --with-worker schedules and runs trackers in one process, and stops on SIGTERM', async () => {
    const servePrefix = uniquePrefix('serve-cli');
    const serveQueue = openSyncQueue({ redis: REDIS_URL, prefix: servePrefix });
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli.ts',
        '--project',
        project.dir,
        'serve',
        '--port',
        '0',
        '--with-worker',
        '--redis',
        REDIS_URL,
        '--queue-prefix',
        servePrefix,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      const logs: Record<string, unknown>[] = [];
      const url = await new Promise<string>((resolve, reject) => {
        proc.once('exit', (code) =>
          reject(new Error(`strata serve exited with ${code}: ${JSON.stringify(logs)}`)),
        );
        createInterface({ input: proc.stderr! }).on('line', (line) => {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'strata serve is listening')
            resolve(String(entry.url).replace('[::1]', '127.0.0.1'));
        });
      });
      await waitFor(async () => {
        const body = await (await fetch(`${url}/health`)).json();
        expect(body).toMatchObject({ status: 'ok', worker: 'running', schedules: 1 });
      });
      expect(
        Object.keys(Object.fromEntries((await serveQueue.getJobSchedulers()).map((s) => [s.key, s]))),
      ).toEqual(['tracker:hourly']);

      const job = await serveQueue.add('sync', { tracker: 'on-demand', trigger: 'manual' });
      await waitFor(async () => expect(await job.getState()).toBe('completed'));
      const out = JSON.parse(readFileSync(join(project.dir, 'out', 'on-demand.json'), 'utf8'));
      expect(out).toHaveLength(ITEMS.length);

      const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      proc.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await serveQueue.close();
      await deleteKeys(servePrefix);
    }
  });

  test('strata worker runs jobs and exits 0 on SIGTERM', async () => {
    const workerPrefix = uniquePrefix('worker-cli');
    const workerQueue = openSyncQueue({ redis: REDIS_URL, prefix: workerPrefix });
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli.ts',
        '--project',
        project.dir,
        'worker',
        '--redis',
        REDIS_URL,
        '--queue-prefix',
        workerPrefix,
        '--concurrency',
        '1',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      const job = await workerQueue.add('sync', { tracker: 'on-demand', trigger: 'manual' });
      await waitFor(async () => expect(await job.getState()).toBe('completed'));
      const done = await workerQueue.getJob(job.id!);
      expect(done?.returnvalue).toMatchObject({
        tracker: 'on-demand',
        status: 'succeeded',
        rows: ITEMS.length,
      });
      proc.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await workerQueue.close();
      await deleteKeys(workerPrefix);
    }
  });
});
