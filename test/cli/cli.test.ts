/**
 * The `strata` command line end to end: outputs, formats, errors and exit codes (spec §6, §10).
 * Commands run in-process (`strataInProcess`: the same command tree, output and exit codes);
 * the built binary is run where it is what is tested: exit codes 0, 1 and 2 of `dist/cli.js`.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/example-project.js';
import { strata } from '../support/cli.js';
import { strataInProcess } from '../support/in-process-cli.js';

let dir: string;
let database: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
  database = join(dir, 'warehouse.duckdb');
  const demo = await strataInProcess(['demo', '--database', database]);
  expect(demo.status, demo.stderr).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('strata validate', () => {
  it('accepts the example project (the built binary: exit 0)', () => {
    const r = strata(['validate']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: 8 sources, \d+ inputs, \d+ trackers/);
  });

  it('reports every error as path:line:col and exits 1, without a stack trace (the built binary)', () => {
    const project = join(dir, 'bad');
    cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
    const movie = join(project, 'definitions', 'sources', 'movie.yaml');
    writeFileSync(movie, readFileSync(movie, 'utf8').replace('type: string', 'type: strng'));
    writeFileSync(
      join(project, 'definitions', 'inputs', 'broken.yaml'),
      'name: broken\nfrom: production\nfields:\n  - production.nme\n',
    );
    const r = strata(['validate', '--project', project]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(
      `${join(project, 'definitions/inputs/broken.yaml')}:4:5: error: 'production' has no field or measure 'nme' (did you mean production.name?)`,
    );
    expect(lines.filter((l) => l.includes('error:'))).toHaveLength(2);
    expect(
      lines.some((l) => /movie\.yaml:\d+:\d+: error: invalid value "strng".*did you mean string\?/.test(l)),
    ).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--format json reports the counts and every diagnostic with its position on stdout', async () => {
    const good = await strataInProcess(['validate', '--format', 'json']);
    expect(good.status, good.stderr).toBe(0);
    const ok = JSON.parse(good.stdout) as { ok: boolean; errors: number; counts: Record<string, number> };
    expect(ok).toMatchObject({ ok: true, errors: 0, counts: { sources: 8 } });

    const project = join(dir, 'bad-json');
    cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
    writeFileSync(
      join(project, 'definitions', 'inputs', 'broken.yaml'),
      'name: broken\nfrom: production\nfields:\n  - production.nme\n',
    );
    const bad = await strataInProcess(['validate', '--project', project, '--format', 'json']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('');
    expect(JSON.parse(bad.stdout)).toMatchObject({
      ok: false,
      errors: 1,
      diagnostics: [
        {
          severity: 'error',
          code: expect.any(String) as string,
          file: join(project, 'definitions/inputs/broken.yaml'),
          line: 4,
          col: 5,
          message: "'production' has no field or measure 'nme'",
          hint: 'did you mean production.name?',
        },
      ],
    });
    expect((await strataInProcess(['validate', '--format', 'xml'])).stderr).toMatch(
      /unknown format 'xml' for validate \(expected table, json\)/,
    );
  });
});

describe('strata compile', () => {
  it('prints the SQL that the golden file holds', async () => {
    const r = await strataInProcess(['compile', 'movies_in_production', '--dialect', 'trino']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      readFileSync(join(REPO_ROOT, 'test/golden/trino/movies_in_production.sql'), 'utf8'),
    );
  });

  it('--explain prints the golden plans before and after the passes, then the SQL', async () => {
    const r = await strataInProcess(['compile', 'movies_in_production', '--dialect', 'mysql', '--explain']);
    expect(r.status).toBe(0);
    const plans = readFileSync(join(REPO_ROOT, 'test/golden/plans/movies_in_production.txt'), 'utf8');
    const sql = readFileSync(join(REPO_ROOT, 'test/golden/mysql/movies_in_production.sql'), 'utf8');
    expect(r.stdout).toBe(
      `${plans.replace('-- before the passes', '-- plan before the passes').replace('-- after the passes', '-- plan after the passes')}\n${sql}`,
    );
  });

  it('--all --out writes one file per input', async () => {
    const out = join(dir, 'sql');
    const r = await strataInProcess(['compile', '--all', '--dialect', 'postgres', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const inputs = readdirSync(join(REPO_ROOT, 'definitions/inputs')).map((f) => f.replace('.yaml', '.sql'));
    const trackers = readdirSync(join(REPO_ROOT, 'trackers')).map(
      (f) => `tracker.${f.replace('.yaml', '.sql')}`,
    );
    expect(readdirSync(out).sort()).toEqual([...inputs, ...trackers].sort());
    expect(readFileSync(join(out, 'movie_catalog.sql'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'test/golden/postgres/movie_catalog.sql'), 'utf8'),
    );
  });

  it('--all prints every input on stdout', async () => {
    const r = await strataInProcess(['compile', '--all']);
    expect(r.status).toBe(0);
    expect(r.stdout.match(/^-- input: /gm)?.length).toBe(
      readdirSync(join(REPO_ROOT, 'definitions/inputs')).length,
    );
  });

  it('--param changes the SQL', async () => {
    const r = await strataInProcess(['compile', 'movies_in_production', '--param', 'country=ES']);
    expect(r.stdout).toContain("country = 'ES'");
  });
});

describe('strata run', () => {
  it('--format json prints an array of row objects with typed values, keys in column order', async () => {
    const r = await strataInProcess([
      'run',
      'movies_in_production',
      '--database',
      database,
      '--format',
      'json',
      '--limit',
      '3',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(['title', 'start_date', 'start_month', 'production_count']);
      expect(row.start_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(row.start_month).toMatch(/^\d{4}-\d{2}-01$/);
      expect(typeof row.production_count).toBe('number');
    }
  });

  it('timestamps are ISO-8601 UTC, decimals numbers, NULL null', async () => {
    const r = await strataInProcess([
      'run',
      'recent_purchase_orders',
      '--database',
      database,
      '--format',
      'ndjson',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.length).toBeGreaterThan(0);
    const values = rows.flatMap((row) => Object.values(row));
    expect(
      values.some((v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(v)),
    ).toBe(true);
    expect(values.some((v) => typeof v === 'number' && !Number.isInteger(v))).toBe(true);
  });

  it('csv renders display formats; table shows labels', async () => {
    const csv = await strataInProcess([
      'run',
      'budget_by_production_country',
      '--database',
      database,
      '--format',
      'csv',
    ]);
    expect(csv.status, csv.stderr).toBe(0);
    const [header, first] = csv.stdout.split('\n');
    expect(header).toBe('country,movie_count,total_budget');
    expect(first).toMatch(/"\$[\d,]+"$/);
    const table = await strataInProcess([
      'run',
      'movies_in_production',
      '--database',
      database,
      '--limit',
      '2',
    ]);
    expect(table.stdout.split('\n')[0]).toMatch(/^Title\s+Start Date\s+Start Month\s+Productions$/);
    expect(table.stdout).toContain('(2 rows)');
  });

  it('runs an input given as a file path', async () => {
    const file = join(dir, 'adhoc.yaml');
    writeFileSync(file, 'name: adhoc\nfrom: movie\nfields: [movie.movie_count]\n');
    const r = await strataInProcess(['run', file, '--database', database, '--format', 'json']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { movie_count: number }[])[0]!.movie_count).toBe(294);
  });
});

describe('exit codes and errors', () => {
  const cases: [string, string[], number, RegExp][] = [
    ['unknown command', ['explode'], 2, /unknown command/],
    ['unknown format', ['run', 'movie_catalog', '--format', 'xml'], 2, /unknown format 'xml'/],
    ['unknown input', ['run', 'nope'], 2, /unknown input 'nope'/],
    [
      'unknown dialect',
      ['compile', 'movie_catalog', '--dialect', 'oracle'],
      2,
      /unknown dialect 'oracle' \(expected trino, duckdb, postgres, mysql\)/,
    ],
    [
      'bad --param',
      ['compile', 'movies_in_production', '--param', 'country'],
      2,
      /--param expects name=value/,
    ],
    [
      'undeclared --param',
      ['compile', 'movies_in_production', '--param', 'contry=ES'],
      2,
      /has no parameter 'contry' \(did you mean country\?\)/,
    ],
    [
      'missing database',
      ['run', 'movie_catalog', '--database', '/nonexistent/x.duckdb'],
      1,
      /does not exist/,
    ],
  ];
  it.each(cases)('%s', async (_name, args, code, message) => {
    const r = await strataInProcess(args);
    expect(r.status).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the built binary exits 2 on bad usage, from commander and from a command', () => {
    for (const [args, message] of [
      [['explode'], /unknown command/],
      [['run', 'nope'], /unknown input 'nope'/],
    ] as const) {
      const r = strata([...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a failed query names the engine and exits 1', async () => {
    const file = join(dir, 'broken-sql.yaml');
    const project = join(dir, 'sqlbug');
    cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
    writeFileSync(
      join(project, 'definitions/sources/oops.yaml'),
      'name: oops\ntable: studio.no_such_table\nfields: [{ name: a, type: string }]\n',
    );
    writeFileSync(file, 'name: q\nfrom: oops\nfields: [oops.a]\n');
    const r = await strataInProcess(['run', file, '--project', project, '--database', database]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: duckdb: Catalog Error: Table with name no_such_table does not exist/);
    expect(existsSync(file)).toBe(true);
  });
});
