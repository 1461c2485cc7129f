// Hand-computed examples for every rule of SPEC.md section 4, proving the reference oracle right,
// plus properties of the random scenario generator.
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { arbitraryScenario, LOOKUP_VIA, toCreateTableSql, toInputYaml, toSourceYaml } from './arbitrary.js';
import { evaluateReference, outputColumnNames, readSourceRows, truncateValue } from './evaluate.js';
import type {
  RefAggregateMeasure,
  FieldType,
  RefFilter,
  RefInput,
  RefLeafFilter,
  RefSelectedField,
  RefSource,
  Row,
  Scenario,
  Tables,
  Value,
} from './model.js';
import { innerFilters } from './model.js';

// ---------------------------------------------------------------------------
// The studio fixture
//
//   movie --one_to_many--> production --many_to_one--> vendor
//     ^
//     '--many_to_one-- movie_tag      (declared on movie_tag: used in reverse from movie)
// ---------------------------------------------------------------------------

const movie: RefSource = {
  name: 'movie',
  table: 'studio.movie',
  primaryKey: ['id'],
  fields: [
    { name: 'id', type: 'integer' },
    { name: 'title', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'budget', type: 'decimal' },
    { name: 'launch_date', type: 'date' },
  ],
  measures: [
    { name: 'movie_count', aggregate: 'count' },
    { name: 'total_budget', aggregate: 'sum', sql: 'budget' },
    { name: 'avg_budget', aggregate: 'avg', sql: 'budget' },
    { name: 'max_budget', aggregate: 'max', sql: 'budget' },
    { name: 'min_launch', aggregate: 'min', sql: 'launch_date' },
    { name: 'distinct_status', aggregate: 'count_distinct', sql: 'status' },
    { name: 'active_movie_count', aggregate: 'count', filter: { field: 'status', equals: 'active' } },
    { name: 'budget_per_movie', expression: { op: '/', left: 'total_budget', right: 'movie_count' } },
  ],
  joins: [{ to: 'production', relationship: 'one_to_many', on: { id: 'movie_id' } }],
};

const production: RefSource = {
  name: 'production',
  table: 'studio.production',
  primaryKey: ['id'],
  fields: [
    { name: 'id', type: 'integer' },
    { name: 'movie_id', type: 'integer' },
    { name: 'vendor_id', type: 'integer' },
    { name: 'country', type: 'string' },
    { name: 'start_date', type: 'date' },
    { name: 'start_ts', type: 'timestamp' },
    { name: 'cost', type: 'decimal' },
  ],
  measures: [
    { name: 'production_count', aggregate: 'count' },
    { name: 'total_cost', aggregate: 'sum', sql: 'cost' },
    { name: 'cost_per_movie', expression: { op: '/', left: 'total_cost', right: 'movie.movie_count' } },
  ],
  joins: [{ to: 'vendor', relationship: 'many_to_one', on: { vendor_id: 'id' } }],
};

const vendor: RefSource = {
  name: 'vendor',
  table: 'studio.vendor',
  primaryKey: ['id'],
  fields: [
    { name: 'id', type: 'integer' },
    { name: 'name', type: 'string' },
    { name: 'tier', type: 'string' },
  ],
  measures: [{ name: 'vendor_count', aggregate: 'count' }],
  joins: [],
};

const movieTag: RefSource = {
  name: 'movie_tag',
  table: 'studio.movie_tag',
  primaryKey: ['id'],
  fields: [
    { name: 'id', type: 'integer' },
    { name: 'movie_id', type: 'integer' },
    { name: 'tag', type: 'string' },
    { name: 'weight', type: 'integer' },
  ],
  measures: [],
  joins: [{ to: 'movie', relationship: 'many_to_one', on: { movie_id: 'id' } }],
};

const STUDIO = [movie, production, vendor, movieTag];

const TABLES: Tables = {
  'studio.movie': [
    { id: 1, title: 'Alpha', status: 'active', budget: 100, launch_date: '2024-01-10' },
    { id: 2, title: 'Beta', status: 'active', budget: 50, launch_date: '2024-02-15' },
    { id: 3, title: 'Gamma', status: 'cancelled', budget: 30, launch_date: null },
    { id: 4, title: 'Delta', status: null, budget: null, launch_date: '2024-03-03' },
  ],
  // 2024-01-01 is a Monday; 2024-01-07 and 2023-12-31 are Sundays; 2024-02-29 a Thursday.
  'studio.production': [
    {
      id: 10,
      movie_id: 1,
      vendor_id: 100,
      country: 'US',
      start_date: '2024-01-01',
      start_ts: '2024-01-01T09:30:00.000Z',
      cost: 5,
    },
    {
      id: 11,
      movie_id: 1,
      vendor_id: 101,
      country: 'US',
      start_date: '2024-01-07',
      start_ts: '2024-01-07T23:59:59.999Z',
      cost: 7,
    },
    {
      id: 12,
      movie_id: 1,
      vendor_id: null,
      country: 'FR',
      start_date: '2024-04-15',
      start_ts: '2024-04-15T00:00:00.000Z',
      cost: null,
    },
    {
      id: 13,
      movie_id: 2,
      vendor_id: 100,
      country: 'US',
      start_date: '2023-12-31',
      start_ts: '2023-12-31T12:00:00.000Z',
      cost: 3,
    },
    {
      id: 14,
      movie_id: 99,
      vendor_id: 102,
      country: 'DE',
      start_date: '2024-02-29',
      start_ts: '2024-02-29T06:00:00.000Z',
      cost: 1,
    },
    { id: 15, movie_id: null, vendor_id: 101, country: 'US', start_date: null, start_ts: null, cost: 2 },
  ],
  'studio.vendor': [
    { id: 100, name: 'Acme', tier: 'gold' },
    { id: 101, name: 'Bolt', tier: 'silver' },
    { id: 102, name: 'Cine', tier: null },
  ],
  'studio.movie_tag': [
    { id: 1, movie_id: 1, tag: 'Drama', weight: 1 },
    { id: 2, movie_id: 1, tag: 'Dramedy', weight: 5 },
    { id: 3, movie_id: 2, tag: 'drama', weight: 5 },
    { id: 4, movie_id: 3, tag: 'Horror', weight: 5 },
    { id: 5, movie_id: 3, tag: null, weight: 2 },
  ],
};

function query(
  from: string,
  fields: (string | RefSelectedField)[],
  filters: RefFilter[] = [],
  extra: Pick<RefInput, 'sort' | 'limit'> = {},
): RefInput {
  return { from, fields: fields.map((f) => (typeof f === 'string' ? { field: f } : f)), filters, ...extra };
}

function run(input: RefInput, sources: RefSource[] = STUDIO, tables: Tables = TABLES): Row[] {
  return evaluateReference(sources, input, tables);
}

/** Rows as an order-insensitive multiset. */
function bag(rows: Row[]): string[] {
  return rows.map((row) => JSON.stringify(row)).sort();
}

function titles(rows: Row[]): string[] {
  return rows.map((row) => String(row['title'])).sort();
}

// ---------------------------------------------------------------------------
// 4.1 Grain
// ---------------------------------------------------------------------------

describe('4.1 grain without measures', () => {
  it('has one row per root row when only the root contributes (joins are pruned)', () => {
    expect(bag(run(query('movie', ['movie.title'])))).toEqual(
      bag([{ title: 'Alpha' }, { title: 'Beta' }, { title: 'Gamma' }, { title: 'Delta' }]),
    );
  });

  it('is multiplied by a one-to-many join to a contributing source, keeping identical rows', () => {
    // Alpha has two US productions (10, 11): two distinct grain rows with equal values.
    expect(bag(run(query('movie', ['movie.title', 'production.country'])))).toEqual(
      bag([
        { title: 'Alpha', country: 'US' },
        { title: 'Alpha', country: 'US' },
        { title: 'Alpha', country: 'FR' },
        { title: 'Beta', country: 'US' },
        { title: 'Gamma', country: null },
        { title: 'Delta', country: null },
      ]),
    );
  });

  it('is multiplied by one-to-many joins to sources on the path to a contributing source', () => {
    // movie -> production (one_to_many) -> vendor: one row per (movie, production).
    expect(bag(run(query('movie', ['movie.title', 'vendor.name'])))).toEqual(
      bag([
        { title: 'Alpha', name: 'Acme' },
        { title: 'Alpha', name: 'Bolt' },
        { title: 'Alpha', name: null },
        { title: 'Beta', name: 'Acme' },
        { title: 'Gamma', name: null },
        { title: 'Delta', name: null },
      ]),
    );
  });

  it('is not multiplied by many-to-one joins, and keeps root rows without a related row', () => {
    expect(bag(run(query('production', ['production.id', 'movie.title'])))).toEqual(
      bag([
        { id: 10, title: 'Alpha' },
        { id: 11, title: 'Alpha' },
        { id: 12, title: 'Alpha' },
        { id: 13, title: 'Beta' },
        { id: 14, title: null },
        { id: 15, title: null },
      ]),
    );
  });

  it('keeps the root in the grain even when it contributes no field', () => {
    expect(bag(run(query('production', ['movie.title'])))).toEqual(
      bag(['Alpha', 'Alpha', 'Alpha', 'Beta', null, null].map((title) => ({ title }))),
    );
  });
});

// ---------------------------------------------------------------------------
// 4.4 Measures never fan out
// ---------------------------------------------------------------------------

describe('4.4 measures never fan out', () => {
  it("sums movie.total_budget once per country a movie has a production in (the spec's example)", () => {
    // US: Alpha (100, two US productions, counted once) + Beta (50); FR: Alpha; NULL: Gamma 30 + Delta NULL.
    const input = query('movie', ['production.country', 'movie.total_budget'], [], {
      sort: [{ field: 'country', direction: 'asc' }],
    });
    expect(run(input)).toEqual([
      { country: 'FR', total_budget: 100 },
      { country: 'US', total_budget: 150 },
      { country: null, total_budget: 30 },
    ]);
  });

  it('aggregates the many-to-one side once per group, from the many side', () => {
    // From production: US = productions 10, 11, 13, 15 and movies {1, 2}; DE's movie 99 does not exist.
    const input = query(
      'production',
      ['production.country', 'production.production_count', 'movie.movie_count', 'movie.total_budget'],
      [],
      { sort: [{ field: 'country', direction: 'asc' }] },
    );
    expect(run(input)).toEqual([
      { country: 'DE', production_count: 1, movie_count: 0, total_budget: null },
      { country: 'FR', production_count: 1, movie_count: 1, total_budget: 100 },
      { country: 'US', production_count: 4, movie_count: 2, total_budget: 150 },
    ]);
  });

  it('aggregates two measure sources independently in one group', () => {
    // Productions related to movies: 10, 11, 12, 13 (14 dangles, 15 has no movie).
    const input = query('movie', [
      'movie.movie_count',
      'movie.total_budget',
      'production.production_count',
      'production.total_cost',
    ]);
    expect(run(input)).toEqual([{ movie_count: 4, total_budget: 180, production_count: 4, total_cost: 15 }]);
  });

  it('counts distinct rows of a source two joins away', () => {
    const input = query('movie', ['movie.title', 'vendor.vendor_count', 'production.production_count'], [], {
      sort: [{ field: 'title', direction: 'asc' }],
    });
    expect(run(input)).toEqual([
      { title: 'Alpha', vendor_count: 2, production_count: 3 },
      { title: 'Beta', vendor_count: 1, production_count: 1 },
      { title: 'Delta', vendor_count: 0, production_count: 0 },
      { title: 'Gamma', vendor_count: 0, production_count: 0 },
    ]);
  });

  it('puts a root row into every group it is related to', () => {
    // gold: productions 10, 13 -> movies {1, 2}; silver: 11 -> {1}; NULL: 12 (no vendor) -> {1}, plus
    // movies 3 and 4 with no production at all.
    const input = query('movie', ['vendor.tier', 'movie.movie_count'], [], {
      sort: [{ field: 'tier', direction: 'asc' }],
    });
    expect(run(input)).toEqual([
      { tier: 'gold', movie_count: 2 },
      { tier: 'silver', movie_count: 1 },
      { tier: null, movie_count: 3 },
    ]);
  });
});

describe('conditional and derived measures', () => {
  it('applies measure filters, count_distinct, avg, min, max and derived measures', () => {
    const input = query('movie', [
      'movie.active_movie_count',
      'movie.budget_per_movie',
      'movie.distinct_status',
      'movie.avg_budget',
      'movie.max_budget',
      'movie.min_launch',
    ]);
    // budget_per_movie = 180 / 4; avg over the three non-NULL budgets = 180 / 3.
    expect(run(input)).toEqual([
      {
        active_movie_count: 2,
        budget_per_movie: 45,
        distinct_status: 2,
        avg_budget: 60,
        max_budget: 100,
        min_launch: '2024-01-10',
      },
    ]);
  });

  it('computes a derived measure over two sources per group; division by 0 or NULL gives NULL', () => {
    // cost_per_movie = production.total_cost / movie.movie_count.
    // DE: 1 / 0 -> NULL; FR: NULL (only cost is NULL) / 1 -> NULL; US: (5 + 7 + 3 + 2) / 2 = 8.5.
    const input = query('production', ['production.country', 'production.cost_per_movie'], [], {
      sort: [{ field: 'country', direction: 'asc' }],
    });
    expect(run(input)).toEqual([
      { country: 'DE', cost_per_movie: null },
      { country: 'FR', cost_per_movie: null },
      { country: 'US', cost_per_movie: 8.5 },
    ]);
  });
});

// ---------------------------------------------------------------------------
// 4.5 Filters never multiply rows
// ---------------------------------------------------------------------------

describe('measures that read related fields', () => {
  // line -> order (many_to_one, declared on order) -> customer (declared on customer as
  // one_to_many, so many_to_one read from order); part is one_to_many from line.
  const sources: RefSource[] = [
    {
      name: 'line',
      table: 'x.line',
      primaryKey: ['id'],
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'order_id', type: 'integer' },
        { name: 'qty', type: 'integer' },
      ],
      measures: [
        { name: 'revenue', aggregate: 'sum', sql: { source: 'order', field: 'price' } },
        {
          name: 'urgent',
          aggregate: 'count',
          filter: { field: { source: 'order', field: 'prio' }, equals: 'u' },
        },
        {
          name: 'gold_qty',
          aggregate: 'sum',
          sql: 'qty',
          filter: { field: { source: 'customer', field: 'tier', via: ['order'] }, equals: 'gold' },
        },
        { name: 'part_weight', aggregate: 'sum', sql: { source: 'part', field: 'weight' } },
      ],
      joins: [
        { to: 'order', relationship: 'many_to_one', on: { order_id: 'id' } },
        { to: 'part', relationship: 'one_to_many', on: { id: 'line_id' } },
      ],
    },
    {
      name: 'order',
      table: 'x.order',
      primaryKey: ['id'],
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'customer_id', type: 'integer' },
        { name: 'price', type: 'number' },
        { name: 'prio', type: 'string' },
      ],
      measures: [],
      joins: [],
    },
    {
      name: 'customer',
      table: 'x.customer',
      primaryKey: ['id'],
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'tier', type: 'string' },
      ],
      measures: [],
      joins: [{ to: 'order', relationship: 'one_to_many', on: { id: 'customer_id' } }],
    },
    {
      name: 'part',
      table: 'x.part',
      primaryKey: ['id'],
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'line_id', type: 'integer' },
        { name: 'weight', type: 'number' },
      ],
      measures: [],
      joins: [],
    },
  ];
  const tables: Tables = {
    'x.line': [
      { id: 1, order_id: 1, qty: 1 },
      { id: 2, order_id: 1, qty: 2 },
      { id: 3, order_id: 2, qty: 4 },
      { id: 4, order_id: null, qty: 8 },
      { id: 5, order_id: 9, qty: 16 },
    ],
    'x.order': [
      { id: 1, customer_id: 1, price: 10, prio: 'u' },
      { id: 2, customer_id: 2, price: 5, prio: null },
    ],
    'x.customer': [
      { id: 1, tier: 'gold' },
      { id: 2, tier: 'silver' },
    ],
    'x.part': [{ id: 1, line_id: 1, weight: 1 }],
  };

  it('reads the related row per row of the measure source (none: NULL, excluded by a filter)', () => {
    const measures = ['line.revenue', 'line.urgent', 'line.gold_qty'];
    expect(run(query('line', measures), sources, tables)).toEqual([{ revenue: 25, urgent: 2, gold_qty: 3 }]);
    // Grouped by the line's own field, and from another root: each line row counted once.
    expect(bag(run(query('customer', ['customer.tier', ...measures]), sources, tables))).toEqual(
      bag([
        { tier: 'gold', revenue: 20, urgent: 2, gold_qty: 3 },
        { tier: 'silver', revenue: 5, urgent: 0, gold_qty: null },
      ]),
    );
  });

  it('rejects a related field reached only through a one-to-many join', () => {
    expect(() => run(query('line', ['line.part_weight']), sources, tables)).toThrow(/fan_out_lookup/);
  });
});

describe('4.5 filters never multiply rows', () => {
  const dramaTag: RefFilter = { field: 'movie_tag.tag', op: 'starts_with', value: 'DRAM' };

  it('restricts by a filter-only one-to-many source without multiplying root rows', () => {
    // Alpha has two matching tags (Drama, Dramedy) and still appears once.
    expect(titles(run(query('movie', ['movie.title'], [dramaTag])))).toEqual(['Alpha', 'Beta']);
  });

  it('restricts measures without counting a row twice', () => {
    expect(run(query('movie', ['movie.movie_count', 'movie.total_budget'], [dramaTag]))).toEqual([
      { movie_count: 2, total_budget: 150 },
    ]);
  });

  it('requires several filters on one filter-only source to hold on the same related row', () => {
    const endsWithMa: RefFilter = { field: 'movie_tag.tag', op: 'ends_with', value: 'MA' };
    const heavy: RefFilter = { field: 'movie_tag.weight', op: 'gte', value: 5 };
    expect(titles(run(query('movie', ['movie.title'], [endsWithMa])))).toEqual(['Alpha', 'Beta']);
    expect(titles(run(query('movie', ['movie.title'], [heavy])))).toEqual(['Alpha', 'Beta', 'Gamma']);
    // Alpha's Drama weighs 1 and its Dramedy does not end with "ma": no single tag satisfies both.
    expect(titles(run(query('movie', ['movie.title'], [endsWithMa, heavy])))).toEqual(['Beta']);
  });

  it('matches is_null on a filter-only source for rows with no related row (and NULL related values)', () => {
    // Gamma has a tag whose value is NULL; Delta has no tag at all.
    const input = query('movie', ['movie.title'], [{ field: 'movie_tag.tag', op: 'is_null' }]);
    expect(titles(run(input))).toEqual(['Delta', 'Gamma']);
  });

  it('restricts per row of the selected source a filter-only source hangs below', () => {
    const gold: RefFilter = { field: 'vendor.tier', op: 'equals', value: 'gold' };
    expect(bag(run(query('movie', ['movie.title', 'production.country'], [gold])))).toEqual(
      bag([
        { title: 'Alpha', country: 'US' },
        { title: 'Beta', country: 'US' },
      ]),
    );
    const counted = query('movie', ['movie.title', 'production.production_count'], [gold], {
      sort: [{ field: 'title', direction: 'asc' }],
    });
    expect(run(counted)).toEqual([
      { title: 'Alpha', production_count: 1 },
      { title: 'Beta', production_count: 1 },
    ]);
  });

  it('treats filters on a selected joined source as ordinary row filters', () => {
    const us: RefFilter = { field: 'production.country', op: 'equals', value: 'US' };
    expect(bag(run(query('movie', ['movie.title', 'production.country'], [us])))).toEqual(
      bag([
        { title: 'Alpha', country: 'US' },
        { title: 'Alpha', country: 'US' },
        { title: 'Beta', country: 'US' },
      ]),
    );
  });

  it('ORs an `any` group, across sources', () => {
    const either: RefFilter = {
      any: [
        { field: 'movie.status', op: 'equals', value: 'cancelled' },
        { field: 'movie_tag.weight', op: 'equals', value: 1 },
      ],
    };
    expect(titles(run(query('movie', ['movie.title'], [either])))).toEqual(['Alpha', 'Gamma']);
  });
});

describe('filter trees: any / all / not, three-valued', () => {
  const titlesWhere = (...filters: RefFilter[]): string[] =>
    titles(run(query('movie', ['movie.title'], filters)));
  const status = (value: string): RefFilter => ({ field: 'movie.status', op: 'equals', value });

  it('keeps a row only when the condition is TRUE: not of a comparison with NULL does not match', () => {
    // Delta's status is NULL: `status = cancelled` is unknown there, and so is its negation.
    expect(titlesWhere({ not: status('cancelled') })).toEqual(['Alpha', 'Beta']);
    expect(titlesWhere({ not: { field: 'movie.status', op: 'is_null' } })).toEqual([
      'Alpha',
      'Beta',
      'Gamma',
    ]);
    expect(
      titlesWhere({ not: { any: [status('active'), { field: 'movie.status', op: 'is_null' }] } }),
    ).toEqual(['Gamma']);
    expect(titlesWhere({ not: { all: [status('active'), { not: status('active') }] } })).toEqual([
      'Alpha',
      'Beta',
      'Gamma',
    ]);
  });

  it('holds an `all` on one related row of a filter-only source, and `not` on its NULL row', () => {
    const sameRow: RefFilter = {
      any: [
        {
          all: [
            { field: 'movie_tag.tag', op: 'ends_with', value: 'MA' },
            { field: 'movie_tag.weight', op: 'gte', value: 5 },
          ],
        },
        {
          all: [
            { field: 'movie_tag.tag', op: 'is_null' },
            { field: 'movie_tag.weight', op: 'equals', value: 2 },
          ],
        },
      ],
    };
    expect(titlesWhere(sameRow)).toEqual(['Beta', 'Gamma']);
    // Delta has no tag: its NULL row makes `starts_with` unknown, and its negation too.
    expect(titlesWhere({ not: { field: 'movie_tag.tag', op: 'starts_with', value: 'DRAM' } })).toEqual([
      'Gamma',
    ]);
    // ... but `not is_not_null` is TRUE there, as on Gamma's NULL tag.
    expect(titlesWhere({ not: { field: 'movie_tag.tag', op: 'is_not_null' } })).toEqual(['Delta', 'Gamma']);
    const notHeavyDrama: RefFilter = {
      not: {
        all: [
          { field: 'movie_tag.tag', op: 'starts_with', value: 'DRAM' },
          { field: 'movie_tag.weight', op: 'gte', value: 5 },
        ],
      },
    };
    expect(titlesWhere(notHeavyDrama)).toEqual(['Alpha', 'Gamma']);
  });
});

// ---------------------------------------------------------------------------
// 4.7 NULLs and filter ops
// ---------------------------------------------------------------------------

describe('4.7 NULL rules and filter ops', () => {
  const titlesWhere = (filter: RefFilter): string[] => titles(run(query('movie', ['movie.title'], [filter])));

  it('does not match NULL with not_equals / not_in, matches it with is_null', () => {
    expect(titlesWhere({ field: 'movie.status', op: 'not_equals', value: 'cancelled' })).toEqual([
      'Alpha',
      'Beta',
    ]);
    expect(titlesWhere({ field: 'movie.status', op: 'not_in', values: ['active'] })).toEqual(['Gamma']);
    expect(titlesWhere({ field: 'movie.status', op: 'is_null' })).toEqual(['Delta']);
    expect(titlesWhere({ field: 'movie.status', op: 'is_not_null' })).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(titlesWhere({ field: 'movie.status', op: 'in', values: ['active', 'nope'] })).toEqual([
      'Alpha',
      'Beta',
    ]);
  });

  it('makes a comparison with NULL false', () => {
    expect(titlesWhere({ field: 'movie.budget', op: 'lt', value: 1000 })).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(titlesWhere({ field: 'movie.budget', op: 'between', values: [30, 50] })).toEqual([
      'Beta',
      'Gamma',
    ]);
    expect(titlesWhere({ field: 'movie.launch_date', op: 'gt', value: '2024-02-01' })).toEqual([
      'Beta',
      'Delta',
    ]);
    expect(titlesWhere({ field: 'movie.launch_date', op: 'lte', value: '2024-02-15' })).toEqual([
      'Alpha',
      'Beta',
    ]);
  });

  it('compares text case-insensitively for contains / starts_with / ends_with only', () => {
    expect(titlesWhere({ field: 'movie.title', op: 'contains', value: 'ETA' })).toEqual(['Beta']);
    expect(titlesWhere({ field: 'movie.title', op: 'starts_with', value: 'g' })).toEqual(['Gamma']);
    expect(titlesWhere({ field: 'movie.title', op: 'ends_with', value: 'A' })).toEqual([
      'Alpha',
      'Beta',
      'Delta',
      'Gamma',
    ]);
    expect(titlesWhere({ field: 'movie.title', op: 'equals', value: 'alpha' })).toEqual([]);
  });

  it('compares timestamps as instants whatever their ISO spelling', () => {
    const input = query(
      'production',
      ['production.id'],
      [
        { field: 'production.start_ts', op: 'gte', value: '2024-01-07T23:59:59.999Z' },
        { field: 'production.start_ts', op: 'lt', value: '2024-02-29T06:00:00Z' },
      ],
    );
    expect(run(input)).toEqual([{ id: 11 }]);
  });

  it('groups root rows with no related row into the NULL group, sorted last', () => {
    const input = query('movie', ['movie.status', 'movie.movie_count'], [], {
      sort: [{ field: 'status', direction: 'asc' }],
    });
    expect(run(input)).toEqual([
      { status: 'active', movie_count: 2 },
      { status: 'cancelled', movie_count: 1 },
      { status: null, movie_count: 1 },
    ]);
  });

  it('gives count 0 and NULL sum/avg/min/max over no rows, in the single group of a dimensionless query', () => {
    const nothing: RefFilter = { field: 'movie.title', op: 'equals', value: 'Nope' };
    const measures = [
      'movie.movie_count',
      'movie.distinct_status',
      'movie.total_budget',
      'movie.avg_budget',
      'movie.max_budget',
      'movie.min_launch',
      'movie.budget_per_movie',
    ];
    const expected = {
      movie_count: 0,
      distinct_status: 0,
      total_budget: null,
      avg_budget: null,
      max_budget: null,
      min_launch: null,
      budget_per_movie: null,
    };
    expect(run(query('movie', measures, [nothing]))).toEqual([expected]);
    expect(run(query('movie', measures), STUDIO, { ...TABLES, 'studio.movie': [] })).toEqual([expected]);
  });

  it('gives no group when a dimension is selected over no rows', () => {
    const nothing: RefFilter = { field: 'movie.title', op: 'equals', value: 'Nope' };
    expect(run(query('movie', ['movie.status', 'movie.movie_count'], [nothing]))).toEqual([]);
  });

  it('gives NULL sum/max over only NULL values, while count counts the row', () => {
    const delta: RefFilter = { field: 'movie.title', op: 'equals', value: 'Delta' };
    expect(
      run(query('movie', ['movie.total_budget', 'movie.max_budget', 'movie.movie_count'], [delta])),
    ).toEqual([{ total_budget: null, max_budget: null, movie_count: 1 }]);
  });
});

// ---------------------------------------------------------------------------
// 4.6 Measure filters (HAVING)
// ---------------------------------------------------------------------------

describe('4.6 measure filters apply after aggregation', () => {
  const byCountry = (filters: RefFilter[], measures: string[]): Row[] =>
    run(
      query('production', ['production.country', ...measures], filters, {
        sort: [{ field: 'country', direction: 'asc' }],
      }),
    );

  it('filters groups on a selected measure', () => {
    const input = [{ field: 'production.production_count', op: 'gt', value: 1 } as const];
    expect(byCountry(input, ['production.production_count'])).toEqual([
      { country: 'US', production_count: 4 },
    ]);
  });

  it('filters groups on a measure that is not selected', () => {
    const input = [{ field: 'production.production_count', op: 'equals', value: 1 } as const];
    expect(byCountry(input, ['production.total_cost'])).toEqual([
      { country: 'DE', total_cost: 1 },
      { country: 'FR', total_cost: null },
    ]);
  });

  it('ORs measure filters in an `any` group, with NULL rules', () => {
    const either: RefFilter = {
      any: [
        { field: 'production.production_count', op: 'gte', value: 4 },
        { field: 'production.total_cost', op: 'is_null' },
      ],
    };
    expect(byCountry([either], ['production.total_cost'])).toEqual([
      { country: 'FR', total_cost: null },
      { country: 'US', total_cost: 17 },
    ]);
  });

  it('can remove the single group of a dimensionless query', () => {
    const many = { field: 'movie.movie_count', op: 'gt', value: 10 } as const;
    expect(run(query('movie', ['movie.movie_count'], [many]))).toEqual([]);
  });

  it('groups the result when a measure filter is present without a selected measure (our reading)', () => {
    const many = { field: 'production.production_count', op: 'gt', value: 1 } as const;
    expect(run(query('production', ['production.country'], [many]))).toEqual([{ country: 'US' }]);
  });

  it('rejects an `any` group mixing measure and row filters', () => {
    const mixed: RefFilter = {
      any: [
        { field: 'production.production_count', op: 'gt', value: 1 },
        { field: 'production.country', op: 'equals', value: 'FR' },
      ],
    };
    expect(() => run(query('production', ['production.country'], [mixed]))).toThrow(/mixes/);
  });
});

// ---------------------------------------------------------------------------
// 4.9 Granularity
// ---------------------------------------------------------------------------

describe('4.9 granularity truncates and keeps the type', () => {
  it('truncates dates, weeks starting on Monday', () => {
    expect(truncateValue('2024-01-07', 'date', 'week')).toBe('2024-01-01'); // Sunday
    expect(truncateValue('2024-01-01', 'date', 'week')).toBe('2024-01-01'); // Monday
    expect(truncateValue('2023-12-31', 'date', 'week')).toBe('2023-12-25'); // across a year
    expect(truncateValue('2024-03-02', 'date', 'week')).toBe('2024-02-26'); // across a leap month
    expect(truncateValue('2024-04-15', 'date', 'day')).toBe('2024-04-15');
    expect(truncateValue('2024-04-15', 'date', 'month')).toBe('2024-04-01');
    expect(truncateValue('2024-05-15', 'date', 'quarter')).toBe('2024-04-01');
    expect(truncateValue('2023-12-31', 'date', 'quarter')).toBe('2023-10-01');
    expect(truncateValue('2024-12-30', 'date', 'year')).toBe('2024-01-01');
    expect(truncateValue(null, 'date', 'month')).toBeNull();
  });

  it('truncates timestamps in UTC and keeps them timestamps', () => {
    const ts = '2024-03-05T13:45:12.345Z'; // a Tuesday
    expect(truncateValue(ts, 'timestamp', 'day')).toBe('2024-03-05T00:00:00.000Z');
    expect(truncateValue(ts, 'timestamp', 'week')).toBe('2024-03-04T00:00:00.000Z');
    expect(truncateValue(ts, 'timestamp', 'month')).toBe('2024-03-01T00:00:00.000Z');
    expect(truncateValue(ts, 'timestamp', 'quarter')).toBe('2024-01-01T00:00:00.000Z');
    expect(truncateValue(ts, 'timestamp', 'year')).toBe('2024-01-01T00:00:00.000Z');
  });

  it('rejects granularity on other types', () => {
    expect(() => truncateValue(3, 'integer', 'month')).toThrow(/granularity/);
  });

  it('groups by the truncated value', () => {
    const input = query(
      'production',
      [{ field: 'production.start_date', granularity: 'week', as: 'week' }, 'production.production_count'],
      [],
      { sort: [{ field: 'week', direction: 'asc' }] },
    );
    expect(run(input)).toEqual([
      { week: '2023-12-25', production_count: 1 },
      { week: '2024-01-01', production_count: 2 },
      { week: '2024-02-26', production_count: 1 },
      { week: '2024-04-15', production_count: 1 },
      { week: null, production_count: 1 },
    ]);
  });

  it('selects one field raw and truncated side by side', () => {
    const input = query(
      'production',
      [
        'production.start_date',
        { field: 'production.start_date', granularity: 'month', as: 'start_month' },
        { field: 'production.start_ts', granularity: 'day', as: 'start_day' },
      ],
      [{ field: 'production.id', op: 'in', values: [11, 13] }],
    );
    expect(bag(run(input))).toEqual(
      bag([
        { start_date: '2024-01-07', start_month: '2024-01-01', start_day: '2024-01-07T00:00:00.000Z' },
        { start_date: '2023-12-31', start_month: '2023-12-01', start_day: '2023-12-31T00:00:00.000Z' },
      ]),
    );
  });
});

// ---------------------------------------------------------------------------
// 4.8 CDC sources
// ---------------------------------------------------------------------------

describe('4.8 CDC sources read their latest row per key', () => {
  const account: RefSource = {
    name: 'account',
    table: 'raw.account',
    primaryKey: ['id'],
    cdc: { orderBy: ['_op_ts', '_seq'], deletedOp: 'd' },
    fields: [
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'string' },
    ],
    measures: [{ name: 'account_count', aggregate: 'count' }],
    joins: [],
  };
  const at = (day: number): string => `2024-01-0${day}T00:00:00.000Z`;
  const raw: Tables = {
    'raw.account': [
      { id: 1, name: 'first', _op: 'c', _op_ts: at(1), _seq: 1 },
      { id: 1, name: 'second', _op: 'u', _op_ts: at(2), _seq: 2 },
      { id: 2, name: 'gone', _op: 'c', _op_ts: at(1), _seq: 3 },
      { id: 2, name: 'gone', _op: 'd', _op_ts: at(3), _seq: 4 },
      { id: 3, name: 'tie_lower_seq', _op: 'u', _op_ts: at(5), _seq: 5 },
      { id: 3, name: 'tie_winner', _op: 'u', _op_ts: at(5), _seq: 6 },
      { id: 3, name: 'stale', _op: 'u', _op_ts: at(4), _seq: 9 }, // later in the log, older change
      { id: 4, name: 'old', _op: 'd', _op_ts: at(1), _seq: 7 },
      { id: 4, name: 'reborn', _op: 'c', _op_ts: at(2), _seq: 8 },
    ],
  };
  const names = (filters: RefFilter[] = []): Row[] =>
    run(
      query('account', ['account.id', 'account.name'], filters, {
        sort: [{ field: 'id', direction: 'asc' }],
      }),
      [account],
      raw,
    );

  it('keeps the greatest (_op_ts, _seq) per key, breaks _op_ts ties by _seq, drops deleted keys', () => {
    expect(names()).toEqual([
      { id: 1, name: 'second' },
      { id: 3, name: 'tie_winner' },
      { id: 4, name: 'reborn' },
    ]);
    expect(run(query('account', ['account.account_count']), [account], raw)).toEqual([{ account_count: 3 }]);
  });

  it('applies filters to the latest row only', () => {
    for (const superseded of ['first', 'gone', 'stale', 'old']) {
      expect(names([{ field: 'account.name', op: 'equals', value: superseded }])).toEqual([]);
    }
    expect(names([{ field: 'account.name', op: 'starts_with', value: 'TIE' }])).toEqual([
      { id: 3, name: 'tie_winner' },
    ]);
  });

  it('rejects a complete tie on the orderBy tuple as ambiguous data', () => {
    const tied: Tables = {
      'raw.account': [
        { id: 1, name: 'x', _op: 'u', _op_ts: at(1), _seq: 1 },
        { id: 1, name: 'y', _op: 'u', _op_ts: at(1), _seq: 1 },
      ],
    };
    expect(() => readSourceRows(account, tied)).toThrow(/tie/);
  });
});

// ---------------------------------------------------------------------------
// Output columns, join paths, sort and limit
// ---------------------------------------------------------------------------

describe('output column names', () => {
  it('uses the field name when unique, source_field otherwise, `as` when given', () => {
    expect(
      outputColumnNames([{ field: 'movie.id' }, { field: 'production.id' }, { field: 'movie.title' }]),
    ).toEqual(['movie_id', 'production_id', 'title']);
    const rows = run(
      query(
        'movie',
        ['movie.id', 'production.id', { field: 'movie.title', as: 'name' }],
        [{ field: 'movie.id', op: 'equals', value: 2 }],
      ),
    );
    expect(rows).toEqual([{ movie_id: 2, production_id: 13, name: 'Beta' }]);
    expect(Object.keys(rows[0] ?? {})).toEqual(['movie_id', 'production_id', 'name']);
  });

  it('counts a field selected twice as one distinct field', () => {
    expect(
      outputColumnNames([{ field: 'production.start_date' }, { field: 'production.start_date', as: 'm' }]),
    ).toEqual(['start_date', 'm']);
  });

  it('rejects colliding output names', () => {
    expect(() => run(query('movie', ['movie.title', 'movie.title']))).toThrow(
      /duplicate output column title/,
    );
    // movie.id -> movie_id (id is not unique) collides with production.movie_id.
    expect(() => run(query('movie', ['movie.id', 'production.id', 'production.movie_id']))).toThrow(
      /movie_id/,
    );
  });
});

describe('4.2 join paths', () => {
  const source = (name: string, fields: string[], joins: RefSource['joins'] = []): RefSource => ({
    name,
    table: `g.${name}`,
    primaryKey: ['id'],
    fields: ['id', ...fields].map((f) => ({
      name: f,
      type: (f === 'x' ? 'string' : 'integer') as FieldType,
    })),
    measures: [],
    joins,
  });
  const toOne = (to: string): RefSource['joins'][number] => ({
    to,
    relationship: 'many_to_one',
    on: { [`${to}_id`]: 'id' },
  });

  it('takes the shortest path, not a longer one', () => {
    // a -> b -> c and a -> c: the direct join wins.
    const sources = [
      source('a', ['b_id', 'c_id'], [toOne('b'), toOne('c')]),
      source('b', ['c_id'], [toOne('c')]),
      source('c', ['x']),
    ];
    const tables: Tables = {
      'g.a': [{ id: 1, b_id: 1, c_id: 2 }],
      'g.b': [{ id: 1, c_id: 1 }],
      'g.c': [
        { id: 1, x: 'via_b' },
        { id: 2, x: 'direct' },
      ],
    };
    expect(run(query('a', ['c.x']), sources, tables)).toEqual([{ x: 'direct' }]);
  });

  it('rejects two shortest paths of the same length, only when that source is needed', () => {
    const sources = [
      source('a', ['b_id', 'c_id'], [toOne('b'), toOne('c')]),
      source('b', ['d_id'], [toOne('d')]),
      source('c', ['d_id'], [toOne('d')]),
      source('d', ['x']),
    ];
    const tables: Tables = { 'g.a': [], 'g.b': [], 'g.c': [], 'g.d': [] };
    expect(() => run(query('a', ['d.x']), sources, tables)).toThrow(/two shortest join paths/);
    expect(run(query('a', ['b.id']), sources, tables)).toEqual([]);
    expect(run(query('b', ['d.x']), sources, tables)).toEqual([]);
  });

  it('uses a join declared on the other side, in reverse', () => {
    // movie_tag declares many_to_one to movie; from movie it is one_to_many.
    const input = query(
      'movie',
      ['movie.title', 'movie_tag.tag'],
      [{ field: 'movie.id', op: 'equals', value: 1 }],
    );
    expect(bag(run(input))).toEqual(
      bag([
        { title: 'Alpha', tag: 'Drama' },
        { title: 'Alpha', tag: 'Dramedy' },
      ]),
    );
  });
});

describe('sort and limit', () => {
  const budgets = (extra: Pick<RefInput, 'sort' | 'limit'>): Row[] =>
    run(query('movie', ['movie.title', 'movie.budget'], [], extra));

  it('puts NULLs last in both directions', () => {
    expect(budgets({ sort: [{ field: 'budget', direction: 'desc' }] }).map((r) => r['title'])).toEqual([
      'Alpha',
      'Beta',
      'Gamma',
      'Delta',
    ]);
    expect(budgets({ sort: [{ field: 'budget', direction: 'asc' }] }).map((r) => r['title'])).toEqual([
      'Gamma',
      'Beta',
      'Alpha',
      'Delta',
    ]);
  });

  it('sorts by several keys and limits', () => {
    const input = query('movie', ['movie.status', 'movie.title'], [], {
      sort: [
        { field: 'status', direction: 'asc' },
        { field: 'title', direction: 'desc' },
      ],
      limit: 3,
    });
    expect(run(input)).toEqual([
      { status: 'active', title: 'Beta' },
      { status: 'active', title: 'Alpha' },
      { status: 'cancelled', title: 'Gamma' },
    ]);
  });

  it('rejects a sort on an unknown output column', () => {
    expect(() => budgets({ sort: [{ field: 'movie.budget', direction: 'asc' }] })).toThrow(
      /unknown output column/,
    );
  });
});

// ---------------------------------------------------------------------------
// Measures at another grain, a measure as a dimension, like
//
//   orders --many_to_one--> customer; orders 13 (no customer) and 14 (dangling) have no customer row.
// ---------------------------------------------------------------------------

describe('measures at another grain', () => {
  const customer: RefSource = {
    name: 'customer',
    table: 'shop.customer',
    primaryKey: ['id'],
    fields: [
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'string' },
    ],
    measures: [{ name: 'customer_count', aggregate: 'count' }],
    joins: [],
  };
  const orders: RefSource = {
    name: 'orders',
    table: 'shop.orders',
    primaryKey: ['id'],
    fields: [
      { name: 'id', type: 'integer' },
      { name: 'customer_id', type: 'integer' },
      { name: 'amount', type: 'integer' },
      { name: 'status', type: 'string' },
    ],
    measures: [
      { name: 'order_count', aggregate: 'count' },
      { name: 'total_amount', aggregate: 'sum', sql: 'amount' },
      { name: 'max_amount', aggregate: 'max', sql: 'amount' },
    ],
    joins: [{ to: 'customer', relationship: 'many_to_one', on: { customer_id: 'id' } }],
  };
  const SHOP = [customer, orders];
  const SHOP_TABLES: Tables = {
    'shop.customer': [
      { id: 1, name: 'Ann' },
      { id: 2, name: 'bob' },
      { id: 3, name: 'C%y' },
    ],
    'shop.orders': [
      { id: 10, customer_id: 1, amount: 5, status: 'shipped' },
      { id: 11, customer_id: 1, amount: 15, status: 'open' },
      { id: 12, customer_id: 2, amount: 7, status: 'shipped' },
      { id: 13, customer_id: null, amount: 100, status: 'shipped' },
      { id: 14, customer_id: 9, amount: 1, status: 'open' },
    ],
  };
  const shop = (input: RefInput): Row[] => run(input, SHOP, SHOP_TABLES);
  const orderIds = (filters: RefFilter[]): Value[] =>
    shop(query('orders', ['orders.id'], filters)).map((row) => row['id'] ?? null);
  const names = (filters: RefFilter[]): Value[] =>
    shop(query('customer', ['customer.name'], filters)).map((row) => row['name'] ?? null);
  const shipped: RefFilter = { field: 'orders.status', op: 'equals', value: 'shipped' };

  it('selects a measure per a source as a grouping column: a count over no rows is 0', () => {
    const perCustomer: RefSelectedField = { field: 'orders.order_count', per: 'customer', as: 'n' };
    expect(shop(query('customer', [perCustomer, 'customer.customer_count']))).toEqual([
      { n: 2, customer_count: 1 },
      { n: 1, customer_count: 1 },
      { n: 0, customer_count: 1 },
    ]);
    // Over the rows its filters keep (the query's own filters do not apply to it).
    expect(
      shop(query('customer', [{ ...perCustomer, filters: [shipped] }, 'customer.customer_count'])),
    ).toEqual([
      { n: 1, customer_count: 2 },
      { n: 0, customer_count: 1 },
    ]);
  });

  it('gives NULL, not 0, where the query has no row of the per source', () => {
    const perCustomer: RefSelectedField = { field: 'orders.order_count', per: 'customer', as: 'n' };
    expect(shop(query('orders', ['orders.id', perCustomer]))).toEqual([
      { id: 10, n: 2 },
      { id: 11, n: 2 },
      { id: 12, n: 1 },
      { id: 13, n: null },
      { id: 14, n: null },
    ]);
    // Filtered on: a WHERE on the value; NULL does not match, not even `lt`.
    expect(orderIds([{ field: 'orders.order_count', per: 'customer', op: 'lt', value: 5 }])).toEqual([
      10, 11, 12,
    ]);
  });

  it('filters on a measure per a source, inside not and any', () => {
    const count: RefFilter = { field: 'orders.order_count', per: 'customer', op: 'equals', value: 0 };
    expect(names([count])).toEqual(['C%y']);
    expect(names([{ not: { field: 'orders.order_count', per: 'customer', op: 'gt', value: 1 } }])).toEqual([
      'bob',
      'C%y',
    ]);
    const shippedCount: RefFilter = {
      field: 'orders.order_count',
      per: 'customer',
      filters: [shipped],
      op: 'equals',
      value: 1,
    };
    expect(names([{ any: [count, shippedCount] }])).toEqual(['Ann', 'bob', 'C%y']);
    expect(names([{ all: [shippedCount, { field: 'customer.name', op: 'equals', value: 'bob' }] }])).toEqual([
      'bob',
    ]);
  });

  it('compares a field with the measure per the row of a source, times a factor; NULL without that row', () => {
    const half: RefFilter = {
      field: 'orders.amount',
      op: 'gt',
      grain: { measure: 'orders.total_amount', per: 'customer', times: 0.5 },
    };
    // Customer 1: 20 / 2 = 10 (order 11 above it); customer 2: 3.5 (order 12); 13 and 14: NULL.
    expect(orderIds([half])).toEqual([11, 12]);
    expect(orderIds([{ not: half }])).toEqual([10]);
  });

  it('compares a field with the measure over all rows its filters keep', () => {
    const maxOpen: RefFilter = {
      field: 'orders.amount',
      op: 'gte',
      grain: {
        measure: 'orders.max_amount',
        filters: [{ field: 'orders.status', op: 'equals', value: 'open' }],
      },
    };
    expect(orderIds([maxOpen])).toEqual([11, 13]);
    // Over no rows: NULL, nothing matches.
    const none: RefFilter = {
      field: 'orders.amount',
      op: 'lte',
      grain: {
        measure: 'orders.max_amount',
        filters: [{ field: 'orders.status', op: 'equals', value: 'x' }],
      },
    };
    expect(orderIds([none])).toEqual([]);
  });

  it('aggregates the measure per row of a groupBy source (rows without one, and rows of it without measure rows, left out)', () => {
    // Totals per customer: 20 and 7 (customer 3 has none; orders 13 and 14 are in no group).
    const lowest: RefFilter = {
      field: 'orders.amount',
      op: 'equals',
      grain: { measure: 'orders.total_amount', groupBy: 'customer', aggregate: 'min' },
    };
    expect(orderIds([lowest])).toEqual([12]);
    const average: RefFilter = {
      field: 'orders.total_amount',
      op: 'gte',
      grain: { measure: 'orders.total_amount', groupBy: 'customer', aggregate: 'avg' },
    };
    expect(shop(query('customer', ['customer.name', 'orders.total_amount'], [average]))).toEqual([
      { name: 'Ann', total_amount: 20 },
    ]);
  });

  it('compares a measure with the measure over all rows in a HAVING', () => {
    // All orders: 128; times 0.125 = 16.
    const share: RefFilter = {
      field: 'orders.total_amount',
      op: 'gt',
      grain: { measure: 'orders.total_amount', times: 0.125 },
    };
    expect(shop(query('customer', ['customer.name', 'orders.total_amount'], [share]))).toEqual([
      { name: 'Ann', total_amount: 20 },
    ]);
    const perSource: RefFilter = { ...share, grain: { measure: 'orders.total_amount', per: 'customer' } };
    expect(() => shop(query('customer', ['customer.name', 'orders.total_amount'], [perSource]))).toThrow(
      /a group has no such row/,
    );
  });

  it('rejects a per source the measure does not join to-one directly', () => {
    const perOrders: RefSelectedField = { field: 'customer.customer_count', per: 'orders', as: 'n' };
    expect(() => shop(query('orders', [perOrders]))).toThrow(/one-to-many/);
  });

  it('matches like patterns case-sensitively, with escaped wildcards', () => {
    const like = (value: string): Value[] => names([{ field: 'customer.name', op: 'like', value }]);
    expect(like('b%')).toEqual(['bob']);
    expect(like('_nn')).toEqual(['Ann']);
    expect(like('a%')).toEqual([]);
    expect(like('C%')).toEqual(['C%y']);
    expect(like('%\\%%')).toEqual(['C%y']);
    expect(like('%\\_%')).toEqual([]);
    expect(like('%')).toEqual(['Ann', 'bob', 'C%y']);
  });
});

// ---------------------------------------------------------------------------
// The random scenario generator
// ---------------------------------------------------------------------------

/** Tuples of a join side's key values must be unique among rows with no NULL in the key. */
function isUniqueOn(rows: Row[], columns: string[]): boolean {
  const keys = rows
    .map((row) => columns.map((c) => row[c] ?? null))
    .filter((key) => key.every((v) => v !== null))
    .map((key) => JSON.stringify(key));
  return new Set(keys).size === keys.length;
}

/** Violations of the declared relationships and primary keys in a scenario's (latest-view) data. */
function relationshipViolations(scenario: Scenario): string[] {
  const rowsOf = (name: string): Row[] => {
    const source = scenario.sources.find((s) => s.name === name);
    if (!source) throw new Error(`unknown source ${name}`);
    return readSourceRows(source, scenario.tables).map((r) => r.values);
  };
  const violations: string[] = [];
  for (const source of scenario.sources) {
    if (!isUniqueOn(rowsOf(source.name), source.primaryKey ?? []))
      violations.push(`${source.name}: primary key`);
    for (const join of source.joins) {
      const mine = Object.keys(join.on);
      const theirs = Object.values(join.on);
      const oneHere = join.relationship !== 'many_to_one';
      const oneThere = join.relationship !== 'one_to_many';
      if (oneHere && !isUniqueOn(rowsOf(source.name), mine))
        violations.push(`${source.name} -> ${join.to}: this side`);
      if (oneThere && !isUniqueOn(rowsOf(join.to), theirs))
        violations.push(`${source.name} -> ${join.to}: other side`);
    }
  }
  return violations;
}

function isJoinTree(sources: RefSource[]): boolean {
  const edges = sources.flatMap((s) => s.joins.map((j) => [s.name, j.to] as const));
  const reached = new Set([sources[0]?.name]);
  for (let round = 0; round < sources.length; round++) {
    for (const [a, b] of edges) {
      if (reached.has(a) || reached.has(b)) reached.add(a).add(b);
    }
  }
  return edges.length === sources.length - 1 && reached.size === sources.length;
}

/** Whether some row of a one_to_many join's parent side has two or more related rows. */
function hasRepeatedParentRow(scenario: Scenario): boolean {
  return scenario.sources.some((source) =>
    source.joins.some((join) => {
      if (join.relationship === 'one_to_one') return false;
      const manySide = join.relationship === 'one_to_many' ? join.to : source.name;
      const columns = join.relationship === 'one_to_many' ? Object.values(join.on) : Object.keys(join.on);
      const many = scenario.sources.find((s) => s.name === manySide);
      if (!many) return false;
      const keys = readSourceRows(many, scenario.tables)
        .map((r) => JSON.stringify(columns.map((c) => r.values[c] ?? null)))
        .filter((key) => !key.includes('null'));
      return new Set(keys).size < keys.length;
    }),
  );
}

/** Whether the join path from source `a` to source `b` takes a one_to_many step (repeats `a`'s rows). */
function joinPathFansOut(sources: RefSource[], a: string, b: string): boolean {
  const steps = sources.flatMap((s) =>
    s.joins.flatMap((j) => [
      { from: s.name, to: j.to, fansOut: j.relationship === 'one_to_many' },
      { from: j.to, to: s.name, fansOut: j.relationship === 'many_to_one' },
    ]),
  );
  const reached = new Map<string, boolean>([[a, false]]);
  const queue = [a];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    for (const step of steps.filter((s) => s.from === node && !reached.has(s.to))) {
      reached.set(step.to, (reached.get(node) ?? false) || step.fansOut);
      queue.push(step.to);
    }
  }
  return reached.get(b) ?? false;
}

describe('arbitraryScenario', () => {
  it('produces scenarios the oracle evaluates, with data honouring the relationships', () => {
    fc.assert(
      fc.property(arbitraryScenario(), (scenario) => {
        expect(scenario.sources.length).toBeGreaterThanOrEqual(2);
        expect(scenario.sources.length).toBeLessThanOrEqual(5);
        expect(isJoinTree(scenario.sources)).toBe(true);
        expect(relationshipViolations(scenario)).toEqual([]);
        expect(scenario.input.fields.length).toBeGreaterThanOrEqual(1);
        expect(scenario.input.fields.length).toBeLessThanOrEqual(4);
        expect(scenario.input.filters.length).toBeLessThanOrEqual(3);
        const names = outputColumnNames(scenario.input.fields);
        expect(new Set(names).size).toBe(names.length);
        const rows = evaluateReference(scenario.sources, scenario.input, scenario.tables);
        for (const row of rows) expect(Object.keys(row)).toEqual(names);
      }),
      { numRuns: 400 },
    );
  });

  it('covers the features the compiler must get right', () => {
    const samples = fc.sample(arbitraryScenario(), { numRuns: 600, seed: 20240601 });
    const leaves = (f: RefFilter): RefFilter[] => ('field' in f ? [f] : innerFilters(f).flatMap(leaves));
    const groups = (f: RefFilter): RefFilter[] => [f, ...innerFilters(f).flatMap(groups)];
    const has = (s: Scenario, p: (f: RefFilter) => boolean) => s.input.filters.flatMap(groups).some(p);
    const isMeasureRef = (s: Scenario, ref: string): boolean =>
      s.sources.some((src) => src.measures.some((m) => `${src.name}.${m.name}` === ref));
    const seen = (predicate: (s: Scenario) => boolean): number => samples.filter(predicate).length;
    const grainLeaves = (s: Scenario): RefLeafFilter[] =>
      s.input.filters.flatMap(leaves).filter((f): f is RefLeafFilter => 'grain' in f);
    const counts = {
      cdc: seen((s) => s.sources.some((src) => src.cdc)),
      derived: seen((s) => s.sources.some((src) => src.measures.some((m) => 'expression' in m))),
      measureFilter: seen((s) =>
        s.sources.some((src) => src.measures.some((m) => 'filter' in m && m.filter)),
      ),
      selectedMeasure: seen((s) => s.input.fields.some((f) => isMeasureRef(s, f.field))),
      granularity: seen((s) => s.input.fields.some((f) => f.granularity)),
      anyGroup: seen((s) => s.input.filters.some((f) => 'any' in f)),
      allInsideAny: seen((s) => has(s, (f) => 'any' in f && f.any.some((i) => 'all' in i))),
      not: seen((s) => has(s, (f) => 'not' in f)),
      notOfGroup: seen((s) => has(s, (f) => 'not' in f && !('field' in f.not))),
      nestedThreeDeep: seen((s) =>
        has(s, (f) => innerFilters(f).some((i) => innerFilters(i).some((j) => innerFilters(j).length > 0))),
      ),
      having: seen((s) =>
        s.input.filters.flatMap(leaves).some((f) => 'field' in f && isMeasureRef(s, f.field)),
      ),
      filterOnly: seen((s) => {
        const contributing = new Set(s.input.fields.map((f) => f.field.split('.')[0]));
        return s.input.filters
          .flatMap(leaves)
          .some((f) => 'field' in f && !contributing.has(f.field.split('.')[0]));
      }),
      renamed: seen((s) => s.input.fields.some((f) => f.as !== undefined)),
      sourceFieldName: seen((s) =>
        outputColumnNames(s.input.fields).some(
          (n, i) => n.includes('_') && !s.input.fields[i]?.field.endsWith(`.${n}`),
        ),
      ),
      comparison: seen((s) => s.input.filters.flatMap(leaves).some((f) => 'other' in f)),
      comparisonAcrossSources: seen((s) =>
        s.input.filters
          .flatMap(leaves)
          .some((f) => 'other' in f && f.other?.split('.')[0] !== f.field.split('.')[0]),
      ),
      comparisonOnFilterOnly: seen((s) => {
        const contributing = new Set(s.input.fields.map((f) => f.field.split('.')[0]));
        return s.input.filters
          .flatMap(leaves)
          .some((f) => 'other' in f && !contributing.has(f.field.split('.')[0]));
      }),
      comparisonUnderNot: seen((s) => has(s, (f) => 'not' in f && leaves(f.not).some((l) => 'other' in l))),
      measureComparison: seen((s) =>
        s.input.filters.flatMap(leaves).some((f) => 'other' in f && isMeasureRef(s, f.field)),
      ),
      nonEmptyResult: seen((s) => evaluateReference(s.sources, s.input, s.tables).length > 0),
      like: seen((s) => s.input.filters.flatMap(leaves).some((f) => 'op' in f && f.op === 'like')),
      grainPer: seen((s) => grainLeaves(s).some((f) => f.grain?.per !== undefined)),
      grainAllRows: seen((s) =>
        grainLeaves(s).some((f) => f.grain?.per === undefined && f.grain?.groupBy === undefined),
      ),
      grainGroupBy: seen((s) => grainLeaves(s).some((f) => f.grain?.groupBy !== undefined)),
      grainTimes: seen((s) => grainLeaves(s).some((f) => f.grain?.times !== undefined)),
      grainFilters: seen((s) => grainLeaves(s).some((f) => f.grain?.filters !== undefined)),
      grainUnderNot: seen((s) => has(s, (f) => 'not' in f && leaves(f.not).some((l) => 'grain' in l))),
      grainHaving: seen((s) => grainLeaves(s).some((f) => isMeasureRef(s, f.field))),
      grainMatches: seen(
        (s) => grainLeaves(s).length > 0 && evaluateReference(s.sources, s.input, s.tables).length > 0,
      ),
      perFilter: seen((s) => s.input.filters.flatMap(leaves).some((f) => 'per' in f)),
      perFilterInTree: seen((s) => has(s, (f) => !('field' in f) && leaves(f).some((l) => 'per' in l))),
      perDimension: seen((s) => s.input.fields.some((f) => f.per !== undefined)),
      perDimensionFiltered: seen((s) => s.input.fields.some((f) => f.filters !== undefined)),
      perDimensionWithoutMeasure: seen(
        (s) =>
          s.input.fields.some((f) => f.per !== undefined) &&
          !s.input.fields.some((f) => f.per === undefined && isMeasureRef(s, f.field)),
      ),
      relatedValue: seen((s) => usedMeasures(s).some((m) => typeof m.sql === 'object')),
      relatedFilter: seen((s) => usedMeasures(s).some((m) => typeof m.filter?.field === 'object')),
      ...(LOOKUP_VIA
        ? {
            relatedVia: seen((s) =>
              usedMeasures(s).some((m) =>
                [m.sql, m.filter?.field].some((f) => typeof f === 'object' && f.via),
              ),
            ),
          }
        : {}),
    };
    for (const [feature, count] of Object.entries(counts)) {
      expect(count, feature).toBeGreaterThanOrEqual(10);
    }
  });

  it('is biased toward the fan-out cases that catch planner bugs', () => {
    const samples = fc.sample(arbitraryScenario(), { numRuns: 400, seed: 7 });
    const leaves = (f: RefFilter): RefFilter[] => ('field' in f ? [f] : innerFilters(f).flatMap(leaves));
    const counts = {
      // Some parent row has two or more child rows: a join repeats it.
      repeatedParentRow: samples.filter(hasRepeatedParentRow).length,
      // A sum/count measure of a source whose rows the join to a selected dimension's source repeats.
      measureRepeatedByDimension: samples.filter((s) => {
        const selected = s.input.fields.map((f) => f.field.split('.') as [string, string]);
        const measureSources = selected
          .filter(([src, name]) =>
            s.sources.some(
              (x) =>
                x.name === src &&
                x.measures.some(
                  (m) => m.name === name && 'aggregate' in m && ['sum', 'count'].includes(m.aggregate),
                ),
            ),
          )
          .map(([src]) => src);
        const dimensionSources = selected
          .filter(([src, name]) =>
            s.sources.some((x) => x.name === src && x.fields.some((f) => f.name === name)),
          )
          .map(([src]) => src);
        return measureSources.some((m) => dimensionSources.some((d) => joinPathFansOut(s.sources, m, d)));
      }).length,
      // `is_null` on a source that contributes no selected field and that the root fans out to.
      isNullOnFilterOnlyFanOut: samples.filter((s) => {
        const contributing = new Set(s.input.fields.map((f) => f.field.split('.')[0]));
        return s.input.filters.flatMap(leaves).some((f) => {
          if (!('op' in f) || f.op !== 'is_null') return false;
          const source = f.field.split('.')[0] ?? '';
          return !contributing.has(source) && joinPathFansOut(s.sources, s.input.from, source);
        });
      }).length,
    };
    // The unbiased generator gave about 170, 35 and 15 of 400; a planner that skipped the
    // de-duplication of fan-out measures then went unnoticed for hundreds of runs.
    expect(counts.repeatedParentRow, 'repeatedParentRow').toBeGreaterThanOrEqual(240);
    expect(counts.measureRepeatedByDimension, 'measureRepeatedByDimension').toBeGreaterThanOrEqual(80);
    expect(counts.isNullOnFilterOnlyFanOut, 'isNullOnFilterOnlyFanOut').toBeGreaterThanOrEqual(40);
  });

  it('renders source and input YAML that parses back to the same definitions', () => {
    fc.assert(
      fc.property(arbitraryScenario(), (scenario) => {
        for (const source of scenario.sources) {
          const parsed: unknown = parse(toSourceYaml(source, scenario.sources));
          expect(parsed).toMatchObject({
            name: source.name,
            table: source.table,
            primaryKey: source.primaryKey,
            fields: source.fields,
            ...(source.joins.length > 0 ? { joins: source.joins } : {}),
          });
        }
        const parsedInput: unknown = parse(toInputYaml('q', scenario.input));
        expect(parsedInput).toEqual({
          name: 'q',
          from: scenario.input.from,
          fields: scenario.input.fields.map((f) =>
            f.as === undefined && f.granularity === undefined
              ? f.field
              : { ...f, ...(f.filters ? { filters: f.filters.map(asWritten) } : {}) },
          ),
          ...(scenario.input.filters.length > 0 ? { filters: scenario.input.filters.map(asWritten) } : {}),
        });
      }),
      { numRuns: 150 },
    );
  });

  it('renders measures the way the spec writes them', () => {
    const yaml = toSourceYaml({
      ...movie,
      measures: [
        { name: 'active', aggregate: 'count', filter: { field: 'status', equals: "it's" } },
        { name: 'per', expression: { op: '/', left: 'total', right: 'production.n' } },
      ],
    });
    expect(yaml).toContain(`filter: "status = 'it''s'"`);
    expect(yaml).toContain('expression: "{total} / NULLIF({production.n}, 0)"');
    const input = toInputYaml(
      'q',
      query('movie', ['movie.title'], [], { sort: [{ field: 'title', direction: 'desc' }], limit: 5 }),
    );
    expect(parse(input)).toEqual({
      name: 'q',
      from: 'movie',
      fields: ['movie.title'],
      sort: [{ field: 'movie.title', direction: 'desc' }],
      limit: 5,
    });
  });

  it('creates tables whose rows read back identically in DuckDB', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const scenarios = fc.sample(arbitraryScenario(), { numRuns: 25, seed: 99 });
      for (const scenario of scenarios) {
        for (const source of scenario.sources) {
          const rows = scenario.tables[source.table] ?? [];
          for (const statement of toCreateTableSql(source, rows, 'duckdb')) await connection.run(statement);
          const readBack = await connection.runAndReadAll(readBackSql(source, rows));
          expect(readBack.getRowObjectsJson()).toEqual(rows);
        }
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

/** SELECT that renders each column back to the oracle's value representation, in insertion order. */
function readBackSql(source: RefSource, rows: Row[]): string {
  const columns = Object.keys(rows[0] ?? Object.fromEntries(source.fields.map((f) => [f.name, null])));
  const types = new Map(source.fields.map((f) => [f.name, f.type]));
  const render = (column: string): string => {
    const type =
      types.get(column) ?? (column === '_op_ts' ? 'timestamp' : column === '_seq' ? 'integer' : 'string');
    const quoted = `"${column}"`;
    if (type === 'timestamp') return `strftime(${quoted}, '%Y-%m-%dT%H:%M:%S.%gZ') AS ${quoted}`;
    if (type === 'date') return `CAST(${quoted} AS VARCHAR) AS ${quoted}`;
    if (type === 'integer' || type === 'decimal' || type === 'number')
      return `CAST(${quoted} AS DOUBLE) AS ${quoted}`;
    return quoted;
  };
  const order = rows.length > 0 && '_seq' in (rows[0] ?? {}) ? '"_seq"' : '"id"';
  return `SELECT ${columns.map(render).join(', ')} FROM ${source.table
    .split('.')
    .map((p) => `"${p}"`)
    .join('.')} ORDER BY ${order}`;
}

/** The aggregate measures an input selects or filters on (derived measures' operands not followed). */
function usedMeasures(s: Scenario): RefAggregateMeasure[] {
  const leaves = (f: RefFilter): string[] =>
    'field' in f ? [f.field, ...(f.other ? [f.other] : [])] : innerFilters(f).flatMap(leaves);
  const refs = new Set([...s.input.fields.map((f) => f.field), ...s.input.filters.flatMap(leaves)]);
  return s.sources.flatMap((src) =>
    src.measures.filter(
      (m): m is RefAggregateMeasure => 'aggregate' in m && refs.has(`${src.name}.${m.name}`),
    ),
  );
}

/** A filter as the input YAML writes it: the model's `other` is `valueFrom:`. */
function asWritten(filter: RefFilter): unknown {
  if ('not' in filter) return { not: asWritten(filter.not) };
  if ('any' in filter) return { any: filter.any.map(asWritten) };
  if ('all' in filter) return { all: filter.all.map(asWritten) };
  const { other, grain, filters, ...rest } = filter;
  return {
    ...rest,
    ...(filters === undefined ? {} : { filters: filters.map(asWritten) }),
    ...(other === undefined ? {} : { valueFrom: other }),
    ...(grain === undefined
      ? {}
      : { valueFrom: { ...grain, ...(grain.filters ? { filters: grain.filters.map(asWritten) } : {}) } }),
  };
}
