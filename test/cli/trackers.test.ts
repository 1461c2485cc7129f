/**
 * Issue 4's example trackers end to end through the CLI's commands (in-process): each destination type, with
 * Sheets and Airtable served by the local emulators and the BI table in the local
 * PostgreSQL; then `strata runs` shows them, and an unchanged re-sync writes nothing.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engines/engine.js';
import { strataInProcess } from '../support/in-process-cli.js';
import { POSTGRES_URL, postgres, uniqueSchema } from '../support/databases.js';
import { exampleProject, REPO_ROOT } from '../support/example-project.js';
import { startFakeAirtable, type FakeAirtable } from '../support/fake-airtable.js';
import { FakeSheets } from '../support/fake-sheets.js';

const TOKEN = 'sheets-test-token';
const schema = uniqueSchema('trackers');
let dir: string;
let sheets: FakeSheets;
let airtable: FakeAirtable;
let pg: Engine;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-trackers-'));
  cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
  cpSync(join(REPO_ROOT, 'trackers'), join(dir, 'trackers'), { recursive: true });
  const vendor = join(dir, 'trackers', 'vendor-spend.yaml');
  writeFileSync(
    vendor,
    readFileSync(vendor, 'utf8').replace('table: trackers.vendor_spend', `table: ${schema}.vendor_spend`),
  );
  expect((await strataInProcess(['demo', '--project', dir])).status).toBe(0);
  sheets = await new FakeSheets({ tokens: [TOKEN] }).start();
  sheets.addSpreadsheet('demo-sheet', [{ title: 'Readme' }]);
  airtable = await startFakeAirtable({ rateLimit: { requests: 5, windowMs: 800 } });
  const cast = exampleProject()
    .compiler.compile('movie_cast', { dialect: 'duckdb' })
    .columns.map((c) => c.label);
  airtable.createTable('appDemo', 'Cast', cast);
  pg = await postgres();
  env = {
    STRATA_GOOGLE_ACCESS_TOKEN: TOKEN,
    STRATA_SHEETS_ROOT_URL: sheets.url,
    STRATA_DEMO_SPREADSHEET_ID: 'demo-sheet',
    STRATA_AIRTABLE_TOKEN: airtable.token,
    STRATA_AIRTABLE_ENDPOINT_URL: airtable.url,
    STRATA_DEMO_AIRTABLE_BASE: 'appDemo',
    BI_DATABASE_URL: POSTGRES_URL,
  };
});

afterAll(async () => {
  await sheets.close();
  await airtable.close();
  await pg.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pg.close();
  rmSync(dir, { recursive: true, force: true });
});

const sync = (tracker: string, extra: string[] = []) =>
  strataInProcess(['sync', tracker, '--project', dir, ...extra], { env });

describe('example trackers', () => {
  it('movie-status fills a Sheets tab with typed cells under the labels', async () => {
    const r = await sync('movie-status');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const [header, ...rows] = sheets.values('demo-sheet', 'Movies');
    expect(header).toEqual(['Title', 'Start Date', 'Start Month', 'Productions']);
    expect(rows.length).toBeGreaterThan(100);
    expect(typeof rows[0]![1]).toBe('number'); // a date is a serial number with a date format
  });

  it('talent-roster upserts Airtable records', async () => {
    const r = await sync('talent-roster');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(airtable.records('appDemo', 'Cast').length).toBeGreaterThan(50);
  });

  it('vendor-spend replaces a typed PostgreSQL table', async () => {
    const r = await sync('vendor-spend');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const { rows } = await pg.query(`SELECT count(*), min(issued_month) FROM ${schema}.vendor_spend`);
    expect(rows[0]![0]).toBeGreaterThan(100);
    expect(rows[0]![1]).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);
  });

  it('shoot-days-extract writes parquet and csv files', async () => {
    expect((await sync('shoot-days-extract')).status).toBe(0);
    expect(existsSync(join(dir, '.strata/exports/weekly_shoot_days.parquet'))).toBe(true);
    expect(readFileSync(join(dir, '.strata/exports/weekly_shoot_days.csv'), 'utf8').split('\n')[0]).toMatch(
      /^shoot_week,/,
    );
  });

  it('a dry run calls no write API; an unchanged upsert writes nothing', async () => {
    const before = sheets.requests.filter((r) => r.endpoint === 'batchUpdate').length;
    const dry = await sync('movie-status', ['--dry-run']);
    expect(dry.stdout).toMatch(/0 to create, 0 to update, 0 to delete/);
    const again = await sync('movie-status');
    expect(again.stdout).toMatch(/succeeded, 0 created, 0 updated, 0 deleted/);
    expect(sheets.requests.filter((r) => r.endpoint === 'batchUpdate').length).toBe(before);
  });

  it('strata runs shows every run, newest first', async () => {
    const r = await strataInProcess(['runs', '--project', dir]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^started\s+tracker\s+trigger\s+status/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[2])).toEqual([
      'movie-status',
      'shoot-days-extract',
      'vendor-spend',
      'talent-roster',
      'movie-status',
    ]);
    expect(lines.slice(1).every((l) => / manual +succeeded /.test(l))).toBe(true);
  });

  it('strata runs --format json gives every field, per-destination calls and errors included', async () => {
    const r = await strataInProcess(['runs', 'movie-status', '--project', dir, '--format', 'json']);
    expect(r.status, r.stderr).toBe(0);
    const runs = JSON.parse(r.stdout) as {
      tracker: string;
      status: string;
      rows: number;
      destinations: { destination: string; status: string; apiCalls: number }[];
    }[];
    expect(runs.map((run) => run.tracker)).toEqual(['movie-status', 'movie-status']);
    expect(runs[0]).toMatchObject({ status: 'succeeded', trigger: 'manual' });
    expect(runs[0]!.destinations[0]).toMatchObject({ status: 'succeeded' });
    expect(runs.every((run) => run.destinations.every((d) => typeof d.apiCalls === 'number'))).toBe(true);
    expect((await strataInProcess(['runs', '--project', dir, '--format', 'yaml'])).status).toBe(2);
  });

  it('strata freshness tells each tracker fresh after its successful runs, with its data age', async () => {
    const r = await strataInProcess(['freshness', '--project', dir, '--format', 'json', '--check']);
    expect(r.status, r.stderr).toBe(0);
    const all = JSON.parse(r.stdout) as {
      tracker: string;
      state: string;
      dataAgeSeconds?: number;
      lastSuccessAt?: string;
      staleAt?: string;
    }[];
    expect(all.map((f) => [f.tracker, f.state])).toEqual([
      ['movie-status', 'fresh'],
      ['shoot-days-extract', 'fresh'],
      ['talent-roster', 'fresh'],
      ['vendor-spend', 'fresh'],
    ]);
    // The demo warehouse is Iceberg: the data's age is known.
    expect(all.every((f) => typeof f.dataAgeSeconds === 'number' && f.lastSuccessAt && f.staleAt)).toBe(true);
    const table = await strataInProcess(['freshness', 'movie-status', '--project', dir]);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^tracker\s+state\s+last success\s+data age\s+stale at\s+why$/,
    );
    expect(table.stdout.split('\n')[1]).toMatch(/^movie-status\s+fresh\s+\d{4}-\d\d-\d\d .* last succeeded/);
    expect((await strataInProcess(['freshness', 'movie-statu', '--project', dir])).stderr).toMatch(
      /did you mean movie-status/,
    );
  });

  it('without credentials a destination fails, with one clear line and exit 1 (never a silent skip)', async () => {
    const r = await strataInProcess(['sync', 'talent-roster', '--project', dir], {
      env: { STRATA_AIRTABLE_TOKEN: '' },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /airtable: failed: missing credentials: needs STRATA_DEMO_AIRTABLE_BASE, STRATA_AIRTABLE_TOKEN in the environment/,
    );
  });
});
