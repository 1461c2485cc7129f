/**
 * `strata import <file|glob> --table schema.table [--mode append|replace] [--cdc]`: CSV,
 * Parquet or JSON into a table of the embedded Iceberg warehouse, as one snapshot.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { canAppendInto, type InferredColumn } from '../core/import/column-types.js';
import { UsageError } from '../engines/open-engine.js';
import { withWarehouse } from '../engines/warehouse-location.js';
import {
  ImportReader,
  PROGRESS_MIN_BYTES,
  formatOf,
  totalBytes,
  type ImportFormat,
} from '../import/read-files.js';
import { ImportError } from '../import/import-error.js';
import { loadProject } from '../project/load-project.js';
import { progress, type ProgressStream } from '../output/progress.js';
import { findField, quoteString, type IcebergType } from '../warehouse/schema.js';
import { readParquetSql } from '../warehouse/sql.js';
import type { TableIdentifier } from '../warehouse/catalog.js';
import type { TableState, Warehouse } from '../warehouse/table.js';

export interface ImportFlags {
  table?: string;
  mode?: string;
  cdc?: boolean;
  format?: string;
}

export type ImportMode = 'append' | 'replace';

/** The raw CDC columns (spec §8), as the CDC pipelines write them. */
const CDC_COLUMNS: readonly { name: string; type: IcebergType }[] = [
  { name: '_op', type: 'string' },
  { name: '_op_ts', type: 'timestamp' },
  { name: '_seq', type: 'long' },
];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `--table schema.table`, both parts plain identifiers. */
export function tableOf(value: string | undefined): TableIdentifier {
  const parts = (value ?? '').split('.');
  if (parts.length !== 2 || !parts.every((p) => IDENTIFIER.test(p)))
    throw new UsageError(`--table expects schema.table (letters, digits, _), got '${value ?? ''}'`);
  return { namespace: parts[0]!, name: parts[1]! };
}

function modeOf(value: string | undefined): ImportMode {
  if (value === undefined || value === 'append' || value === 'replace') return value ?? 'append';
  throw new UsageError(`--mode expects append or replace, got '${value}'`);
}

export interface ImportResult {
  table: string;
  columns: InferredColumn[];
  rows: number;
  created: boolean;
  mode: ImportMode;
}

export async function importCommand(
  projectDir: string,
  pattern: string,
  flags: ImportFlags,
): Promise<number> {
  const result = await importFiles(projectDir, pattern, flags);
  const verb = result.mode === 'replace' ? 'replaced with' : 'appended';
  process.stdout.write(
    `${result.table}: ${result.created ? 'created, ' : ''}${verb} ${result.rows} row${result.rows === 1 ? '' : 's'}\n`,
  );
  return 0;
}

/** The import itself; prints the inferred columns, returns what it did. */
export async function importFiles(
  projectDir: string,
  pattern: string,
  flags: ImportFlags,
): Promise<ImportResult> {
  const id = tableOf(flags.table);
  const mode = modeOf(flags.mode);
  const format = formatOf(pattern, flags.format);
  const { config } = loadProject(projectDir);
  const reader = await ImportReader.open();
  try {
    const files = await reader.expand(pattern);
    const columns = await reader.describe(files, format);
    printColumns(files, format, columns);
    const outcome = await withWarehouse(projectDir, config, (warehouse, duckdb) =>
      loadInto(warehouse, duckdb, reader, { id, mode, cdc: flags.cdc ?? false, files, format, columns }),
    );
    const table = `${id.namespace}.${id.name}`;
    const { announceTableChanges } = await import('../trackers/change-trigger.js');
    await announceTableChanges(projectDir, config, [table]);
    return { table, columns, rows: outcome.rows, created: outcome.created, mode };
  } finally {
    reader.close();
  }
}

function printColumns(
  files: readonly string[],
  format: ImportFormat,
  columns: readonly InferredColumn[],
): void {
  const what = files.length === 1 ? basename(files[0]!) : `${files.length} files`;
  const width = Math.max(...columns.map((c) => c.name.length));
  const lines = columns.map(
    (c) => `  ${c.name.padEnd(width)}  ${c.type}${c.asText ? ` (from ${c.duckdbType}, as text)` : ''}`,
  );
  process.stdout.write(
    `${what} (${format}): ${columns.length} column${columns.length === 1 ? '' : 's'}\n${lines.join('\n')}\n`,
  );
}

interface LoadPlan {
  id: TableIdentifier;
  mode: ImportMode;
  cdc: boolean;
  files: string[];
  format: ImportFormat;
  columns: InferredColumn[];
}

/**
 * Stages the rows inside the warehouse first (a file that cannot be read changes nothing),
 * then creates, evolves or recreates the table and commits one snapshot.
 */
async function loadInto(
  warehouse: Warehouse,
  duckdb: DuckDBConnection,
  reader: ImportReader,
  plan: LoadPlan,
): Promise<{ rows: number; created: boolean }> {
  const wanted = targetColumns(plan.columns, plan.cdc);
  const existing = (await warehouse.exists(plan.id)) ? await warehouse.load(plan.id) : undefined;
  const conflicts = existing ? typeConflicts(existing, wanted) : [];
  if (conflicts.length > 0 && plan.mode === 'append')
    throw new ImportError(
      `cannot append to ${plan.id.namespace}.${plan.id.name}: ${conflicts.join('; ')} (use --mode replace to recreate the table)`,
    );
  // Replacing with other types recreates the table: Iceberg cannot narrow or retype columns.
  const kept = conflicts.length === 0 ? existing : undefined;
  if (kept) checkCdcShape(kept, plan);
  const extra = plan.cdc ? await cdcColumns(duckdb, warehouse, kept, plan) : [];
  const stagingDir = join(warehouse.root, '.import');
  mkdirSync(stagingDir, { recursive: true });
  const staged = join(stagingDir, `${randomUUID()}.parquet`);
  try {
    const shown = importProgress(plan.files);
    const rows = await reader.stage(plan.files, plan.format, plan.columns, staged, { extra, ...shown });
    shown.done();
    if (existing && !kept) await warehouse.dropTable(plan.id, { purge: true });
    const state = kept
      ? await addMissingColumns(warehouse, kept, wanted)
      : await warehouse.createTable(
          plan.id,
          wanted.map((c) => ({ name: c.name, type: c.type })),
        );
    await commitStaged(warehouse, state, plan.mode, staged);
    return { rows, created: kept === undefined };
  } finally {
    rmSync(staged, { force: true });
  }
}

/** The table's columns for these inputs: the file's, plus the CDC columns when asked and absent. */
function targetColumns(
  columns: readonly InferredColumn[],
  cdc: boolean,
): { name: string; type: IcebergType }[] {
  const target = columns.map((c) => ({ name: c.name, type: c.type as IcebergType }));
  if (!cdc) return target;
  return [...target, ...CDC_COLUMNS.filter((c) => !columns.some((col) => col.name.toLowerCase() === c.name))];
}

/** Each column whose file type cannot be written into the table's type, as one phrase. */
function typeConflicts(state: TableState, wanted: readonly { name: string; type: IcebergType }[]): string[] {
  return wanted.flatMap((column) => {
    const field = findField(state.schema, column.name);
    if (!field || canAppendInto(field.type, column.type)) return [];
    return [`column ${column.name} is ${field.type} in the table but ${column.type} in the file`];
  });
}

/** A raw CDC table gets its `_op`, `_op_ts`, `_seq` from `--cdc` or from the file, never NULL. */
function checkCdcShape(state: TableState, plan: LoadPlan): void {
  const isRaw = CDC_COLUMNS.every((c) => findField(state.schema, c.name));
  const fileHas = CDC_COLUMNS.every((c) => plan.columns.some((col) => col.name.toLowerCase() === c.name));
  if (isRaw && !plan.cdc && !fileHas)
    throw new UsageError(
      `${plan.id.namespace}.${plan.id.name} is a raw CDC table (it has _op, _op_ts, _seq): import with --cdc`,
    );
}

/** Compatible schema evolution: the file's new columns join the table as optional columns. */
async function addMissingColumns(
  warehouse: Warehouse,
  state: TableState,
  wanted: readonly { name: string; type: IcebergType }[],
): Promise<TableState> {
  let current = state;
  for (const column of wanted) {
    if (!findField(current.schema, column.name)) current = await warehouse.addColumn(state.id, column);
  }
  return current;
}

/**
 * The CDC columns of imported rows, when the file has none of its own: `_op` 'r' (a snapshot
 * read, as Debezium marks an initial load) when the rows start or replace the table, 'c' when
 * they are appended to rows already there; `_op_ts` the import's time (UTC); `_seq` after
 * the table's greatest, in file order, so a later import's rows win over earlier ones.
 */
async function cdcColumns(
  duckdb: DuckDBConnection,
  warehouse: Warehouse,
  state: TableState | undefined,
  plan: LoadPlan,
): Promise<string[]> {
  if (plan.columns.some((c) => CDC_COLUMNS.some((cdc) => cdc.name === c.name.toLowerCase()))) {
    const missing = CDC_COLUMNS.filter((cdc) => !plan.columns.some((c) => c.name.toLowerCase() === cdc.name));
    if (missing.length > 0)
      throw new UsageError(
        `the file has some CDC columns but not ${missing.map((c) => c.name).join(', ')}: give all three or none`,
      );
    return [];
  }
  const { files, schema } = state ? await warehouse.planFiles(state) : { files: [], schema: undefined };
  const base =
    plan.mode === 'replace' || files.length === 0 || !schema || !findField(schema, '_seq')
      ? 0n
      : BigInt(
          String(
            (
              await duckdb.runAndReadAll(
                `SELECT coalesce(max("_seq"), 0) FROM (${readParquetSql(files, schema)})`,
              )
            ).getRows()[0]?.[0] ?? 0,
          ),
        );
  const op = plan.mode === 'replace' || files.length === 0 ? 'r' : 'c';
  const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
  return [
    `${quoteString(op)} AS "_op"`,
    `TIMESTAMP ${quoteString(now)} AS "_op_ts"`,
    `CAST(${base.toString()} + row_number() OVER () AS BIGINT) AS "_seq"`,
  ];
}

/** One snapshot: `append`, or `overwrite` replacing every live file. */
async function commitStaged(
  warehouse: Warehouse,
  state: TableState,
  mode: ImportMode,
  staged: string,
): Promise<void> {
  const sql = `SELECT * FROM read_parquet(${quoteString(staged)})`;
  const current = await warehouse.load(state.id);
  if (mode === 'append' || current.snapshot === undefined) {
    await warehouse.appendQuery(state.id, sql);
    return;
  }
  const { files } = await warehouse.planFiles(current);
  await warehouse.overwrite(state.id, files, sql, current.snapshot);
}

/**
 * The progress line of staging the files: on a terminal (as every progress line) and only for
 * inputs large enough to take a while.
 */
export function importProgress(
  files: readonly string[],
  stream: ProgressStream = process.stderr,
  minBytes = PROGRESS_MIN_BYTES,
): { onProgress?: (percentage: number) => void; done(): void } {
  if (!stream.isTTY || totalBytes(files) < minBytes) return { done: () => undefined };
  const shown = progress('import', stream);
  const what = files.length === 1 ? basename(files[0]!) : `${files.length} files`;
  return { onProgress: (percentage) => shown.percent(percentage, what), done: () => shown.done() };
}
