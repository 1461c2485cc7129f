/**
 * The typed API (spec §11), generated from the definitions for one set of roles: a query
 * field per source, its fields and measures as typed GraphQL fields, its joins as nested
 * fields (an object for a to-one join, a list for a one-to-many), and `where` / `orderBy` /
 * `limit` / `offset`. Only what the roles may read is in it, so introspection shows nothing
 * else. Resolving happens once per top-level field (see resolve-typed.ts).
 */
import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLFieldConfigMap,
  type GraphQLInputFieldConfigMap,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLScalarType,
} from 'graphql';
import type { FieldType } from '../core/definitions/schema.js';
import type { JoinEdge, MemberModel, SourceModel } from '../core/model/types.js';
import type { ApiContext } from './context.js';
import { STATEMENT_COST } from './limits.js';
import { resolveSourceQuery } from './resolve-typed.js';
import { DateScalar, DecimalScalar, LongScalar, TimestampScalar } from './scalars.js';
import type { Visibility } from './visibility.js';

/** What a GraphQL field of a source's object type stands for. */
export type TypedField =
  | { kind: 'member'; member: MemberModel }
  | { kind: 'join'; edge: JoinEdge; target: SourceModel; list: boolean };

/** A source's object type, with the way back from its GraphQL fields to the model. */
export interface SourceType {
  source: SourceModel;
  object: GraphQLObjectType;
  where: GraphQLInputObjectType;
  orderBy: GraphQLInputObjectType;
  fields: Map<string, TypedField>;
  /** The where-input's fields that nest through a join, by name. */
  whereJoins: Map<string, { edge: JoinEdge; target: SourceModel }>;
}

const SCALARS: Record<FieldType, GraphQLScalarType> = {
  string: GraphQLString,
  integer: LongScalar,
  decimal: DecimalScalar,
  number: GraphQLFloat,
  boolean: GraphQLBoolean,
  date: DateScalar,
  timestamp: TimestampScalar,
};

export const SortDirection = new GraphQLEnumType({
  name: 'SortDirection',
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } },
});

/** `movie_talent` -> `MovieTalent`. */
export function typeName(source: string): string {
  return source.replace(/(^|_)([a-z0-9])/g, (_m, _u, c: string) => c.toUpperCase());
}

/** Filter inputs per scalar: the ops of spec §3 that apply to the type. */
class FilterInputs {
  private readonly byType = new Map<FieldType, GraphQLInputObjectType>();

  for(type: FieldType): GraphQLInputObjectType {
    let input = this.byType.get(type);
    if (!input) {
      input = filterInput(type);
      this.byType.set(type, input);
    }
    return input;
  }
}

function filterInput(type: FieldType): GraphQLInputObjectType {
  const scalar = SCALARS[type];
  const list = new GraphQLList(new GraphQLNonNull(scalar));
  const fields: GraphQLInputFieldConfigMap = {
    equals: { type: scalar },
    not_equals: { type: scalar },
    in: { type: list },
    not_in: { type: list },
    is_null: { type: GraphQLBoolean, description: 'true: is null; false: is not null' },
  };
  if (type !== 'boolean') {
    for (const op of ['gt', 'gte', 'lt', 'lte'] as const) fields[op] = { type: scalar };
    fields.between = { type: list, description: '[low, high], inclusive' };
  }
  if (type === 'string') {
    for (const op of ['contains', 'starts_with', 'ends_with'] as const)
      fields[op] = { type: GraphQLString, description: 'case-insensitive' };
    fields.like = {
      type: GraphQLString,
      description: 'a LIKE pattern: % any characters, _ one, \\ before either for itself',
    };
  }
  if (type === 'date' || type === 'timestamp') {
    fields.in_last = { type: GraphQLString, description: '"90 days", "2 weeks", "3 months", "1 year"' };
    fields.in_next = { type: GraphQLString, description: '"90 days", "2 weeks", "3 months", "1 year"' };
  }
  return new GraphQLInputObjectType({ name: `${typeName(type)}Filter`, fields });
}

export interface TypedApi {
  queryFields: GraphQLFieldConfigMap<unknown, ApiContext>;
  types: Map<string, SourceType>;
}

/**
 * The typed query fields and their types for what `visibility` shows. `taken` holds names
 * already used on Query (the generic API's): a source named like one gets `<name>_rows`.
 */
export function buildTypedApi(visibility: Visibility, taken: ReadonlySet<string>): TypedApi {
  const types = new Map<string, SourceType>();
  const filters = new FilterInputs();
  const sourceTypeOf = (source: SourceModel): SourceType => types.get(source.name)!;
  for (const source of visibility.sources())
    types.set(source.name, sourceType(source, visibility, filters, sourceTypeOf));
  const queryFields: GraphQLFieldConfigMap<unknown, ApiContext> = {};
  for (const [name, type] of types) {
    const field = taken.has(name) ? `${name}_rows` : name;
    queryFields[field] = {
      extensions: STATEMENT_COST,
      type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(type.object))),
      description: type.source.description ?? `Rows of ${name}.`,
      args: listArguments(type),
      resolve: (_root, args: ListArguments, context: ApiContext, info) =>
        resolveSourceQuery(type, args, context, info, types),
    };
  }
  return { queryFields, types };
}

export interface ListArguments {
  where?: WhereValue;
  orderBy?: { field: string; direction: 'asc' | 'desc' }[];
  limit?: number;
  offset?: number;
}

/** A `<Source>Where` value: field filters, joins' wheres, AND / OR lists, NOT. */
export interface WhereValue {
  AND?: WhereValue[];
  OR?: WhereValue[];
  NOT?: WhereValue;
  [field: string]: unknown;
}

function listArguments(type: SourceType) {
  return {
    where: { type: type.where },
    orderBy: { type: new GraphQLList(new GraphQLNonNull(type.orderBy)) },
    limit: { type: GraphQLInt },
    offset: { type: GraphQLInt },
  };
}

function sourceType(
  source: SourceModel,
  visibility: Visibility,
  filters: FilterInputs,
  typeOf: (source: SourceModel) => SourceType,
): SourceType {
  const name = typeName(source.name);
  const members = visibility.members(source);
  const fields = new Map<string, TypedField>();
  for (const member of members) fields.set(member.name, { kind: 'member', member });
  const whereJoins = new Map<string, { edge: JoinEdge; target: SourceModel }>();
  for (const edge of visibility.joins(source)) {
    const target = visibility.model.sources.get(edge.to)!;
    const field = fields.has(edge.to) ? `${edge.to}_join` : edge.to;
    fields.set(field, { kind: 'join', edge, target, list: edge.relationship === 'one_to_many' });
    whereJoins.set(field, { edge, target });
  }
  const memberField = new GraphQLEnumType({
    name: `${name}Field`,
    values: Object.fromEntries(members.map((m) => [m.name, { value: m.name }])),
  });
  const type: SourceType = {
    source,
    fields,
    whereJoins,
    object: new GraphQLObjectType<unknown, ApiContext>({
      name,
      ...(source.description ? { description: source.description } : {}),
      fields: () => objectFields(fields, typeOf),
    }),
    where: new GraphQLInputObjectType({
      name: `${name}Where`,
      description: `Conditions on ${source.name}: every field given must hold; AND and OR combine conditions, NOT negates them (a comparison with null stays unmatched); a join's where holds on some related row.`,
      fields: (): GraphQLInputFieldConfigMap => ({
        AND: { type: new GraphQLList(new GraphQLNonNull(type.where)) },
        OR: { type: new GraphQLList(new GraphQLNonNull(type.where)) },
        NOT: { type: type.where },
        ...Object.fromEntries(
          members.map((m) => [m.name, { type: filters.for(m.type) as GraphQLInputType }]),
        ),
        ...Object.fromEntries([...whereJoins].map(([field, j]) => [field, { type: typeOf(j.target).where }])),
      }),
    }),
    orderBy: new GraphQLInputObjectType({
      name: `${name}OrderBy`,
      fields: {
        field: { type: new GraphQLNonNull(memberField) },
        direction: { type: SortDirection, defaultValue: 'asc' },
      },
    }),
  };
  return type;
}

function objectFields(
  fields: Map<string, TypedField>,
  typeOf: (source: SourceModel) => SourceType,
): GraphQLFieldConfigMap<unknown, ApiContext> {
  const config: GraphQLFieldConfigMap<unknown, ApiContext> = {};
  for (const [name, field] of fields) {
    if (field.kind === 'member') {
      const member = field.member;
      config[name] = {
        type: SCALARS[member.type] as GraphQLOutputType,
        ...(member.description ? { description: member.description } : {}),
      };
    } else if (field.list) {
      const target = typeOf(field.target);
      config[name] = {
        extensions: STATEMENT_COST,
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(target.object))),
        description: `The related ${field.target.name} rows (one-to-many).`,
        args: listArguments(target),
      };
    } else {
      config[name] = {
        type: typeOf(field.target).object,
        description: `The related ${field.target.name} row (${field.edge.relationship}).`,
      };
    }
  }
  return config;
}
