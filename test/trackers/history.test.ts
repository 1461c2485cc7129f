/** The run history keeps what strata.yaml `runs.retention` says (90 days by default), and no more. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProjectConfig } from '../../src/core/definitions/schema.js';
import { RunHistory, type TrackerRun } from '../../src/trackers/history.js';
import { historyLocation } from '../../src/trackers/locations.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (id: string, startedAt: string): TrackerRun => ({
  id,
  tracker: 't',
  trigger: 'schedule',
  status: 'succeeded',
  startedAt,
  endedAt: startedAt,
  rows: 1,
  destinations: [],
  apiCalls: 0,
  bytes: 0,
});

async function kept(config: unknown, runs: TrackerRun[]): Promise<string[]> {
  const parsed = ProjectConfig.parse(config);
  const history = await RunHistory.open(historyLocation(dir, parsed));
  try {
    for (const r of runs) await history.record(r);
    return (await history.list({ limit: 100 })).map((r) => r.id).sort();
  } finally {
    await history.close();
  }
}

describe('run history retention', () => {
  it('deletes runs older than 90 days by default as new ones are recorded', async () => {
    const ids = await kept({ runs: { path: 'default.db' } }, [
      run('old', '2026-01-01T00:00:00.000Z'),
      run('recent', '2026-03-15T00:00:00.000Z'),
      run('new', '2026-04-10T00:00:00.000Z'),
    ]);
    expect(ids).toEqual(['new', 'recent']);
  });

  it('keeps what runs.retention says', async () => {
    const ids = await kept({ runs: { path: 'short.db', retention: '2d' } }, [
      run('a', '2026-04-01T00:00:00.000Z'),
      run('b', '2026-04-02T12:00:00.000Z'),
      run('c', '2026-04-03T06:00:00.000Z'),
    ]);
    expect(ids).toEqual(['b', 'c']);
  });

  it('a retention that is not a duration is a configuration error', () => {
    expect(ProjectConfig.safeParse({ runs: { retention: 'forever' } }).success).toBe(false);
  });
});
