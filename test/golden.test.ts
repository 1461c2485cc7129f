/**
 * Golden SQL: every example input compiled for every dialect, compared with the reviewed
 * file under test/golden/<dialect>/. `UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts`
 * rewrites them, so a compiler change shows up as a readable diff in review.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Parser } from 'node-sql-parser';
import { describe, expect, it } from 'vitest';
import { cdcSources, latestViewStatements, trinoMaintenanceStatements } from '../src/core/cdc.js';
import { DIALECTS } from '../src/core/definitions/schema.js';
import { exampleProject, REPO_ROOT } from './support/example-project.js';

const { project, compiler } = exampleProject();
const update = process.env.UPDATE_GOLDEN === '1';

describe.each(DIALECTS)('golden SQL for %s', (dialect) => {
  const dir = join(REPO_ROOT, 'test', 'golden', dialect);
  it.each([...project.model.inputs.keys()])('%s', (name) => {
    const sql = `${compiler.compile(name, { dialect }).sql}\n`;
    const file = join(dir, `${name}.sql`);
    if (update || !existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, sql);
    }
    expect(sql).toBe(readFileSync(file, 'utf8'));
  });
});

describe('generated Trino SQL parses with an independent Trino grammar', () => {
  const parser = new Parser();
  it.each([...project.model.inputs.keys()])('%s', (name) => {
    // node-sql-parser's Trino grammar lacks IS NOT DISTINCT FROM and EXISTS (Trino has both):
    // read the first as =, and `EXISTS (SELECT 1 ...)` as the subquery predicate `1 IN (SELECT 1 ...)`.
    const sql = compiler
      .compile(name, { dialect: 'trino' })
      .sql.replaceAll(' IS NOT DISTINCT FROM ', ' = ')
      .replace(/\bEXISTS \((\s*SELECT 1\s)/g, '1 IN ($1');
    // It lacks scalar subqueries too: each is parsed as a statement of its own, and a 0 stands in for it.
    const { outer, subqueries } = withoutScalarSubqueries(sql);
    for (const statement of [outer, ...subqueries])
      expect(() => parser.astify(statement, { database: 'trino' })).not.toThrow();
  });
});

describe('golden plans: every example input before and after the passes', () => {
  it.each([...project.model.inputs.keys()])('%s', (name) => {
    const { before, after } = compiler.explain(name, { dialect: 'duckdb' });
    expectGolden(
      join('plans', `${name}.txt`),
      `-- before the passes\n${before}\n\n-- after the passes\n${after}\n`,
    );
  });
});

describe('determinism', () => {
  it.each([...project.model.inputs.keys()])('%s compiles to the same SQL twice', (name) => {
    for (const dialect of DIALECTS)
      expect(compiler.compile(name, { dialect }).sql).toBe(compiler.compile(name, { dialect }).sql);
  });
});

describe('golden CDC statements', () => {
  it('latest views, every dialect', () => {
    for (const dialect of DIALECTS) {
      const sql = `${latestViewStatements(project.model, dialect)
        .map((v) => `${v.sql};`)
        .join('\n\n')}\n`;
      expectGolden(join('views', `${dialect}.sql`), sql);
    }
  });

  it('Trino maintenance of every raw CDC table', () => {
    for (const source of cdcSources(project.model)) {
      expectGolden(
        join('maintenance', `${source.name}.sql`),
        `${trinoMaintenanceStatements(source).join(';\n\n')};\n`,
      );
    }
  });
});

function expectGolden(relative: string, text: string): void {
  const file = join(REPO_ROOT, 'test', 'golden', relative);
  if (update || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  expect(text).toBe(readFileSync(file, 'utf8'));
}

/** The statement with each scalar subquery `(SELECT ...)` (not after EXISTS, IN, FROM, JOIN or AS) replaced by 0, and those subqueries. */
function withoutScalarSubqueries(sql: string): { outer: string; subqueries: string[] } {
  const start = /(?<!EXISTS |IN |FROM |JOIN |AS )\(\s*SELECT\s/.exec(sql);
  if (!start) return { outer: sql, subqueries: [] };
  let depth = 0;
  let end = start.index;
  for (; end < sql.length; end++) {
    if (sql[end] === '(') depth++;
    if (sql[end] === ')' && --depth === 0) break;
  }
  const inner = withoutScalarSubqueries(sql.slice(start.index + 1, end));
  const rest = withoutScalarSubqueries(`${sql.slice(0, start.index)}0${sql.slice(end + 1)}`);
  return { outer: rest.outer, subqueries: [inner.outer, ...inner.subqueries, ...rest.subqueries] };
}
