/**
 * Runs semantic cases: each input is compiled, executed on a real engine, and compared
 * with a hand-written SQL query that states the spec's answer on the same data.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import type { Cell, Row } from '../../src/core/values/cell.js';
import type { Caller } from '../../src/core/access/policy.js';
import type { Engine } from '../../src/engines/engine.js';
import { collect } from '../../src/engines/engine.js';
import { readDefinitionFiles } from '../../src/project/load-project.js';
import { toMySqlDdl } from '../support/databases.js';

export const FIXTURE = fileURLToPath(new URL('./fixture', import.meta.url));

export interface SemanticCase {
  name: string;
  /** The input definition (YAML, without `name:`). */
  input: string;
  /** Hand-written SQL giving the expected rows, columns in the input's order. Schema `sem`. */
  expected: string;
  /** The same answer in MySQL's spelling, where `expected` uses what MySQL lacks. */
  expectedOnMySql?: string;
  params?: Record<string, string>;
  /** Compare row order too (the input sorts). */
  ordered?: boolean;
  /** Expected output column names, when the case is about naming. */
  columns?: string[];
  /** Compile for this caller (access policies); absent: a trusted caller. */
  caller?: Caller;
}

export function fixtureFiles(schema: string): DefinitionFile[] {
  return readDefinitionFiles(FIXTURE).map((f) => ({ ...f, text: f.text.replaceAll('sem.', `${schema}.`) }));
}

export async function loadFixtureData(engine: Engine, schema: string): Promise<void> {
  const written = readFileSync(`${FIXTURE}/data.sql`, 'utf8')
    .replaceAll('sem.', `${schema}.`)
    .replace('CREATE SCHEMA sem', `CREATE SCHEMA ${schema}`);
  const script = engine.dialect === 'mysql' ? toMySqlDdl(written) : written;
  for (const statement of script
    .split(/;\s*\n/)
    .map((s) => s.replace(/--.*$/gm, '').trim())
    .filter(Boolean))
    await engine.execute(statement);
}

function normalize(cell: Cell): Cell {
  return typeof cell === 'number' ? Number(cell.toPrecision(10)) : cell;
}

function canonical(rows: Row[], ordered: boolean): string[] {
  const lines = rows.map((r) => JSON.stringify(r.map(normalize)));
  return ordered ? lines : lines.sort();
}

export async function runCase(
  engine: Engine,
  schema: string,
  c: SemanticCase,
  sources: DefinitionFile[] = fixtureFiles(schema),
): Promise<void> {
  const files = [
    ...sources,
    { path: `${c.name}.yaml`, kind: 'input' as const, text: `name: ${c.name}\n${c.input}` },
  ];
  const { model, diagnostics } = buildModel(files);
  if (diagnostics.length > 0) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  const compiled = new Compiler(model).compile(c.name, {
    dialect: engine.dialect,
    ...(c.params ? { params: c.params } : {}),
    ...(c.caller ? { caller: c.caller } : {}),
  });
  if (c.columns) expect(compiled.columns.map((col) => col.name)).toEqual(c.columns);
  const actual = await collect(engine.stream(compiled.sql));
  const expectedSql = engine.dialect === 'mysql' ? (c.expectedOnMySql ?? c.expected) : c.expected;
  const expected = await collect(engine.stream(expectedSql.replaceAll('sem.', `${schema}.`)));
  expect(canonical(actual, c.ordered ?? false), `${compiled.sql}`).toEqual(
    canonical(expected, c.ordered ?? false),
  );
}
