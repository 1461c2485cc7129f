import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { buildDemoDatabase } from '../../src/demo/load-duckdb.js';
import {
  DEMO_TODAY,
  generateStudioData,
  type DemoTable,
  type DemoValue,
} from '../../src/demo/studio-data.js';

const tables = generateStudioData();

function table(name: string): DemoTable {
  const found = tables.find((t) => t.name === name);
  if (!found) throw new Error(`no demo table ${name}`);
  return found;
}

/** The values of one column, by name. */
function column(tableName: string, columnName: string): DemoValue[] {
  const t = table(tableName);
  const index = t.columns.findIndex((c) => c.name === columnName);
  if (index < 0) throw new Error(`no column ${tableName}.${columnName}`);
  return t.rows.map((row) => row[index] ?? null);
}

/** Rows as objects, for readable assertions. */
function records(tableName: string): Record<string, DemoValue>[] {
  const t = table(tableName);
  return t.rows.map((row) => Object.fromEntries(t.columns.map((c, i) => [c.name, row[i] ?? null])));
}

function keyOf(record: Record<string, DemoValue>, columns: readonly string[]): string {
  return JSON.stringify(columns.map((c) => record[c]));
}

function expectUnique(tableName: string, key: readonly string[]): void {
  const keys = records(tableName).map((r) => keyOf(r, key));
  expect(new Set(keys).size, `${tableName} (${key.join(', ')}) unique`).toBe(keys.length);
}

function expectReferences(
  childTable: string,
  childColumn: string,
  parentTable: string,
  parentColumn: string,
): void {
  const parents = new Set(column(parentTable, parentColumn));
  const dangling = column(childTable, childColumn).filter((value) => value !== null && !parents.has(value));
  expect(dangling, `${childTable}.${childColumn} -> ${parentTable}.${parentColumn}`).toEqual([]);
}

function nullCount(tableName: string, columnName: string): number {
  return column(tableName, columnName).filter((v) => v === null).length;
}

describe('generateStudioData', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    expect(JSON.stringify(generateStudioData())).toBe(JSON.stringify(tables));
    expect(JSON.stringify(generateStudioData({ seed: 7 }))).toBe(
      JSON.stringify(generateStudioData({ seed: 7 })),
    );
    expect(JSON.stringify(generateStudioData({ seed: 8 }))).not.toBe(
      JSON.stringify(generateStudioData({ seed: 7 })),
    );
  });

  it('has the documented tables and sizes at scale 1', () => {
    const sizes = Object.fromEntries(tables.map((t) => [`${t.schema}.${t.name}`, t.rows.length]));
    const expected: Record<string, [number, number]> = {
      'studio.movie': [300, 300],
      'studio.production': [550, 850],
      'studio.shoot_day': [6500, 10000],
      'studio.location': [60, 60],
      'studio.vendor': [120, 120],
      'studio.purchase_order': [4000, 6000],
      'studio.movie_talent': [1200, 1800],
      'studio_raw.talent_changes': [2500, 3500],
    };
    expect(Object.keys(sizes).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, [low, high]] of Object.entries(expected)) {
      expect(sizes[name], name).toBeGreaterThanOrEqual(low);
      expect(sizes[name], name).toBeLessThanOrEqual(high);
    }
    for (const t of tables) for (const row of t.rows) expect(row.length).toBe(t.columns.length);
  });

  it('scales the row counts', () => {
    const small = generateStudioData({ scale: 0.1 });
    const movies = small.find((t) => t.name === 'movie');
    expect(movies?.rows.length).toBe(30);
  });

  it('keeps primary keys unique', () => {
    expectUnique('movie', ['movie_id']);
    expectUnique('production', ['production_id']);
    expectUnique('shoot_day', ['shoot_day_id']);
    expectUnique('location', ['location_id']);
    expectUnique('vendor', ['vendor_id']);
    expectUnique('purchase_order', ['po_id']);
    expectUnique('movie_talent', ['movie_id', 'talent_id']);
    expectUnique('talent_changes', ['_seq']);
    expectUnique('movie', ['title']);
  });

  it('keeps the references the source joins declare', () => {
    expectReferences('production', 'movie_id', 'movie', 'movie_id');
    expectReferences('shoot_day', 'production_id', 'production', 'production_id');
    expectReferences('shoot_day', 'location_id', 'location', 'location_id');
    expectReferences('purchase_order', 'production_id', 'production', 'production_id');
    expectReferences('purchase_order', 'vendor_id', 'vendor', 'vendor_id');
    expectReferences('movie_talent', 'movie_id', 'movie', 'movie_id');
    expectReferences('movie_talent', 'talent_id', 'talent_changes', 'talent_id');
  });

  it('has the edge cases the inputs exercise', () => {
    const movies = records('movie');
    const withProduction = new Set(column('production', 'movie_id'));
    const withShootDays = new Set(column('shoot_day', 'production_id'));
    const withOrders = new Set(column('purchase_order', 'production_id'));
    const productionIds = column('production', 'production_id');

    expect(movies.filter((m) => m.is_test === true).length).toBeGreaterThan(0);
    expect(
      movies.filter((m) => m.is_test === false && !withProduction.has(m.movie_id ?? null)).length,
    ).toBeGreaterThan(0);
    expect(productionIds.filter((id) => !withShootDays.has(id)).length).toBeGreaterThan(0);
    expect(productionIds.filter((id) => !withOrders.has(id)).length).toBeGreaterThan(0);

    expect(nullCount('movie', 'launch_date')).toBeGreaterThan(0);
    expect(nullCount('movie', 'budget_usd')).toBeGreaterThan(0);
    expect(nullCount('production', 'country')).toBeGreaterThan(0);
    expect(nullCount('production', 'end_date')).toBeGreaterThan(0);
    expect(nullCount('shoot_day', 'actual_hours')).toBeGreaterThan(0);
    expect(nullCount('purchase_order', 'paid_date')).toBeGreaterThan(0);
    expect(nullCount('movie_talent', 'billing_order')).toBeGreaterThan(0);

    const statuses = new Set(column('movie', 'status'));
    expect([...statuses].sort()).toEqual(['active', 'cancelled', 'development', 'in_production', 'released']);
    expect(new Set(column('purchase_order', 'status'))).toEqual(
      new Set(['open', 'approved', 'paid', 'void']),
    );
    for (const country of column('production', 'country'))
      if (country !== null) expect(country).toMatch(/^[A-Z]{2}$/);

    // movies_in_production must return rows with its default param.
    const usProductions = records('production').filter((p) => p.country === 'US');
    const moviesById = new Map(movies.map((m) => [m.movie_id, m]));
    const inProduction = usProductions.filter((p) => {
      const movie = moviesById.get(p.movie_id);
      return movie?.is_test === false && (movie.status === 'active' || movie.status === 'in_production');
    });
    expect(inProduction.length).toBeGreaterThan(10);
  });

  it('spreads dates over 2024-2027 on both sides of the demo today', () => {
    const dates = [
      ...column('production', 'start_date'),
      ...column('shoot_day', 'shoot_date'),
      ...column('movie', 'launch_date'),
    ].filter((d): d is string => typeof d === 'string');
    for (const date of dates) expect(date >= '2024-01-01' && date <= '2027-12-31', date).toBe(true);
    expect(dates.some((d) => d < DEMO_TODAY)).toBe(true);
    expect(dates.some((d) => d > DEMO_TODAY)).toBe(true);
    for (const ts of column('purchase_order', 'issued_at')) {
      expect(ts).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    }
  });

  it('writes a CDC log with updates, deletes, re-creates and _op_ts ties', () => {
    const changes = records('talent_changes');
    const seqs = changes.map((c) => Number(c._seq));
    expect(seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] ?? 0))).toBe(true);
    expect(new Set(changes.map((c) => c._op))).toEqual(new Set(['c', 'u', 'd', 'r']));

    const byKey = new Map<DemoValue, Record<string, DemoValue>[]>();
    for (const change of changes) {
      const key = change.talent_id ?? null;
      byKey.set(key, [...(byKey.get(key) ?? []), change]);
    }
    expect(byKey.size).toBe(500);

    const histories = [...byKey.values()];
    expect(histories.filter((h) => h.filter((c) => c._op === 'u').length >= 2).length).toBeGreaterThan(100);
    const recreated = histories.filter((h) =>
      h.some((c, i) => c._op === 'd' && h.slice(i + 1).some((later) => later._op === 'c')),
    );
    expect(recreated.length).toBeGreaterThan(0);
    const stillDeleted = histories.filter((h) => h[h.length - 1]?._op === 'd');
    expect(stillDeleted.length).toBeGreaterThan(0);

    // Ties that matter: a key's two latest rows share _op_ts but differ, so only _seq decides.
    const decidedBySeq = histories.filter((h) => {
      const [previous, latest] = h.slice(-2);
      return (
        previous !== undefined &&
        latest !== undefined &&
        previous._op_ts === latest._op_ts &&
        keyOf(previous, ['full_name', 'agency', 'day_rate_usd', 'is_active']) !==
          keyOf(latest, ['full_name', 'agency', 'day_rate_usd', 'is_active'])
      );
    });
    expect(decidedBySeq.length).toBeGreaterThan(0);
  });
});

describe('buildDemoDatabase', () => {
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-demo-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads every table with its rows and types', async () => {
    const path = join(dir, 'nested', 'demo.duckdb');
    const summary = await buildDemoDatabase(path);
    // Building twice replaces the tables rather than appending to them.
    expect(await buildDemoDatabase(path)).toEqual(summary);
    expect(summary).toEqual({
      tables: tables.length,
      rows: tables.reduce((sum, t) => sum + t.rows.length, 0),
    });

    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    try {
      for (const t of tables) {
        const reader = await connection.runAndReadAll(
          `SELECT count(*)::INTEGER AS n FROM ${t.schema}.${t.name}`,
        );
        expect(reader.getRowObjectsJson()[0]?.n, `${t.schema}.${t.name}`).toBe(t.rows.length);
      }

      const types = await connection.runAndReadAll(
        `SELECT typeof(budget_usd) AS budget, typeof(launch_date) AS launch, typeof(runtime_seconds) AS runtime
         FROM studio.movie LIMIT 1`,
      );
      expect(types.getRowObjectsJson()[0]).toEqual({
        budget: 'DECIMAL(18,2)',
        launch: 'DATE',
        runtime: 'BIGINT',
      });

      const firstOrder = records('purchase_order')[0];
      const order = await connection.runAndReadAll(
        `SELECT amount_usd::VARCHAR AS amount, strftime(issued_at, '%Y-%m-%d %H:%M:%S') AS issued
         FROM studio.purchase_order WHERE po_id = $id`,
        { id: String(firstOrder?.po_id) },
      );
      expect(order.getRowObjectsJson()[0]).toEqual({
        amount: Number(firstOrder?.amount_usd).toFixed(2),
        issued: firstOrder?.issued_at,
      });

      // The latest-row-per-key view the `talent` source promises.
      const latest = await connection.runAndReadAll(
        `SELECT count(*)::INTEGER AS n FROM (
           SELECT _op FROM studio_raw.talent_changes
           QUALIFY row_number() OVER (PARTITION BY talent_id ORDER BY _op_ts DESC, _seq DESC) = 1
         ) WHERE NOT (_op = 'd')`,
      );
      const lastOps = new Map(records('talent_changes').map((c) => [c.talent_id, c._op]));
      const live = [...lastOps.values()].filter((op) => op !== 'd').length;
      expect(latest.getRowObjectsJson()[0]?.n).toBe(live);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('works with a file named after a schema (the engine attaches it under its own catalog name)', async () => {
    const path = join(dir, 'studio.duckdb');
    await buildDemoDatabase(path);
    const engine = await DuckDbEngine.open({ path, readOnly: true });
    try {
      const { rows } = await engine.query('SELECT count(*) FROM studio.movie');
      expect(rows[0]![0]).toBe(records('movie').length);
    } finally {
      await engine.close();
    }
  });
});
