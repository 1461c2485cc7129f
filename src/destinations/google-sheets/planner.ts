/**
 * The Google Sheets sync planner: from what was read (tab properties, Strata's developer
 * metadata, the values of the tracker's columns) and the result to sync, the batchUpdate
 * requests that make the tab match, in order. Pure: no I/O, so plan() and write() share it.
 *
 * Requests come in groups: a group never spans two batchUpdate calls (rows are inserted and
 * filled in the same atomic call, so a failure never leaves blank inserted rows behind). Groups
 * are packed, in order, into as few batchUpdate calls as fit the payload budget (~2 MB).
 *
 * Row and column indices are computed so that every request is valid in the state left by the
 * requests before it, whichever batch boundaries the packer picks: cell updates first (at the
 * rows read), then inserted rows (below every row read), then deletions bottom-up.
 */
import type { sheets_v4 } from '@googleapis/sheets';
import type { SyncColumn, SyncTable } from '../destination.js';
import {
  cellBytes,
  cellData,
  formatKey,
  keyPart,
  numberFormatOf,
  readValue,
  sameValue,
  sheetValue,
  type SheetValue,
} from './cells.js';

type Request = sheets_v4.Schema$Request;

export const COLUMN_KEY = 'strata:column';
export const FORMAT_KEY = 'strata:format';
export const RUN_KEY = 'strata:run';
/** Append markers of other runs kept per tab (a retry only ever needs the latest few). */
export const KEEP_RUN_MARKERS = 20;
export const MAX_SPREADSHEET_CELLS = 10_000_000;

export interface TabInfo {
  sheetId: number;
  title: string;
  rowCount: number;
  columnCount: number;
  frozenRowCount: number;
}

/** Strata's developer metadata on the tab (row or column located). */
export interface MetaInfo {
  metadataId: number;
  key: string;
  value: string;
  dimension: 'ROWS' | 'COLUMNS';
  index: number;
}

export interface ReadState {
  /** Cells (rows x columns of the grid) of every other sheet in the spreadsheet. */
  otherCells: number;
  sheetIds: number[];
  tab?: TabInfo;
  metadata: MetaInfo[];
  /** Values read per sheet column (index 0 is the header row); upsert and append. */
  columns: Map<number, SheetValue[]>;
  /** Row 0 as read (only when some column had to be found by its label). */
  header?: SheetValue[];
  /** The whole tab (replace). */
  rows?: SheetValue[][];
}

export interface PlanInput {
  table: SyncTable;
  mode: 'replace' | 'upsert' | 'append';
  key?: readonly string[];
  onMissing: 'delete' | 'keep';
  runId: string;
  title: string;
  state: ReadState;
  /** The sheet column of each table column, when found (metadata, else header label). */
  mapping: (number | undefined)[];
  /** Columns found by label that still need their `strata:column` metadata. */
  unlabelled?: number[];
  newSheetId: number;
  maxBytes: number;
}

export interface Group {
  requests: Request[];
  bytes: number;
  /** Inserts, deletes, new sheets or metadata: not safe to re-send blindly after an unknown outcome. */
  structural: boolean;
}

export interface Batch {
  requests: Request[];
  bytes: number;
  structural: boolean;
  summary: string;
}

export interface SheetsPlan {
  groups: Group[];
  creates: number;
  updates: number;
  deletes: number;
  unchanged: number;
  details: string[];
  /** Cells the whole spreadsheet holds afterwards. */
  finalCells: number;
  /** The most it holds between two batchUpdates when the write takes several (grow before shrink). */
  peakCells: number;
}

export class PlanError extends Error {}

const MAX_DETAILS = 8;

// ---- request builders ------------------------------------------------------------------------

function gridRange(
  sheetId: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
): sheets_v4.Schema$GridRange {
  return { sheetId, startRowIndex: r0, endRowIndex: r1, startColumnIndex: c0, endColumnIndex: c1 };
}

function dimensionRange(sheetId: number, dimension: 'ROWS' | 'COLUMNS', start: number, end: number) {
  return { sheetId, dimension, startIndex: start, endIndex: end };
}

function formatCell(column: SyncColumn): sheets_v4.Schema$CellData {
  const numberFormat = numberFormatOf(column);
  return numberFormat ? { userEnteredFormat: { numberFormat } } : {};
}

function repeatFormat(sheetId: number, col: number, r0: number, r1: number, column: SyncColumn): Request {
  return {
    repeatCell: {
      range: gridRange(sheetId, r0, r1, col, col + 1),
      cell: formatCell(column),
      fields: 'userEnteredFormat.numberFormat',
    },
  };
}

function headerCell(label: string): sheets_v4.Schema$CellData {
  return { userEnteredValue: { stringValue: label }, userEnteredFormat: { textFormat: { bold: true } } };
}

const HEADER_FIELDS = 'userEnteredValue,userEnteredFormat.textFormat.bold';

function createMeta(
  sheetId: number,
  dimension: 'ROWS' | 'COLUMNS',
  index: number,
  key: string,
  value: string,
): Request {
  return {
    createDeveloperMetadata: {
      developerMetadata: {
        metadataKey: key,
        metadataValue: value,
        location: { dimensionRange: dimensionRange(sheetId, dimension, index, index + 1) },
        visibility: 'DOCUMENT',
      },
    },
  };
}

function deleteMeta(metadataId: number): Request {
  return { deleteDeveloperMetadata: { dataFilter: { developerMetadataLookup: { metadataId } } } };
}

function insertRows(sheetId: number, at: number, count: number, rowCount: number): Request {
  if (at >= rowCount) return { appendDimension: { sheetId, dimension: 'ROWS', length: count } };
  // Inherit row properties from the data row above (never from the header row).
  return {
    insertDimension: { range: dimensionRange(sheetId, 'ROWS', at, at + count), inheritFromBefore: at > 1 },
  };
}

function requestBytes(request: Request): number {
  return Buffer.byteLength(JSON.stringify(request)) + 1;
}

function group(requests: Request[], structural: boolean): Group {
  return { requests, structural, bytes: requests.reduce((n, r) => n + requestBytes(r), 0) };
}

/** Splits rows into consecutive chunks of at most `budget` estimated bytes (at least one row each). */
function chunkRows<T>(rows: T[], size: (row: T) => number, budget: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    const b = size(row);
    if (current.length > 0 && bytes + b > budget) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += b;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Packs groups, in order, into batches of at most `maxBytes` (a larger group goes alone). */
export function packBatches(groups: Group[], maxBytes: number): Batch[] {
  const batches: Batch[] = [];
  let current: Group[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length === 0) return;
    const requests = current.flatMap((g) => g.requests);
    batches.push({
      requests,
      bytes: Buffer.byteLength(JSON.stringify({ requests })),
      structural: current.some((g) => g.structural),
      summary: summarize(requests),
    });
    current = [];
    bytes = 0;
  };
  for (const g of groups) {
    if (g.requests.length === 0) continue;
    if (current.length > 0 && bytes + g.bytes + 16 > maxBytes) flush();
    current.push(g);
    bytes += g.bytes;
  }
  flush();
  return batches;
}

function summarize(requests: Request[]): string {
  const counts = new Map<string, number>();
  for (const r of requests) {
    const kind = Object.keys(r).find((k) => r[k as keyof Request] != null) ?? 'request';
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}

// ---- shared helpers --------------------------------------------------------------------------

function expectedRows(table: SyncTable): SheetValue[][] {
  return table.rows.map((row) => table.columns.map((column, i) => sheetValue(row[i] ?? null, column)));
}

function describeKey(parts: readonly SheetValue[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(', ');
}

function show(value: SheetValue): string {
  return value === null ? '(empty)' : JSON.stringify(value);
}

/** Runs of consecutive sheet columns: [{ start, cols: table column indices }]. */
function columnRuns(sheetCols: number[]): { start: number; cols: number[] }[] {
  const order = sheetCols.map((s, i) => ({ s, i })).sort((a, b) => a.s - b.s);
  const runs: { start: number; cols: number[] }[] = [];
  for (const { s, i } of order) {
    const last = runs[runs.length - 1];
    if (last && last.start + last.cols.length === s) last.cols.push(i);
    else runs.push({ start: s, cols: [i] });
  }
  return runs;
}

/**
 * Writes `rows` (values per table column) at sheet rows `at..`: one updateCells per run of
 * adjacent tracker columns, so a stakeholder's column between two tracker columns is never
 * touched; then each tracker column's number format on those rows.
 */
function writeRowsRequests(
  sheetId: number,
  at: number,
  rows: SheetValue[][],
  sheetCols: number[],
  columns: SyncColumn[],
): Request[] {
  const requests: Request[] = [];
  for (const run of columnRuns(sheetCols)) {
    requests.push({
      updateCells: {
        start: { sheetId, rowIndex: at, columnIndex: run.start },
        rows: rows.map((row) => ({ values: run.cols.map((i) => cellData(row[i] ?? null)) })),
        fields: 'userEnteredValue',
      },
    });
  }
  sheetCols.forEach((s, i) => requests.push(repeatFormat(sheetId, s, at, at + rows.length, columns[i]!)));
  return requests;
}

function estimateRow(row: SheetValue[]): number {
  return 14 + row.reduce<number>((n, v) => n + cellBytes(cellData(v)) + 1, 0);
}

function chunkBudget(maxBytes: number): number {
  return Math.max(1, Math.floor(maxBytes * 0.45));
}

// ---- entry point -----------------------------------------------------------------------------

export function planSync(input: PlanInput): SheetsPlan {
  const { table } = input;
  if (table.columns.length === 0) throw new PlanError('the result has no columns');
  if (input.mode === 'upsert') validateKey(input);
  if (!input.state.tab || input.mode === 'replace') return planFull(input);
  return input.mode === 'upsert' ? planUpsert(input) : planAppend(input);
}

/** Source key -> result row; a duplicate or empty key is refused before anything is written. */
function sourceKeyMap(input: PlanInput, expected: SheetValue[][], keyIdx: number[]): Map<string, number> {
  const keys = new Map<string, number>();
  expected.forEach((row, j) => {
    const parts = keyIdx.map((i) => keyPart(row[i]!));
    if (parts.every((p) => p === null))
      throw new PlanError(`row ${j + 1} of the result has an empty key (${input.key!.join(', ')})`);
    const k = JSON.stringify(parts);
    if (keys.has(k)) throw new PlanError(`the result has the key (${describeKey(parts)}) twice`);
    keys.set(k, j);
  });
  return keys;
}

function validateKey(input: PlanInput): void {
  const key = input.key ?? [];
  if (key.length === 0)
    throw new PlanError('mode upsert needs `key` (the output columns that identify a row)');
  for (const name of key) {
    if (!input.table.columns.some((c) => c.name === name))
      throw new PlanError(
        `key column "${name}" is not an output column (columns: ${input.table.columns.map((c) => c.name).join(', ')})`,
      );
  }
  const keyIdx = key.map((name) => input.table.columns.findIndex((c) => c.name === name));
  sourceKeyMap(input, expectedRows(input.table), keyIdx);
}

// ---- replace, and the first write to a missing tab ------------------------------------------

/**
 * Replace (and any mode's first write, when the tab is missing): the grid is resized to exactly
 * the header plus the result (at least one non-frozen row: Sheets cannot freeze every row), every
 * cell is written over a range (cells the rows do not cover are cleared), formats are set per
 * column, the header row is frozen, and each column carries `strata:column` / `strata:format`.
 */
function planFull(input: PlanInput): SheetsPlan {
  const { table, state } = input;
  const tab = state.tab;
  const sheetId = tab?.sheetId ?? input.newSheetId;
  const n = table.rows.length;
  const C = table.columns.length;
  const R = Math.max(2, n + 1);
  const expected = expectedRows(table);
  const labels = table.columns.map((c) => c.label);
  const details: string[] = [];

  // Counts, by position against what the tab holds now.
  const existing = state.rows ?? [];
  let creates = 0;
  let updates = 0;
  let unchanged = 0;
  for (let i = 0; i < n; i++) {
    const old = existing[i + 1];
    if (!old || old.every((v) => v === null || v === '')) {
      if (old && expected[i]!.every((v) => v === null)) unchanged++;
      else creates++;
      continue;
    }
    const same = old.length <= C && expected[i]!.every((v, c) => sameValue(v, readValue(old[c] ?? null)));
    if (same) unchanged++;
    else updates++;
  }
  const oldDataRows = existing.slice(1).filter((r) => r.some((v) => v !== null && v !== '')).length;
  const deletes = Math.max(0, oldDataRows - updates - unchanged);

  // Column metadata wanted at 0..C-1.
  const wantMeta = (key: string, c: number) =>
    key === COLUMN_KEY ? table.columns[c]!.name : formatKey(numberFormatOf(table.columns[c]!));
  const keep = new Set<string>();
  const metaRequests: Request[] = [];
  for (const m of state.metadata) {
    if (m.dimension !== 'COLUMNS' || (m.key !== COLUMN_KEY && m.key !== FORMAT_KEY)) continue;
    if (m.index >= C) continue; // goes away with its column
    const slot = `${m.key}@${m.index}`;
    if (!keep.has(slot) && m.value === wantMeta(m.key, m.index)) keep.add(slot);
    else metaRequests.push(deleteMeta(m.metadataId));
  }
  for (let c = 0; c < C; c++) {
    for (const key of [COLUMN_KEY, FORMAT_KEY]) {
      if (!keep.has(`${key}@${c}`))
        metaRequests.push(createMeta(sheetId, 'COLUMNS', c, key, wantMeta(key, c)));
    }
  }

  // Nothing to do when the tab already is the result.
  if (
    tab &&
    metaRequests.length === 0 &&
    tab.rowCount === R &&
    tab.columnCount === C &&
    tab.frozenRowCount === 1
  ) {
    const header = existing[0] ?? [];
    const headerSame = labels.every((l, c) => readValue(header[c] ?? null) === l) && header.length <= C;
    const blankTail = existing.slice(n + 1).every((r) => r.every((v) => v === null || v === ''));
    if (headerSame && blankTail && updates === 0 && creates === 0 && oldDataRows === n) {
      return {
        groups: [],
        creates: 0,
        updates: 0,
        deletes: 0,
        unchanged: n,
        details: ['no change'],
        finalCells: state.otherCells + R * C,
        peakCells: state.otherCells + R * C,
      };
    }
  }

  const head: Request[] = [];
  if (!tab) {
    head.push({
      addSheet: {
        properties: {
          sheetId,
          title: input.title,
          gridProperties: { rowCount: R, columnCount: C, frozenRowCount: 1 },
        },
      },
    });
    details.push(`create tab ${JSON.stringify(input.title)} (${R} x ${C})`);
  } else {
    if (tab.rowCount < R)
      head.push({ appendDimension: { sheetId, dimension: 'ROWS', length: R - tab.rowCount } });
    if (tab.columnCount < C)
      head.push({ appendDimension: { sheetId, dimension: 'COLUMNS', length: C - tab.columnCount } });
  }
  head.push({
    updateCells: {
      range: gridRange(sheetId, 0, 1, 0, C),
      rows: [{ values: labels.map(headerCell) }],
      fields: HEADER_FIELDS,
    },
  });
  table.columns.forEach((column, c) => head.push(repeatFormat(sheetId, c, 1, R, column)));
  if (tab && tab.frozenRowCount !== 1) {
    head.push({
      updateSheetProperties: {
        properties: { sheetId, gridProperties: { frozenRowCount: 1 } },
        fields: 'gridProperties.frozenRowCount',
      },
    });
  }
  head.push(...metaRequests);

  const groups: Group[] = [group(head, true)];
  // Data in chunks of at most ~45% of the payload budget; for an append into a new tab each chunk
  // carries its run marker, created in the same atomic call as the rows it marks.
  const marked = input.mode === 'append' && !tab;
  const chunks = n === 0 ? [[table.columns.map(() => null)]] : runMarkerChunks(input, expected);
  let at = 1;
  chunks.forEach((chunk, k) => {
    const end = k === chunks.length - 1 ? R : at + chunk.length;
    const requests: Request[] = [
      {
        updateCells: {
          range: gridRange(sheetId, at, end, 0, C),
          rows: chunk.map((row) => ({ values: row.map(cellData) })),
          fields: 'userEnteredValue',
        },
      },
    ];
    if (marked && n > 0) requests.push(createMeta(sheetId, 'ROWS', at, RUN_KEY, markerValue(input.runId, k)));
    groups.push(group(requests, marked));
    at = end;
  });

  const tail: Request[] = [];
  if (tab && tab.rowCount > R)
    tail.push({ deleteDimension: { range: dimensionRange(sheetId, 'ROWS', R, tab.rowCount) } });
  if (tab && tab.columnCount > C)
    tail.push({ deleteDimension: { range: dimensionRange(sheetId, 'COLUMNS', C, tab.columnCount) } });
  if (tail.length > 0) groups.push(group(tail, true));

  if (tab) {
    details.push(
      `replace ${JSON.stringify(input.title)}: ${n} rows x ${C} columns (grid ${tab.rowCount} x ${tab.columnCount} -> ${R} x ${C})`,
    );
  } else {
    details.push(`write ${n} rows x ${C} columns`);
  }
  const result =
    input.mode === 'replace' || tab ? { creates, updates, deletes } : { creates: n, updates: 0, deletes: 0 };
  return {
    groups,
    ...result,
    unchanged: input.mode === 'replace' || tab ? unchanged : 0,
    details,
    finalCells: state.otherCells + R * C,
    peakCells: state.otherCells + Math.max(R, tab?.rowCount ?? 0) * Math.max(C, tab?.columnCount ?? 0),
  };
}

// ---- upsert and append: the tracker's columns in an existing tab ----------------------------

interface Layout {
  /** Sheet column of each table column after the layout requests. */
  sheetCols: number[];
  /** Table columns that are new to the sheet (no values to compare). */
  fresh: Set<number>;
  requests: Request[];
  columnCount: number;
  structural: boolean;
}

/**
 * Places the tracker's columns: those found keep their place (wherever stakeholders moved them);
 * new ones go right after the last tracker column (or into a blank tab from column A), and get
 * their header and `strata:column` metadata. Renamed labels update the header cell only.
 */
function layout(input: PlanInput, tab: TabInfo): Layout {
  const { table, state } = input;
  const sheetId = tab.sheetId;
  const requests: Request[] = [];
  let structural = false;
  const sheetCols: number[] = [];
  const fresh = new Set<number>();
  const mapped = input.mapping.filter((m): m is number => m !== undefined);
  const missing = table.columns.map((_, i) => i).filter((i) => input.mapping[i] === undefined);
  let columnCount = tab.columnCount;

  const header = state.header ?? [];
  const headerBlank = header.every((v) => v === null || v === '');
  let next: number;
  if (missing.length > 0 && mapped.length === 0 && headerBlank) {
    next = 0;
    if (columnCount < missing.length) {
      requests.push({
        appendDimension: { sheetId, dimension: 'COLUMNS', length: missing.length - columnCount },
      });
      columnCount = missing.length;
    }
  } else {
    let lastHeader = -1;
    header.forEach((v, c) => {
      if (v !== null && v !== '') lastHeader = c;
    });
    next = mapped.length > 0 ? Math.max(...mapped) + 1 : lastHeader + 1;
    if (missing.length > 0) {
      requests.push(
        next >= columnCount
          ? { appendDimension: { sheetId, dimension: 'COLUMNS', length: missing.length } }
          : {
              insertDimension: {
                range: dimensionRange(sheetId, 'COLUMNS', next, next + missing.length),
                inheritFromBefore: next > 0,
              },
            },
      );
      columnCount += missing.length;
    }
  }
  table.columns.forEach((column, i) => {
    const found = input.mapping[i];
    if (found !== undefined) {
      sheetCols[i] = found;
      return;
    }
    sheetCols[i] = next++;
    fresh.add(i);
    requests.push(
      {
        updateCells: {
          start: { sheetId, rowIndex: 0, columnIndex: sheetCols[i] },
          rows: [{ values: [headerCell(column.label)] }],
          fields: HEADER_FIELDS,
        },
      },
      createMeta(sheetId, 'COLUMNS', sheetCols[i], COLUMN_KEY, column.name),
    );
  });
  if (missing.length > 0) structural = true;
  for (const c of input.unlabelled ?? []) {
    const i = input.mapping.indexOf(c);
    if (i >= 0) {
      requests.push(createMeta(sheetId, 'COLUMNS', c, COLUMN_KEY, table.columns[i]!.name));
      structural = true;
    }
  }
  // Header labels of columns found (a renamed label updates the header cell).
  table.columns.forEach((column, i) => {
    if (fresh.has(i)) return;
    const current = readValue(state.columns.get(sheetCols[i]!)?.[0] ?? null);
    if (current !== column.label) {
      requests.push({
        updateCells: {
          start: { sheetId, rowIndex: 0, columnIndex: sheetCols[i] },
          rows: [{ values: [headerCell(column.label)] }],
          fields: HEADER_FIELDS,
        },
      });
    }
  });
  return { sheetCols, fresh, requests, columnCount, structural };
}

/** Each tracker column's number format, re-applied to all its rows when `strata:format` differs. */
function formatDrift(input: PlanInput, tab: TabInfo, lay: Layout, finalRows: number): Request[] {
  const requests: Request[] = [];
  const byColumn = new Map<number, MetaInfo[]>();
  for (const m of input.state.metadata) {
    if (m.key !== FORMAT_KEY || m.dimension !== 'COLUMNS') continue;
    byColumn.set(m.index, [...(byColumn.get(m.index) ?? []), m]);
  }
  input.table.columns.forEach((column, i) => {
    const s = lay.sheetCols[i]!;
    const want = formatKey(numberFormatOf(column));
    // Metadata read sits at pre-layout indices; fresh columns have none.
    const metas = lay.fresh.has(i) ? [] : (byColumn.get(s) ?? []);
    if (metas.length === 1 && metas[0]!.value === want) return;
    if (finalRows > 1) requests.push(repeatFormat(tab.sheetId, s, 1, finalRows, column));
    for (const m of metas) requests.push(deleteMeta(m.metadataId));
    requests.push(createMeta(tab.sheetId, 'COLUMNS', s, FORMAT_KEY, want));
  });
  return requests;
}

function frozenFix(tab: TabInfo): Request[] {
  if (tab.frozenRowCount >= 1) return [];
  return [
    {
      updateSheetProperties: {
        properties: { sheetId: tab.sheetId, gridProperties: { frozenRowCount: 1 } },
        fields: 'gridProperties.frozenRowCount',
      },
    },
  ];
}

/** Index of the last row holding a value in any of the tracker's columns (0 = header only). */
function lastTrackerRow(state: ReadState, sheetCols: number[]): number {
  let last = 0;
  for (const s of sheetCols) {
    const values = state.columns.get(s) ?? [];
    for (let r = values.length - 1; r > last; r--) {
      if (readValue(values[r]) !== null) {
        last = r;
        break;
      }
    }
  }
  return last;
}

/** Groups that insert `rows` below row `after` in chunks, each chunk inserted and filled atomically. */
function insertGroups(
  input: PlanInput,
  tab: TabInfo,
  lay: Layout,
  after: number,
  rows: SheetValue[][],
  rowCount: number,
  marker?: (chunk: number) => string,
): { groups: Group[]; rowCount: number } {
  const groups: Group[] = [];
  let at = after + 1;
  let count = rowCount;
  const chunks = marker
    ? runMarkerChunks(input, rows)
    : chunkRows(rows, estimateRow, chunkBudget(input.maxBytes));
  chunks.forEach((chunk, k) => {
    if (chunk.length === 0) return;
    const requests: Request[] = [insertRows(tab.sheetId, at, chunk.length, count)];
    requests.push(...writeRowsRequests(tab.sheetId, at, chunk, lay.sheetCols, input.table.columns));
    if (marker) requests.push(createMeta(tab.sheetId, 'ROWS', at, RUN_KEY, marker(k)));
    groups.push(group(requests, true));
    count += chunk.length;
    at += chunk.length;
  });
  return { groups, rowCount: count };
}

/** Rows of an append split into the chunks run markers are made for (deterministic for a result). */
function runMarkerChunks(input: PlanInput, rows: SheetValue[][]): SheetValue[][][] {
  return chunkRows(rows, estimateRow, chunkBudget(input.maxBytes));
}

function markerValue(runId: string, chunk: number): string {
  return chunk === 0 ? runId : `${runId}#${chunk}`;
}

function planUpsert(input: PlanInput): SheetsPlan {
  const { table, state } = input;
  const tab = state.tab!;
  const sheetId = tab.sheetId;
  const lay = layout(input, tab);
  const details: string[] = [];
  const expected = expectedRows(table);
  const keyIdx = (input.key ?? []).map((name) => table.columns.findIndex((c) => c.name === name));

  const sourceKeys = sourceKeyMap(input, expected, keyIdx);

  // Sheet keys (rows a stakeholder added without a key are left alone).
  const value = (i: number, r: number): SheetValue =>
    lay.fresh.has(i) ? null : readValue(state.columns.get(lay.sheetCols[i]!)?.[r] ?? null);
  const last = lastTrackerRow(
    state,
    lay.sheetCols.filter((_, i) => !lay.fresh.has(i)),
  );
  const sheetKeys = new Map<string, number>();
  const duplicates: number[] = [];
  for (let r = 1; r <= last; r++) {
    const parts = keyIdx.map((i) => keyPart(value(i, r)));
    if (parts.every((p) => p === null)) continue;
    const k = JSON.stringify(parts);
    if (sheetKeys.has(k)) duplicates.push(r);
    else sheetKeys.set(k, r);
  }

  // Changed cells of matched rows.
  const changed = new Map<number, Map<number, SheetValue>>(); // row -> sheet col -> value
  let updates = 0;
  let unchanged = 0;
  const newRows: SheetValue[][] = [];
  for (const [k, j] of sourceKeys) {
    const r = sheetKeys.get(k);
    if (r === undefined) {
      newRows.push(expected[j]!);
      if (details.length < MAX_DETAILS) details.push(`create (${describeKey(JSON.parse(k))})`);
      continue;
    }
    const cells = new Map<number, SheetValue>();
    table.columns.forEach((column, i) => {
      const want = expected[j]![i]!;
      const have = value(i, r);
      if (!sameValue(want, have)) {
        cells.set(lay.sheetCols[i]!, want);
        if (details.length < MAX_DETAILS && !lay.fresh.has(i))
          details.push(
            `update row ${r + 1} (${describeKey(JSON.parse(k))}): ${column.label} ${show(have)} -> ${show(want)}`,
          );
      }
    });
    if (cells.size > 0) {
      changed.set(r, cells);
      updates++;
    } else unchanged++;
  }
  const vanished = [...sheetKeys].filter(([k]) => !sourceKeys.has(k)).map(([, r]) => r);
  const toDelete = input.onMissing === 'delete' ? [...vanished, ...duplicates].sort((a, b) => b - a) : [];
  for (const r of toDelete.slice(0, Math.max(0, MAX_DETAILS - details.length)))
    details.push(`delete row ${r + 1}`);
  if (input.onMissing === 'keep' && vanished.length > 0)
    details.push(`keep ${vanished.length} rows whose key vanished`);

  const groups: Group[] = [group([...lay.requests, ...frozenFix(tab)], lay.structural)];
  groups.push(...cellUpdateGroups(sheetId, changed, input.maxBytes));
  // New keys go right below the last keyed row: the tracker's block stays contiguous and a
  // stakeholder's rows below it (a totals row, notes) stay below it.
  const lastKeyed = Math.max(0, ...sheetKeys.values(), ...duplicates);
  const inserted = insertGroups(input, tab, lay, lastKeyed, newRows, tab.rowCount);
  groups.push(...inserted.groups);
  let rowCount = inserted.rowCount;
  let peakRows = rowCount;
  if (toDelete.length > 0) {
    const requests: Request[] = [];
    if (rowCount - toDelete.length <= tab.frozenRowCount) {
      // A sheet cannot lose all its non-frozen rows: keep one blank row.
      requests.push({ appendDimension: { sheetId, dimension: 'ROWS', length: 1 } });
      rowCount += 1;
      peakRows += 1;
    }
    for (const [start, end] of descendingRuns(toDelete)) {
      requests.push({ deleteDimension: { range: dimensionRange(sheetId, 'ROWS', start, end) } });
    }
    rowCount -= toDelete.length;
    groups.push(group(requests, true));
  }
  groups.push(group(formatDrift(input, tab, lay, rowCount), true));

  return {
    groups: groups.filter((g) => g.requests.length > 0),
    creates: newRows.length,
    updates,
    deletes: toDelete.length,
    unchanged,
    details,
    finalCells: state.otherCells + rowCount * lay.columnCount,
    peakCells: state.otherCells + Math.max(rowCount, peakRows) * lay.columnCount,
  };
}

/** Descending row indices -> [start, end) runs, bottom-up. */
function descendingRuns(rows: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const r of rows) {
    const last = runs[runs.length - 1];
    if (last && last[0] === r + 1) last[0] = r;
    else runs.push([r, r + 1]);
  }
  return runs;
}

/**
 * Changed cells as few updateCells as possible: horizontal runs of adjacent changed columns,
 * stacked over consecutive rows with the same run into one rectangle. Only those cells are
 * written (field mask `userEnteredValue`), so notes, formats and neighbouring columns stay.
 */
function cellUpdateGroups(
  sheetId: number,
  changed: Map<number, Map<number, SheetValue>>,
  maxBytes: number,
): Group[] {
  interface Rect {
    r0: number;
    r1: number;
    c0: number;
    width: number;
    rows: SheetValue[][];
  }
  const open = new Map<string, Rect>();
  const done: Rect[] = [];
  for (const r of [...changed.keys()].sort((a, b) => a - b)) {
    const cells = changed.get(r)!;
    const cols = [...cells.keys()].sort((a, b) => a - b);
    const runs: { c0: number; values: SheetValue[] }[] = [];
    for (const c of cols) {
      const last = runs[runs.length - 1];
      if (last && last.c0 + last.values.length === c) last.values.push(cells.get(c)!);
      else runs.push({ c0: c, values: [cells.get(c)!] });
    }
    for (const run of runs) {
      const id = `${run.c0}:${run.values.length}`;
      const rect = open.get(id);
      if (rect && rect.r1 === r) {
        rect.rows.push(run.values);
        rect.r1 = r + 1;
      } else {
        if (rect) done.push(rect);
        open.set(id, { r0: r, r1: r + 1, c0: run.c0, width: run.values.length, rows: [run.values] });
      }
    }
  }
  done.push(...open.values());
  done.sort((a, b) => a.r0 - b.r0 || a.c0 - b.c0);
  const requests: Request[] = [];
  for (const rect of done) {
    let r = rect.r0;
    for (const chunk of chunkRows(rect.rows, estimateRow, chunkBudget(maxBytes))) {
      requests.push({
        updateCells: {
          start: { sheetId, rowIndex: r, columnIndex: rect.c0 },
          rows: chunk.map((row) => ({ values: row.map(cellData) })),
          fields: 'userEnteredValue',
        },
      });
      r += chunk.length;
    }
  }
  // Independent single-cell writes: each request is its own group, so packing can split anywhere.
  return requests.map((r) => group([r], false));
}

function planAppend(input: PlanInput): SheetsPlan {
  const { table, state } = input;
  const tab = state.tab!;
  const lay = layout(input, tab);
  const expected = expectedRows(table);
  const details: string[] = [];

  const chunks = runMarkerChunks(input, expected);
  const mine = new Map<string, MetaInfo>();
  const others: MetaInfo[] = [];
  for (const m of state.metadata) {
    if (m.key !== RUN_KEY || m.dimension !== 'ROWS') continue;
    if (m.value === input.runId || m.value.startsWith(`${input.runId}#`)) mine.set(m.value, m);
    else others.push(m);
  }
  const pending: SheetValue[][] = [];
  const pendingChunks: number[] = [];
  let already = 0;
  chunks.forEach((chunk, k) => {
    if (mine.has(markerValue(input.runId, k))) already += chunk.length;
    else {
      pending.push(...chunk);
      pendingChunks.push(k);
    }
  });
  if (already > 0) {
    const first = mine.get(input.runId) ?? [...mine.values()][0]!;
    details.push(`run ${input.runId} already appended ${already} rows at row ${first.index + 1}`);
  }

  const last = lastTrackerRow(
    state,
    lay.sheetCols.filter((_, i) => !lay.fresh.has(i)),
  );
  const prune = others
    .sort((a, b) => b.index - a.index)
    .slice(KEEP_RUN_MARKERS)
    .map((m) => deleteMeta(m.metadataId));
  const groups: Group[] = [
    group([...lay.requests, ...frozenFix(tab), ...prune], lay.structural || prune.length > 0),
  ];
  // Pending chunks keep their chunk numbers, so their markers are the ones a retry looks for.
  let at = last;
  let rowCount = tab.rowCount;
  for (const k of pendingChunks) {
    const chunk = chunks[k]!;
    const inserted = insertGroups(
      { ...input, maxBytes: Number.MAX_SAFE_INTEGER },
      tab,
      lay,
      at,
      chunk,
      rowCount,
      () => markerValue(input.runId, k),
    );
    groups.push(...inserted.groups);
    rowCount = inserted.rowCount;
    at += chunk.length;
  }
  if (pending.length > 0) details.push(`append ${pending.length} rows after row ${last + 1}`);
  groups.push(group(formatDrift(input, tab, lay, rowCount), true));
  return {
    groups: groups.filter((g) => g.requests.length > 0),
    creates: pending.length,
    updates: 0,
    deletes: 0,
    unchanged: already,
    details,
    finalCells: state.otherCells + rowCount * lay.columnCount,
    peakCells: state.otherCells + rowCount * lay.columnCount,
  };
}
