/**
 * `strata validate --database` on DuckDB (issue 12, part 3): the example project checks clean
 * against the demo database; a wrong column in a `sql:`, a wrong `table:` and a declared type
 * that the column does not have are each reported at their YAML node, all in one run.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatabase, PROBES_PER_QUERY } from '../../src/checks/database.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { sourceProbes } from '../../src/core/checks/database-probes.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import { buildDemoDatabase } from '../../src/demo/load-duckdb.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { readDefinitionFiles } from '../../src/project/load-project.js';
import { exampleProject, REPO_ROOT } from '../support/example-project.js';
import { strataInProcess } from '../support/in-process-cli.js';

let dir: string;
let database: string;
let engine: DuckDbEngine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-check-'));
  database = join(dir, 'demo.duckdb');
  await buildDemoDatabase(database);
  engine = await DuckDbEngine.open({ path: database, readOnly: true });
}, 60_000);
afterAll(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The example's definitions, with `edits` applied to the files whose path ends with their key. */
function exampleFiles(edits: Record<string, (text: string) => string> = {}): DefinitionFile[] {
  return readDefinitionFiles(REPO_ROOT).map((f) => {
    const edit = Object.entries(edits).find(([suffix]) => f.path.endsWith(suffix))?.[1];
    return edit ? { ...f, text: edit(f.text) } : f;
  });
}

/** 1-based line and column of the first `needle` in `text` at or after `from`. */
function position(text: string, needle: string, from = 0): { line: number; col: number } {
  const offset = text.indexOf(needle, from);
  expect(offset, needle).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

async function check(files: DefinitionFile[]) {
  const { model, diagnostics } = buildModel(files);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return checkDatabase(model, engine);
}

const wrongColumn = (t: string) =>
  t.replace('sql: runtime_seconds / 60\n', 'sql: coalesce(runtime_secnds, 0) / 60\n');
const wrongTable = (t: string) => t.replace('table: studio.production', 'table: studio.prodution');
const wrongType = (t: string) =>
  t.replace('  - name: country\n    type: string', '  - name: country\n    type: date');

describe('validate --database on DuckDB', () => {
  it('passes the example project clean: per source, its table, its expressions, its aggregates', async () => {
    const result = await check(exampleFiles());
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([]);
    const withAggregates = [...exampleProject().project.model.sources.values()].filter((s) =>
      sourceProbes(s, 'duckdb').probes.some((p) => p.aggregate),
    ).length;
    expect(withAggregates).toBeGreaterThan(0);
    expect(result.queries).toBe(2 * result.sources + withAggregates);
  });

  it('reports a wrong column in a sql: expression at its file:line:col with the engine message', async () => {
    const files = exampleFiles({ 'movie.yaml': wrongColumn });
    const movie = files.find((f) => f.path.endsWith('movie.yaml'))!;
    const { diagnostics } = await check(files);
    expect(diagnostics).toHaveLength(1);
    const [d] = diagnostics;
    expect(d!.severity).toBe('error');
    // At the wrong column itself, inside the YAML string.
    expect(d!.location).toEqual({ file: movie.path, ...position(movie.text, 'runtime_secnds') });
    expect(d!.message).toMatch(
      /^sql of field 'movie\.runtime_minutes' does not compile on duckdb: Binder Error: .*runtime_secnds/,
    );
  });

  it("reports an aggregate that does not apply to its measure's sql (sum of text) at the sql: node", async () => {
    const sumOfTitles = (t: string) =>
      t.replace('aggregate: sum\n    sql: budget_usd\n', 'aggregate: sum\n    sql: title\n');
    const files = exampleFiles({ 'movie.yaml': sumOfTitles });
    const movie = files.find((f) => f.path.endsWith('movie.yaml'))!;
    const { diagnostics } = await check(files);
    expect(diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(/^sum of measure 'movie\.total_budget' does not compile on duckdb: .*sum/),
    ]);
    const line = movie.text.split('\n').indexOf('    sql: title') + 1;
    expect(diagnostics[0]!.location).toMatchObject({ file: movie.path, line });
  });

  it("reports a wrong column in a measure's sql once, not again as its aggregate", async () => {
    const wrongMeasureColumn = (t: string) =>
      t.replace('aggregate: sum\n    sql: budget_usd\n', 'aggregate: sum\n    sql: budget_usdd\n');
    const { diagnostics } = await check(exampleFiles({ 'movie.yaml': wrongMeasureColumn }));
    expect(diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(
        /^sql of measure 'movie\.total_budget' does not compile on duckdb: .*budget_usdd/,
      ),
    ]);
  });

  it('checks a wide source in batches of PROBES_PER_QUERY, falling back per expression only where one failed', async () => {
    const wide = (broken?: number) => {
      const fields = Array.from({ length: 150 }, (_, i) =>
        i === broken
          ? `  - { name: f${i}, type: string, sql: "no_such_column || 'x'" }`
          : `  - { name: f${i}, type: string, sql: "title || '${i}'" }`,
      );
      const text = ['name: wide', 'table: studio.movie', 'primaryKey: [f0]', 'fields:', ...fields, ''].join(
        '\n',
      );
      return [{ path: 'wide.yaml', kind: 'source' as const, text }];
    };
    const clean = await check(wide());
    expect(clean.diagnostics).toEqual([]);
    expect(clean.queries).toBe(1 + Math.ceil(150 / PROBES_PER_QUERY));
    const broken = await check(wide(120));
    expect(broken.diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(/^sql of field 'wide\.f120' does not compile/),
    ]);
    expect(broken.queries).toBe(clean.queries + (150 - PROBES_PER_QUERY));
  });

  it('reports a wrong table: once, at its table: node, without a cascade', async () => {
    const files = exampleFiles({ 'production.yaml': wrongTable });
    const production = files.find((f) => f.path.endsWith('production.yaml'))!;
    const { diagnostics } = await check(files);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.location).toEqual({
      file: production.path,
      ...position(production.text, 'studio.prodution'),
    });
    expect(diagnostics[0]!.message).toMatch(
      /^table studio\.prodution does not exist in duckdb .*Catalog Error/,
    );
  });

  it('reports a declared type the column does not have', async () => {
    const files = exampleFiles({ 'vendor.yaml': wrongType });
    const vendor = files.find((f) => f.path.endsWith('vendor.yaml'))!;
    const { diagnostics } = await check(files);
    expect(diagnostics.map((d) => [d.severity, d.location, d.message])).toEqual([
      [
        'error',
        { file: vendor.path, ...position(vendor.text, 'date', vendor.text.indexOf('name: country')) },
        "column of field 'vendor.country' is declared date, but duckdb reports VARCHAR (string)",
      ],
    ]);
  });

  it('reports every problem in one run, a filter among them', async () => {
    const files = exampleFiles({
      'movie.yaml': (t) =>
        wrongColumn(t).replace(`filter: "status = 'active'"`, `filter: "stats = 'active'"`),
      'production.yaml': wrongTable,
      'vendor.yaml': wrongType,
    });
    const { diagnostics } = await check(files);
    expect(diagnostics.map((d) => d.code).sort()).toEqual([
      'database_expression',
      'database_expression',
      'database_relation',
      'database_type',
    ]);
    expect(diagnostics.map((d) => d.message)).toContainEqual(
      expect.stringMatching(/^filter of measure 'movie\.active_movie_count' does not compile on duckdb/),
    );
  });
});

describe('join keys on DuckDB', () => {
  it('are reported at the join when the engine holds them in types it cannot compare', async () => {
    const memory = await DuckDbEngine.open({ path: ':memory:' });
    try {
      await memory.execute('CREATE TABLE a (id VARCHAR)');
      await memory.execute('CREATE TABLE b (id VARCHAR, a_id INTEGER)');
      const { model } = buildModel([
        {
          path: 'a.yaml',
          kind: 'source',
          text: 'name: a\ntable: a\nprimaryKey: id\nfields:\n  - { name: id, type: string }\njoins:\n  - { to: b, relationship: one_to_many, on: { id: a_id } }\n',
        },
        {
          path: 'b.yaml',
          kind: 'source',
          text: 'name: b\ntable: b\nprimaryKey: id\nfields:\n  - { name: id, type: string }\n  - { name: a_id, type: string }\n',
        },
      ]);
      const { diagnostics } = await checkDatabase(model, memory);
      expect(diagnostics.map(formatDiagnostic)).toEqual([
        "b.yaml:6:25: error: column of field 'b.a_id' is declared string, but duckdb reports INTEGER (integer) (declare type: integer, or cast it in sql:)",
        'a.yaml:7:11: error: join a -> b pairs a.id with b.a_id, which duckdb holds as VARCHAR and INTEGER: their values cannot be compared (cast one of the keys in its field sql:)',
      ]);
    } finally {
      await memory.close();
    }
  });
});

describe('strata validate --database FILE', () => {
  it('prints each error at file:line:col and exits 1', async () => {
    const project = join(dir, 'project');
    cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
    const movie = join(project, 'definitions', 'sources', 'movie.yaml');
    writeFileSync(movie, wrongColumn(readFileSync(movie, 'utf8')));
    const { line, col } = position(readFileSync(movie, 'utf8'), 'runtime_secnds');
    const { status: code, stderr: printed } = await strataInProcess([
      'validate',
      '--project',
      project,
      '--database',
      database,
    ]);
    expect(code, printed).toBe(1);
    expect(printed).toContain(
      `${movie}:${line}:${col}: error: sql of field 'movie.runtime_minutes' does not compile on duckdb`,
    );
    expect(printed).toContain('1 error\n');
  });

  it("reports an engine it cannot reach as one error after the files' own, exit 1", async () => {
    const project = join(dir, 'no-warehouse');
    cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
    const { status: code, stderr: printed } = await strataInProcess([
      'validate',
      '--project',
      project,
      '--database',
    ]);
    expect(code).toBe(1);
    expect(printed).toBe(
      'error: cannot check on the database: duckdb: no warehouse yet: build the demo with `strata demo`, or pass --database FILE\n1 error\n',
    );
  });
});
