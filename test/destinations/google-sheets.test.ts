import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GoogleSheetsDestination as SheetsDefinition } from '../../src/core/definitions/schema.js';
import type { Cell } from '../../src/core/values/cell.js';
import {
  DestinationError,
  usageOf,
  type DestinationContext,
  type SyncColumn,
  type SyncTable,
} from '../../src/destinations/destination.js';
import { GoogleSheetsDestination } from '../../src/destinations/google-sheets.js';
import { HttpError } from '../../src/destinations/http.js';
import { InMemoryRateLimiter, type RateLimit, type RateLimiter } from '../../src/destinations/limiter.js';
import { toSerial } from '../../src/output/display.js';
import { FakeSheets } from '../support/fake-sheets.js';

const ID = '1AbCdEfGhIjKlMnOp';
const TOKEN = 'test-token-5ecret';

const COLUMNS: SyncColumn[] = [
  { name: 'movie_id', label: 'Movie ID', type: 'integer' },
  { name: 'title', label: 'Title', type: 'string' },
  { name: 'status', label: 'Status', type: 'string' },
  { name: 'budget', label: 'Budget', type: 'decimal', format: '$#,##0.00' },
  { name: 'launch_date', label: 'Launch Date', type: 'date' },
  { name: 'wrapped', label: 'Wrapped', type: 'boolean' },
  { name: 'updated_at', label: 'Updated At', type: 'timestamp' },
];

function movie(id: number, status: string, budget: number | null = 1000 * id): Cell[] {
  return [
    id,
    `Movie ${id}`,
    status,
    budget,
    `2026-0${(id % 9) + 1}-15`,
    id % 2 === 0,
    '2026-01-31T12:00:00.000Z',
  ];
}

function table(rows: Cell[][], columns = COLUMNS): SyncTable {
  return { columns, rows };
}

let fake: FakeSheets;
let clock: number;
let sleeps: number[];
let warnings: string[];

beforeEach(async () => {
  clock = Date.UTC(2026, 0, 31, 12);
  sleeps = [];
  warnings = [];
  fake = await new FakeSheets({ now: () => clock, tokens: [TOKEN] }).start();
  fake.addSpreadsheet(ID, [{ title: 'Readme', rowCount: 20, columnCount: 4 }]);
});

afterEach(async () => {
  await fake.close();
});

function context(overrides: Partial<DestinationContext> = {}): DestinationContext {
  return {
    limiter: new InMemoryRateLimiter(),
    retry: {
      retries: 4,
      baseDelayMs: 1000,
      maxDelayMs: 60_000,
      random: () => 1,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    },
    runId: 'run-1',
    tracker: 'movie-status',
    env: { STRATA_GOOGLE_ACCESS_TOKEN: TOKEN },
    log: { info: () => {}, warn: (message) => void warnings.push(message) },
    ...overrides,
  };
}

function destination(
  definition: Partial<SheetsDefinition> = {},
  options: ConstructorParameters<typeof GoogleSheetsDestination>[1] = {},
): GoogleSheetsDestination {
  return new GoogleSheetsDestination(
    { type: 'google_sheets', spreadsheetId: ID, sheet: 'Movies', ...definition },
    { rootUrl: fake.url, ...options },
  );
}

const upsert = (extra: Partial<SheetsDefinition> = {}, options = {}) =>
  destination({ mode: 'upsert', key: ['movie_id'], onMissing: 'delete', ...extra }, options);

function sheetId(title = 'Movies'): number {
  return fake.sheet(ID, title)!.sheetId;
}

/** The rows of the tab as { header label: value } objects (header row excluded). */
function records(title = 'Movies'): Record<string, unknown>[] {
  const [header = [], ...rows] = fake.values(ID, title);
  return rows.map((row) => Object.fromEntries(header.map((h, c) => [String(h), row[c] ?? null])));
}

function rowOf(id: number, title = 'Movies'): number {
  const [header = [], ...rows] = fake.values(ID, title);
  const c = header.indexOf('Movie ID');
  return rows.findIndex((r) => r[c] === id) + 1;
}

describe('google_sheets replace', () => {
  it('creates the tab and writes typed cells, formats and a frozen header in one atomic batchUpdate', async () => {
    const rows = [movie(1, 'Filming'), movie(2, 'Post', null), [3, '=1+1', 'Script', 0.5, null, true, null]];
    const result = await destination().write(table(rows), context());

    expect(result).toMatchObject({ created: 3, updated: 0, deleted: 0, apiCalls: 2 });
    const batches = fake.appliedBatches();
    expect(batches).toHaveLength(1);
    expect(batches[0]![0]).toMatchObject({
      addSheet: {
        properties: { title: 'Movies', gridProperties: { rowCount: 4, columnCount: 7, frozenRowCount: 1 } },
      },
    });

    expect(fake.values(ID, 'Movies')).toEqual([
      ['Movie ID', 'Title', 'Status', 'Budget', 'Launch Date', 'Wrapped', 'Updated At'],
      [1, 'Movie 1', 'Filming', 1000, toSerial('2026-02-15'), false, toSerial('2026-01-31T12:00:00.000Z')],
      [2, 'Movie 2', 'Post', '', toSerial('2026-03-15'), true, toSerial('2026-01-31T12:00:00.000Z')],
      [3, '=1+1', 'Script', 0.5, '', true],
    ]);
    // Typed: a number is a numberValue, text that looks like a formula stays text.
    expect(fake.cell(ID, 'Movies', 1, 0)?.userEnteredValue).toEqual({ numberValue: 1 });
    expect(fake.cell(ID, 'Movies', 3, 1)?.userEnteredValue).toEqual({ stringValue: '=1+1' });
    expect(fake.cell(ID, 'Movies', 1, 5)?.userEnteredValue).toEqual({ boolValue: false });
    expect(fake.cell(ID, 'Movies', 1, 4)?.userEnteredFormat).toEqual({
      numberFormat: { type: 'DATE', pattern: 'yyyy-mm-dd' },
    });
    expect(fake.cell(ID, 'Movies', 1, 6)?.userEnteredFormat).toEqual({
      numberFormat: { type: 'DATE_TIME', pattern: 'yyyy-mm-dd hh:mm:ss' },
    });
    expect(fake.cell(ID, 'Movies', 2, 3)?.userEnteredFormat).toEqual({
      numberFormat: { type: 'CURRENCY', pattern: '$#,##0.00' },
    });
    expect(fake.cell(ID, 'Movies', 0, 0)).toMatchObject({
      userEnteredFormat: { textFormat: { bold: true } },
    });
    expect(fake.sheet(ID, 'Movies')?.gridProperties).toEqual({
      rowCount: 4,
      columnCount: 7,
      frozenRowCount: 1,
    });
    // The tracker's columns are tagged for upserts.
    const tags = fake
      .developerMetadata(ID)
      .filter((m) => m.metadataKey === 'strata:column')
      .map((m) => [m.metadataValue, m.location.dimensionRange?.startIndex]);
    expect(tags).toEqual(COLUMNS.map((c, i) => [c.name, i]));
  });

  it('makes an existing tab equal to the result: grid resized, leftovers cleared, nothing sent when equal', async () => {
    fake.addSpreadsheet(ID, [{ title: 'Movies', rowCount: 1000, columnCount: 26, frozenRowCount: 3 }]);
    const stakeholder = fake.stakeholder(ID, 'Movies');
    stakeholder.setValue(0, 0, 'old header');
    stakeholder.setValue(40, 20, 'far away');
    stakeholder.setValue(2, 3, 'stale');

    const first = await destination().write(table([movie(1, 'Filming'), movie(2, 'Post')]), context());
    expect(first.apiCalls).toBe(4); // get, metadata search, values, one batchUpdate
    expect(fake.appliedBatches()).toHaveLength(1);
    expect(fake.sheet(ID, 'Movies')?.gridProperties).toEqual({
      rowCount: 3,
      columnCount: 7,
      frozenRowCount: 1,
    });
    expect(records()).toHaveLength(2);

    const narrow = COLUMNS.slice(0, 3);
    await destination().write(table([[5, 'Five', 'Done']], narrow), context());
    expect(fake.appliedBatches()).toHaveLength(2);
    expect(fake.values(ID, 'Movies')).toEqual([
      ['Movie ID', 'Title', 'Status'],
      [5, 'Five', 'Done'],
    ]);
    expect(fake.sheet(ID, 'Movies')?.gridProperties).toMatchObject({ rowCount: 2, columnCount: 3 });

    const again = await destination().write(table([[5, 'Five', 'Done']], narrow), context());
    expect(fake.appliedBatches()).toHaveLength(2);
    expect(again).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 1, apiCalls: 3 });

    const empty = await destination().write(table([], narrow), context());
    expect(empty.deleted).toBe(1);
    expect(fake.values(ID, 'Movies')).toEqual([['Movie ID', 'Title', 'Status']]);
    expect(fake.sheet(ID, 'Movies')?.gridProperties.rowCount).toBe(2); // one non-frozen row must remain
  });
});

describe('google_sheets upsert', () => {
  it('writes only the cells whose typed value changed', async () => {
    const rows = [movie(1, 'Filming'), movie(2, 'Post'), movie(3, 'Script')];
    await upsert().write(table(rows), context());
    expect(fake.appliedBatches()).toHaveLength(1);

    const same = await upsert().write(table(rows), context());
    expect(same).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 3 });
    expect(fake.appliedBatches()).toHaveLength(1);

    const changed = [movie(1, 'Filming'), movie(2, 'Released'), [...movie(3, 'Script', 99)]];
    changed[0]![1] = null; // clears the cell
    const result = await upsert().write(table(changed), context());
    expect(result).toMatchObject({ created: 0, updated: 3, deleted: 0, unchanged: 0, apiCalls: 4 });
    const batches = fake.appliedBatches();
    expect(batches).toHaveLength(2);
    const id = sheetId();
    expect(batches[1]).toEqual([
      {
        updateCells: {
          start: { sheetId: id, rowIndex: 1, columnIndex: 1 },
          rows: [{ values: [{}] }],
          fields: 'userEnteredValue',
        },
      },
      {
        updateCells: {
          start: { sheetId: id, rowIndex: 2, columnIndex: 2 },
          rows: [{ values: [{ userEnteredValue: { stringValue: 'Released' } }] }],
          fields: 'userEnteredValue',
        },
      },
      {
        updateCells: {
          start: { sheetId: id, rowIndex: 3, columnIndex: 3 },
          rows: [{ values: [{ userEnteredValue: { numberValue: 99 } }] }],
          fields: 'userEnteredValue',
        },
      },
    ]);
    expect(fake.cell(ID, 'Movies', 1, 1)?.userEnteredValue).toBeUndefined();
    // "5" and 5 are different values: typed comparison.
    const typed = changed.map((r) => [...r]);
    typed[0]![0] = 1;
    typed[1]![2] = 'Released';
    await upsert().write(
      table(typed.map((r, i) => (i === 2 ? [3, 'Movie 3', 'Script', '99', ...r.slice(4)] : r))),
      context(),
    );
    expect(fake.appliedBatches()).toHaveLength(2); // '99' in a decimal column is the number 99: unchanged
  });

  it('keeps stakeholders columns, notes and formats on the same key row through inserts, deletes and reorders', async () => {
    await upsert().write(table([movie(1, 'Filming'), movie(2, 'Post'), movie(3, 'Script')]), context());
    const stakeholder = fake.stakeholder(ID, 'Movies');
    // A stakeholder adds an "Owner" column between Title and Status, a note and a format.
    stakeholder.insertColumns(2);
    stakeholder.setValue(0, 2, 'Owner');
    stakeholder.setValue(rowOf(1), 2, 'ana');
    stakeholder.setValue(rowOf(2), 2, 'bo');
    stakeholder.setValue(rowOf(3), 2, 'cy');
    stakeholder.setNote(rowOf(1), 2, 'check with legal');
    stakeholder.setFormat(rowOf(3), 3, { backgroundColor: { red: 1 } });

    // Source: 2 vanished, 4 is new, 3 changed, and the order is different.
    const result = await upsert().write(
      table([movie(3, 'Shooting'), movie(4, 'Script'), movie(1, 'Filming')]),
      context(),
    );
    expect(result).toMatchObject({ created: 1, updated: 1, deleted: 1, unchanged: 1 });
    expect(fake.appliedBatches()).toHaveLength(2);

    const byId = Object.fromEntries(records().map((r) => [r['Movie ID'], r]));
    expect(Object.keys(byId).sort()).toEqual(['1', '3', '4']);
    expect(byId[1]).toMatchObject({ Owner: 'ana', Status: 'Filming' });
    expect(byId[3]).toMatchObject({ Owner: 'cy', Status: 'Shooting' });
    expect(byId[4]).toMatchObject({ Owner: '', Status: 'Script', Title: 'Movie 4' });
    expect(fake.cell(ID, 'Movies', rowOf(1), 2)?.note).toBe('check with legal');
    expect(fake.cell(ID, 'Movies', rowOf(3), 3)?.userEnteredFormat).toMatchObject({
      backgroundColor: { red: 1 },
    });
    // The new row carries the tracker's formats.
    expect(fake.cell(ID, 'Movies', rowOf(4), 4)?.userEnteredFormat).toMatchObject({
      numberFormat: { type: 'CURRENCY' },
    });
    // Never a whole-row rewrite: every write names a tracker column.
    const written = fake
      .appliedBatches()[1]!
      .flatMap((r) => ((r.updateCells as { start?: { columnIndex: number } } | undefined)?.start ? [r] : []))
      .map((r) => (r.updateCells as { start: { columnIndex: number } }).start.columnIndex);
    expect(written).not.toContain(2);

    // The stakeholder moves Status to the far right and adds a free-text row in the middle.
    const statusCol = fake.values(ID, 'Movies')[0]!.indexOf('Status');
    stakeholder.moveColumns(statusCol, statusCol + 1, fake.sheet(ID, 'Movies')!.gridProperties.columnCount);
    stakeholder.insertRows(2);
    stakeholder.setValue(2, 2, 'notes for the team');
    const header = fake.values(ID, 'Movies')[0]!;
    expect(header[header.length - 1]).toBe('Status');

    await upsert().write(table([movie(1, 'Released'), movie(3, 'Shooting'), movie(4, 'Script')]), context());
    const last = fake.appliedBatches()[2]!;
    expect(last).toEqual([
      {
        updateCells: {
          start: { sheetId: sheetId(), rowIndex: rowOf(1), columnIndex: header.length - 1 },
          rows: [{ values: [{ userEnteredValue: { stringValue: 'Released' } }] }],
          fields: 'userEnteredValue',
        },
      },
    ]);
    expect(fake.values(ID, 'Movies')[2]![2]).toBe('notes for the team');
    expect(records().find((r) => r['Movie ID'] === 1)).toMatchObject({ Owner: 'ana', Status: 'Released' });
    expect(fake.cell(ID, 'Movies', rowOf(1), 2)?.note).toBe('check with legal');

    // Everything gone with onMissing: keep leaves rows; with delete, one non-frozen row remains.
    await upsert({ onMissing: 'keep' }).write(table([]), context());
    expect(records().filter((r) => r['Movie ID'] !== '')).toHaveLength(3);
    await upsert().write(table([]), context());
    expect(records().filter((r) => r['Movie ID'] !== '')).toHaveLength(0);
    // The stakeholder's free-text row has no key: not a tracker row, left alone.
    expect(fake.values(ID, 'Movies').slice(1)).toEqual([['', '', 'notes for the team']]);
  });

  it('inserts new keys below the last keyed row, above a stakeholder totals row', async () => {
    await upsert().write(table([movie(1, 'a'), movie(2, 'b')]), context());
    const stakeholder = fake.stakeholder(ID, 'Movies');
    fake.apply(ID, [{ appendDimension: { sheetId: sheetId(), dimension: 'ROWS', length: 1 } }]);
    stakeholder.setValue(3, 1, 'Total');
    stakeholder.setValue(3, 3, 3000);
    await upsert().write(table([movie(1, 'a'), movie(2, 'b'), movie(3, 'c')]), context());
    expect(fake.values(ID, 'Movies').map((r) => r.slice(0, 2))).toEqual([
      ['Movie ID', 'Title'],
      [1, 'Movie 1'],
      [2, 'Movie 2'],
      [3, 'Movie 3'],
      ['', 'Total'],
    ]);
  });

  it('finds columns by header label on a tab a person made, then tags them', async () => {
    fake.addSpreadsheet(ID, [{ title: 'Movies', rowCount: 10, columnCount: 5 }]);
    const person = fake.stakeholder(ID, 'Movies');
    ['Notes', 'Status', 'Movie ID'].forEach((label, c) => person.setValue(0, c, label));
    person.setValue(1, 0, 'keep me');
    person.setValue(1, 1, 'Filming');
    person.setValue(1, 2, 7);
    const columns = [COLUMNS[0]!, COLUMNS[2]!, COLUMNS[1]!]; // Movie ID, Status, Title (new)
    const result = await upsert().write(
      table(
        [
          [7, 'Post', 'Seven'],
          [8, 'Script', 'Eight'],
        ],
        columns,
      ),
      context(),
    );
    expect(result).toMatchObject({ created: 1, updated: 1 });
    expect(fake.values(ID, 'Movies').slice(0, 3)).toEqual([
      ['Notes', 'Status', 'Movie ID', 'Title'],
      ['keep me', 'Post', 7, 'Seven'],
      ['', 'Script', 8, 'Eight'],
    ]);
    const tags = fake.developerMetadata(ID).filter((m) => m.metadataKey === 'strata:column');
    expect(tags.map((m) => [m.metadataValue, m.location.dimensionRange?.startIndex]).sort()).toEqual([
      ['movie_id', 2],
      ['status', 1],
      ['title', 3],
    ]);
  });

  it('refuses a result with duplicate or missing keys before writing', async () => {
    await expect(upsert().write(table([movie(1, 'a'), movie(1, 'b')]), context())).rejects.toThrow(
      /key \(1\) twice/,
    );
    await expect(upsert({ key: ['nope'] }).write(table([movie(1, 'a')]), context())).rejects.toBeInstanceOf(
      DestinationError,
    );
    expect(fake.calls('batchUpdate')).toHaveLength(0);
  });
});

describe('google_sheets append', () => {
  it('appends once per runId, even when the job is retried or the outcome was unknown', async () => {
    const append = () => destination({ mode: 'append' });
    await append().write(table([movie(1, 'a'), movie(2, 'b')]), context({ runId: 'run-1' }));
    const retried = await append().write(table([movie(1, 'a'), movie(2, 'b')]), context({ runId: 'run-1' }));
    expect(retried).toMatchObject({ created: 0, unchanged: 2 });
    expect(fake.appliedBatches()).toHaveLength(1);

    fake.stakeholder(ID, 'Movies').insertColumns(1); // a stakeholder column between tracker columns
    await append().write(table([movie(3, 'c')]), context({ runId: 'run-2' }));
    expect(records().map((r) => r['Movie ID'])).toEqual([1, 2, 3]);
    expect(records()[2]).toMatchObject({ Title: 'Movie 3', '': '' });

    // The server applies the batch but answers 503: the write reads again and finds its marker.
    fake.failNext({ status: 503, endpoint: 'batchUpdate', afterApplying: true });
    const unknown = await append().write(table([movie(4, 'd')]), context({ runId: 'run-3' }));
    expect(unknown.apiCalls).toBe(7); // 3 reads + 1 write, then 3 reads that find the marker
    expect(records().map((r) => r['Movie ID'])).toEqual([1, 2, 3, 4]);
    expect(warnings.some((w) => w.includes('outcome unknown'))).toBe(true);

    const markers = fake.developerMetadata(ID).filter((m) => m.metadataKey === 'strata:run');
    expect(markers.map((m) => [m.metadataValue, m.location.dimensionRange?.startIndex])).toEqual([
      ['run-1', 1],
      ['run-2', 3],
      ['run-3', 4],
    ]);
  });

  it('marks every chunk of a split append, so a job retried after a failure adds only what is missing', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => movie(i + 1, 'Script'));
    const append = () => destination({ mode: 'append' }, { maxRequestBytes: 6000 });
    await append().write(table([movie(0, 'first')]), context({ runId: 'run-0' }));
    fake.failNext({ status: 400, endpoint: 'batchUpdate', message: 'something went wrong', skip: 1 });
    // The first chunk is written, the second is refused: the job fails.
    const calls = fake.calls('batchUpdate').length;
    await expect(append().write(table(rows), context({ runId: 'run-1' }))).rejects.toThrow(/400/);
    const partial = records().length;
    expect(fake.calls('batchUpdate').length).toBe(calls + 2);
    expect(partial).toBeGreaterThan(1);
    expect(partial).toBeLessThan(61);

    const retried = await append().write(table(rows), context({ runId: 'run-1' }));
    expect(retried.created + retried.unchanged).toBe(60);
    expect(retried.unchanged).toBe(partial - 1);
    expect(records().map((r) => r['Movie ID'])).toEqual([0, ...rows.map((r) => r[0])]);
    const markers = fake
      .developerMetadata(ID)
      .filter((m) => m.metadataKey === 'strata:run' && m.metadataValue?.startsWith('run-1'));
    expect(markers.length).toBeGreaterThan(2);
    expect(await append().write(table(rows), context({ runId: 'run-1' }))).toMatchObject({
      created: 0,
      unchanged: 60,
    });
  });
});

describe('google_sheets limits', () => {
  it('refuses a result that would pass 10,000,000 cells before writing anything', async () => {
    fake.addSpreadsheet(ID, [{ title: 'Huge', rowCount: 999_999, columnCount: 10 }]);
    const dest = destination();
    const big = table([movie(1, 'a'), movie(2, 'b')]);
    await expect(dest.plan(big, context())).rejects.toThrow(/10,000,000/);
    await expect(dest.write(big, context())).rejects.toThrow(DestinationError);
    expect(fake.calls('batchUpdate')).toHaveLength(0);
  });

  it('retries 429 with backoff, honouring Retry-After, and waits out the per-minute write quota', async () => {
    fake.failNext({ status: 429, endpoint: 'batchUpdate' }, 2);
    await destination().write(table([movie(1, 'a')]), context());
    expect(sleeps).toEqual([1000, 2000]);

    fake.failNext({ status: 429, endpoint: 'batchUpdate', retryAfter: '7' });
    await destination().write(table([movie(2, 'b')]), context());
    expect(sleeps.slice(2)).toEqual([7000]);

    // The real per-minute quota: one write allowed per minute.
    fake.writeQuotaPerMinute = 1;
    sleeps = [];
    const base = clock;
    await destination().write(table([movie(3, 'c')]), context({ retry: { ...context().retry, retries: 8 } }));
    expect(clock - base).toBeGreaterThanOrEqual(60_000);
    expect(fake.calls('batchUpdate').filter((r) => r.status === 429).length).toBeGreaterThan(3);
    expect(records().map((r) => r['Movie ID'])).toEqual([3]);

    // A 500 on a cells-only batch is simply sent again.
    fake.writeQuotaPerMinute = Infinity;
    await upsert().write(table([movie(3, 'c')]), context());
    fake.failNext({ status: 500, endpoint: 'batchUpdate' });
    const result = await upsert().write(table([movie(3, 'z')]), context());
    expect(result.updated).toBe(1);
    expect(records()[0]).toMatchObject({ Status: 'z' });
  });

  it('a write that fails keeps count of the calls it made', async () => {
    fake.failNext({ status: 503 }, 100);
    const failure = await destination()
      .write(table([movie(1, 'a')]), context())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(HttpError);
    // One call and 4 retries, all answered 503.
    expect(usageOf(failure).apiCalls).toBe(5);
  });

  it('splits a request over the payload budget into ordered batchUpdates, inserting and filling rows together', async () => {
    const rows = Array.from({ length: 150 }, (_, i) => movie(i + 1, 'Script'));
    const dest = upsert({}, { maxRequestBytes: 8000 });
    await dest.write(table(rows), context());
    const first = fake.calls('batchUpdate');
    expect(first.length).toBeGreaterThan(3);
    expect(Math.max(...first.map((r) => r.bytes))).toBeLessThanOrEqual(8000);
    expect(records().map((r) => r['Movie ID'])).toEqual(rows.map((r) => r[0]));

    const more = [...rows, ...Array.from({ length: 100 }, (_, i) => movie(i + 151, 'New'))];
    await dest.write(table(more), context());
    for (const batch of fake.appliedBatches().slice(first.length)) {
      const inserts = batch.filter((r) => r.insertDimension || r.appendDimension).length;
      if (inserts > 0) expect(batch.some((r) => r.updateCells)).toBe(true);
    }
    expect(records().map((r) => r['Movie ID'])).toEqual(more.map((r) => r[0]));
    expect(fake.sheet(ID, 'Movies')?.gridProperties.rowCount).toBe(251);
  });
});

describe('google_sheets plan and credentials', () => {
  it('plans with reads only', async () => {
    await upsert().write(table([movie(1, 'a'), movie(2, 'b'), movie(3, 'c')]), context());
    const writes = fake.calls('batchUpdate').length;
    const plan = await upsert().plan(table([movie(1, 'a'), movie(2, 'B'), movie(4, 'd')]), context());
    expect(plan).toMatchObject({ creates: 1, updates: 1, deletes: 1, unchanged: 1, reads: 3 });
    expect(plan.apiCalls).toEqual([
      expect.objectContaining({ method: 'POST', endpoint: 'spreadsheets.batchUpdate' }),
    ]);
    expect(plan.details.join('\n')).toMatch(/update row 3 \(2\): Status "b" -> "B"/);
    expect(fake.calls('batchUpdate')).toHaveLength(writes);
    expect(JSON.stringify(plan)).not.toContain(TOKEN);
  });

  it('uses the bearer token, names the credential by a hash in limiter keys, and never prints it', async () => {
    const keys: string[] = [];
    const limiter: RateLimiter = {
      acquire: async (limit: RateLimit) => void keys.push(`${limit.key}/${limit.limit}/${limit.windowMs}`),
      penalize: async () => {},
    };
    await destination().write(table([movie(1, 'a')]), context({ limiter }));
    expect(fake.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(keys).toEqual([
      expect.stringMatching(/^sheets:read:[0-9a-f]{12}\/60\/60000$/),
      expect.stringMatching(/^sheets:write:[0-9a-f]{12}\/60\/60000$/),
    ]);
    expect(keys.join()).not.toContain(TOKEN);

    await expect(destination().write(table([]), context({ env: {} }))).rejects.toThrow(
      /STRATA_GOOGLE_CREDENTIALS.*STRATA_GOOGLE_ACCESS_TOKEN/,
    );
    const failure = await destination()
      .write(table([]), context({ env: { STRATA_GOOGLE_ACCESS_TOKEN: 'wrong-5ecret' } }))
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(HttpError);
    expect((failure as HttpError).status).toBe(401);
    expect(String((failure as Error).message)).not.toContain('wrong-5ecret');
  });

  it('signs in as a service account against the token endpoint of the key file', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const email = 'strata-sync@studio.iam.gserviceaccount.com';
    fake.addServiceAccount(email, publicKey);
    const dir = mkdtempSync(join(tmpdir(), 'strata-sa-'));
    const keyFile = join(dir, 'key.json');
    writeFileSync(
      keyFile,
      JSON.stringify({
        type: 'service_account',
        client_email: email,
        private_key: privateKey,
        private_key_id: 'k1',
        token_uri: fake.tokenUrl,
      }),
    );
    const dest = destination({ spreadsheetId: 'env:MOVIES_SHEET' });
    const env = { STRATA_GOOGLE_CREDENTIALS: keyFile, MOVIES_SHEET: ID };
    await dest.write(table([movie(1, 'a')]), context({ env }));
    await dest.write(table([movie(1, 'b')]), context({ env }));
    expect(fake.calls('token')).toHaveLength(1);
    expect(fake.calls('token')[0]!.status).toBe(200);
    const api = fake.requests.filter((r) => r.endpoint !== 'token');
    expect(api.every((r) => String(r.headers.authorization).startsWith('Bearer ya29.fake-'))).toBe(true);
    expect(records()).toEqual([expect.objectContaining({ Status: 'b' })]);
    expect(dest.describe()).toBe('google_sheets env:MOVIES_SHEET/Movies');
    rmSync(dir, { recursive: true, force: true });
  });
});
