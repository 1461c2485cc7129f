/** What the TPC-H test and the query checker share: the reference queries and row comparison. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Cell, Row } from '../../src/core/values/cell.js';

const QUERIES = fileURLToPath(new URL('./queries', import.meta.url));

/** queries/<name>.sql, comments and a final `;` removed, reading the tables in `schema`. */
export function referenceSql(name: string, schema: string): string {
  return readFileSync(`${QUERIES}/${name}.sql`, 'utf8')
    .replace(/--.*$/gm, '')
    .replaceAll('tpch.', `${schema}.`)
    .trim()
    .replace(/;$/, '');
}

/** Relative tolerance for numbers: engines sum and average decimals at different precisions. */
const TOLERANCE = 1e-9;

function sortKey(row: Row): string {
  return JSON.stringify(row.map((c) => (typeof c === 'number' ? Number(c.toPrecision(8)) : c)));
}

function sameCell(a: Cell, b: Cell): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return Math.abs(a - b) <= TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return a === b;
}

/** The rows, sorted unless the question sorts, with numbers equal within the tolerance. */
export function compareRows(actual: Row[], expected: Row[], ordered: boolean): string | undefined {
  if (actual.length !== expected.length) return `${actual.length} rows, expected ${expected.length}`;
  const a = ordered ? actual : [...actual].sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
  const e = ordered ? expected : [...expected].sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
  for (let i = 0; i < a.length; i++) {
    const row = a[i]!;
    const want = e[i]!;
    if (row.length !== want.length || row.some((cell, j) => !sameCell(cell, want[j]!))) {
      return `row ${i}: ${JSON.stringify(row)}, expected ${JSON.stringify(want)}`;
    }
  }
  return undefined;
}
