/** Tracker definitions (validation at exact positions) and runs (isolation, credentials, on_change). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { compareDiagnostics, type Diagnostic } from '../../src/core/diagnostics.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import { checkTracker } from '../../src/core/trackers.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { IcebergDuckDbEngine } from '../../src/engines/iceberg-duckdb.js';
import { RunHistory } from '../../src/trackers/history.js';
import { syncTracker } from '../../src/trackers/sync.js';
import { SqliteCatalog } from '../../src/warehouse/catalog.js';
import { Warehouse } from '../../src/warehouse/table.js';

const source = `name: item
table: shop.item
primaryKey: id
fields:
  - { name: id, type: integer }
  - { name: name, type: string }
  - { name: day, type: date }
measures:
  - { name: item_count, aggregate: count }
`;
const input = `name: items
from: item
fields: [item.id, item.name, item.day]
filters:
  - { field: item.name, op: not_equals, param: hidden }
params:
  hidden: { type: string, default: nobody }
`;
const files = (tracker: string): DefinitionFile[] => [
  { path: 'item.yaml', kind: 'source', text: source },
  { path: 'items.yaml', kind: 'input', text: input },
  { path: 't.yaml', kind: 'tracker', text: tracker },
];

function problems(tracker: string): string[] {
  const { model, diagnostics } = buildModel(files(tracker));
  const all: Diagnostic[] = [...diagnostics];
  for (const t of model.trackers.values()) all.push(...checkTracker(t, new Compiler(model)));
  return all.sort(compareDiagnostics).map((d) => `${d.location?.line}:${d.location?.col}: ${d.code}`);
}

describe('tracker validation', () => {
  it('accepts a valid tracker', () => {
    expect(
      problems(
        `name: t-1\ninput: items\nschedule: '*/5 * * * *'\ntimezone: Europe/Madrid\ndestinations:\n  - { type: file, path: out.csv }\n`,
      ),
    ).toEqual([]);
  });

  it('reports unknown input, unknown params, bad cron and time zone at their nodes', () => {
    expect(
      problems(
        `name: t\ninput: itemz\nschedule: '61 * * * *'\ntimezone: Mars/Base\ndestinations:\n  - { type: file, path: out.csv }\n`,
      ),
    ).toEqual(['2:8: unknown_input', '3:11: invalid_schedule', '4:11: invalid_timezone']);
    expect(
      problems(
        `name: t\ninput: items\nparams: { hiden: x }\ndestinations:\n  - { type: file, path: out.csv }\n`,
      ),
    ).toEqual(['3:11: unknown_param']);
  });

  it('checks keys against the output columns, and credentials against the environment', () => {
    const tracker = `name: t
input: items
destinations:
  - { type: google_sheets, spreadsheetId: abc, sheet: S, mode: upsert }
  - { type: airtable, baseId: app1, table: T, mode: upsert, key: [nam] }
  - { type: table, connection: postgres://user:secret@db/bi, table: bi.items }
  - { type: table, connection: 'env:bad name', table: bi.items, mode: append, onMissing: keep }
`;
    expect(problems(tracker)).toEqual([
      '4:64: missing_key',
      '5:67: unknown_key_column',
      '6:32: inline_credential',
      '7:32: invalid_env_reference',
      '7:79: invalid_option',
    ]);
  });

  it('reports an unknown destination type and keys with a hint', () => {
    const lines = problems(`name: t\ninput: items\ndestinations:\n  - { type: gsheet, sheet: S }\n`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^4:\d+: invalid_value$/);
  });
});

describe('tracker runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-trackers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a failing destination does not stop the others; missing credentials fail with a reason; runs are recorded', async () => {
    const database = join(dir, 'shop.duckdb');
    const duck = await DuckDbEngine.open({ path: database, readOnly: false });
    await duck.execute(
      `CREATE SCHEMA shop; CREATE TABLE shop.item AS SELECT * FROM (VALUES (1, 'a', DATE '2026-01-01'), (2, 'b', NULL)) v(id, name, day)`,
    );
    await duck.close();
    const tracker = `name: t
input: items
destinations:
  - { type: table, connection: env:BROKEN_URL, table: x.items }
  - { type: file, path: ${join(dir, 'items.json')} }
  - { type: airtable, baseId: app1, table: T, mode: upsert, key: [id] }
`;
    const { model } = buildModel(files(tracker));
    const history = await RunHistory.open({ client: 'sqlite', filename: join(dir, 'runs.db') });
    try {
      const run = await syncTracker(
        model.trackers.get('t')!,
        {
          compiler: new Compiler(model),
          projectDir: dir,
          history,
          env: { BROKEN_URL: 'postgres://nobody@127.0.0.1:1/none' },
          openEngine: () => DuckDbEngine.open({ path: database }),
        },
        { trigger: 'manual' },
      );
      expect(run.status).toBe('partial');
      expect(run.rows).toBe(2);
      expect(run.destinations.map((d) => d.status)).toEqual(['failed', 'succeeded', 'failed']);
      expect(run.destinations[2]!.error).toBe(
        'missing credentials: needs STRATA_AIRTABLE_TOKEN in the environment',
      );
      expect(JSON.parse(readFileSync(join(dir, 'items.json'), 'utf8'))).toEqual([
        { id: 1, name: 'a', day: '2026-01-01' },
        { id: 2, name: 'b', day: null },
      ]);
      const recorded = await history.list({ tracker: 't' });
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({ id: run.id, status: 'partial', trigger: 'manual', rows: 2 });
    } finally {
      await history.close();
    }
  });

  it('refresh: on_change skips a scheduled run when no table the input reads changed', async () => {
    const root = join(dir, 'warehouse');
    const catalogPath = join(dir, 'catalog.db');
    const duck = await DuckDbEngine.open({ path: ':memory:' });
    const catalog = SqliteCatalog.open(catalogPath);
    const warehouse = new Warehouse({ root, catalog, duckdb: duck.rawConnection });
    const id = { namespace: 'shop', name: 'item' };
    await warehouse.createTable(id, [
      { name: 'id', type: 'long' },
      { name: 'name', type: 'string' },
      { name: 'day', type: 'date' },
    ]);
    await warehouse.appendRows(id, [{ id: 1, name: 'a', day: '2026-01-01' }]);
    const tracker = `name: t\ninput: items\nrefresh: on_change\ndestinations:\n  - { type: file, path: ${join(dir, 'changes.csv')} }\n`;
    const { model } = buildModel(files(tracker));
    const history = await RunHistory.open({ client: 'sqlite', filename: join(dir, 'runs2.db') });
    const deps = {
      compiler: new Compiler(model),
      projectDir: dir,
      history,
      openEngine: () => IcebergDuckDbEngine.open({ root, catalog: SqliteCatalog.open(catalogPath) }),
    };
    try {
      const t = model.trackers.get('t')!;
      const first = await syncTracker(t, deps, { trigger: 'schedule' });
      expect(first.status).toBe('succeeded');
      expect(first.changeCheck).toBe(
        "compared: the SQL, its parameters, the destinations and the tables' versions (Iceberg metadata files)",
      );
      const appended = (await warehouse.load(id)).snapshot!.timestampMs;
      expect(first.dataChangedAt).toBe(new Date(appended).toISOString());
      const skipped = await syncTracker(t, deps, { trigger: 'schedule' });
      expect(skipped).toMatchObject({ status: 'skipped', dataChangedAt: first.dataChangedAt });
      expect((await history.get(skipped.id))?.changeCheck).toBe(first.changeCheck);
      expect((await syncTracker(t, deps, { trigger: 'manual' })).status).toBe('succeeded');
      await warehouse.appendRows(id, [{ id: 2, name: 'b', day: null }]);
      const changed = await syncTracker(t, deps, { trigger: 'schedule' });
      expect(changed).toMatchObject({ status: 'succeeded', rows: 2 });
      expect(Date.parse(changed.dataChangedAt!)).toBeGreaterThanOrEqual(appended);
      expect(readFileSync(join(dir, 'changes.csv'), 'utf8').trim().split('\n').sort()).toEqual([
        '1,a,2026-01-01',
        '2,b,',
        'id,name,day',
      ]);
    } finally {
      await history.close();
      await catalog.close();
      await duck.close();
    }
  });

  it('refresh: on_change runs again when the input, params, destinations or the day of a relative filter change', async () => {
    const root = join(dir, 'warehouse3');
    const catalogPath = join(dir, 'catalog3.db');
    const duck = await DuckDbEngine.open({ path: ':memory:' });
    const catalog = SqliteCatalog.open(catalogPath);
    const warehouse = new Warehouse({ root, catalog, duckdb: duck.rawConnection });
    const id = { namespace: 'shop', name: 'item' };
    await warehouse.createTable(id, [
      { name: 'id', type: 'long' },
      { name: 'name', type: 'string' },
      { name: 'day', type: 'date' },
    ]);
    await warehouse.appendRows(id, [{ id: 1, name: 'a', day: '2026-01-01' }]);
    const history = await RunHistory.open({ client: 'sqlite', filename: join(dir, 'runs3.db') });
    let today = new Date('2026-03-01T12:00:00Z');
    /** A scheduled run of the tracker `t` as these definitions say it, a minute after the last. */
    const scheduled = async (definitions: DefinitionFile[]) => {
      today = new Date(today.getTime() + 60_000);
      const { model, diagnostics } = buildModel(definitions);
      expect(diagnostics).toEqual([]);
      const deps = {
        compiler: new Compiler(model),
        projectDir: dir,
        history,
        now: () => today,
        openEngine: () => IcebergDuckDbEngine.open({ root, catalog: SqliteCatalog.open(catalogPath) }),
      };
      return (await syncTracker(model.trackers.get('t')!, deps, { trigger: 'schedule' })).status;
    };
    const tracker = (extra = '', path = 'out.csv') =>
      `name: t\ninput: items\nrefresh: on_change\n${extra}destinations:\n  - { type: file, path: ${join(dir, path)} }\n`;
    const withInput = (text: string, trackerText = tracker()) =>
      files(trackerText).map((f) => (f.kind === 'input' ? { ...f, text } : f));
    try {
      expect(await scheduled(files(tracker()))).toBe('succeeded');
      expect(await scheduled(files(tracker()))).toBe('skipped');
      // The tracker's params, a destination, the input itself: each changes the decision.
      expect(await scheduled(files(tracker('params: { hidden: a }\n')))).toBe('succeeded');
      expect(await scheduled(files(tracker('params: { hidden: a }\n')))).toBe('skipped');
      expect(await scheduled(files(tracker('params: { hidden: a }\n', 'other.csv')))).toBe('succeeded');
      const fewer = input.replace('fields: [item.id, item.name, item.day]', 'fields: [item.id, item.name]');
      expect(await scheduled(withInput(fewer, tracker('params: { hidden: a }\n', 'other.csv')))).toBe(
        'succeeded',
      );
      // Relative to today: runs again when the day moves, not within it.
      const recent = `${input}  recent: { type: integer, default: 1 }\n`.replace(
        'filters:\n',
        'filters:\n  - { field: item.day, op: in_last, value: 30 days }\n',
      );
      expect(await scheduled(withInput(recent))).toBe('succeeded');
      today = new Date('2026-03-01T20:00:00Z');
      expect(await scheduled(withInput(recent))).toBe('skipped');
      today = new Date('2026-03-02T08:00:00Z');
      expect(await scheduled(withInput(recent))).toBe('succeeded');
    } finally {
      await history.close();
      await catalog.close();
      await duck.close();
    }
  });

  it('refresh: on_change always runs where table versions cannot be told, and the history says why', async () => {
    const database = join(dir, 'plain.duckdb');
    const duck = await DuckDbEngine.open({ path: database, readOnly: false });
    await duck.execute(
      `CREATE SCHEMA shop; CREATE TABLE shop.item AS SELECT * FROM (VALUES (1, 'a', DATE '2026-01-01')) v(id, name, day)`,
    );
    await duck.close();
    const tracker = `name: t\ninput: items\nrefresh: on_change\ndestinations:\n  - { type: file, path: ${join(dir, 'plain.csv')} }\n`;
    const { model } = buildModel(files(tracker));
    const history = await RunHistory.open({ client: 'sqlite', filename: join(dir, 'runs4.db') });
    const deps = {
      compiler: new Compiler(model),
      projectDir: dir,
      history,
      openEngine: () => DuckDbEngine.open({ path: database }),
    };
    try {
      const t = model.trackers.get('t')!;
      for (let i = 0; i < 2; i++) {
        const run = await syncTracker(t, deps, { trigger: 'schedule' });
        expect(run).toMatchObject({
          status: 'succeeded',
          changeCheck: 'always runs: the duckdb engine cannot tell the versions of shop.item',
        });
        expect(run.fingerprint).toBeUndefined();
        expect((await history.get(run.id))?.changeCheck).toBe(run.changeCheck);
      }
    } finally {
      await history.close();
    }
  });
});
