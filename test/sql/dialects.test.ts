/**
 * The dialect layer: every registered dialect answers to its name, and each hook spells its
 * construct as that warehouse needs it (what golden SQL shows per input, pinned here per
 * construct so a dialect change points at the hook that broke).
 */
import { describe, expect, it } from 'vitest';
import { DIALECTS, type Dialect } from '../../src/core/definitions/schema.js';
import { call, col, lit, type Select } from '../../src/core/sql/ast.js';
import { dialectFor } from '../../src/core/sql/dialects/index.js';

const render = (dialect: Dialect, select: Select) => dialectFor(dialect).render(select);
const one = (text: string) => text.replaceAll(/\s+/g, ' ').trim();

describe('the dialect registry', () => {
  it.each(DIALECTS)('%s is registered under its own name', (name) => {
    expect(dialectFor(name).name).toBe(name);
  });
});

describe('dialect hooks', () => {
  const filtered: Select = {
    columns: [
      {
        expr: call('sum', [col('t', 'amount')], {
          filter: {
            kind: 'compare',
            op: '=',
            left: col('t', 'status'),
            right: lit({ type: 'string', value: 'open' }),
          },
        }),
        alias: 'open_amount',
      },
      { expr: call('count', [{ kind: 'star' }], { filter: col('t', 'flag') }), alias: 'flagged' },
    ],
    from: { kind: 'table', path: ['s', 't'] },
  };

  it('aggregate filters: FILTER (WHERE) where the dialect has it, CASE WHEN elsewhere', () => {
    expect(one(render('postgres', filtered))).toContain(
      "sum(t.amount) FILTER (WHERE t.status = 'open') AS open_amount, count(*) FILTER (WHERE t.flag)",
    );
    expect(one(render('mysql', filtered))).toContain(
      "sum(CASE WHEN t.status = 'open' THEN t.amount END) AS open_amount, count(CASE WHEN t.flag THEN 1 END)",
    );
  });

  const sorted: Select = {
    columns: [{ expr: col('t', 'id'), alias: 'id' }],
    from: { kind: 'table', path: ['s', 't'] },
    orderBy: [
      { expr: col(undefined, 'id'), direction: 'asc' },
      { expr: col('t', 'b'), direction: 'desc' },
    ],
    limit: 10,
    offset: 20,
  };

  it('NULLs last: NULLS LAST, or an IS NULL key over the expression the output name stands for', () => {
    expect(one(render('duckdb', sorted))).toContain('ORDER BY id ASC NULLS LAST, t.b DESC NULLS LAST');
    expect(one(render('mysql', sorted))).toContain('ORDER BY t.id IS NULL, t.id ASC, t.b DESC');
  });

  it('LIMIT and OFFSET in each dialect’s order; OFFSET alone on MySQL', () => {
    expect(one(render('postgres', sorted))).toMatch(/LIMIT 10 OFFSET 20$/);
    expect(one(render('trino', sorted))).toMatch(/OFFSET 20 LIMIT 10$/);
    expect(one(render('mysql', sorted))).toMatch(/LIMIT 10 OFFSET 20$/);
    const offsetOnly: Select = { ...sorted };
    delete offsetOnly.limit;
    expect(one(render('mysql', offsetOnly))).toMatch(/LIMIT 18446744073709551615 OFFSET 20$/);
  });

  it("identifiers: each dialect's reserved words and quote character", () => {
    const names = ['status', 'key', 'window', 'at', 'Mixed', 'user', 'a"b`c'];
    const quoted = (d: Dialect) => names.map((n) => dialectFor(d).identifier(n));
    expect(quoted('duckdb')).toEqual(['status', 'key', '"window"', '"at"', '"Mixed"', 'user', '"a""b`c"']);
    expect(quoted('postgres')).toEqual(['status', 'key', '"window"', 'at', '"Mixed"', '"user"', '"a""b`c"']);
    expect(quoted('trino')).toEqual(['status', 'key', 'window', 'at', '"Mixed"', 'user', '"a""b`c"']);
    expect(quoted('mysql')).toEqual(['status', '`key`', '`window`', 'at', '`Mixed`', 'user', '`a"b``c`']);
  });

  it('string literals: backslashes are escaped where the engine reads them as escapes', () => {
    const value = "it's a \\ path";
    expect(dialectFor('duckdb').stringLiteral(value)).toBe("'it''s a \\ path'");
    expect(dialectFor('postgres').stringLiteral(value)).toBe("E'it''s a \\\\ path'");
    expect(dialectFor('mysql').stringLiteral(value)).toBe("'it''s a \\\\ path'");
  });

  it('date truncation and casts without date_trunc or a BOOLEAN cast target', () => {
    const mysql = dialectFor('mysql');
    expect(mysql.truncate('month', 'd', 'date')).toBe(
      'DATE_SUB(CAST(d AS DATE), INTERVAL (DAYOFMONTH(d) - 1) DAY)',
    );
    expect(mysql.truncate('year', 'd', 'timestamp')).toBe('CAST(MAKEDATE(YEAR(d), 1) AS DATETIME(6))');
    expect(mysql.cast('x', 'boolean')).toBe('(x <> 0)');
    expect(dialectFor('trino').truncate('week', 'd', 'timestamp')).toBe("date_trunc('week', d)");
  });

  it('MATERIALIZED only where understood', () => {
    expect(DIALECTS.filter((d) => dialectFor(d).materializedKeyword() !== '')).toEqual([
      'duckdb',
      'postgres',
    ]);
  });
});
