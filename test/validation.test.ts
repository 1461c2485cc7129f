/**
 * Every kind of definition error, reported at the exact line and column of the node at
 * fault, with a hint where one helps; all errors of a project in one run.
 */
import { describe, expect, it } from 'vitest';
import { Compiler } from '../src/core/compile.js';
import { compareDiagnostics, formatDiagnostic, type Diagnostic } from '../src/core/diagnostics.js';
import { buildModel, type DefinitionFile } from '../src/core/model/build.js';

const movie = `name: movie
table: studio.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
  - { name: title, type: string }
  - { name: status, type: string }
measures:
  - { name: movie_count, aggregate: count }
joins:
  - { to: production, relationship: one_to_many, on: { movie_id: movie_id } }
`;
const production = `name: production
table: studio.production
primaryKey: production_id
fields:
  - { name: production_id, type: string }
  - { name: movie_id, type: string }
  - { name: vendor_id, type: string }
  - { name: start_date, type: date }
measures:
  - { name: production_count, aggregate: count }
`;

const source = (path: string, text: string): DefinitionFile => ({ path, kind: 'source', text });
const input = (path: string, text: string): DefinitionFile => ({ path, kind: 'input', text });

/** All diagnostics of a project, as `file:line:col: code`, plus the full lines for hints. */
function diagnose(files: DefinitionFile[]): { codes: string[]; lines: string[] } {
  const { model, diagnostics } = buildModel(files);
  const compiler = new Compiler(model);
  const all: Diagnostic[] = [...diagnostics];
  for (const i of model.inputs.values()) all.push(...compiler.check(i, { validateOnly: true }));
  all.sort(compareDiagnostics);
  return {
    codes: all.map((d) => `${d.location?.file}:${d.location?.line}:${d.location?.col}: ${d.code}`),
    lines: all.map(formatDiagnostic),
  };
}

const base = [source('movie.yaml', movie), source('production.yaml', production)];

describe('definition errors point at their node', () => {
  it('a valid project has no diagnostics', () => {
    expect(
      diagnose([
        ...base,
        input('i.yaml', 'name: i\nfrom: movie\nfields: [movie.title, production.start_date]\n'),
      ]).codes,
    ).toEqual([]);
  });

  it('YAML syntax error', () => {
    const { codes } = diagnose([source('bad.yaml', 'name: bad\nfields: [a, b\n')]);
    expect(codes).toHaveLength(1);
    expect(codes[0]).toMatch(/^bad\.yaml:\d+:\d+: yaml_syntax$/);
  });

  it('duplicate keys in one mapping are a YAML error at the second key', () => {
    expect(diagnose([source('dup.yaml', 'name: a\nname: b\n')]).codes).toEqual(['dup.yaml:2:1: yaml_syntax']);
  });

  it('unknown key, with a did-you-mean hint', () => {
    const text = movie.replace(
      '  - { name: title, type: string }',
      '  - { name: title, type: string, lable: Title }',
    );
    const { codes, lines } = diagnose([source('movie.yaml', text), source('production.yaml', production)]);
    expect(codes).toEqual(['movie.yaml:6:34: unknown_key']);
    expect(lines[0]).toContain('did you mean label?');
  });

  it('a malformed reference shows the value found; a misplaced indentation says so, never echoing a scalar', () => {
    const { lines } = diagnose([
      ...base,
      input('i.yaml', 'name: i\nfrom: movie\nfields:\n  - movie title\n'),
      input('j.yaml', 'name: j\nfrom: movie\nlimit:\n  value: 5\n  offset: 2\nfields: [movie.title]\n'),
      input('k.yaml', 'name: k\nfrom: movie\nlimit: "s3cr3t-looking"\nfields: [movie.title]\n'),
    ]);
    expect(lines).toContain(
      'i.yaml:4:5: error: "movie title" at fields[0] must be source.field (for example movie.title)',
    );
    expect(lines.find((l) => l.startsWith('j.yaml'))).toMatch(
      /^j\.yaml:4:3: error: expected number at limit, found a mapping \(value, offset\): check the indentation$/,
    );
    const k = lines.find((l) => l.startsWith('k.yaml'))!;
    expect(k).toMatch(/expected number at limit, found a string$/);
    expect(k).not.toContain('s3cr3t');
  });

  it('bad name and unknown type', () => {
    const text = movie.replace('{ name: status, type: string }', '{ name: Status, type: strin }');
    const { codes, lines } = diagnose([source('movie.yaml', text), source('production.yaml', production)]);
    expect(codes).toEqual(['movie.yaml:7:13: invalid_value', 'movie.yaml:7:27: invalid_value']);
    expect(lines[1]).toContain('did you mean string?');
  });

  it('duplicate source, field and input names', () => {
    const dupField = movie.replace('  - { name: status, type: string }', '  - { name: title, type: string }');
    const { codes } = diagnose([
      source('movie.yaml', dupField),
      source('production.yaml', production),
      source('movie2.yaml', 'name: movie\ntable: x\nfields: [{ name: a, type: string }]\n'),
      input('a.yaml', 'name: q\nfrom: movie\nfields: [movie.title]\n'),
      input('b.yaml', 'name: q\nfrom: movie\nfields: [movie.title]\n'),
    ]);
    expect(codes).toEqual([
      'b.yaml:1:7: duplicate_name',
      'movie.yaml:7:13: duplicate_name',
      'movie2.yaml:1:7: duplicate_name',
    ]);
  });

  it('join to an unknown source, and join fields that do not exist', () => {
    const text =
      `${movie}  - { to: vendr, relationship: many_to_one, on: { vendor_id: vendor_id } }\n`.replace(
        'on: { movie_id: movie_id } }',
        'on: { movie_id: movi_id } }',
      );
    const { codes, lines } = diagnose([source('movie.yaml', text), source('production.yaml', production)]);
    expect(codes).toEqual(['movie.yaml:11:66: unknown_field', 'movie.yaml:12:11: unknown_source']);
    expect(lines[0]).toContain('did you mean movie_id?');
  });

  it('measures on a source without primaryKey', () => {
    const text = production.replace('primaryKey: production_id\n', '');
    expect(diagnose([source('movie.yaml', movie), source('production.yaml', text)]).codes).toEqual([
      'production.yaml:8:1: missing_primary_key',
    ]);
  });

  it('cycles in derived measures', () => {
    const text = `${production}  - { name: a, expression: "{b} + 1" }\n  - { name: b, expression: "{a} * 2" }\n`;
    expect(diagnose([source('movie.yaml', movie), source('production.yaml', text)]).codes).toEqual([
      'production.yaml:11:13: measure_cycle',
    ]);
  });

  it('unknown measure in a derived expression', () => {
    const text = `${production}  - { name: ratio, expression: "{movie.movie_cnt} / 2" }\n`;
    const { codes, lines } = diagnose([source('movie.yaml', movie), source('production.yaml', text)]);
    expect(codes).toEqual(['production.yaml:11:33: unknown_measure']);
    expect(lines[0]).toContain('did you mean movie_count?');
  });

  it('a measure reading related fields ({source.field}): each reference checked where it is written', () => {
    const measures = [
      `  - { name: ok, aggregate: count, filter: "{movie.status} = 'x'" }`,
      `  - { name: b, aggregate: sum, sql: "1 + {movie.titel}" }`,
      `  - { name: c, aggregate: count, filter: "{movie.movie_count} > 1" }`,
      `  - { name: d, aggregate: count, filter: "{movi.status} = 'x'" }`,
    ];
    const fanOut = `${movie.replace('measures:\n', 'measures:\n  - { name: f, aggregate: sum, sql: "{production.start_date}" }\n')}`;
    const text = `${production}${measures.join('\n')}\n`;
    const { codes, lines } = diagnose([
      source('movie.yaml', fanOut),
      source('production.yaml', text),
      input('i.yaml', 'name: i\nfrom: movie\nfields: [movie.title, production.ok]\n'),
    ]);
    expect(codes).toEqual([
      'movie.yaml:9:38: fan_out_lookup',
      'production.yaml:12:42: unknown_field',
      'production.yaml:13:43: unknown_field',
      'production.yaml:14:43: unknown_source',
    ]);
    expect(lines.join('\n')).toMatchInlineSnapshot(`
      "movie.yaml:9:38: error: {production.start_date} of measure 'movie.f': 'production' is reached from 'movie' (movie -> production) only through a one-to-many join, which would count each 'movie' row once per related row (a measure reads fields of sources that each 'movie' row has at most one of, over many-to-one joins; aggregate 'production' with one of its own measures instead)
      production.yaml:12:42: error: 'movie' has no field 'titel' (in {movie.titel} of measure 'production.b') (did you mean title?)
      production.yaml:13:43: error: 'movie.movie_count' is a measure, not a field, in {movie.movie_count} of measure 'production.c'
      production.yaml:14:43: error: unknown source 'movi' in {movi.status} of measure 'production.d' (did you mean movie?)"
    `);
    const viaPath = `${production}  - { name: v, aggregate: count, filter: "{movie.status} = 'x' and {production.movie.title} <> ''" }\n  - { name: w, expression: "{movie.movie.movie_count}" }\n`;
    expect(diagnose([source('movie.yaml', movie), source('production.yaml', viaPath)]).lines).toEqual([
      'production.yaml:12:29: error: {movie.movie.movie_count} is not a measure reference: write {measure} or {source.measure}',
    ]);
    // One related field as the whole sql, no type declared: the field's type (max of a text is text).
    const typed = `${production}  - { name: last_title, aggregate: max, sql: "{movie.title}" }\n`;
    const { model } = buildModel([source('movie.yaml', movie), source('production.yaml', typed)]);
    expect(model.sources.get('production')!.measures.get('last_title')!.type).toBe('string');
    const bare = `${production}  - { name: e, aggregate: count, filter: "{status} = 'x'" }\n`;
    expect(diagnose([source('movie.yaml', movie), source('production.yaml', bare)]).lines)
      .toMatchInlineSnapshot(`
      [
        "production.yaml:11:43: error: {status} is not a field reference: a measure's filter refers to a field of a related source as {source.field} (its own columns are written by name alone; {via.source.field} picks the join path)",
      ]
    `);
  });

  it('unknown field in an input, with a did-you-mean hint', () => {
    const text = 'name: i\nfrom: movie\nfields:\n  - movie.title\n  - production.start_dat\n';
    const { codes, lines } = diagnose([...base, input('i.yaml', text)]);
    expect(codes).toEqual(['i.yaml:5:5: unknown_field']);
    expect(lines[0]).toBe(
      "i.yaml:5:5: error: 'production' has no field or measure 'start_dat' (did you mean production.start_date?)",
    );
  });

  it('a tie between two shortest join paths asks for via', () => {
    const vendor = `name: vendor
table: studio.vendor
fields:
  - { name: vendor_id, type: string }
  - { name: movie_id, type: string }
joins:
  - { to: production, relationship: one_to_many, on: { vendor_id: vendor_id } }
  - { to: movie, relationship: many_to_one, on: { movie_id: movie_id } }
`;
    const budget = `name: budget
table: studio.budget
fields:
  - { name: movie_id, type: string }
joins:
  - { to: movie, relationship: many_to_one, on: { movie_id: movie_id } }
`;
    const text =
      'name: i\nfrom: budget\nfields:\n  - budget.movie_id\n  - { field: vendor.vendor_id }\n  - { field: production.start_date, via: [movie] }\n';
    const { codes, lines } = diagnose([
      ...base,
      source('vendor.yaml', vendor),
      source('budget.yaml', budget),
      input('i.yaml', text),
    ]);
    expect(codes).toEqual([]);
    const tied = 'name: j\nfrom: vendor\nfields:\n  - vendor.vendor_id\n  - production.start_date\n';
    const result = diagnose([...base, source('vendor.yaml', vendor), input('j.yaml', tied)]);
    expect(result.codes).toEqual([]);
    const ambiguous =
      'name: k\nfrom: vendor\nfields:\n  - vendor.vendor_id\n  - { field: production.start_date }\n';
    const vendor2 = vendor.replace(
      '  - { to: production, relationship: one_to_many, on: { vendor_id: vendor_id } }\n',
      '',
    );
    const location = `name: location
table: studio.location
fields:
  - { name: vendor_id, type: string }
  - { name: production_id, type: string }
joins:
  - { to: vendor, relationship: many_to_one, on: { vendor_id: vendor_id } }
  - { to: production, relationship: many_to_one, on: { production_id: production_id } }
`;
    const r2 = diagnose([
      ...base,
      source('vendor.yaml', vendor2),
      source('location.yaml', location),
      input('k.yaml', ambiguous),
    ]);
    expect(r2.codes).toEqual(['k.yaml:5:14: ambiguous_join_path']);
    expect(r2.lines[0]).toContain('add via: [movie] or via: [location] to pick one');
    expect(lines).toEqual([]);
  });

  it('filter values are checked against the field type', () => {
    const text = `name: i
from: movie
fields: [movie.title]
filters:
  - { field: production.start_date, op: gt, value: 2026-02-30 }
  - { field: movie.title, op: in_last, value: 3 days }
  - { field: production.start_date, op: between, values: [2026-01-01] }
  - { field: production.start_date, op: in_next, value: soon }
  - { field: movie.status, op: is_null, value: x }
`;
    expect(diagnose([...base, input('i.yaml', text)]).codes).toEqual([
      'i.yaml:5:52: invalid_value',
      'i.yaml:6:31: invalid_filter',
      'i.yaml:7:58: invalid_value',
      'i.yaml:8:57: invalid_value',
      'i.yaml:9:48: invalid_filter',
    ]);
  });

  it('parameters: undeclared, and of the wrong type', () => {
    const text = `name: i
from: movie
fields: [movie.title]
filters:
  - { field: movie.status, op: equals, param: stat }
  - { field: production.start_date, op: gt, param: since }
params:
  status: { type: string }
  since: { type: boolean }
`;
    const { codes, lines } = diagnose([...base, input('i.yaml', text)]);
    expect(codes).toEqual(['i.yaml:5:47: unknown_param', 'i.yaml:6:52: param_type_mismatch']);
    expect(lines[0]).toContain('did you mean status?');
  });

  it('granularity on a non-date field, measure/field mix in any, duplicate output names', () => {
    const text = `name: i
from: movie
fields:
  - { field: movie.title, granularity: month }
  - movie.status
  - { field: movie.movie_id, as: status }
filters:
  - any:
      - { field: movie.movie_count, op: gt, value: 1 }
      - { field: movie.title, op: equals, value: x }
`;
    expect(diagnose([...base, input('i.yaml', text)]).codes).toEqual([
      'i.yaml:4:40: invalid_granularity',
      'i.yaml:6:5: duplicate_column',
      'i.yaml:8:5: mixed_filter_group',
    ]);
  });

  it('filter trees: errors inside any / all / not at their node; a tree mixing measures and fields', () => {
    const text = `name: i
from: movie
fields: [movie.title]
filters:
  - any:
      - all:
          - { field: movie.titel, op: equals, value: x }
          - not: { field: production.start_date, op: starts_with, value: x }
      - not:
          any:
            - { field: movie.status, op: in_last, value: 3 days }
  - not:
      all:
        - { field: movie.movie_count, op: gt, value: 1 }
        - not: { field: movie.title, op: is_null }
`;
    const { codes, lines } = diagnose([...base, input('i.yaml', text)]);
    expect(codes).toEqual([
      'i.yaml:7:22: unknown_field',
      'i.yaml:8:54: invalid_filter',
      'i.yaml:11:42: invalid_filter',
      'i.yaml:12:5: mixed_filter_group',
    ]);
    expect(lines[0]).toContain('did you mean movie.title?');
  });

  it('comparing two fields (valueFrom): types, ops, with value, field with measure, at their node', () => {
    const text = `name: i
from: movie
fields: [movie.title]
filters:
  - { field: movie.title, op: equals, valueFrom: production.start_date }
  - { field: movie.title, op: contains, valueFrom: movie.status }
  - { field: movie.title, op: equals, value: x, valueFrom: movie.status }
  - { field: movie.movie_count, op: gt, valueFrom: production.start_date }
  - not: { field: movie.status, op: lt, valueFrom: { field: production.start_dat } }
  - { field: movie.title, op: not_equals, valueFrom: { field: movie.status, via: [nowhere] } }
  - { field: movie.movie_count, op: gt, valueFrom: production.production_count }
  - { field: production.start_date, op: lte, valueFrom: { field: production.start_date } }
`;
    const { codes, lines } = diagnose([...base, input('i.yaml', text)]);
    expect(codes).toEqual([
      'i.yaml:5:50: type_mismatch',
      'i.yaml:6:31: invalid_filter',
      'i.yaml:7:5: invalid_filter',
      'i.yaml:8:52: invalid_filter',
      'i.yaml:9:61: unknown_field',
      'i.yaml:10:83: unknown_source',
    ]);
    expect(lines[0]).toContain("'movie.title' is string but 'production.start_date' is date");
    expect(lines[1]).toContain('valueFrom takes equals, not_equals, gt, gte, lt, lte');
    expect(lines[2]).toContain('give only one of valueFrom, value');
    expect(lines[3]).toContain('valueFrom: { measure, per }');
    expect(lines[4]).toContain('did you mean production.start_date?');
  });

  it('a measure at another grain (valueFrom: { measure, per, filters, times }): each problem at its node', () => {
    const crew = production.replace('measures:\n', '  - { name: crew, type: integer }\nmeasures:\n');
    const text = `name: i
from: production
fields: [production.production_id]
filters:
  - { field: production.start_date, op: gt, valueFrom: { measure: production.production_count } }
  - { field: production.crew, op: equals, valueFrom: { measure: production.movie_id } }
  - { field: production.crew, op: lt, valueFrom: { measure: production.production_count, per: movi } }
  - { field: production.crew, op: lt, valueFrom: { measure: movie.movie_count, per: production } }
  - { field: production.production_id, op: gt, valueFrom: { measure: movie.movie_count, times: 2 } }
  - field: production.crew
    op: gt
    valueFrom: { measure: production.production_count, filters: [{ field: production.production_count, op: gt, value: 1 }] }
  - field: production.crew
    op: gt
    valueFrom: { measure: production.production_count, filters: [{ field: movie.titl, op: equals, value: x }] }
  - { field: movie.movie_count, op: gt, valueFrom: { measure: movie.movie_count, per: movie } }
  - { field: production.crew, op: lt, valueFrom: { measure: production.production_count, per: movie, times: 0.5 } }
`;
    const { codes, lines } = diagnose([
      source('movie.yaml', movie),
      source('production.yaml', crew),
      input('i.yaml', text),
    ]);
    expect(codes).toEqual([
      'i.yaml:5:67: type_mismatch',
      'i.yaml:6:65: invalid_filter',
      'i.yaml:7:95: unknown_source',
      'i.yaml:8:85: invalid_filter',
      'i.yaml:9:70: type_mismatch',
      'i.yaml:12:66: invalid_filter',
      'i.yaml:15:75: unknown_field',
      'i.yaml:16:87: invalid_filter',
    ]);
    expect(lines.join('\n')).toMatchInlineSnapshot(`
      "i.yaml:5:67: error: 'production.start_date' is date but measure 'production.production_count' is integer: a comparison needs the same family of types
      i.yaml:6:65: error: valueFrom.measure names 'production.movie_id', a field: name a measure (to compare with the field on the same row, write valueFrom: production.movie_id)
      i.yaml:7:95: error: per names unknown source 'movi' (did you mean movie?)
      i.yaml:8:85: error: per: 'production' must be a source that 'movie' joins many-to-one, so that each movie row belongs to one production row (declare a many_to_one join from movie to production)
      i.yaml:9:70: error: 'production.production_id' is string but measure 'movie.movie_count' is integer: a comparison needs the same family of types
      i.yaml:12:66: error: the filters of a measure at another grain choose the rows it is computed over: they filter fields, not measures
      i.yaml:15:75: error: 'movie' has no field or measure 'titl' (did you mean movie.title?)
      i.yaml:16:87: error: a measure is compared with a measure over all rows (no per): a group has no single 'movie' row"
    `);
  });

  it('a measure as a dimension per a source ({ field, per, filters }), and like: each problem at its node', () => {
    const text = `name: i
from: movie
fields:
  - { field: production.production_count, per: movie, as: n }
  - { field: movie.title, per: movie }
  - { field: production.production_count, filters: [{ field: production.start_date, op: gt, value: 2024-01-01 }] }
  - { field: production.production_count, per: movi }
  - { field: production.production_count, per: production }
  - { field: production.production_count, per: movie, granularity: month }
  - field: production.production_count
    per: movie
    as: m
    filters: [{ field: production.start_dat, op: gt, value: 2024-01-01 }]
filters:
  - { field: movie.title, op: like, value: '%night%' }
  - { field: movie.movie_count, op: like, value: '%1' }
  - { field: production.start_date, op: like, value: '2024%' }
`;
    const { codes, lines } = diagnose([...base, input('i.yaml', text)]);
    expect(codes).toEqual([
      'i.yaml:5:32: invalid_field',
      'i.yaml:6:52: invalid_field',
      'i.yaml:7:48: unknown_source',
      'i.yaml:8:48: invalid_filter',
      'i.yaml:9:68: invalid_field',
      'i.yaml:13:24: unknown_field',
      'i.yaml:16:37: invalid_filter',
      'i.yaml:17:41: invalid_filter',
    ]);
    expect(lines.join('\n')).toMatchInlineSnapshot(`
      "i.yaml:5:32: error: per and filters apply to a measure (its value per row of another source); 'movie.title' is a field
      i.yaml:6:52: error: filters on a measure go with per: the source whose rows it is computed for
      i.yaml:7:48: error: per names unknown source 'movi' (did you mean movie?)
      i.yaml:8:48: error: per: 'production' is the measure's own source (one row each): name the source its rows belong to, which 'production' joins many-to-one
      i.yaml:9:68: error: granularity does not apply to a measure computed per 'movie'
      i.yaml:13:24: error: 'production' has no field or measure 'start_dat' (did you mean production.start_date?)
      i.yaml:16:37: error: op like does not apply to measure 'movie.movie_count'
      i.yaml:17:41: error: op like does not apply to date field 'production.start_date'"
    `);
  });

  it('a filter on a measure per a source ({ field, per, filters, op }): a WHERE, each problem at its node', () => {
    const text = `name: i
from: production
fields: [production.production_id]
filters:
  - { field: production.production_count, per: movie, op: gt, value: 1 }
  - { field: production.start_date, per: movie, op: gt, value: 2024-01-01 }
  - { field: production.production_count, filters: [{ field: production.start_date, op: is_null }], op: gt, value: 1 }
  - { field: production.production_count, per: movie, op: gt, valueFrom: production.production_count }
  - any:
      - { field: production.production_count, per: movie, op: equals, value: 1 }
      - { field: production.start_date, op: is_null }
`;
    const { codes, lines } = diagnose([...base, input('i.yaml', text)]);
    // The first filter and the any: (a measure per a row beside a field: both WHERE) are fine.
    expect(codes).toEqual([
      'i.yaml:6:42: invalid_filter',
      'i.yaml:7:52: invalid_filter',
      'i.yaml:8:74: invalid_filter',
    ]);
    expect(lines.join('\n')).toMatchInlineSnapshot(`
      "i.yaml:6:42: error: per and filters apply to a measure (its value per row of another source); 'production.start_date' is a field
      i.yaml:7:52: error: filters on a measure go with per: the source whose rows it is computed for
      i.yaml:8:74: error: a measure per a source is compared with a value or a parameter, not valueFrom"
    `);
  });

  it('an empty all: [] or any: [] is an error at its place, however deep', () => {
    const text = `name: i
from: movie
fields: [movie.title]
filters:
  - all: []
  - not:
      any:
        - { field: movie.title, op: is_null }
        - all: []
`;
    expect(diagnose([...base, input('i.yaml', text)]).codes).toEqual([
      'i.yaml:5:10: invalid_value',
      'i.yaml:9:16: invalid_value',
    ]);
  });

  it('reports every error of a project in one run', () => {
    const text = movie
      .replace('type: string }', 'type: text }')
      .replace('relationship: one_to_many', 'relationship: many');
    const bad = 'name: i\nfrom: movies\nfields: [movie.title]\n';
    const { codes } = diagnose([
      source('movie.yaml', text),
      source('production.yaml', production),
      input('i.yaml', bad),
    ]);
    expect(codes).toEqual([
      'i.yaml:2:7: unknown_source',
      'movie.yaml:5:29: invalid_value',
      'movie.yaml:11:37: invalid_value',
    ]);
  });
});
