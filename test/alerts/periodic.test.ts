/**
 * The periodic evaluation (`strata serve`): a tracker going stale, a paused pipeline and audits
 * that keep finding mismatches each raise one alert while they last and one recovery notice
 * when they end. State is set through the stores; time is injected. Then the same through the
 * service's AlertsService, on its own interval.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { evaluateProject } from '../../src/alerts/evaluate.js';
import { Notifier } from '../../src/alerts/notifier.js';
import { AlertStore } from '../../src/alerts/store.js';
import type { TableAudit } from '../../src/pipelines/audit.js';
import { PipelineStateStore } from '../../src/pipelines/state.js';
import { loadProject, type LoadedProject } from '../../src/project/load-project.js';
import { createService } from '../../src/service/create-service.js';
import { RunHistory, type TrackerRun } from '../../src/trackers/history.js';
import { historyLocation } from '../../src/trackers/locations.js';
import {
  createProject,
  deleteKeys,
  fileDestination,
  REDIS_URL,
  silentLogger,
  uniquePrefix,
  type TestProject,
} from '../service/support.js';
import { startWebhook, type WebhookReceiver } from './receivers.js';

let project: TestProject;
let loaded: LoadedProject;
let hook: WebhookReceiver;
let history: RunHistory;
let states: PipelineStateStore;
let store: AlertStore;
const saved = { ...process.env };

const T0 = Date.parse('2026-12-06T10:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

beforeAll(async () => {
  project = await createProject();
  hook = await startWebhook();
  process.env.P_HOOK_URL = hook.url;
  writeFileSync(
    join(project.dir, 'strata.yaml'),
    JSON.stringify({
      duckdb: { database: project.database },
      alerts: {
        channels: { hook: { type: 'webhook', url: 'env:P_HOOK_URL' } },
        auditMismatches: 2,
        evaluateEvery: '100ms',
      },
    }),
  );
  project.writeTracker('hourly', { schedule: '0 * * * *', destinations: [fileDestination('out/h.json')] });
  mkdirSync(join(project.dir, 'definitions', 'pipelines'));
  writeFileSync(
    join(project.dir, 'definitions', 'pipelines', 'studio.yaml'),
    JSON.stringify({
      name: 'studio',
      owner: 'studio data team',
      source: { type: 'postgres', connection: 'env:STUDIO_DB_URL', tables: ['studio.talent'] },
      sink: { type: 'iceberg', namespace: 'studio_raw' },
    }),
  );
  loaded = loadProject(project.dir);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const location = historyLocation(project.dir, loaded.config);
  [history, states, store] = await Promise.all([
    RunHistory.open(location),
    PipelineStateStore.open(location),
    AlertStore.open(location),
  ]);
});

beforeEach(() => {
  hook.bodies.length = 0;
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([history?.close(), states?.close(), store?.close(), hook?.close()]);
  project?.cleanup();
});

const evaluate = (now: Date) =>
  evaluateProject({
    config: loaded.config,
    model: loaded.model,
    history,
    states,
    store,
    notifier: new Notifier(loaded.config.alerts),
    now,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });

function succeeded(startedAt: Date): TrackerRun {
  return {
    id: `run-${startedAt.getTime()}`,
    tracker: 'hourly',
    trigger: 'schedule',
    status: 'succeeded',
    startedAt: startedAt.toISOString(),
    endedAt: new Date(startedAt.getTime() + 1000).toISOString(),
    rows: 3,
    destinations: [],
    apiCalls: 0,
    bytes: 0,
  };
}

function audit(minutes: number, missing: string[]): TableAudit {
  return {
    pipeline: 'studio',
    table: 'studio.talent',
    at: at(minutes).toISOString(),
    sourceKeys: 10,
    targetKeys: 10 - missing.length,
    missing,
    extra: [],
    confirmedMissing: [],
    confirmedExtra: [],
    lagging: false,
  };
}

const seen = () => hook.bodies.map((b) => `${String(b.key)} ${String(b.state)}`);

describe('periodic evaluation', () => {
  it('a tracker going stale alerts once, and recovers when it succeeds again', async () => {
    await history.record(succeeded(at(0)));
    expect(await evaluate(at(30))).toEqual([]);
    // Hourly, stale after 2 intervals (and a minute's allowance for the run due).
    const [stale] = await evaluate(at(180));
    expect(stale).toEqual(expect.objectContaining({ key: 'tracker:hourly:stale', state: 'firing' }));
    expect(hook.bodies[0]).toEqual(
      expect.objectContaining({
        kind: 'tracker',
        condition: 'stale',
        subject: '[Strata ALERT] tracker hourly is stale',
        message: expect.stringMatching(/^Stale: no successful run within 2 schedule intervals \(2h\)/),
      }),
    );
    expect(await evaluate(at(240))).toEqual([]);
    await history.record(succeeded(at(240)));
    await evaluate(at(241));
    expect(seen()).toEqual(['tracker:hourly:stale firing', 'tracker:hourly:stale resolved']);
    expect(hook.bodies[1]!.subject).toBe('[Strata RESOLVED] tracker hourly is fresh again');
  });

  it('a paused pipeline alerts once, and recovers when it is resumed', async () => {
    await states.update('studio', {
      status: 'paused',
      pausedReason: 'upstream migration',
      pausedAt: at(0).toISOString(),
    });
    await evaluate(at(1));
    await evaluate(at(2));
    expect(seen()).toEqual(['pipeline:studio:pipeline_paused firing']);
    expect(hook.bodies[0]!.message).toMatch(/^Paused at .*: upstream migration\./);
    await states.update('studio', { status: 'idle', pausedReason: undefined, pausedAt: undefined });
    await evaluate(at(3));
    expect(seen()).toEqual([
      'pipeline:studio:pipeline_paused firing',
      'pipeline:studio:pipeline_paused resolved',
    ]);
  });

  it('audits alert after K mismatches in a row, once, and recover when one matches', async () => {
    await states.recordAudit(audit(0, ['["7"]']));
    await evaluate(at(1));
    expect(seen()).toEqual([]);
    await states.recordAudit(audit(60, ['["7"]']));
    await evaluate(at(61));
    await states.recordAudit(audit(120, ['["7"]', '["8"]']));
    await evaluate(at(121));
    expect(seen()).toEqual(['pipeline:studio:audit_mismatch:studio.talent firing']);
    expect(hook.bodies[0]).toEqual(
      expect.objectContaining({ pipeline: 'studio', table: 'studio.talent', condition: 'audit_mismatch' }),
    );
    // A lagging audit decides nothing.
    const lagging: TableAudit = { ...audit(150, []), lagging: true };
    await states.recordAudit(lagging);
    await evaluate(at(151));
    expect(seen()).toHaveLength(1);
    await states.recordAudit(audit(180, []));
    await evaluate(at(181));
    expect(seen()).toEqual([
      'pipeline:studio:audit_mismatch:studio.talent firing',
      'pipeline:studio:audit_mismatch:studio.talent resolved',
    ]);
  });
});

describe('strata serve', () => {
  const prefix = uniquePrefix('alerts-serve');
  let app: INestApplication | undefined;

  afterAll(async () => {
    await app?.close();
    await deleteKeys(prefix);
  });

  it('checks on its interval: a pipeline paused while it runs is alerted', async () => {
    app = await createService({
      projectDir: project.dir,
      port: 0,
      host: '127.0.0.1',
      redisUrl: REDIS_URL,
      prefix,
      logger: silentLogger(),
      watch: false,
      reloadIntervalMs: 0,
    });
    await states.update('studio', { status: 'paused', pausedReason: 'operator' });
    const deadline = Date.now() + 20_000;
    while (!seen().includes('pipeline:studio:pipeline_paused firing')) {
      if (Date.now() > deadline) throw new Error('no alert from the service');
      await new Promise((r) => setTimeout(r, 100));
    }
    await states.update('studio', { status: 'idle' });
    while (!seen().includes('pipeline:studio:pipeline_paused resolved')) {
      if (Date.now() > deadline) throw new Error('no recovery notice from the service');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen().filter((s) => s.startsWith('pipeline:studio:pipeline_paused'))).toEqual([
      'pipeline:studio:pipeline_paused firing',
      'pipeline:studio:pipeline_paused resolved',
    ]);
  });
});
