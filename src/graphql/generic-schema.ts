/**
 * The generic API of spec §11, which every client can use: the catalog (data sources,
 * inputs, trackers with their last runs), `compile` and `run` of a semantic query (an input
 * definition's shape, or a named input with params), and `syncTracker`. The catalog shows a
 * caller only what they may read.
 */
import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLError,
  GraphQLFloat,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLFieldConfigMap,
  type GraphQLInputType,
  type GraphQLNullableType,
} from 'graphql';
import type { OutputColumn } from '../core/compile.js';
import {
  DIALECTS,
  FILTER_OPS,
  GRANULARITIES,
  type DestinationDefinition,
} from '../core/definitions/schema.js';
import type { InputModel, JoinEdge, MemberModel, SourceModel, TrackerModel } from '../core/model/types.js';
import type { TrackerFreshness } from '../trackers/freshness.js';
import type { TrackerRun } from '../trackers/history.js';
import { destinationTarget } from '../core/trackers.js';
import type { ApiContext } from './context.js';
import { apiInput, compileForApi } from './run-input.js';
import { STATEMENT_COST } from './limits.js';
import { JsonScalar } from './scalars.js';
import { SortDirection } from './typed-schema.js';
import type { Visibility } from './visibility.js';

const nonNull = <T extends GraphQLNullableType>(type: T) => new GraphQLNonNull(type);
const listOf = <T extends GraphQLNullableType>(type: T) =>
  new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(type)));
const enumOf = (name: string, values: readonly string[]) =>
  new GraphQLEnumType({ name, values: Object.fromEntries(values.map((v) => [v, { value: v }])) });

const Dialect = enumOf('Dialect', DIALECTS);
const FilterOp = enumOf('FilterOp', FILTER_OPS);
const Granularity = enumOf('Granularity', GRANULARITIES);

const Field = new GraphQLObjectType<MemberModel>({
  name: 'Field',
  fields: {
    name: { type: nonNull(GraphQLString) },
    type: { type: nonNull(GraphQLString) },
    label: { type: GraphQLString },
    description: { type: GraphQLString },
    format: { type: GraphQLString },
  },
});

const Measure = new GraphQLObjectType<MemberModel>({
  name: 'Measure',
  fields: {
    name: { type: nonNull(GraphQLString) },
    type: { type: nonNull(GraphQLString) },
    label: { type: GraphQLString },
    description: { type: GraphQLString },
    format: { type: GraphQLString },
    aggregate: {
      type: GraphQLString,
      description: 'count, sum, ...; null for a derived measure',
      resolve: (m) =>
        m.kind === 'measure' && m.definition.kind === 'aggregate' ? m.definition.aggregate : null,
    },
  },
});

const JoinKey = new GraphQLObjectType<{ from: string; to: string }>({
  name: 'JoinKey',
  fields: { from: { type: nonNull(GraphQLString) }, to: { type: nonNull(GraphQLString) } },
});

const Join = new GraphQLObjectType<JoinEdge>({
  name: 'Join',
  fields: {
    to: { type: nonNull(GraphQLString) },
    relationship: { type: nonNull(GraphQLString) },
    on: { type: listOf(JoinKey), resolve: (j) => j.on },
  },
});

interface SourceView {
  source: SourceModel;
  visibility: Visibility;
}

const DataSource = new GraphQLObjectType<SourceView>({
  name: 'DataSource',
  fields: {
    name: { type: nonNull(GraphQLString), resolve: (v) => v.source.name },
    description: { type: GraphQLString, resolve: (v) => v.source.description ?? null },
    owner: { type: GraphQLString, resolve: (v) => v.source.owner ?? null },
    primaryKey: { type: listOf(GraphQLString), resolve: (v) => v.source.primaryKey },
    fields: {
      type: listOf(Field),
      resolve: (v) => v.visibility.members(v.source).filter((m) => m.kind === 'field'),
    },
    measures: {
      type: listOf(Measure),
      resolve: (v) => v.visibility.members(v.source).filter((m) => m.kind === 'measure'),
    },
    joins: { type: listOf(Join), resolve: (v) => v.visibility.joins(v.source) },
  },
});

const InputDefinitionType = new GraphQLObjectType<InputModel>({
  name: 'InputDefinition',
  fields: {
    name: { type: nonNull(GraphQLString) },
    description: { type: GraphQLString, resolve: (i) => i.definition.description ?? null },
    owner: { type: GraphQLString, resolve: (i) => i.definition.owner ?? null },
    from: { type: nonNull(GraphQLString), resolve: (i) => i.definition.from },
    fields: {
      type: listOf(GraphQLString),
      resolve: (i) => i.definition.fields.map((f) => (typeof f === 'string' ? f : f.field)),
    },
    params: { type: JsonScalar, resolve: (i) => i.definition.params ?? null },
  },
});

const Destination = new GraphQLObjectType<DestinationDefinition>({
  name: 'Destination',
  description: 'Where a tracker writes (credentials and ids from the environment are not shown).',
  fields: {
    type: { type: nonNull(GraphQLString) },
    mode: { type: nonNull(GraphQLString), resolve: (d) => d.mode ?? 'replace' },
    key: {
      type: new GraphQLList(nonNull(GraphQLString)),
      resolve: (d) => ('key' in d ? (d.key ?? null) : null),
    },
    target: { type: GraphQLString, resolve: destinationTarget },
  },
});

const DestinationOutcome = new GraphQLObjectType<TrackerRun['destinations'][number]>({
  name: 'DestinationOutcome',
  fields: {
    destination: { type: nonNull(GraphQLString) },
    status: { type: nonNull(GraphQLString) },
    created: { type: nonNull(GraphQLInt) },
    updated: { type: nonNull(GraphQLInt) },
    deleted: { type: nonNull(GraphQLInt) },
    unchanged: { type: nonNull(GraphQLInt) },
    apiCalls: { type: nonNull(GraphQLInt) },
    error: { type: GraphQLString },
  },
});

const TrackerRunType = new GraphQLObjectType<TrackerRun>({
  name: 'TrackerRun',
  fields: {
    id: { type: nonNull(GraphQLString) },
    tracker: { type: nonNull(GraphQLString) },
    trigger: { type: nonNull(GraphQLString) },
    status: { type: nonNull(GraphQLString) },
    startedAt: { type: nonNull(GraphQLString) },
    endedAt: { type: GraphQLString },
    rows: { type: nonNull(GraphQLInt) },
    apiCalls: { type: nonNull(GraphQLInt) },
    bytes: { type: nonNull(GraphQLFloat) },
    error: { type: GraphQLString },
    changeCheck: {
      type: GraphQLString,
      description: 'refresh: on_change: what the run compared to decide, or why it could not be skipped.',
    },
    dataChangedAt: {
      type: GraphQLString,
      description: 'When the newest data the run read arrived (when known).',
    },
    destinations: { type: listOf(DestinationOutcome) },
  },
});

const Freshness = new GraphQLObjectType<TrackerFreshness>({
  name: 'TrackerFreshness',
  description:
    "A tracker's freshness: stale when no run succeeded within staleAfter intervals of its schedule.",
  fields: {
    state: { type: nonNull(GraphQLString), description: 'fresh | stale | pending | unscheduled' },
    reason: { type: nonNull(GraphQLString) },
    staleAfter: { type: nonNull(GraphQLFloat) },
    lastSuccessAt: { type: GraphQLString },
    successAgeSeconds: { type: GraphQLFloat },
    dataChangedAt: { type: GraphQLString },
    dataAgeSeconds: { type: GraphQLFloat },
    staleAt: {
      type: GraphQLString,
      description: 'When it is (or became) stale without another successful run.',
    },
  },
});

const Tracker = new GraphQLObjectType<TrackerModel, ApiContext>({
  name: 'Tracker',
  fields: {
    name: { type: nonNull(GraphQLString) },
    description: { type: GraphQLString, resolve: (t) => t.definition.description ?? null },
    owner: { type: GraphQLString, resolve: (t) => t.definition.owner ?? null },
    input: { type: nonNull(GraphQLString), resolve: (t) => t.definition.input },
    schedule: { type: GraphQLString, resolve: (t) => t.definition.schedule ?? null },
    timezone: { type: GraphQLString, resolve: (t) => t.definition.timezone ?? null },
    refresh: { type: nonNull(GraphQLString), resolve: (t) => t.definition.refresh ?? 'always' },
    destinations: { type: listOf(Destination), resolve: (t) => t.definition.destinations },
    lastRuns: {
      type: listOf(TrackerRunType),
      args: { limit: { type: GraphQLInt, defaultValue: 5 } },
      resolve: (t, args: { limit: number }, context) =>
        context.trackerRuns(t.name, Math.max(1, Math.min(args.limit, 100))),
    },
    freshness: { type: nonNull(Freshness), resolve: (t, _args, context) => context.trackerFreshness(t.name) },
  },
});

const Column = new GraphQLObjectType<OutputColumn>({
  name: 'Column',
  fields: {
    name: { type: nonNull(GraphQLString) },
    label: { type: nonNull(GraphQLString) },
    type: { type: nonNull(GraphQLString) },
    format: { type: GraphQLString },
    kind: { type: nonNull(GraphQLString), description: 'dimension | measure' },
  },
});

const CompiledQuery = new GraphQLObjectType<{ sql: string; dialect: string; columns: OutputColumn[] }>({
  name: 'CompiledQuery',
  fields: {
    sql: { type: nonNull(GraphQLString) },
    dialect: { type: nonNull(Dialect) },
    columns: { type: listOf(Column) },
  },
});

const QueryResult = new GraphQLObjectType({
  name: 'QueryResult',
  fields: {
    columns: { type: listOf(Column) },
    rows: {
      type: nonNull(JsonScalar),
      description: 'Row objects keyed by column name, typed values (as `strata run --format json`).',
    },
    sql: { type: nonNull(GraphQLString) },
    durationMs: { type: nonNull(GraphQLFloat) },
    cached: {
      type: nonNull(GraphQLBoolean),
      description: 'Served from the result cache (same SQL, same table versions).',
    },
  },
});

const FieldSelectionInput = new GraphQLInputObjectType({
  name: 'FieldSelection',
  fields: {
    field: { type: nonNull(GraphQLString) },
    label: { type: GraphQLString },
    format: { type: GraphQLString },
    granularity: { type: Granularity },
    as: { type: GraphQLString },
    via: { type: new GraphQLList(nonNull(GraphQLString)) },
  },
});

const FilterInput: GraphQLInputObjectType = new GraphQLInputObjectType({
  name: 'Filter',
  description:
    'A filter as in input files: field, op and value | values | param; or `any` (OR) or `all` (AND) of filters, or `not` of one.',
  fields: () => ({
    field: { type: GraphQLString },
    op: { type: FilterOp },
    value: { type: JsonScalar },
    values: { type: new GraphQLList(JsonScalar) },
    param: { type: GraphQLString },
    via: { type: new GraphQLList(nonNull(GraphQLString)) },
    any: { type: new GraphQLList(nonNull(FilterInput)) },
    all: { type: new GraphQLList(nonNull(FilterInput)) },
    not: { type: FilterInput },
  }),
});

const SortInput = new GraphQLInputObjectType({
  name: 'Sort',
  fields: { field: { type: nonNull(GraphQLString) }, direction: { type: SortDirection } },
});

export const SemanticQuery = new GraphQLInputObjectType({
  name: 'SemanticQuery',
  description:
    'The input-definition shape (from, fields, filters, sort, limit), or a named input with params.',
  fields: {
    input: { type: GraphQLString },
    params: { type: JsonScalar },
    from: { type: GraphQLString },
    fields: { type: new GraphQLList(nonNull(FieldSelectionInput as GraphQLInputType)) },
    filters: { type: new GraphQLList(nonNull(FilterInput)) },
    sort: { type: new GraphQLList(nonNull(SortInput)) },
    limit: { type: GraphQLInt },
  },
});

export interface SemanticQueryValue {
  input?: string;
  params?: Record<string, unknown>;
  from?: string;
  fields?: unknown[];
  filters?: unknown[];
  sort?: unknown[];
  limit?: number;
}

/** A named input (with params), or the query's own definition: compiled for the caller. */
function compileQuery(context: ApiContext, query: SemanticQueryValue, dialect?: string) {
  const options = {
    ...(query.params ? { params: query.params } : {}),
    ...(dialect ? { dialect: dialect as (typeof DIALECTS)[number] } : {}),
  };
  if (query.input !== undefined) {
    const named = context.model.inputs.get(query.input);
    if (!named) throw notFound(`unknown input '${query.input}'`);
    return compileForApi(context, named, options);
  }
  const definition = {
    name: 'query',
    from: query.from,
    fields: query.fields,
    filters: query.filters,
    sort: query.sort,
    limit: query.limit,
  };
  return compileForApi(context, apiInput(withoutNulls(definition)), options);
}

function notFound(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'NOT_FOUND' } });
}

/** GraphQL gives absent optional input fields as undefined, but explicit nulls as null. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  return value;
}

/** Inputs and trackers a caller may use: those whose input compiles for them without denial. */
function readableInput(context: ApiContext, input: InputModel): boolean {
  const problems = context.compiler.check(input, { validateOnly: true, caller: context.caller });
  return !problems.some((d) => d.code === 'access_denied');
}

export function genericQueryFields(visibility: Visibility): GraphQLFieldConfigMap<unknown, ApiContext> {
  return {
    dataSources: {
      type: listOf(DataSource),
      resolve: () => visibility.sources().map((source) => ({ source, visibility })),
    },
    dataSource: {
      type: DataSource,
      args: { name: { type: nonNull(GraphQLString) } },
      resolve: (_r, args: { name: string }) => {
        const source = visibility.model.sources.get(args.name);
        return source && visibility.canRead(source) ? { source, visibility } : null;
      },
    },
    inputs: {
      type: listOf(InputDefinitionType),
      resolve: (_r, _a, context: ApiContext) =>
        [...context.model.inputs.values()].filter((i) => readableInput(context, i)),
    },
    trackers: {
      type: listOf(Tracker),
      resolve: (_r, _a, context: ApiContext) =>
        [...context.model.trackers.values()].filter((t) => {
          const input = context.model.inputs.get(t.definition.input);
          return input !== undefined && readableInput(context, input);
        }),
    },
    compile: {
      type: nonNull(CompiledQuery),
      args: { query: { type: nonNull(SemanticQuery) }, dialect: { type: Dialect } },
      resolve: (_r, args: { query: SemanticQueryValue; dialect?: string }, context: ApiContext) => {
        const compiled = compileQuery(context, args.query, args.dialect);
        return { sql: compiled.sql, dialect: compiled.dialect, columns: compiled.columns };
      },
    },
    run: {
      extensions: STATEMENT_COST,
      type: nonNull(QueryResult),
      args: { query: { type: nonNull(SemanticQuery) } },
      resolve: async (_r, args: { query: SemanticQueryValue }, context: ApiContext) => {
        const compiled = compileQuery(context, args.query);
        const outcome = await context.run(compiled);
        return {
          columns: compiled.columns,
          rows: outcome.rows.map((row) =>
            Object.fromEntries(compiled.columns.map((c, i) => [c.name, row[i] ?? null])),
          ),
          sql: compiled.sql,
          durationMs: outcome.durationMs,
          cached: outcome.cached,
        };
      },
    },
  };
}

export function genericMutationFields(): GraphQLFieldConfigMap<unknown, ApiContext> {
  return {
    syncTracker: {
      type: nonNull(TrackerRunType),
      description: 'Runs a tracker now, as the caller its runAs declares; dryRun plans and writes nothing.',
      args: { name: { type: nonNull(GraphQLString) }, dryRun: { type: GraphQLBoolean, defaultValue: false } },
      resolve: (_r, args: { name: string; dryRun: boolean }, context: ApiContext) => {
        const tracker = context.model.trackers.get(args.name);
        const input = tracker && context.model.inputs.get(tracker.definition.input);
        if (!tracker || !input || !readableInput(context, input))
          throw notFound(`unknown tracker '${args.name}' (or not readable by the caller)`);
        return context.syncTracker(args.name, args.dryRun);
      },
    },
  };
}
