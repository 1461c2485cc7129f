/**
 * `type: file` extracts: csv, json or parquet, written under a temporary name and renamed,
 * so a reader never sees half a file. Columns under their names, values raw and typed.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { FileDestination as FileDefinition } from '../core/definitions/schema.js';
import { dialectFor } from '../core/sql/dialects/index.js';
import type { Cell } from '../core/values/cell.js';
import { escapeFormula } from '../output/formulas.js';
import type {
  Destination,
  DestinationContext,
  SyncColumn,
  SyncTable,
  WritePlan,
  WriteResult,
} from './destination.js';
import { DestinationError } from './destination.js';

const duckdb = dialectFor('duckdb');

export class FileDestination implements Destination {
  private readonly path: string;
  private readonly format: 'csv' | 'json' | 'parquet';
  private readonly escapeFormulas: boolean;

  constructor(definition: FileDefinition, options: { baseDir?: string } = {}) {
    this.path = resolve(options.baseDir ?? '.', definition.path);
    this.escapeFormulas = definition.escapeFormulas ?? true;
    const fromExtension = extname(definition.path).slice(1).toLowerCase();
    const format = definition.format ?? fromExtension;
    if (format !== 'csv' && format !== 'json' && format !== 'parquet') {
      throw new DestinationError(
        this.describe(),
        `cannot tell the format of ${definition.path}: add format: csv | json | parquet`,
      );
    }
    this.format = format;
  }

  describe(): string {
    return `file ${this.path}`;
  }

  async plan(table: SyncTable): Promise<WritePlan> {
    return {
      destination: this.describe(),
      creates: table.rows.length,
      updates: 0,
      deletes: 0,
      unchanged: 0,
      apiCalls: [
        {
          method: 'write',
          endpoint: this.path,
          description: `${this.format}, ${table.rows.length} rows, then rename`,
        },
      ],
      reads: 0,
      details: [],
    };
  }

  async write(table: SyncTable, ctx: DestinationContext): Promise<WriteResult> {
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${ctx.runId}.tmp`;
    try {
      const bytes =
        this.format === 'parquet'
          ? await writeParquet(table, temporary)
          : writeText(table, this.format, temporary, this.escapeFormulas);
      renameSync(temporary, this.path);
      return {
        destination: this.describe(),
        created: table.rows.length,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        apiCalls: 0,
        bytes,
      };
    } catch (e) {
      rmSync(temporary, { force: true });
      throw e;
    }
  }
}

/** A csv cell: raw value; a text cell that a spreadsheet would run as a formula escaped when asked. */
function csvCell(value: Cell, column: SyncColumn, escapeFormulas: boolean): string | number {
  if (value === null) return '';
  if (typeof value === 'boolean') return String(value);
  if (escapeFormulas && column.type === 'string' && typeof value === 'string') return escapeFormula(value);
  return value;
}

function writeText(table: SyncTable, format: 'csv' | 'json', path: string, escapeFormulas: boolean): number {
  const names = table.columns.map((c) => c.name);
  const text =
    format === 'csv'
      ? stringify([
          names,
          ...table.rows.map((r) => r.map((v, i) => csvCell(v, table.columns[i]!, escapeFormulas))),
        ])
      : `${JSON.stringify(
          table.rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i] ?? null]))),
          null,
          1,
        )}\n`;
  writeFileSync(path, text);
  return Buffer.byteLength(text);
}

async function writeParquet(table: SyncTable, path: string): Promise<number> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const quote = (n: string) => `"${n.replaceAll('"', '""')}"`;
    const columns = table.columns.map((c) => `${quote(c.name)} ${duckdb.castType(c.type)}`).join(', ');
    await connection.run(`CREATE TABLE result (${columns})`);
    // Values travel as JSON and are cast by DuckDB to each column's type: no SQL built from data.
    const json = JSON.stringify(
      table.rows.map((r) => Object.fromEntries(table.columns.map((c, i) => [c.name, r[i] ?? null]))),
    );
    await connection.run(
      `INSERT INTO result SELECT ${table.columns.map((c) => `CAST(j->>${sqlString(c.name)} AS ${duckdb.castType(c.type)})`).join(', ')} FROM (SELECT unnest(CAST($1 AS JSON[])) AS j)`,
      [json],
    );
    await connection.run(`COPY result TO ${sqlString(path)} (FORMAT parquet)`);
    const { statSync } = await import('node:fs');
    return statSync(path).size;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
