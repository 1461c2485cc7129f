/**
 * Lineage for review and for the catalog: which inputs and trackers use a field or measure
 * (`strata impact`), and what reads a raw table. An input uses `source.member` when:
 * - a selected field, a filter or a sort refers to it, directly or through a derived measure;
 * - it is a join key of a join the input's query walks (`movie.movie_id` joining production);
 * - it is a physical column that another member the input uses reads: a computed field's SQL,
 *   a measure's SQL or a measure's filter (`active_movie_count` reads `movie.status`).
 * The catalog's lineage and `strata impact` both answer from `inputUsage`, so they agree.
 */
import { bareColumnOf } from './model/fragments.js';
import { memberColumns } from './model/columns.js';
import type { InputModel, SemanticModel, SourceModel } from './model/types.js';
import { resolveInput } from './plan/resolve.js';
import { queriesOf, type MeasureUse, type QuerySpec, type TreeNode } from './plan/spec.js';
import { atomsOf } from './plan/condition.js';

/** What one input's query reads. */
export interface InputUsage {
  /** Sources the query's join tree holds. */
  sources: Set<string>;
  /** `source.member` the query names, with the join keys it walks. */
  members: Set<string>;
  /** `source.column`: the physical columns those members and join keys read. */
  columns: Set<string>;
}

/** A measure, the measures a derived one combines, and the related fields it looks up. */
function measureRefs(use: MeasureUse): string[] {
  const own = `${use.measure.source}.${use.measure.name}`;
  const lookups = [...(use.lookups?.values() ?? [])].map((l) => `${l.field.source}.${l.field.name}`);
  return [own, ...lookups, ...(use.parts ?? []).flatMap(measureRefs)];
}

/** Every `source.member` a resolved query refers to. */
export function referencedMembers(spec: QuerySpec): Set<string> {
  const refs = new Set<string>();
  for (const c of [...spec.columns, ...spec.hidden]) {
    if (c.kind === 'dimension' && c.grain) refs.add(`${c.measure.source}.${c.measure.name}`);
    else if (c.kind === 'dimension') refs.add(`${c.field.source}.${c.field.name}`);
    else measureRefs(c.use).forEach((r) => refs.add(r));
  }
  for (const atom of [...spec.where, ...spec.having].flatMap(atomsOf)) {
    for (const t of [atom.target, ...(atom.other ? [atom.other] : [])]) {
      if (t.kind === 'field') refs.add(`${t.field.source}.${t.field.name}`);
      else if (t.kind === 'measure') measureRefs(t.use).forEach((r) => refs.add(r));
    }
  }
  return refs;
}

function treeNodes(root: TreeNode): TreeNode[] {
  return [root, ...root.children.flatMap(treeNodes)];
}

/** `source.key` for both ends of every join the query walks. */
function joinKeys(spec: QuerySpec): string[] {
  return treeNodes(spec.root).flatMap((node) =>
    (node.edge?.on ?? []).flatMap((pair) => [
      `${node.edge!.from}.${pair.from}`,
      `${node.edge!.to}.${pair.to}`,
    ]),
  );
}

/** The columns a member reads, per source (memoized: sources do not change within a model). */
export class ColumnIndex {
  private readonly bySource = new Map<string, Map<string, Set<string>>>();

  constructor(private readonly model: SemanticModel) {}

  read(ref: string): string[] {
    const [sourceName = '', member = ''] = splitRef(ref);
    const source = this.model.sources.get(sourceName);
    if (!source) return [];
    let columns = this.bySource.get(sourceName);
    if (!columns) this.bySource.set(sourceName, (columns = memberColumns(source)));
    return [...(columns.get(member) ?? [])].map((c) => `${sourceName}.${c}`);
  }
}

function splitRef(ref: string): [string, string] {
  const dot = ref.indexOf('.');
  return [ref.slice(0, dot), ref.slice(dot + 1)];
}

/** What an input reads, or undefined when it does not resolve (validation reports why). */
export function inputUsage(
  model: SemanticModel,
  input: InputModel,
  index: ColumnIndex = new ColumnIndex(model),
): InputUsage | undefined {
  const { spec } = resolveInput(model, input, { validateOnly: true });
  if (!spec) return undefined;
  const queries = queriesOf(spec);
  const members = new Set(queries.flatMap((q) => [...referencedMembers(q), ...joinKeys(q)]));
  const columns = new Set([...members].flatMap((m) => index.read(m)));
  const sources = new Set(queries.flatMap((q) => treeNodes(q.root)).map((n) => n.source.name));
  return { sources, members, columns };
}

/**
 * The physical column a field is (its own name, or the one column its SQL names): inputs
 * reading that column through any member depend on it. Computed fields and measures are
 * used only where they are named.
 */
function physicalColumn(source: SourceModel, member: string): string | undefined {
  const field = source.fields.get(member);
  if (!field) return undefined;
  return field.sql ? bareColumnOf(field.sql) : field.name;
}

/** Whether an input reading `usage` depends on `source.member`. */
export function usesMember(model: SemanticModel, usage: InputUsage, ref: string): boolean {
  if (usage.members.has(ref)) return true;
  const [sourceName, member] = splitRef(ref);
  const source = model.sources.get(sourceName);
  const column = source && physicalColumn(source, member);
  return column !== undefined && usage.columns.has(`${sourceName}.${column}`);
}

/** Every input's usage, resolved once (the catalog asks about every field). */
export function allInputUsages(model: SemanticModel): Map<string, InputUsage> {
  const index = new ColumnIndex(model);
  const usages = new Map<string, InputUsage>();
  for (const input of model.inputs.values()) {
    const usage = inputUsage(model, input, index);
    if (usage) usages.set(input.name, usage);
  }
  return usages;
}

export interface Usages {
  inputs: string[];
  trackers: string[];
}

/** The trackers reading any of `inputs`. */
export function trackersOf(model: SemanticModel, inputs: readonly string[]): string[] {
  return [...model.trackers.values()]
    .filter((t) => inputs.includes(t.definition.input))
    .map((t) => t.name)
    .sort();
}

/** The inputs and trackers that use `source.member`. */
export function usagesOf(
  model: SemanticModel,
  ref: string,
  usages: Map<string, InputUsage> = allInputUsages(model),
): Usages {
  const inputs = [...usages]
    .filter(([, usage]) => usesMember(model, usage, ref))
    .map(([name]) => name)
    .sort();
  return { inputs, trackers: trackersOf(model, inputs) };
}

/** The tables a source reads: its `table:`, or those its `sql:` names. */
export function tablesOfSource(source: SourceModel): string[] {
  const paths = source.relation.kind === 'table' ? [source.relation.path] : source.relation.query.tables;
  return paths.map((p) => p.join('.'));
}

/** Whether `table` (as written, any case; `schema.table` matches a catalog-qualified path) names `path`. */
export function sameTable(path: string, table: string): boolean {
  const a = path.toLowerCase().split('.');
  const b = table.toLowerCase().split('.');
  const n = Math.min(a.length, b.length);
  return a.slice(-n).join('.') === b.slice(-n).join('.');
}

export interface TableLineage extends Usages {
  table: string;
  sources: string[];
  /** `source.field`: every field of those sources derives from the table. */
  fields: string[];
}

/** Downstream of a raw table: the sources reading it, their fields, and the inputs and trackers using them. */
export function tableLineage(
  model: SemanticModel,
  table: string,
  usages: Map<string, InputUsage> = allInputUsages(model),
): TableLineage {
  const sources = [...model.sources.values()]
    .filter((s) => tablesOfSource(s).some((t) => sameTable(t, table)))
    .sort((a, b) => a.name.localeCompare(b.name));
  const names = new Set(sources.map((s) => s.name));
  const fields = sources.flatMap((s) => [...s.fields.keys()].map((f) => `${s.name}.${f}`));
  const inputs = [...usages]
    .filter(([, usage]) => [...usage.sources].some((s) => names.has(s)))
    .map(([name]) => name)
    .sort();
  return { table, sources: [...names], fields, inputs, trackers: trackersOf(model, inputs) };
}
