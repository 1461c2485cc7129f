/**
 * Property tests of definition SQL (spec §2): for any text, validation answers (a fragment
 * or a positioned problem, never a crash); whatever it accepts is re-printed so that the
 * query around it stays exactly one SELECT for DuckDB's own parser, in every dialect's
 * escaping; and printing is a fixed point (what is printed parses back to the same tokens).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel } from '../../src/core/model/build.js';
import { parseFragment, printFragment, type FragmentContext } from '../../src/core/sql/fragments/fragment.js';
import { dialectFor } from '../../src/core/sql/dialects/index.js';
import { DIALECTS, type Dialect } from '../../src/core/definitions/schema.js';
import type { Engine } from '../../src/engines/engine.js';
import { MySqlEngine } from '../../src/engines/mysql.js';
import { PostgresEngine } from '../../src/engines/postgres.js';
import { MYSQL_URL, POSTGRES_URL } from '../support/databases.js';

/** Pieces an attacker or a careless author would combine. */
const PIECES = [
  'title',
  'status',
  '"Odd ""name"""',
  "'",
  "''",
  '"',
  '(',
  ')',
  ';',
  '--',
  '/*',
  '*/',
  '$$',
  '$1',
  '\\',
  '\n',
  ' ',
  ',',
  '+',
  '-',
  '*',
  '/',
  '||',
  '=',
  '<>',
  '::',
  '[',
  ']',
  '{x}',
  '{user.id}',
  '?',
  'E',
  "E'",
  'U&',
  'SELECT',
  'FROM',
  'COPY',
  'ATTACH',
  'SET',
  'read_text',
  'upper',
  'CAST',
  'AS',
  'VARCHAR',
  '1',
  '2.5',
  '1e3',
  "'x'",
  "'a;b--c'",
  "'/*'",
  'CASE',
  'WHEN',
  'THEN',
  'ELSE',
  'END',
  'IN',
  'NOT',
  'NULL',
  'IS',
  'AND',
  'OR',
  'INTERVAL',
  'DAY',
  'EXTRACT',
  'YEAR',
  '\u037E',
  '\u0000',
  '\u00e9',
  'pg_read_file',
  'query',
  'x.y',
];

const soup = fc
  .array(fc.tuple(fc.constantFrom(...PIECES), fc.constantFrom('', ' ')), { maxLength: 14 })
  .map((parts) => parts.map(([piece, gap]) => piece + gap).join(''));

/** Strings and names full of SQL syntax: the data a valid fragment may carry. */
const nasty = fc
  .array(fc.constantFrom("'", '"', ';', '--', '/*', '*/', '\\', '$$', '\n', 'DROP TABLE x', 'é', ' ', 'a'), {
    minLength: 1,
    maxLength: 8,
  })
  .map((parts) => parts.join(''));

const quoteString = (s: string) => `'${s.replaceAll("'", "''")}'`;
const quoteName = (s: string) => `"${s.replaceAll('"', '""')}"`;

/** Valid expressions over columns, with nasty strings and quoted names as leaves. */
const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('title', 'status', '1', '2.50', 'NULL', 'TRUE', 'current_date'),
    nasty.map(quoteString),
    nasty.filter((s) => s.trim() !== '').map(quoteName),
    fc
      .tuple(tie('e'), fc.constantFrom('+', '-', '*', '/', '||', '=', '<>', '<', 'AND', 'OR'), tie('e'))
      .map(([a, op, b]) => `${a} ${op} ${b}`),
    tie('e').map((a) => `(${a})`),
    tie('e').map((a) => `upper(${a})`),
    tie('e').map((a) => `CAST(${a} AS VARCHAR)`),
    tie('e').map((a) => `${a}::VARCHAR`),
    tie('e').map((a) => `${a} IS NOT NULL`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `CASE WHEN ${a} THEN ${b} ELSE NULL END`),
    fc.tuple(tie('e'), nasty).map(([a, s]) => `${a} IN (${quoteString(s)}, 'z')`),
    fc.tuple(tie('e'), nasty).map(([a, s]) => `coalesce(${a}, ${quoteString(s)})`),
  ),
})).e;

const CONTEXTS: FragmentContext[] = [
  'field',
  'measure',
  'measure_filter',
  'deleted_when',
  'row_filter',
  'derived',
  'source_query',
];

const plain = {
  identifier: quoteName,
  stringLiteral: quoteString,
  placeholder: (path: string) => `(${path})`,
};

describe('validation of any text', () => {
  it('answers with a fragment or a problem inside the text, never a crash', () => {
    fc.assert(
      fc.property(soup, fc.constantFrom(...CONTEXTS), (text, context) => {
        const result = parseFragment(text, context);
        if (!result.ok) {
          expect(result.problem.offset).toBeGreaterThanOrEqual(0);
          expect(result.problem.offset).toBeLessThanOrEqual(text.length);
          expect(result.problem.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('prints what it accepts as text that parses back to the same print', () => {
    fc.assert(
      fc.property(fc.oneof(soup, expression), (text) => {
        const first = parseFragment(text, 'field');
        if (!first.ok) return;
        const printed = printFragment(first.fragment, plain);
        const second = parseFragment(printed, 'field');
        expect(second.ok, printed).toBe(true);
        if (second.ok) expect(printFragment(second.fragment, plain)).toBe(printed);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('accepted fragments stay inside their query', () => {
  let connection: DuckDBConnection;
  let instance: DuckDBInstance;

  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(() => {
    connection?.closeSync();
    instance?.closeSync();
  });

  /** DuckDB's own parser: how many statements, and whether the text is one SELECT. */
  async function statements(sql: string): Promise<number> {
    const reader = await connection.runAndReadAll('SELECT json_serialize_sql(CAST($1 AS VARCHAR))', [sql]);
    const parsed = JSON.parse(String(reader.getRows()[0]![0])) as { error: boolean; statements?: unknown[] };
    return parsed.error ? -1 : (parsed.statements?.length ?? 0);
  }

  it('as exactly one SELECT, in every dialect', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(expression, soup), async (sql) => {
        if (!parseFragment(sql, 'field').ok) return;
        const source = `name: t\ntable: s.t\nprimaryKey: id\nfields:\n  - { name: id, type: string }\n  - { name: f, type: string, sql: ${JSON.stringify(sql)} }\n`;
        const { model, diagnostics } = buildModel([
          { path: 't.yaml', kind: 'source', text: source },
          { path: 'q.yaml', kind: 'input', text: 'name: q\nfrom: t\nfields: [t.id, t.f]\n' },
        ]);
        expect(diagnostics.map(formatDiagnostic)).toEqual([]);
        for (const dialect of ['duckdb', 'postgres', 'trino'] as const) {
          const compiled = new Compiler(model).compile('q', { dialect });
          // PostgreSQL's E'' strings are its own; DuckDB reads the other dialects' text as is.
          if (dialect === 'postgres' && /E'/.test(compiled.sql)) continue;
          expect(await statements(compiled.sql), compiled.sql).toBe(1);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('a string in a fragment reaches the engine as exactly its value', async () => {
    const pg = await PostgresEngine.connect(POSTGRES_URL, { readOnly: true });
    const maria = await MySqlEngine.connect(MYSQL_URL, { readOnly: true });
    const engines: Partial<Record<Dialect, Engine>> = { postgres: pg, mysql: maria };
    try {
      await fc.assert(
        fc.asyncProperty(nasty, async (value) => {
          const result = parseFragment(quoteString(value), 'field');
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          for (const dialect of DIALECTS) {
            const d = dialectFor(dialect);
            const printed = printFragment(result.fragment, {
              identifier: (n) => d.identifier(n),
              stringLiteral: (v) => d.stringLiteral(v),
              placeholder: () => '',
            });
            // Trino's spelling is checked on DuckDB, which reads it the same way.
            const engine = engines[dialect];
            const rows = engine
              ? (await engine.query(`SELECT ${printed}`)).rows
              : (await connection.runAndReadAll(`SELECT ${printed}`)).getRows();
            expect(rows).toEqual([[value]]);
          }
        }),
        { numRuns: 200 },
      );
    } finally {
      await pg.close();
      await maria.close();
    }
  });
});
