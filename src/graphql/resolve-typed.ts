/**
 * Resolving a typed query: the selection under a top-level field becomes one compiled query
 * per nesting level, never one per row (no N+1). A level selects its source's fields and
 * measures and, through to-one joins, the fields of related rows (the same SQL, pinned to the
 * nesting's join path with `via`); each one-to-many list below it is the next level, one
 * query for all parents (their keys `IN` the parents'), attached to its parents by key. The
 * compiler gives every level the §4 semantics and the caller's access policies.
 */
import {
  getArgumentValues,
  getDirectiveValues,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type FieldNode,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import {
  FILTER_OPS,
  type FieldSelection,
  type FilterDefinition,
  type InputDefinition,
  type Scalar,
  type SortDefinition,
} from '../core/definitions/schema.js';
import type { JoinEdge, MemberModel } from '../core/model/types.js';
import type { Cell, Row } from '../core/values/cell.js';
import type { ApiContext } from './context.js';
import { compileForApi } from './run-input.js';
import type { ListArguments, SourceType, WhereValue } from './typed-schema.js';

/** One occurrence of a source in a level: the level's root, or a row reached by to-one joins. */
interface NodeSelection {
  type: SourceType;
  /** Sources from the level's root to this node, root excluded (empty for the root). */
  path: string[];
  scalars: { key: string; member: MemberModel; column?: string }[];
  objects: { key: string; node: NodeSelection; presence: string[] }[];
  lists: { key: string; edge: JoinEdge; level: LevelRequest; parentKeys: string[] }[];
}

interface LevelRequest {
  root: NodeSelection;
  args: ListArguments;
  /** Every source type of the schema, by source name. */
  types: Map<string, SourceType>;
}

type Objects = Record<string, unknown>[];

export async function resolveSourceQuery(
  type: SourceType,
  args: ListArguments,
  context: ApiContext,
  info: GraphQLResolveInfo,
  types: Map<string, SourceType>,
): Promise<Objects> {
  const level: LevelRequest = { root: selectionOf(type, [], info.fieldNodes, info, types), args, types };
  return resolveLevel(level, [], context, true);
}

// ---- from the GraphQL selection to nodes ---------------------------------------------------

function selectionOf(
  type: SourceType,
  path: string[],
  fieldNodes: readonly FieldNode[],
  info: GraphQLResolveInfo,
  types: Map<string, SourceType>,
): NodeSelection {
  const node: NodeSelection = { type, path, scalars: [], objects: [], lists: [] };
  const seen = new Set<string>();
  for (const field of fieldsOf(fieldNodes, info)) {
    const key = field.alias?.value ?? field.name.value;
    if (seen.has(key) || field.name.value === '__typename') continue;
    seen.add(key);
    const typed = type.fields.get(field.name.value);
    if (!typed) continue;
    if (typed.kind === 'member') {
      node.scalars.push({ key, member: typed.member });
      continue;
    }
    const target = types.get(typed.target.name)!;
    if (!typed.list) {
      node.objects.push({
        key,
        node: selectionOf(target, [...path, target.source.name], [field], info, types),
        presence: [],
      });
      continue;
    }
    const definition = type.object.getFields()[field.name.value]!;
    const args = getArgumentValues(definition, field, info.variableValues) as ListArguments;
    const root = selectionOf(target, [], [field], info, types);
    node.lists.push({ key, edge: typed.edge, level: { root, args, types }, parentKeys: [] });
  }
  return node;
}

/** The fields selected under `fieldNodes`, through fragments, honouring @skip and @include. */
function fieldsOf(fieldNodes: readonly FieldNode[], info: GraphQLResolveInfo): FieldNode[] {
  const out: FieldNode[] = [];
  const visit = (set: SelectionSetNode | undefined): void => {
    for (const selection of set?.selections ?? []) {
      if (!included(selection, info)) continue;
      if (selection.kind === Kind.FIELD) out.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else visit(info.fragments[selection.name.value]?.selectionSet);
    }
  };
  for (const node of fieldNodes) visit(node.selectionSet);
  return out;
}

function included(node: Parameters<typeof getDirectiveValues>[1], info: GraphQLResolveInfo): boolean {
  const skip = getDirectiveValues(GraphQLSkipDirective, node, info.variableValues);
  if (skip?.if === true) return false;
  const include = getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues);
  return include?.if !== false;
}

// ---- one level: its input definition -------------------------------------------------------

class ColumnNames {
  private next = 0;
  readonly fields: FieldSelection[] = [];

  add(source: string, member: string, path: string[]): string {
    const as = `c${this.next++}`;
    const via = path.slice(0, -1);
    this.fields.push({ field: `${source}.${member}`, as, ...(via.length > 0 ? { via } : {}) });
    return as;
  }
}

/** Assigns an output column to every value the level's rows must carry. */
function assignColumns(node: NodeSelection, names: ColumnNames): void {
  const source = node.type.source.name;
  for (const scalar of node.scalars) scalar.column = names.add(source, scalar.member.name, node.path);
  for (const object of node.objects) {
    const target = object.node.type.source;
    // The related row's key tells a missing row (null) from a row of NULLs.
    object.presence = target.primaryKey.map((k) => names.add(target.name, k, object.node.path));
    assignColumns(object.node, names);
  }
  for (const list of node.lists)
    list.parentKeys = list.edge.on.map((p) => names.add(source, p.from, node.path));
}

function hasMeasures(node: NodeSelection): boolean {
  return (
    node.scalars.some((s) => s.member.kind === 'measure') || node.objects.some((o) => hasMeasures(o.node))
  );
}

function hasLists(node: NodeSelection): boolean {
  return node.lists.length > 0 || node.objects.some((o) => hasLists(o.node));
}

function levelDefinition(
  level: LevelRequest,
  extraFilters: FilterDefinition[],
  names: ColumnNames,
): InputDefinition {
  const root = level.root;
  if (hasMeasures(root) && hasLists(root))
    throw new GraphQLError(
      `${root.type.source.name}: a level that selects measures is grouped, so it has no rows to hang a nested list on; query the list separately`,
      { extensions: { code: 'BAD_USER_INPUT' } },
    );
  assignColumns(root, names);
  if (names.fields.length === 0) {
    const source = root.type.source;
    names.add(source.name, source.primaryKey[0] ?? [...source.fields.keys()][0]!, []);
  }
  const filters = [...whereFilters(root.type, level.args.where ?? {}, [], level.types), ...extraFilters];
  const sort: SortDefinition[] = (level.args.orderBy ?? []).map((o) => ({
    field: `${root.type.source.name}.${o.field}`,
    direction: o.direction,
  }));
  return {
    name: 'graphql',
    from: root.type.source.name,
    fields: names.fields,
    ...(filters.length > 0 ? { filters } : {}),
    ...(sort.length > 0 ? { sort } : {}),
  };
}

/** The ops a where's field filter carries as values; `is_null: true | false` is the one spelled apart. */
const VALUE_OPS = FILTER_OPS.filter((op) => op !== 'is_null' && op !== 'is_not_null');

/** A `<Source>Where` value as the input's filters (ANDed), through joins with their `via`. */
function whereFilters(
  type: SourceType,
  where: WhereValue,
  path: string[],
  types: Map<string, SourceType>,
): FilterDefinition[] {
  const filters: FilterDefinition[] = [];
  const source = type.source.name;
  for (const [key, value] of Object.entries(where)) {
    if (value === undefined || value === null) continue;
    if (key === 'AND') {
      for (const inner of value as WhereValue[]) filters.push(...whereFilters(type, inner, path, types));
    } else if (key === 'OR') {
      // Each alternative's conditions are ANDed (`all`), as at the top level.
      const alternatives = (value as WhereValue[]).map((inner): FilterDefinition => {
        const conditions = whereFilters(type, inner, path, types);
        return conditions.length === 1 ? conditions[0]! : { all: conditions };
      });
      if (alternatives.length > 0) filters.push({ any: alternatives });
    } else if (key === 'NOT') {
      // Its conditions ANDed, then negated: NULLs stay unmatched, as in the YAML's `not:`.
      const conditions = whereFilters(type, value as WhereValue, path, types);
      if (conditions.length > 0)
        filters.push({ not: conditions.length === 1 ? conditions[0]! : { all: conditions } });
    } else if (type.whereJoins.has(key)) {
      const join = type.whereJoins.get(key)!;
      const target = types.get(join.target.name)!;
      filters.push(...whereFilters(target, value as WhereValue, [...path, join.target.name], types));
    } else {
      filters.push(...fieldFilters(source, key, value as Record<string, unknown>, path));
    }
  }
  return filters;
}

function fieldFilters(
  source: string,
  member: string,
  ops: Record<string, unknown>,
  path: string[],
): FilterDefinition[] {
  const via = path.slice(0, -1);
  const base = { field: `${source}.${member}`, ...(via.length > 0 ? { via } : {}) };
  const out: FilterDefinition[] = [];
  for (const op of VALUE_OPS) {
    const value = ops[op];
    if (value === undefined || value === null) continue;
    out.push(
      Array.isArray(value)
        ? { ...base, op, values: value as Scalar[] }
        : { ...base, op, value: value as Scalar },
    );
  }
  if (ops.is_null !== undefined && ops.is_null !== null)
    out.push({ ...base, op: ops.is_null === true ? 'is_null' : 'is_not_null' });
  return out;
}

// ---- running a level, then its lists -------------------------------------------------------

async function resolveLevel(
  level: LevelRequest,
  extraFilters: FilterDefinition[],
  context: ApiContext,
  top: boolean,
): Promise<Objects> {
  const names = new ColumnNames();
  const definition = levelDefinition(level, extraFilters, names);
  const { maxRows } = context.limits;
  // The top level pages with limit/offset in SQL; a nested list pages per parent, below.
  const asked = top ? level.args.limit : undefined;
  const limit = Math.min(asked ?? maxRows + 1, maxRows + 1);
  const compiled = compileForApi(context, definition, {
    limit,
    ...(top && level.args.offset ? { offset: level.args.offset } : {}),
  });
  const { rows } = await context.run(compiled);
  if (rows.length > maxRows)
    throw new GraphQLError(
      `${level.root.type.source.name}: more than ${maxRows} rows; add a limit or a narrower where`,
      { extensions: { code: 'TOO_MANY_ROWS' } },
    );
  const columns = new Map(compiled.columns.map((c, i) => [c.name, i]));
  const objects = rows.map((row) => objectOf(level.root, row, columns));
  await attachLists(level.root, rows, objects, columns, context);
  return objects;
}

function objectOf(node: NodeSelection, row: Row, columns: Map<string, number>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const s of node.scalars) object[s.key] = row[columns.get(s.column!)!] ?? null;
  for (const o of node.objects) {
    const missing = o.presence.length > 0 && o.presence.every((c) => row[columns.get(c)!] === null);
    object[o.key] = missing ? null : objectOf(o.node, row, columns);
  }
  return object;
}

/** Every list below a level: one query for all its parents, then each parent gets its rows. */
async function attachLists(
  node: NodeSelection,
  rows: Row[],
  objects: Objects,
  columns: Map<string, number>,
  context: ApiContext,
): Promise<void> {
  for (const list of node.lists) {
    const keyOf = (row: Row) => list.parentKeys.map((c) => row[columns.get(c)!] ?? null);
    const byKey = await childRows(list, rows.map(keyOf), context);
    rows.forEach((row, i) => {
      const key = keyOf(row);
      const children = key.some((v) => v === null) ? [] : (byKey.get(JSON.stringify(key)) ?? []);
      objects[i]![list.key] = page(children, list.level.args);
    });
  }
  for (const object of node.objects) {
    const present = objects.map((o) => o[object.key] as Record<string, unknown> | null);
    const kept = rows.filter((_r, i) => present[i] !== null);
    await attachLists(
      object.node,
      kept,
      present.filter((o): o is Record<string, unknown> => o !== null),
      columns,
      context,
    );
  }
}

/** A list's rows for all parents at once, by the parent key they belong to. */
async function childRows(
  list: NodeSelection['lists'][number],
  parentKeys: Cell[][],
  context: ApiContext,
): Promise<Map<string, Objects>> {
  const child = list.level.root.type.source.name;
  const keyFilters: FilterDefinition[] = list.edge.on.map((pair, i) => ({
    field: `${child}.${pair.to}`,
    op: 'in',
    values: [
      ...new Set(parentKeys.map((k) => k[i]).filter((v): v is string | number | boolean => v !== null)),
    ],
  }));
  const byKey = new Map<string, Objects>();
  if (keyFilters.some((f) => 'values' in f && f.values!.length === 0)) return byKey;
  // The child rows carry their own key columns, to be matched with their parents.
  const keyed: LevelRequest = {
    root: { ...list.level.root, scalars: [...list.level.root.scalars] },
    args: { ...list.level.args },
    types: list.level.types,
  };
  const keyScalars = list.edge.on.map((pair, i) => {
    const member = keyed.root.type.source.fields.get(pair.to)!;
    const scalar = { key: `__key${i}`, member };
    keyed.root.scalars.push(scalar);
    return scalar;
  });
  const objects = await resolveLevel(keyed, keyFilters, context, false);
  for (const object of objects) {
    const key = JSON.stringify(keyScalars.map((s) => object[s.key] ?? null));
    for (const s of keyScalars) delete object[s.key];
    byKey.set(key, [...(byKey.get(key) ?? []), object]);
  }
  return byKey;
}

/** A nested list's limit and offset apply per parent. */
function page(objects: Objects, args: ListArguments): Objects {
  const start = args.offset ?? 0;
  return objects.slice(start, args.limit === undefined ? undefined : start + args.limit);
}
