/** The pure half of `validate --database`: the probes' SQL, the type mapping and its verdicts. */
import { describe, expect, it } from 'vitest';
import {
  expressionsProbe,
  relationProbe,
  sourceProbes,
  strataType,
  typeDiagnostic,
  typeFit,
} from '../../src/core/checks/database-probes.js';
import { buildModel } from '../../src/core/model/build.js';
import { dialectFor } from '../../src/core/sql/dialects/index.js';

const source = [
  'name: film',
  'table: studio.film',
  'primaryKey: [film_id]',
  'fields:',
  '  - { name: film_id, type: string }',
  '  - { name: vendor_id, type: string }',
  '  - { name: title_initial, type: string, sql: { duckdb: "upper(title[1])" } }',
  String.raw`  - { name: label, type: string, sql: "'it''s ' || \"Title\"" }`,
  'measures:',
  '  - { name: long_films, aggregate: count, filter: "runtime > 7200" }',
  'access:',
  '  rowFilters:',
  '    - { role: vendor, filter: "vendor_id = {user.vendor_id}" }',
  '',
].join('\n');

function film() {
  const { model, diagnostics } = buildModel([{ path: 'film.yaml', kind: 'source', text: source }]);
  expect(diagnostics).toEqual([]);
  return model.sources.get('film')!;
}

describe('probes', () => {
  it('are printed by the dialect from the parsed definitions: strings escaped, quoted names kept, {user.x} NULL', () => {
    const plan = sourceProbes(film(), 'postgres');
    const d = dialectFor('postgres');
    expect(d.render(relationProbe(plan))).toMatchInlineSnapshot(`
      "SELECT 1 AS probe_0
      FROM studio.film
      WHERE FALSE"
    `);
    expect(plan.probes.map((p) => p.what)).toEqual([
      "column of field 'film.film_id'",
      "column of field 'film.vendor_id'",
      "sql of field 'film.label'",
      "filter of measure 'film.long_films'",
      "count of measure 'film.long_films'",
      "row filter of role 'vendor' on 'film'",
    ]);
    const [aggregates, expressions] = [
      plan.probes.filter((p) => p.aggregate),
      plan.probes.filter((p) => !p.aggregate),
    ];
    expect(d.render(expressionsProbe(plan, aggregates))).toMatchInlineSnapshot(`
      "SELECT count(1) FILTER (WHERE (runtime > 7200)) AS probe_0
      FROM studio.film
      WHERE FALSE"
    `);
    expect(d.render(expressionsProbe(plan, expressions))).toMatchInlineSnapshot(`
      "SELECT
        film_id AS probe_0,
        vendor_id AS probe_1,
        ('it''s ' || "Title") AS probe_2,
        (runtime > 7200) AS probe_3,
        (vendor_id = NULL) AS probe_4
      FROM studio.film
      WHERE FALSE"
    `);
  });

  it('skip, with a warning at the node, an expression that has no SQL for the dialect', () => {
    const plan = sourceProbes(film(), 'postgres');
    expect(plan.notes.map((n) => [n.severity, n.location?.line, n.message])).toEqual([
      ['warning', 7, "sql of field 'film.title_initial' has no SQL for dialect postgres: not checked"],
    ]);
    expect(sourceProbes(film(), 'duckdb').notes).toEqual([]);
  });
});

describe('types', () => {
  it("map each engine's type names or codes to Strata's", () => {
    expect(strataType('duckdb', 'DECIMAL(18,2)')).toBe('decimal');
    expect(strataType('duckdb', 'TIMESTAMP WITH TIME ZONE')).toBe('timestamp');
    expect(strataType('trino', 'varchar(20)')).toBe('string');
    expect(strataType('trino', 'timestamp(6) with time zone')).toBe('timestamp');
    expect(strataType('duckdb', 'INTEGER[]')).toBeUndefined();
    expect(strataType('postgres', '1700')).toBe('decimal');
    expect(strataType('postgres', '3802')).toBeUndefined(); // jsonb
    expect(strataType('mysql', '252')).toBe('string'); // TEXT
    expect(strataType('mysql', '12')).toBe('timestamp'); // DATETIME
  });

  it('fit: wider is fine, narrower in the family a warning, another family an error', () => {
    expect(typeFit('decimal', 'integer', 'duckdb')).toBe('ok');
    expect(typeFit('timestamp', 'date', 'duckdb')).toBe('ok');
    expect(typeFit('integer', 'number', 'duckdb')).toBe('warning');
    expect(typeFit('date', 'timestamp', 'duckdb')).toBe('warning');
    expect(typeFit('date', 'string', 'duckdb')).toBe('error');
    expect(typeFit('boolean', 'integer', 'duckdb')).toBe('error');
    expect(typeFit('boolean', 'integer', 'mysql')).toBe('ok');
  });

  it('a computed field is cast to its type: narrowing there is no warning; conditions must be boolean', () => {
    const location = { file: 'f.yaml', line: 1, col: 1 };
    const expr = { kind: 'column', name: 'x' } as const;
    const base = { what: 'x', expr, location, declared: 'integer' as const };
    expect(typeDiagnostic(base, 'duckdb', 'DOUBLE')?.severity).toBe('warning');
    expect(typeDiagnostic({ ...base, cast: true }, 'duckdb', 'DOUBLE')).toBeUndefined();
    expect(typeDiagnostic({ ...base, cast: true }, 'duckdb', 'VARCHAR')?.severity).toBe('error');
    const condition = { what: 'filter', expr, location, condition: true };
    expect(typeDiagnostic(condition, 'duckdb', 'BOOLEAN')).toBeUndefined();
    expect(typeDiagnostic(condition, 'duckdb', 'INTEGER')?.message).toBe(
      'filter must be a condition (true or false), but duckdb reports INTEGER',
    );
    expect(typeDiagnostic(condition, 'mysql', '8')).toBeUndefined();
  });
});
