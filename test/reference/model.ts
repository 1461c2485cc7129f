// Minimal, spec-shaped types for the reference oracle (SPEC.md sections 2-4).
// They mirror parsed YAML: plain objects, no defaults filled in, no SQL.

/** A cell value. Dates are 'YYYY-MM-DD', timestamps 'YYYY-MM-DDTHH:MM:SS.sssZ'. */
export type Value = string | number | boolean | null;

export type Row = Record<string, Value>;

/** Physical tables by name (`schema.table`), each a list of rows keyed by column. */
export type Tables = Record<string, Row[]>;

export type FieldType = 'string' | 'integer' | 'decimal' | 'number' | 'boolean' | 'date' | 'timestamp';

export const FIELD_TYPES: readonly FieldType[] = [
  'string',
  'integer',
  'decimal',
  'number',
  'boolean',
  'date',
  'timestamp',
];

export type AggregateKind = 'count' | 'count_distinct' | 'sum' | 'avg' | 'min' | 'max';

export type ArithmeticOp = '+' | '-' | '*' | '/';

export type Relationship = 'many_to_one' | 'one_to_one' | 'one_to_many';

export type Granularity = 'day' | 'week' | 'month' | 'quarter' | 'year';

export const GRANULARITIES: readonly Granularity[] = ['day', 'week', 'month', 'quarter', 'year'];

/** A field is the physical column of the same name (no `sql`). */
export interface RefField {
  name: string;
  type: FieldType;
}

/**
 * A field a measure reads: a field name of the measure's own source, or a field of a source
 * reached from it by many-to-one / one-to-one joins only (written `{via….source.field}`): each
 * row of the measure's source has at most one such row, and NULL when it has none.
 */
export type RefMeasureField = string | RefRelatedField;

export interface RefRelatedField {
  source: string;
  field: string;
  /** Sources the to-one path passes through, in order (`{via1.via2.source.field}`). */
  via?: string[];
}

export interface RefAggregateMeasure {
  name: string;
  aggregate: AggregateKind;
  /** The field it aggregates; absent only for `count` (count rows). */
  sql?: RefMeasureField;
  /** Conditional aggregate: only rows whose `field` equals `equals` (SQL `=`, so never NULL). */
  filter?: { field: RefMeasureField; equals: Value };
}

export interface RefDerivedMeasure {
  name: string;
  /** Operands are measure references: `m` (same source) or `source.m`. */
  expression: { op: ArithmeticOp; left: string; right: string };
}

export type RefMeasure = RefAggregateMeasure | RefDerivedMeasure;

export interface RefJoin {
  to: string;
  relationship: Relationship;
  /** This source's field -> the other source's field. */
  on: Record<string, string>;
}

export interface RefCdc {
  /** Latest row per primary key = greatest tuple of these columns. */
  orderBy: string[];
  /** Value of the `_op` column that marks a delete. */
  deletedOp: string;
}

export interface RefSource {
  name: string;
  table: string;
  primaryKey?: string[];
  cdc?: RefCdc;
  fields: RefField[];
  measures: RefMeasure[];
  joins: RefJoin[];
}

export interface RefSelectedField {
  /** `source.field` or `source.measure`. */
  field: string;
  as?: string;
  granularity?: Granularity;
  /**
   * A measure as a dimension: its value per the query's row of this source (a source the
   * measure's source joins many-to-one directly); NULL without that row, 0 for a count over no rows.
   */
  per?: string;
  /** With `per`: the rows the measure is computed over, an input's filters from the measure's source. */
  filters?: RefFilter[];
}

export type GrainAggregate = 'max' | 'min' | 'avg' | 'sum';

/**
 * A measure at another grain (`valueFrom: { measure, per, groupBy, aggregate, times, filters }`):
 * computed on its own from the measure's source over the rows `filters` keep; per the query's
 * row of `per`, or over all rows, or per row of `groupBy` then `aggregate` of those values.
 */
export interface RefGrainMeasure {
  /** `source.measure` (an aggregate measure). */
  measure: string;
  per?: string;
  groupBy?: string;
  aggregate?: GrainAggregate;
  times?: number;
  filters?: RefFilter[];
}

export type FilterOp =
  | 'equals'
  | 'not_equals'
  | 'in'
  | 'not_in'
  | 'gt'
  | 'gte'
  | 'lt'
  | 'lte'
  | 'between'
  | 'contains'
  | 'starts_with'
  | 'ends_with'
  | 'like'
  | 'is_null'
  | 'is_not_null';

export interface RefLeafFilter {
  /** `source.field`; a `source.measure` makes it a HAVING filter. */
  field: string;
  op: FilterOp;
  value?: Value;
  values?: Value[];
  /**
   * A comparison of two fields (or two measures): `source.field` of the other side, written
   * `valueFrom:` in the input (named otherwise here: every object inherits a `valueFrom`).
   */
  other?: string;
  /** A comparison with a measure at another grain (also written `valueFrom:`). */
  grain?: RefGrainMeasure;
  /**
   * On a measure: its value per the query's row of this source (a WHERE on that value, not a
   * HAVING), over the rows `filters` keep.
   */
  per?: string;
  filters?: RefFilter[];
}

export interface RefAnyFilter {
  any: RefFilter[];
}

export interface RefAllFilter {
  all: RefFilter[];
}

export interface RefNotFilter {
  not: RefFilter;
}

export type RefFilter = RefLeafFilter | RefAnyFilter | RefAllFilter | RefNotFilter;

export interface RefSort {
  /** An output column name. */
  field: string;
  direction: 'asc' | 'desc';
}

export interface RefInput {
  from: string;
  fields: RefSelectedField[];
  filters: RefFilter[];
  sort?: RefSort[];
  limit?: number;
}

export interface Scenario {
  sources: RefSource[];
  input: RefInput;
  tables: Tables;
}

export function isDerivedMeasure(measure: RefMeasure): measure is RefDerivedMeasure {
  return 'expression' in measure;
}

export function isAnyFilter(filter: RefFilter): filter is RefAnyFilter {
  return 'any' in filter;
}

export function isAllFilter(filter: RefFilter): filter is RefAllFilter {
  return 'all' in filter;
}

export function isNotFilter(filter: RefFilter): filter is RefNotFilter {
  return 'not' in filter;
}

export function isLeafFilter(filter: RefFilter): filter is RefLeafFilter {
  return 'field' in filter;
}

/** The filters directly inside a group (`any`, `all`, `not`); none for a leaf. */
export function innerFilters(filter: RefFilter): RefFilter[] {
  if (isAnyFilter(filter)) return filter.any;
  if (isAllFilter(filter)) return filter.all;
  return isNotFilter(filter) ? [filter.not] : [];
}

export function isRelatedField(field: RefMeasureField): field is RefRelatedField {
  return typeof field !== 'string';
}
