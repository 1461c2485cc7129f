/** The validated semantic model: what the compiler plans against. Immutable once built. */
import type { SourceLocation } from '../diagnostics.js';
import type {
  Aggregate,
  Dialect,
  FieldType,
  InputDefinition,
  PipelineDefinition,
  Relationship,
  TrackerDefinition,
} from '../definitions/schema.js';
import type { ValuePath } from '../definitions/document.js';
import type { SqlFragment } from '../sql/fragments/fragment.js';

/** A definition's SQL, parsed: one fragment for every dialect, or one per dialect. */
export type DialectFragment =
  | { kind: 'shared'; fragment: SqlFragment }
  | { kind: 'per_dialect'; fragments: Partial<Record<Dialect, SqlFragment>> };

export interface FieldModel {
  kind: 'field';
  source: string;
  name: string;
  type: FieldType;
  /** Only when the definition gives one; the column header otherwise humanizes the column name. */
  label?: string;
  description?: string;
  format?: string;
  /** A computed field; absent means the physical column of the same name. */
  sql?: DialectFragment;
  loc: SourceLocation;
  /** Where the field is in its source's file (`['fields', i]`), to locate its keys. */
  path?: ValuePath;
}

export interface AggregateDefinition {
  kind: 'aggregate';
  aggregate: Aggregate;
  sql?: DialectFragment;
  filter?: DialectFragment;
  /** The `{source.field}` references of `sql` and `filter`: fields of sources each row has at most one of. */
  lookups?: FieldLookup[];
}

/**
 * A field of a related source that a measure's `sql` or `filter` reads, written
 * `{source.field}` or `{via.….source.field}`: the source is reached from the measure's own
 * by many-to-one (or one-to-one) joins only, so reading it never repeats a row.
 */
export interface FieldLookup {
  /** The placeholder as written, e.g. `supplier.nation.n_name`. */
  placeholder: string;
  /** Sources the join path passes through, in order (like an input's `via`). */
  via: string[];
  source: string;
  field: string;
}

/** A measure a derived expression refers to. */
export interface MeasureRef {
  source: string;
  measure: string;
}

/**
 * A derived measure: an expression over other measures. Its `{placeholders}` are listed in
 * `refs` (in the order of `expression.placeholders`), each resolved to a source and measure.
 */
export interface DerivedDefinition {
  kind: 'derived';
  expression: SqlFragment;
  refs: MeasureRef[];
}

export interface MeasureModel {
  kind: 'measure';
  source: string;
  name: string;
  type: FieldType;
  /** Only when the definition gives one; the column header otherwise humanizes the column name. */
  label?: string;
  description?: string;
  format?: string;
  definition: AggregateDefinition | DerivedDefinition;
  loc: SourceLocation;
  /** Where the measure is in its source's file (`['measures', i]`), to locate its keys. */
  path?: ValuePath;
}

export type MemberModel = FieldModel | MeasureModel;

export type SourceRelation = { kind: 'table'; path: string[] } | { kind: 'sql'; query: SqlFragment };

export interface CdcModel {
  orderBy: string[];
  deletedWhen?: SqlFragment;
}

/** A source's `access:` policy, its row filters parsed (enforced with the API, issue 8). */
export interface AccessModel {
  roles?: string[];
  fields?: Record<string, string[]>;
  rowFilters: { role: string; filter: SqlFragment }[];
}

export interface SourceModel {
  name: string;
  file: string;
  description?: string;
  owner?: string;
  relation: SourceRelation;
  primaryKey: string[];
  cdc?: CdcModel;
  fields: ReadonlyMap<string, FieldModel>;
  measures: ReadonlyMap<string, MeasureModel>;
  access?: AccessModel;
  loc: SourceLocation;
  /** Where any node of the source's file is (its `table:`, a field's `sql:`...). */
  locate?: (path: ValuePath, options?: { key?: boolean }) => SourceLocation;
  /** Where the character at `offset` of the string at `path` is written. */
  locateWithin?: (path: ValuePath, offset: number) => SourceLocation;
}

/** A join seen from one side: `relationship` is from `from` to `to`. */
export interface JoinEdge {
  from: string;
  to: string;
  relationship: Relationship;
  on: readonly { from: string; to: string }[];
  loc: SourceLocation;
}

export interface InputModel {
  name: string;
  file: string;
  definition: InputDefinition;
  locate(path: ValuePath, options?: { key?: boolean }): SourceLocation;
}

export interface PipelineModel {
  name: string;
  file: string;
  definition: PipelineDefinition;
  locate(path: ValuePath, options?: { key?: boolean }): SourceLocation;
  /** Where the character at `offset` of the string at `path` is written. */
  locateWithin(path: ValuePath, offset: number): SourceLocation;
}

export interface TrackerModel {
  name: string;
  file: string;
  definition: TrackerDefinition;
  locate(path: ValuePath, options?: { key?: boolean }): SourceLocation;
}

export interface SemanticModel {
  sources: ReadonlyMap<string, SourceModel>;
  /** Adjacency: every join, listed under both of its sources. */
  joins: ReadonlyMap<string, readonly JoinEdge[]>;
  inputs: ReadonlyMap<string, InputModel>;
  trackers: ReadonlyMap<string, TrackerModel>;
  pipelines: ReadonlyMap<string, PipelineModel>;
  /**
   * Sources whose files failed to parse: their own errors are reported, and references to
   * them stay quiet instead of repeating the problem in every input that uses them.
   */
  broken: ReadonlySet<string>;
}

export function memberOf(source: SourceModel, name: string): MemberModel | undefined {
  return source.fields.get(name) ?? source.measures.get(name);
}

export function reverseRelationship(r: Relationship): Relationship {
  return r === 'one_to_many' ? 'many_to_one' : r === 'many_to_one' ? 'one_to_many' : r;
}
