/**
 * The catalog (`strata docs`, GET /catalog.json): one JSON document describing what a caller
 * may see of the project: sources with fields, measures and joins, inputs with their compiled
 * SQL, trackers, pipelines, and lineage. Pure: run history, freshness and pipeline state are
 * gathered by the I/O layer and passed in. What a caller may see is decided by a `CatalogView`
 * (the GraphQL `Visibility` is one), so the catalog never shows what the API would hide.
 */
import type { Caller } from './access/policy.js';
import type { Compiler } from './compile.js';
import type { Dialect } from './definitions/schema.js';
import { destinationTarget } from './trackers.js';
import {
  allInputUsages,
  tableLineage,
  tablesOfSource,
  usagesOf,
  type TableLineage,
  type Usages,
} from './impact.js';
import type { InputModel, JoinEdge, MemberModel, SemanticModel, SourceModel } from './model/types.js';
import { rawTableOf } from './pipelines.js';

/** What of the model a caller may see (structurally the GraphQL `Visibility`). */
export interface CatalogView {
  sources(): SourceModel[];
  members(source: SourceModel): MemberModel[];
  joins(source: SourceModel): JoinEdge[];
}

export interface CatalogMember {
  name: string;
  type: string;
  label?: string;
  description?: string;
  format?: string;
  /** A field's or measure's SQL as written (the dialect-neutral text, or the project dialect's). */
  sql?: string;
  /** A measure's aggregate (`derived` for an expression over measures). */
  aggregate?: string;
  filter?: string;
  usedBy: Usages;
}

export interface CatalogSource {
  name: string;
  description?: string;
  owner?: string;
  tables: string[];
  primaryKey: string[];
  fields: CatalogMember[];
  measures: CatalogMember[];
  joins: { to: string; relationship: string; on: string[] }[];
}

export interface CatalogInput {
  name: string;
  description?: string;
  sources: string[];
  sql?: string;
  /** Why it did not compile, for the trusted user (a caller never sees what it may not compile). */
  error?: string;
  trackers: string[];
}

/** A recorded run, as much as the catalog shows. */
export interface CatalogRun {
  id: string;
  status: string;
  trigger: string;
  startedAt: string;
  endedAt?: string;
  rows?: number;
  error?: string;
}

export interface CatalogFreshness {
  state: string;
  reason: string;
  lastSuccessAt?: string;
  dataAgeSeconds?: number;
}

export interface CatalogTracker {
  name: string;
  description?: string;
  owner?: string;
  input: string;
  schedule?: string;
  timezone?: string;
  refresh?: string;
  destinations: { type: string; mode: string; target: string }[];
  runs: CatalogRun[];
  freshness?: CatalogFreshness;
}

export interface CatalogPipelineState {
  status: string;
  lagSeconds?: number;
  lagEvents?: number;
  lagBytes?: number;
  lastCommitAt?: string;
  error?: string;
}

export interface CatalogPipeline {
  name: string;
  description?: string;
  owner?: string;
  sourceType: string;
  tables: { upstream: string; raw: string }[];
  state?: CatalogPipelineState;
}

export interface CatalogDocument {
  generatedAt: string;
  dialect: Dialect;
  sources: CatalogSource[];
  inputs: CatalogInput[];
  trackers: CatalogTracker[];
  pipelines: CatalogPipeline[];
  /** Downstream of every raw table a visible source reads. */
  tables: TableLineage[];
}

/** What the I/O layer knows about runs and pipelines. */
export interface CatalogRuntime {
  runs?: ReadonlyMap<string, CatalogRun[]>;
  freshness?: ReadonlyMap<string, CatalogFreshness>;
  pipelines?: ReadonlyMap<string, CatalogPipelineState>;
}

export interface CatalogOptions {
  view: CatalogView;
  dialect: Dialect;
  /** Undefined for the trusted local user (`strata docs`). */
  caller?: Caller;
  runtime?: CatalogRuntime;
  now?: Date;
  /**
   * An input's SQL for this caller and dialect, or the reason it does not compile; the service
   * passes a memo of it (the definitions alone decide it). Default: compiled here.
   */
  inputSql?: (input: InputModel) => InputSql;
}

export type InputSql = { sql: string } | { error: string };

/** Compiles an input as the catalog shows it: its SQL for the caller, or why it cannot run. */
export function compileInputSql(
  compiler: Compiler,
  input: InputModel,
  dialect: Dialect,
  caller?: Caller,
): InputSql {
  try {
    return {
      sql: compiler.compile(input, { dialect, validateOnly: true, ...(caller ? { caller } : {}) }).sql,
    };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

export function buildCatalog(compiler: Compiler, options: CatalogOptions): CatalogDocument {
  const model = compiler.model;
  const usages = allInputUsages(model);
  const visibleSources = options.view.sources();
  const sourceNames = new Set(visibleSources.map((s) => s.name));
  // An input is shown when every source its query reads is visible and it compiles for the caller.
  const inputs = [...model.inputs.values()]
    .filter((input) => {
      const usage = usages.get(input.name);
      return !usage || [...usage.sources].every((s) => sourceNames.has(s));
    })
    .map((input): CatalogInput => {
      const base = {
        name: input.name,
        ...(input.definition.description ? { description: input.definition.description } : {}),
        sources: [...(usages.get(input.name)?.sources ?? [])].sort(),
        trackers: [...model.trackers.values()]
          .filter((t) => t.definition.input === input.name)
          .map((t) => t.name)
          .sort(),
      };
      const compiled = options.inputSql
        ? options.inputSql(input)
        : compileInputSql(compiler, input, options.dialect, options.caller);
      return { ...base, ...compiled };
    })
    .filter((i) => !options.caller || i.error === undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  const inputNames = new Set(inputs.map((i) => i.name));
  const visibleUsages = (u: Usages): Usages => {
    const shown = u.inputs.filter((i) => inputNames.has(i));
    return { inputs: shown, trackers: trackersReading(compiler, shown) };
  };

  const sources = visibleSources.map((source) =>
    catalogSource(source, options, (ref) => visibleUsages(usagesOf(model, ref, usages))),
  );
  const visibleMembers = new Set(sources.flatMap((s) => s.fields.map((f) => `${s.name}.${f.name}`)));
  const trackers = [...model.trackers.values()]
    .filter((t) => inputNames.has(t.definition.input))
    .map((t): CatalogTracker => {
      const d = t.definition;
      const freshness = options.runtime?.freshness?.get(t.name);
      return {
        name: t.name,
        ...(d.description ? { description: d.description } : {}),
        ...(d.owner ? { owner: d.owner } : {}),
        input: d.input,
        ...(d.schedule ? { schedule: d.schedule } : {}),
        ...(d.timezone ? { timezone: d.timezone } : {}),
        ...(d.refresh ? { refresh: d.refresh } : {}),
        destinations: d.destinations.map((dest) => ({
          type: dest.type,
          mode: dest.mode ?? 'replace',
          target: destinationTarget(dest),
        })),
        runs: options.runtime?.runs?.get(t.name) ?? [],
        ...(freshness ? { freshness } : {}),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));

  const tableNames = [...new Set(visibleSources.flatMap(tablesOfSource))].sort();
  const tables = tableNames.map((table) => {
    const lineage = tableLineage(model, table, usages);
    const shown = visibleUsages(lineage);
    return {
      table,
      sources: lineage.sources.filter((s) => sourceNames.has(s)),
      fields: lineage.fields.filter((f) => visibleMembers.has(f)),
      ...shown,
    };
  });

  const pipelines = [...model.pipelines.values()]
    .map((p): CatalogPipeline => {
      const d = p.definition;
      const state = options.runtime?.pipelines?.get(p.name);
      return {
        name: p.name,
        ...(d.description ? { description: d.description } : {}),
        ...(d.owner ? { owner: d.owner } : {}),
        sourceType: d.source.type,
        tables: d.source.tables.map((upstream) => {
          const raw = rawTableOf(d, upstream);
          return { upstream, raw: `${raw.namespace}.${raw.name}` };
        }),
        ...(state ? { state } : {}),
      };
    })
    // A caller sees a pipeline only when it feeds a source the caller may read.
    .filter((p) => !options.caller || p.tables.some((t) => tableNames.some((n) => sameTableName(n, t.raw))))
    .sort((a, b) => a.name.localeCompare(b.name));

  return {
    generatedAt: (options.now ?? new Date()).toISOString(),
    dialect: options.dialect,
    sources,
    inputs,
    trackers,
    pipelines,
    tables,
  };
}

function sameTableName(a: string, b: string): boolean {
  const x = a.toLowerCase().split('.').slice(-2).join('.');
  const y = b.toLowerCase().split('.').slice(-2).join('.');
  return x === y;
}

function trackersReading(compiler: Compiler, inputs: readonly string[]): string[] {
  return [...compiler.model.trackers.values()]
    .filter((t) => inputs.includes(t.definition.input))
    .map((t) => t.name)
    .sort();
}

function catalogSource(
  source: SourceModel,
  options: CatalogOptions,
  usedBy: (ref: string) => Usages,
): CatalogSource {
  const members = options.view.members(source);
  const describe = (m: MemberModel): CatalogMember => ({
    name: m.name,
    type: m.type,
    ...(m.label ? { label: m.label } : {}),
    ...(m.description ? { description: m.description } : {}),
    ...(m.format ? { format: m.format } : {}),
    ...memberSql(m, options.dialect),
    usedBy: usedBy(`${source.name}.${m.name}`),
  });
  return {
    name: source.name,
    ...(source.description ? { description: source.description } : {}),
    ...(source.owner ? { owner: source.owner } : {}),
    tables: tablesOfSource(source),
    primaryKey: source.primaryKey,
    fields: members.filter((m) => m.kind === 'field').map(describe),
    measures: members.filter((m) => m.kind === 'measure').map(describe),
    joins: options.view.joins(source).map((j) => ({
      to: j.to,
      relationship: j.relationship,
      on: j.on.map((pair) => `${j.from}.${pair.from} = ${j.to}.${pair.to}`),
    })),
  };
}

/** The SQL text of a member in `dialect` (the shared text, or that dialect's). */
function memberSql(m: MemberModel, dialect: Dialect): Pick<CatalogMember, 'sql' | 'aggregate' | 'filter'> {
  type Sql = NonNullable<Extract<MemberModel, { kind: 'field' }>['sql']>;
  const text = (sql: Sql | undefined) =>
    sql === undefined ? undefined : sql.kind === 'shared' ? sql.fragment.text : sql.fragments[dialect]?.text;
  const out: Pick<CatalogMember, 'sql' | 'aggregate' | 'filter'> = {};
  if (m.kind === 'field') {
    const sql = text(m.sql);
    if (sql) out.sql = sql;
    return out;
  }
  if (m.definition.kind === 'derived') {
    out.aggregate = 'derived';
    out.sql = m.definition.expression.text;
    return out;
  }
  out.aggregate = m.definition.aggregate;
  const sql = text(m.definition.sql);
  const filter = text(m.definition.filter);
  if (sql) out.sql = sql;
  if (filter) out.filter = filter;
  return out;
}

/** Everything: what the trusted local user (`strata docs`) sees. */
export function fullView(model: SemanticModel): CatalogView {
  return {
    sources: () => [...model.sources.values()].sort((a, b) => a.name.localeCompare(b.name)),
    members: (source) => [...source.fields.values(), ...source.measures.values()],
    joins: (source) => [...(model.joins.get(source.name) ?? [])],
  };
}
