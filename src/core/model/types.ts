/** The validated semantic model: what the compiler plans against. Immutable once built. */
import type { SourceLocation } from '../diagnostics.js';
import type {
  AccessDefinition,
  Aggregate,
  DialectSql,
  FieldType,
  InputDefinition,
  Relationship,
  TrackerDefinition,
} from '../definitions/schema.js';
import type { ValuePath } from '../definitions/document.js';

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
  sql?: DialectSql;
  loc: SourceLocation;
}

export interface AggregateDefinition {
  kind: 'aggregate';
  aggregate: Aggregate;
  sql?: DialectSql;
  filter?: DialectSql;
}

/** A derived measure's expression: SQL text with references to other measures in between. */
export type ExpressionPart = string | { source: string; measure: string };

export interface DerivedDefinition {
  kind: 'derived';
  parts: ExpressionPart[];
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
}

export type MemberModel = FieldModel | MeasureModel;

export type SourceRelation = { kind: 'table'; path: string[] } | { kind: 'sql'; sql: string };

export interface CdcModel {
  orderBy: string[];
  deletedWhen?: string;
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
  access?: AccessDefinition;
  loc: SourceLocation;
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
