/**
 * Issue 7 §3: one destination that fails, however it fails, is that destination's failure
 * with its reason; the others still write, and the calls it made still count.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import type { DestinationDefinition } from '../../src/core/definitions/schema.js';
import { buildModel } from '../../src/core/model/build.js';
import type { TrackerModel } from '../../src/core/model/types.js';
import { DEFAULT_RETRY } from '../../src/destinations/http.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { planTracker, syncTracker, type SyncDependencies } from '../../src/trackers/sync.js';
import { startFakeAirtable, type FakeAirtable } from '../support/fake-airtable.js';

const source = `name: item
table: shop.item
primaryKey: id
fields:
  - { name: id, type: integer }
  - { name: name, type: string }
`;
const input = `name: items\nfrom: item\nfields: [item.id, item.name]\n`;

const dir = mkdtempSync(join(tmpdir(), 'strata-failures-'));
const database = join(dir, 'shop.duckdb');
/** Answers every request with 503 (the failing server of the last test). */
let airtable: FakeAirtable;

beforeAll(async () => {
  const duck = await DuckDbEngine.open({ path: database, readOnly: false });
  await duck.execute(
    `CREATE SCHEMA shop; CREATE TABLE shop.item AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(id, name)`,
  );
  await duck.close();
  airtable = await startFakeAirtable({ rateLimit: false });
  airtable.createTable('appFail', 'Items', ['Id', 'Name']);
});

afterAll(async () => {
  await airtable.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A tracker with these destinations. They are set after loading, as a definition that
 * validates but that the code cannot handle at run time would be.
 */
function tracker(destinations: DestinationDefinition[]): { tracker: TrackerModel; compiler: Compiler } {
  const { model } = buildModel([
    { path: 'item.yaml', kind: 'source', text: source },
    { path: 'items.yaml', kind: 'input', text: input },
    {
      path: 't.yaml',
      kind: 'tracker',
      text: `name: t\ninput: items\ndestinations:\n  - { type: file, path: unused.json }\n`,
    },
  ]);
  const t = model.trackers.get('t')!;
  t.definition.destinations = destinations;
  return { tracker: t, compiler: new Compiler(model) };
}

function deps(compiler: Compiler): SyncDependencies {
  return {
    compiler,
    projectDir: dir,
    env: { STRATA_AIRTABLE_TOKEN: airtable.token, STRATA_AIRTABLE_ENDPOINT_URL: airtable.url },
    // Retries without waiting: the test counts them, it does not time them.
    retry: { ...DEFAULT_RETRY, sleep: async () => undefined },
    openEngine: () => DuckDbEngine.open({ path: database }),
  };
}

describe('a failing destination', () => {
  it('that cannot be built fails alone, with its reason; the others are written', async () => {
    const { tracker: t, compiler } = tracker([
      { type: 'file', path: 'out/a.xlsx' },
      { type: 'file', path: 'out/b.json' },
    ]);
    const run = await syncTracker(t, deps(compiler), { trigger: 'manual' });
    expect(run.status).toBe('partial');
    expect(run.destinations.map((d) => [d.status, d.error])).toEqual([
      ['failed', 'cannot tell the format of out/a.xlsx: add format: csv | json | parquet'],
      ['succeeded', undefined],
    ]);
    expect(run.destinations[0]!.destination).toBe(`file ${join(dir, 'out/a.xlsx')}`);
    expect(run.error).toContain('cannot tell the format of out/a.xlsx');
    expect(JSON.parse(readFileSync(join(dir, 'out/b.json'), 'utf8'))).toHaveLength(2);
    expect(existsSync(join(dir, 'out/a.xlsx'))).toBe(false);
  });

  it('in a dry run is shown as failed, and the others are still planned', async () => {
    const { tracker: t, compiler } = tracker([
      { type: 'file', path: 'out/a.xlsx' },
      { type: 'file', path: 'out/b.json' },
    ]);
    const { plans } = await planTracker(t, deps(compiler));
    expect(plans[0]).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/cannot tell the format/),
    });
    expect(plans[1]).toMatchObject({ creates: 2 });
  });

  it('counts the API calls it made before failing', async () => {
    // Every request fails with 503: one call and DEFAULT_RETRY.retries retries.
    airtable.fail({ status: 503, times: 1000 });
    const { tracker: t, compiler } = tracker([
      { type: 'airtable', baseId: 'appFail', table: 'Items', mode: 'upsert', key: ['id'] },
      { type: 'file', path: 'out/c.json' },
    ]);
    const run = await syncTracker(t, deps(compiler), { trigger: 'manual' });
    expect(run.status).toBe('partial');
    const [failed] = run.destinations;
    expect(failed).toMatchObject({ status: 'failed', apiCalls: DEFAULT_RETRY.retries + 1 });
    expect(failed!.error).toMatch(/503/);
    expect(failed!.bytes).toBeGreaterThan(0);
    expect(run.apiCalls).toBe(DEFAULT_RETRY.retries + 1);
    expect(airtable.requests).toHaveLength(DEFAULT_RETRY.retries + 1);
  });
});
