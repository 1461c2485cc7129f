/** Result writers for `strata run`: table | csv | json | ndjson, fed batch by batch. */
import { stringify } from 'csv-stringify/sync';
import type { OutputColumn } from '../core/compile.js';
import type { Row } from '../core/values/cell.js';
import { displayValue } from './display.js';
import { escapeFormula } from './formulas.js';

export const OUTPUT_FORMATS = ['table', 'csv', 'json', 'ndjson'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface ResultWriter {
  write(rows: Row[]): void;
  end(): void;
}

type Sink = (text: string) => void;

function rowObject(columns: readonly OutputColumn[], row: Row): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  columns.forEach((c, i) => (object[c.name] = row[i] ?? null));
  return object;
}

/** JSON: one array of row objects, keys in column order, raw typed values. */
function jsonWriter(columns: readonly OutputColumn[], out: Sink): ResultWriter {
  let first = true;
  out('[');
  return {
    write(rows) {
      for (const row of rows) {
        out(`${first ? '\n' : ',\n'}  ${JSON.stringify(rowObject(columns, row))}`);
        first = false;
      }
    },
    end: () => out(first ? ']\n' : '\n]\n'),
  };
}

function ndjsonWriter(columns: readonly OutputColumn[], out: Sink): ResultWriter {
  return {
    write: (rows) => rows.forEach((row) => out(`${JSON.stringify(rowObject(columns, row))}\n`)),
    end: () => undefined,
  };
}

/**
 * CSV: a header of column names, then formatted values (the display format applies). Text
 * cells that a spreadsheet would run as a formula are escaped unless `escapeFormulas` is false.
 */
function csvWriter(columns: readonly OutputColumn[], out: Sink, escapeFormulas: boolean): ResultWriter {
  const cell = (value: Row[number], column: OutputColumn): string => {
    const text = displayValue(value, column);
    return escapeFormulas && column.type === 'string' ? escapeFormula(text) : text;
  };
  out(stringify([columns.map((c) => c.name)]));
  return {
    write: (rows) => {
      if (rows.length > 0) out(stringify(rows.map((row) => row.map((v, i) => cell(v, columns[i]!)))));
    },
    end: () => undefined,
  };
}

/** A plain-text table under the column labels; numbers right-aligned. */
function tableWriter(columns: readonly OutputColumn[], out: Sink): ResultWriter {
  const cells: string[][] = [];
  return {
    write: (rows) => rows.forEach((row) => cells.push(row.map((v, i) => displayValue(v, columns[i]!)))),
    end: () => {
      const header = columns.map((c) => c.label);
      const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
      const numeric = columns.map((c) => ['integer', 'decimal', 'number'].includes(c.type));
      const line = (values: string[], align: boolean) =>
        values
          .map((v, i) => (align && numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd();
      out(`${line(header, false)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
      for (const row of cells) out(`${line(row, true)}\n`);
      out(`(${cells.length} row${cells.length === 1 ? '' : 's'})\n`);
    },
  };
}

export interface WriterOptions {
  /** csv: escape text cells that start like a formula (default true). */
  escapeFormulas?: boolean;
}

export function resultWriter(
  format: OutputFormat,
  columns: readonly OutputColumn[],
  out: Sink,
  options: WriterOptions = {},
): ResultWriter {
  switch (format) {
    case 'json':
      return jsonWriter(columns, out);
    case 'ndjson':
      return ndjsonWriter(columns, out);
    case 'csv':
      return csvWriter(columns, out, options.escapeFormulas ?? true);
    case 'table':
      return tableWriter(columns, out);
  }
}
