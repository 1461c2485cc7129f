// Brute-force reference oracle for SPEC.md section 4 (Query semantics).
//
// It follows the spec's definitions literally and favours obviousness over speed:
//   1. find the shortest join path from `from` to every needed source;
//   2. LEFT JOIN every needed source along those paths (CDC sources read as their latest view);
//   3. keep the joined rows on which every row filter holds;
//   4. no measure: keep each grain row once; with measures: group by the selected non-measure
//      columns and aggregate, per measure of source S, the DISTINCT rows of S in the group;
//   5. HAVING, sort (NULLs last), limit.
import {
  innerFilters,
  isAllFilter,
  isAnyFilter,
  isDerivedMeasure,
  isLeafFilter,
  isNotFilter,
  isRelatedField,
  type FieldType,
  type FilterOp,
  type GrainAggregate,
  type Granularity,
  type RefAggregateMeasure,
  type RefDerivedMeasure,
  type RefField,
  type RefFilter,
  type RefGrainMeasure,
  type RefInput,
  type RefLeafFilter,
  type RefMeasure,
  type RefMeasureField,
  type RefSelectedField,
  type RefSort,
  type RefSource,
  type Relationship,
  type Row,
  type Tables,
  type Value,
} from './model.js';

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Total order on two non-NULL values of the same kind (strings by UTF-16 code units). */
export function compareValues(a: Value, b: Value): number {
  if (a === null || b === null) throw new Error('compareValues: NULL is not comparable');
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  throw new Error(`compareValues: cannot compare ${JSON.stringify(a)} with ${JSON.stringify(b)}`);
}

/** SQL `=`: NULL never equals anything. */
function sqlEquals(a: Value, b: Value): boolean {
  return a !== null && b !== null && compareValues(a, b) === 0;
}

/** A string key that identifies a tuple of values (NULL equal to NULL, 1 distinct from '1'). */
function tupleKey(values: Value[]): string {
  return JSON.stringify(values.map((v) => [v === null ? 'null' : typeof v, v]));
}

/** Canonical form of a value of a field type: timestamps become `toISOString()` (UTC, ms). */
export function normalizeValue(value: Value, type: FieldType): Value {
  if (value === null) return null;
  if (type === 'timestamp') return parseTimestamp(value).toISOString();
  if (type === 'date' && (typeof value !== 'string' || !DATE_PATTERN.test(value))) {
    throw new Error(`not a date: ${JSON.stringify(value)}`);
  }
  return value;
}

function parseTimestamp(value: Value): Date {
  const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new Error(`not a timestamp: ${JSON.stringify(value)}`);
  return date;
}

function parseDate(value: string): Date {
  return new Date(`${value}T00:00:00.000Z`);
}

// ---------------------------------------------------------------------------
// Granularity (spec 4.9): truncate in UTC and keep the type; weeks start on Monday.
// ---------------------------------------------------------------------------

function truncateUtc(date: Date, granularity: Granularity): Date {
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  const day = date.getUTCDate();
  switch (granularity) {
    case 'day':
      return new Date(Date.UTC(year, month, day));
    case 'week': {
      const daysSinceMonday = (date.getUTCDay() + 6) % 7;
      return new Date(Date.UTC(year, month, day - daysSinceMonday));
    }
    case 'month':
      return new Date(Date.UTC(year, month, 1));
    case 'quarter':
      return new Date(Date.UTC(year, month - (month % 3), 1));
    case 'year':
      return new Date(Date.UTC(year, 0, 1));
  }
}

export function truncateValue(value: Value, type: FieldType, granularity: Granularity): Value {
  if (value === null) return null;
  if (type === 'date' && typeof value === 'string') {
    return truncateUtc(parseDate(value), granularity).toISOString().slice(0, 10);
  }
  if (type === 'timestamp') return truncateUtc(parseTimestamp(value), granularity).toISOString();
  throw new Error(`granularity applies to date and timestamp fields, not ${type}`);
}

// ---------------------------------------------------------------------------
// Catalog and references
// ---------------------------------------------------------------------------

type Catalog = Map<string, RefSource>;

/**
 * A selected dimension is a field of its source, or a measure per a source (`per`): then
 * `source` is that per source and `field` stands for the measure's value on its row.
 */
type Resolved =
  | { kind: 'dimension'; source: RefSource; field: RefField; per?: PerMeasure }
  | { kind: 'measure'; source: RefSource; measure: RefMeasure };

/** A measure of `source` per row of `per` (joined many-to-one from it), over the rows `filters` keep. */
interface PerMeasure {
  source: RefSource;
  measure: RefMeasure;
  per: string;
  filters: RefFilter[];
}

function buildCatalog(sources: RefSource[]): Catalog {
  const catalog: Catalog = new Map();
  for (const source of sources) {
    if (catalog.has(source.name)) throw new Error(`duplicate source ${source.name}`);
    catalog.set(source.name, source);
  }
  return catalog;
}

function getSource(catalog: Catalog, name: string): RefSource {
  const source = catalog.get(name);
  if (!source) throw new Error(`unknown source ${name}`);
  return source;
}

function splitRef(ref: string): [string, string] {
  const parts = ref.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`expected source.name, got ${ref}`);
  return [parts[0], parts[1]];
}

function resolveRef(catalog: Catalog, ref: string): Resolved {
  const [sourceName, name] = splitRef(ref);
  const source = getSource(catalog, sourceName);
  const field = source.fields.find((f) => f.name === name);
  const measure = source.measures.find((m) => m.name === name);
  if (field && measure) throw new Error(`${ref} is both a field and a measure`);
  if (field) return { kind: 'dimension', source, field };
  if (measure) return { kind: 'measure', source, measure };
  throw new Error(`unknown field or measure ${ref}`);
}

function getField(source: RefSource, name: string): RefField {
  const field = source.fields.find((f) => f.name === name);
  if (!field) throw new Error(`unknown field ${source.name}.${name}`);
  return field;
}

/** A derived measure's operand: `m` (same source) or `source.m`. */
function resolveMeasureRef(
  catalog: Catalog,
  owner: RefSource,
  ref: string,
): { source: RefSource; measure: RefMeasure } {
  const source = ref.includes('.') ? getSource(catalog, splitRef(ref)[0]) : owner;
  const name = ref.includes('.') ? splitRef(ref)[1] : ref;
  const measure = source.measures.find((m) => m.name === name);
  if (!measure) throw new Error(`unknown measure ${ref} (in ${owner.name})`);
  return { source, measure };
}

/** Sources whose rows a measure aggregates: its own, plus those of derived operands. */
function measureSources(
  catalog: Catalog,
  source: RefSource,
  measure: RefMeasure,
  seen = new Set<string>(),
): Set<string> {
  const key = `${source.name}.${measure.name}`;
  if (seen.has(key)) throw new Error(`cycle in derived measures at ${key}`);
  if (!isDerivedMeasure(measure)) return new Set([source.name]);
  const inner = new Set([...seen, key]);
  const result = new Set<string>();
  for (const ref of [measure.expression.left, measure.expression.right]) {
    const operand = resolveMeasureRef(catalog, source, ref);
    for (const name of measureSources(catalog, operand.source, operand.measure, inner)) result.add(name);
  }
  return result;
}

function leafFilters(filter: RefFilter): RefLeafFilter[] {
  return isLeafFilter(filter) ? [filter] : innerFilters(filter).flatMap(leafFilters);
}

/** A filter on a measure is a HAVING filter (one per a source is not); a group must not mix the two kinds. */
function isHavingFilter(catalog: Catalog, filter: RefFilter): boolean {
  const kinds = new Set(
    leafFilters(filter).map((leaf) =>
      leaf.per === undefined ? resolveRef(catalog, leaf.field).kind : 'dimension',
    ),
  );
  if (kinds.size > 1) throw new Error('a filter group mixes measure and non-measure filters');
  if (kinds.size === 0) throw new Error('empty filter group');
  return kinds.has('measure');
}

// ---------------------------------------------------------------------------
// Output columns (spec 3, "Output columns")
// ---------------------------------------------------------------------------

/**
 * Column names: `as`, else the field name when unique among the DISTINCT selected fields,
 * else `source_field`. Does not check for collisions (see evaluateReference).
 */
export function outputColumnNames(fields: RefSelectedField[]): string[] {
  const distinctRefs = [...new Set(fields.map((f) => f.field))];
  return fields.map((selected) => {
    if (selected.as !== undefined) return selected.as;
    const [sourceName, name] = splitRef(selected.field);
    const sameName = distinctRefs.filter((ref) => splitRef(ref)[1] === name);
    return sameName.length === 1 ? name : `${sourceName}_${name}`;
  });
}

interface Column {
  name: string;
  granularity: Granularity | undefined;
  resolved: Resolved;
}

function resolveColumns(catalog: Catalog, fields: RefSelectedField[]): Column[] {
  if (fields.length === 0) throw new Error('an input selects at least one field');
  const names = outputColumnNames(fields);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new Error(`duplicate output column ${duplicate}`);
  return fields.map((selected, i) => {
    if (selected.per !== undefined) {
      if (selected.granularity !== undefined)
        throw new Error(`granularity on ${selected.field} per a source`);
      const per = resolvePerMeasure(catalog, selected.field, selected.per, selected.filters ?? []);
      const field: RefField = {
        name: per.measure.name,
        type: measureType(catalog, per.source, per.measure),
      };
      const resolved: Resolved = { kind: 'dimension', source: getSource(catalog, per.per), field, per };
      return { name: names[i] ?? '', granularity: undefined, resolved };
    }
    if (selected.filters !== undefined) throw new Error(`filters on ${selected.field} without per`);
    const resolved = resolveRef(catalog, selected.field);
    if (selected.granularity !== undefined && resolved.kind === 'measure') {
      throw new Error(`granularity on measure ${selected.field}`);
    }
    return { name: names[i] ?? '', granularity: selected.granularity, resolved };
  });
}

/** `source.measure` per `per`, which the measure's source must join to-one by one declared join. */
function resolvePerMeasure(catalog: Catalog, ref: string, per: string, filters: RefFilter[]): PerMeasure {
  const resolved = resolveRef(catalog, ref);
  if (resolved.kind !== 'measure') throw new Error(`per on ${ref}, which is not a measure`);
  directToOneStep(catalog, resolved.source.name, per);
  return { source: resolved.source, measure: resolved.measure, per, filters };
}

// ---------------------------------------------------------------------------
// Join graph and shortest paths (spec 2 joins, 4.2)
// ---------------------------------------------------------------------------

/** One usable direction of a declared join. */
interface Step {
  from: string;
  to: string;
  relationship: Relationship;
  /** [field of `from`, field of `to`] */
  pairs: [string, string][];
}

function reverseRelationship(relationship: Relationship): Relationship {
  if (relationship === 'one_to_many') return 'many_to_one';
  if (relationship === 'many_to_one') return 'one_to_many';
  return 'one_to_one';
}

/** Every declared join, in both directions. */
function joinSteps(catalog: Catalog): Step[] {
  const steps: Step[] = [];
  for (const source of catalog.values()) {
    for (const join of source.joins) {
      const target = getSource(catalog, join.to);
      const pairs = Object.entries(join.on);
      for (const [mine, theirs] of pairs) {
        getField(source, mine);
        getField(target, theirs);
      }
      steps.push({ from: source.name, to: target.name, relationship: join.relationship, pairs });
      steps.push({
        from: target.name,
        to: source.name,
        relationship: reverseRelationship(join.relationship),
        pairs: pairs.map(([mine, theirs]): [string, string] => [theirs, mine]),
      });
    }
  }
  return steps;
}

/**
 * The shortest path (list of steps) from `root` to every target and to every source on those
 * paths. Breadth-first search that counts shortest paths; a target with two throws (a tie).
 */
function shortestPaths(catalog: Catalog, root: string, targets: Set<string>): Map<string, Step[]> {
  const { distance, pathCount, arrivedBy } = breadthFirst(joinSteps(catalog), root);
  const paths = new Map<string, Step[]>();
  for (const target of targets) {
    if (!distance.has(target)) throw new Error(`no join path from ${root} to ${target}`);
    if ((pathCount.get(target) ?? 0) > 1) {
      throw new Error(`two shortest join paths from ${root} to ${target}: use via`);
    }
    const path = walkBack(arrivedBy, root, target);
    paths.set(target, path);
    path.forEach((step, i) => paths.set(step.to, path.slice(0, i + 1)));
  }
  return paths;
}

interface Search {
  distance: Map<string, number>;
  /** How many shortest paths reach each source. */
  pathCount: Map<string, number>;
  arrivedBy: Map<string, Step>;
}

function breadthFirst(steps: Step[], root: string): Search {
  const distance = new Map<string, number>([[root, 0]]);
  const pathCount = new Map<string, number>([[root, 1]]);
  const arrivedBy = new Map<string, Step>();
  const queue = [root];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    const here = distance.get(node) ?? 0;
    for (const step of steps.filter((s) => s.from === node)) {
      const known = distance.get(step.to);
      if (known === undefined) {
        distance.set(step.to, here + 1);
        pathCount.set(step.to, pathCount.get(node) ?? 0);
        arrivedBy.set(step.to, step);
        queue.push(step.to);
      } else if (known === here + 1) {
        pathCount.set(step.to, (pathCount.get(step.to) ?? 0) + (pathCount.get(node) ?? 0));
      }
    }
  }
  return { distance, pathCount, arrivedBy };
}

/**
 * The path a measure's related field is read along: from the measure's source through `via`
 * to `target`, each leg the one shortest path over many-to-one and one-to-one steps (so a row
 * has at most one related row). Throws, as validation would, on a one-to-many-only reach, a
 * tie, or a path that passes a source twice.
 */
function toOnePath(catalog: Catalog, from: string, target: string, via: string[] = []): Step[] {
  const all = joinSteps(catalog);
  const toOne = all.filter((step) => step.relationship !== 'one_to_many');
  const stops = [from, ...via, target];
  const path: Step[] = [];
  for (let i = 1; i < stops.length; i++) {
    const [start, end] = [stops[i - 1] ?? from, stops[i] ?? target];
    const { distance, pathCount, arrivedBy } = breadthFirst(toOne, start);
    if (!distance.has(end)) {
      const reachable = breadthFirst(all, start).distance.has(end);
      throw new Error(
        reachable
          ? `fan_out_lookup: ${end} is reached from ${start} only through a one-to-many join`
          : `no join path from ${start} to ${end}`,
      );
    }
    if ((pathCount.get(end) ?? 0) > 1) throw new Error(`two shortest to-one paths from ${start} to ${end}`);
    path.push(...walkBack(arrivedBy, start, end));
  }
  const visited = [from, ...path.map((step) => step.to)];
  if (new Set(visited).size !== visited.length)
    throw new Error(`the path ${visited.join(' -> ')} revisits a source`);
  return path;
}

/**
 * The one declared join between `from` and `to` (either side's), read from `from`, which must
 * be many-to-one or one-to-one: the source a measure is computed per (or grouped by).
 */
function directToOneStep(catalog: Catalog, from: string, to: string): Step {
  const steps = joinSteps(catalog).filter((step) => step.from === from && step.to === to);
  const [step, ...others] = steps;
  if (!step) throw new Error(`${from} has no direct join with ${to}`);
  if (others.length > 0) throw new Error(`${from} and ${to} are joined twice`);
  if (step.relationship === 'one_to_many') throw new Error(`${from} joins ${to} one-to-many`);
  return step;
}

function walkBack(arrivedBy: Map<string, Step>, root: string, target: string): Step[] {
  const path: Step[] = [];
  for (let node = target; node !== root;) {
    const step = arrivedBy.get(node);
    if (!step) throw new Error(`internal: no step into ${node}`);
    path.unshift(step);
    node = step.from;
  }
  return path;
}

/** Sources used by selected fields, filters (incl. HAVING) and derived-measure operands; plus the root. */
function neededSources(catalog: Catalog, root: string, columns: Column[], filters: RefFilter[]): Set<string> {
  const needed = new Set<string>([root]);
  const addResolved = (resolved: Resolved): void => {
    needed.add(resolved.source.name);
    if (resolved.kind === 'measure') {
      for (const name of measureSources(catalog, resolved.source, resolved.measure)) needed.add(name);
    }
  };
  columns.forEach((column) => addResolved(column.resolved));
  filters.flatMap(leafFilters).forEach((leaf) => {
    // A measure per a source reads the query's row of that source, not the measure's source.
    if (leaf.per === undefined) addResolved(resolveRef(catalog, leaf.field));
    else needed.add(getSource(catalog, leaf.per).name);
    if (leaf.other !== undefined) addResolved(resolveRef(catalog, leaf.other));
    if (leaf.grain?.per !== undefined) needed.add(getSource(catalog, leaf.grain.per).name);
  });
  return needed;
}

// ---------------------------------------------------------------------------
// Reading sources (CDC latest view, spec 4.8)
// ---------------------------------------------------------------------------

/** A row of a source; `index` (position in its table) is the row's identity. */
export interface SourceRow {
  index: number;
  values: Row;
}

function cell(row: SourceRow, column: string): Value {
  const value = row.values[column];
  if (value === undefined) throw new Error(`row ${row.index} has no column ${column}`);
  return value;
}

/** The rows a source reads: the table's rows, or for a CDC source its latest row per key. */
export function readSourceRows(source: RefSource, tables: Tables): SourceRow[] {
  const table = tables[source.table];
  if (!table) throw new Error(`no table ${source.table}`);
  const rows = table.map((values, index) => ({ index, values: normalizeRow(source, values) }));
  return source.cdc ? latestRows(source, rows) : rows;
}

function normalizeRow(source: RefSource, values: Row): Row {
  const normalized: Row = { ...values };
  for (const field of source.fields) {
    const value = values[field.name];
    if (value !== undefined) normalized[field.name] = normalizeValue(value, field.type);
  }
  return normalized;
}

function latestRows(source: RefSource, rows: SourceRow[]): SourceRow[] {
  const cdc = source.cdc;
  const primaryKey = source.primaryKey ?? [];
  if (!cdc || primaryKey.length === 0) throw new Error(`CDC source ${source.name} needs a primaryKey`);
  const versionsByKey = new Map<string, SourceRow[]>();
  for (const row of rows) {
    const key = tupleKey(primaryKey.map((column) => cell(row, column)));
    versionsByKey.set(key, [...(versionsByKey.get(key) ?? []), row]);
  }
  return [...versionsByKey.values()]
    .map((versions) => latestVersion(versions, cdc.orderBy))
    .filter((latest) => cell(latest, '_op') !== cdc.deletedOp)
    .sort((a, b) => a.index - b.index);
}

function compareOrderTuples(a: SourceRow, b: SourceRow, orderBy: string[]): number {
  for (const column of orderBy) {
    const [x, y] = [cell(a, column), cell(b, column)];
    if (x === null || y === null) throw new Error(`NULL in CDC orderBy column ${column}`);
    const c = compareValues(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

/** The version with the greatest orderBy tuple; a tie for the greatest is ambiguous and throws. */
function latestVersion(versions: SourceRow[], orderBy: string[]): SourceRow {
  const [first, ...rest] = versions;
  if (!first) throw new Error('internal: no versions');
  let best = first;
  let tied = false;
  for (const row of rest) {
    const c = compareOrderTuples(row, best, orderBy);
    if (c > 0) [best, tied] = [row, false];
    else if (c === 0) tied = true;
  }
  if (tied) throw new Error(`two latest CDC rows tie on (${orderBy.join(', ')})`);
  return best;
}

// ---------------------------------------------------------------------------
// The joined relation (spec 4.3, 4.5): LEFT JOIN along the path tree.
// ---------------------------------------------------------------------------

/** One row of the joined relation: per needed source, its row or null (NULL-extended). */
type JoinedRow = Record<string, SourceRow | null>;

function joinedRelation(
  catalog: Catalog,
  tables: Tables,
  root: string,
  paths: Map<string, Step[]>,
): JoinedRow[] {
  const rootRows = readSourceRows(getSource(catalog, root), tables);
  let relation: JoinedRow[] = rootRows.map((row) => ({ [root]: row }));
  const joinOrder = [...paths.values()].filter((p) => p.length > 0).sort((a, b) => a.length - b.length);
  for (const path of joinOrder) {
    const step = path[path.length - 1];
    if (!step) continue;
    const related = readSourceRows(getSource(catalog, step.to), tables);
    relation = relation.flatMap((row) => leftJoin(row, step, related));
  }
  return relation;
}

function leftJoin(row: JoinedRow, step: Step, related: SourceRow[]): JoinedRow[] {
  const parent = row[step.from];
  if (parent === undefined) throw new Error(`internal: ${step.from} joined after ${step.to}`);
  const matches =
    parent === null
      ? []
      : related.filter((candidate) =>
          step.pairs.every(([mine, theirs]) => sqlEquals(cell(parent, mine), cell(candidate, theirs))),
        );
  if (matches.length === 0) return [{ ...row, [step.to]: null }];
  return matches.map((match) => ({ ...row, [step.to]: match }));
}

/** A field's value in a joined row: NULL when its source is NULL-extended. */
function fieldValue(row: JoinedRow, source: RefSource, field: RefField): Value {
  const sourceRow = row[source.name];
  if (sourceRow === undefined) throw new Error(`internal: ${source.name} is not joined`);
  return sourceRow === null ? null : cell(sourceRow, field.name);
}

// ---------------------------------------------------------------------------
// Filters (spec 3 ops, 4.7 NULL rules), in SQL's three-valued logic: a comparison with
// NULL is unknown, `not` of unknown is unknown, and a row (or group) is kept only when the
// whole condition is TRUE. Groups evaluate literally: any = OR, all = AND, not = NOT.
// ---------------------------------------------------------------------------

type Truth = true | false | null;

/** What a leaf filter is evaluated against: a row's fields, or a group's measures. */
interface Lookup {
  ref(ref: string): { value: Value; type: FieldType };
  /** A leaf on a measure per a source (`per`): its value for the row's row of that source. */
  perMeasure(leaf: RefLeafFilter): { value: Value; type: FieldType };
  /** A measure at another grain (`valueFrom: { measure, ... }`). */
  grain(spec: RefGrainMeasure): Value;
}

function filterHolds(filter: RefFilter, lookup: Lookup): boolean {
  return filterTruth(filter, lookup) === true;
}

function filterTruth(filter: RefFilter, lookup: Lookup): Truth {
  if (isNotFilter(filter)) {
    const inner = filterTruth(filter.not, lookup);
    return inner === null ? null : !inner;
  }
  if (isAnyFilter(filter) || isAllFilter(filter)) {
    const values = innerFilters(filter).map((inner) => filterTruth(inner, lookup));
    const absorbing = isAnyFilter(filter);
    if (values.includes(absorbing)) return absorbing;
    return values.includes(null) ? null : !absorbing;
  }
  const { value, type } = filter.per === undefined ? lookup.ref(filter.field) : lookup.perMeasure(filter);
  if (filter.other !== undefined || filter.grain !== undefined) {
    if (filter.other !== undefined && filter.grain !== undefined) throw new Error('two valueFrom');
    // Two fields compared on one row (or a field with a measure at another grain): unknown
    // when either is NULL (spec §4 rule 7).
    const other =
      filter.grain !== undefined ? lookup.grain(filter.grain) : lookup.ref(filter.other ?? '').value;
    if (value === null || other === null) return null;
    return comparisonHolds(filter.op, compareValues(value, other));
  }
  if (value === null && filter.op !== 'is_null' && filter.op !== 'is_not_null') return null;
  return leafHolds(filter, value, type);
}

function comparisonHolds(op: FilterOp, order: number): boolean {
  switch (op) {
    case 'equals':
      return order === 0;
    case 'not_equals':
      return order !== 0;
    case 'gt':
      return order > 0;
    case 'gte':
      return order >= 0;
    case 'lt':
      return order < 0;
    case 'lte':
      return order <= 0;
    default:
      throw new Error(`op ${op} does not compare two fields`);
  }
}

function singleOperand(filter: RefLeafFilter, type: FieldType): Value {
  if (filter.value === undefined || filter.value === null) {
    throw new Error(`${filter.op} on ${filter.field} needs a non-null value`);
  }
  return normalizeValue(filter.value, type);
}

function listOperands(filter: RefLeafFilter, type: FieldType): Value[] {
  if (!filter.values) throw new Error(`${filter.op} on ${filter.field} needs values`);
  return filter.values.map((value) => {
    if (value === null) throw new Error(`${filter.op} on ${filter.field}: NULL in values`);
    return normalizeValue(value, type);
  });
}

function textOf(value: Value, filter: RefLeafFilter): string {
  if (typeof value !== 'string') throw new Error(`${filter.op} needs a string, got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

function leafHolds(filter: RefLeafFilter, value: Value, type: FieldType): boolean {
  if (filter.op === 'is_null') return value === null;
  if (filter.op === 'is_not_null') return value !== null;
  if (value === null) return false;
  switch (filter.op) {
    case 'equals':
      return compareValues(value, singleOperand(filter, type)) === 0;
    case 'not_equals':
      return compareValues(value, singleOperand(filter, type)) !== 0;
    case 'in':
      return listOperands(filter, type).some((operand) => compareValues(value, operand) === 0);
    case 'not_in':
      return !listOperands(filter, type).some((operand) => compareValues(value, operand) === 0);
    case 'gt':
      return compareValues(value, singleOperand(filter, type)) > 0;
    case 'gte':
      return compareValues(value, singleOperand(filter, type)) >= 0;
    case 'lt':
      return compareValues(value, singleOperand(filter, type)) < 0;
    case 'lte':
      return compareValues(value, singleOperand(filter, type)) <= 0;
    case 'between': {
      const [low, high, ...extra] = listOperands(filter, type);
      if (low === undefined || high === undefined || extra.length > 0)
        throw new Error('between needs [low, high]');
      return compareValues(value, low) >= 0 && compareValues(value, high) <= 0;
    }
    case 'contains':
      return textOf(value, filter).includes(textOf(singleOperand(filter, type), filter));
    case 'starts_with':
      return textOf(value, filter).startsWith(textOf(singleOperand(filter, type), filter));
    case 'ends_with':
      return textOf(value, filter).endsWith(textOf(singleOperand(filter, type), filter));
    case 'like': {
      const pattern = singleOperand(filter, type);
      if (typeof value !== 'string' || typeof pattern !== 'string') throw new Error('like needs strings');
      return likePattern(pattern).test(value);
    }
  }
}

/** A LIKE pattern as a regular expression: `%` any run, `_` one character, a backslash before a character for itself; case-sensitive. */
export function likePattern(pattern: string): RegExp {
  let source = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] ?? '';
    if (char === '\\') {
      const next = chars[++i];
      if (next === undefined) throw new Error(`LIKE pattern ${pattern} ends with a backslash`);
      source += escapeRegExp(next);
    } else if (char === '%') source += '[\\s\\S]*';
    else if (char === '_') source += '[\\s\\S]';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function rowLookup(reader: Reader, row: JoinedRow): Lookup {
  const { catalog } = reader;
  return {
    ref: (ref) => {
      const resolved = resolveRef(catalog, ref);
      if (resolved.kind !== 'dimension') throw new Error(`internal: row filter on measure ${ref}`);
      return { value: fieldValue(row, resolved.source, resolved.field), type: resolved.field.type };
    },
    perMeasure: (leaf) => {
      const per = resolvePerMeasure(catalog, leaf.field, leaf.per ?? '', leaf.filters ?? []);
      return {
        value: perMeasureValue(reader, per, joinedRow(row, per.per)),
        type: measureType(catalog, per.source, per.measure),
      };
    },
    grain: (spec) => grainMeasureValue(reader, spec, row),
  };
}

function joinedRow(row: JoinedRow, source: string): SourceRow | null {
  const sourceRow = row[source];
  if (sourceRow === undefined) throw new Error(`internal: ${source} is not joined`);
  return sourceRow;
}

// ---------------------------------------------------------------------------
// Measures at another grain: a query of their own from the measure's source.
// ---------------------------------------------------------------------------

/** The joined rows of a query from `source` that its `filters` keep (computed once per reader). */
function filteredRows(reader: Reader, source: RefSource, filters: RefFilter[]): JoinedRow[] {
  const key = JSON.stringify([source.name, filters]);
  const known = reader.filtered.get(key);
  if (known) return known;
  const { catalog } = reader;
  if (filters.some((filter) => isHavingFilter(catalog, filter)))
    throw new Error('the filters of a measure at another grain are row filters');
  const paths = shortestPaths(catalog, source.name, neededSources(catalog, source.name, [], filters));
  const rows = joinedRelation(catalog, reader.tables, source.name, paths).filter((row) =>
    filters.every((filter) => filterHolds(filter, rowLookup(reader, row))),
  );
  reader.filtered.set(key, rows);
  return rows;
}

/** Whether a row of a measure's source joins `target` (a row of the per or groupBy source) by `step`. */
function joinsRow(row: JoinedRow, step: Step, target: SourceRow): boolean {
  const own = joinedRow(row, step.from);
  return (
    own !== null && step.pairs.every(([mine, theirs]) => sqlEquals(cell(own, mine), cell(target, theirs)))
  );
}

/** The measure over the rows of its source that join this row of `per`; NULL without that row. */
function perMeasureValue(reader: Reader, per: PerMeasure, perRow: SourceRow | null): Value {
  if (perRow === null) return null;
  const step = directToOneStep(reader.catalog, per.source.name, per.per);
  const rows = filteredRows(reader, per.source, per.filters).filter((row) => joinsRow(row, step, perRow));
  return measureValue(reader, per.source, per.measure, rows);
}

function combineValues(aggregate: GrainAggregate, values: Value[]): Value {
  const present = values.filter((v) => v !== null);
  if (present.length === 0) return null;
  if (aggregate === 'max') return extreme(present, 1);
  if (aggregate === 'min') return extreme(present, -1);
  const numbers = present.map((v) => {
    if (typeof v !== 'number') throw new Error(`${aggregate} of non-number ${JSON.stringify(v)}`);
    return v;
  });
  const sum = numbers.reduce((a, b) => a + b, 0);
  return aggregate === 'sum' ? sum : sum / numbers.length;
}

/**
 * `valueFrom: { measure, per | groupBy + aggregate, times, filters }`: per the row's row of
 * `per` (NULL without one), per row of `groupBy` (rows with a row of the measure's source
 * only) then `aggregate`, or over all rows; times `times`.
 */
function grainMeasureValue(reader: Reader, spec: RefGrainMeasure, row: JoinedRow | null): Value {
  const { catalog } = reader;
  const resolved = resolveRef(catalog, spec.measure);
  if (resolved.kind !== 'measure') throw new Error(`valueFrom measure ${spec.measure} is a field`);
  const { source, measure } = resolved;
  const filters = spec.filters ?? [];
  if ((spec.groupBy === undefined) !== (spec.aggregate === undefined))
    throw new Error('groupBy and aggregate go together');
  let value: Value;
  if (spec.per !== undefined) {
    if (spec.groupBy !== undefined) throw new Error('per and groupBy');
    if (row === null) throw new Error('a measure compared with one per a source (a group has no such row)');
    const per = resolvePerMeasure(catalog, spec.measure, spec.per, filters);
    value = perMeasureValue(reader, per, joinedRow(row, spec.per));
  } else if (spec.groupBy !== undefined && spec.aggregate !== undefined) {
    const step = directToOneStep(catalog, source.name, spec.groupBy);
    const rows = filteredRows(reader, source, filters);
    const values = reader.rows(spec.groupBy).flatMap((target) => {
      const mine = rows.filter((r) => joinsRow(r, step, target));
      return mine.length === 0 ? [] : [measureValue(reader, source, measure, mine)];
    });
    value = combineValues(spec.aggregate, values);
  } else {
    value = measureValue(reader, source, measure, filteredRows(reader, source, filters));
  }
  if (spec.times === undefined || value === null) return value;
  if (typeof value !== 'number') throw new Error(`times on a non-number ${JSON.stringify(value)}`);
  return value * spec.times;
}

// ---------------------------------------------------------------------------
// Measures (spec 4.4, 4.7)
// ---------------------------------------------------------------------------

/** The distinct rows of `source` present in a group's rows (NULL-extended is no row). */
function distinctSourceRows(rows: JoinedRow[], source: RefSource): SourceRow[] {
  const byIndex = new Map<number, SourceRow>();
  for (const row of rows) {
    const sourceRow = row[source.name];
    if (sourceRow === undefined) throw new Error(`internal: ${source.name} is not joined`);
    if (sourceRow !== null) byIndex.set(sourceRow.index, sourceRow);
  }
  return [...byIndex.values()];
}

/** Reads each source's rows once per evaluation (CDC sources as their latest view). */
class Reader {
  private readonly read = new Map<string, SourceRow[]>();
  /** A query's filtered rows from a measure's source, by source and filters. */
  readonly filtered = new Map<string, JoinedRow[]>();

  constructor(
    readonly catalog: Catalog,
    readonly tables: Tables,
  ) {}

  rows(name: string): SourceRow[] {
    let rows = this.read.get(name);
    if (!rows) {
      rows = readSourceRows(getSource(this.catalog, name), this.tables);
      this.read.set(name, rows);
    }
    return rows;
  }
}

/** The field a measure reads (its own source's, or a related source's), for its type. */
function measureField(catalog: Catalog, source: RefSource, ref: RefMeasureField): RefField {
  return isRelatedField(ref) ? getField(getSource(catalog, ref.source), ref.field) : getField(source, ref);
}

/**
 * The value a measure reads on one row of its source: its own column, or the related row's,
 * found by following the to-one join path over the tables (matching the join columns with
 * SQL `=`); NULL when some step has no matching row.
 */
function measureFieldValue(reader: Reader, source: RefSource, ref: RefMeasureField, row: SourceRow): Value {
  if (!isRelatedField(ref)) return cell(row, getField(source, ref).name);
  const target = getSource(reader.catalog, ref.source);
  const field = getField(target, ref.field);
  let current: SourceRow | null = row;
  for (const step of toOnePath(reader.catalog, source.name, target.name, ref.via)) {
    const from: SourceRow = current;
    const matches = reader
      .rows(step.to)
      .filter((candidate) =>
        step.pairs.every(([mine, theirs]) => sqlEquals(cell(from, mine), cell(candidate, theirs))),
      );
    if (matches.length > 1) {
      throw new Error(
        `${step.from} row ${from.index} has ${matches.length} ${step.to} rows over a ${step.relationship} join`,
      );
    }
    current = matches[0] ?? null;
    if (current === null) return null;
  }
  return cell(current, field.name);
}

function measureFilterHolds(
  reader: Reader,
  source: RefSource,
  measure: RefAggregateMeasure,
  row: SourceRow,
): boolean {
  if (!measure.filter) return true;
  const field = measureField(reader.catalog, source, measure.filter.field);
  return sqlEquals(
    measureFieldValue(reader, source, measure.filter.field, row),
    normalizeValue(measure.filter.equals, field.type),
  );
}

function numbersOf(values: Value[], measure: RefAggregateMeasure): number[] {
  return values.map((value) => {
    if (typeof value !== 'number')
      throw new Error(`${measure.aggregate} of non-number ${JSON.stringify(value)}`);
    return value;
  });
}

function extreme(values: Value[], sign: 1 | -1): Value {
  return values.reduce<Value>(
    (best, v) => (best === null || compareValues(v, best) * sign > 0 ? v : best),
    null,
  );
}

function aggregateValue(
  reader: Reader,
  source: RefSource,
  measure: RefAggregateMeasure,
  rows: JoinedRow[],
): Value {
  const sourceRows = distinctSourceRows(rows, source).filter((row) =>
    measureFilterHolds(reader, source, measure, row),
  );
  if (measure.sql === undefined) {
    if (measure.aggregate !== 'count')
      throw new Error(`${measure.aggregate} measure ${measure.name} needs sql`);
    return sourceRows.length;
  }
  const sql = measure.sql;
  const values = sourceRows
    .map((row) => measureFieldValue(reader, source, sql, row))
    .filter((v) => v !== null);
  const sum = (): number => numbersOf(values, measure).reduce((a, b) => a + b, 0);
  switch (measure.aggregate) {
    case 'count':
      return values.length;
    case 'count_distinct':
      return new Set(values.map((v) => tupleKey([v]))).size;
    case 'sum':
      return values.length === 0 ? null : sum();
    case 'avg':
      return values.length === 0 ? null : sum() / values.length;
    case 'min':
      return extreme(values, -1);
    case 'max':
      return extreme(values, 1);
  }
}

function arithmetic(op: RefDerivedMeasure['expression']['op'], left: Value, right: Value): Value {
  if (left === null || right === null) return null;
  if (typeof left !== 'number' || typeof right !== 'number')
    throw new Error('derived measure over non-numbers');
  switch (op) {
    case '+':
      return left + right;
    case '-':
      return left - right;
    case '*':
      return left * right;
    case '/':
      return right === 0 ? null : left / right;
  }
}

/** A measure's value over a group's rows; derived measures combine their operands' values. */
function measureValue(reader: Reader, source: RefSource, measure: RefMeasure, rows: JoinedRow[]): Value {
  measureSources(reader.catalog, source, measure); // rejects cycles
  if (!isDerivedMeasure(measure)) return aggregateValue(reader, source, measure, rows);
  const operand = (ref: string): Value => {
    const resolved = resolveMeasureRef(reader.catalog, source, ref);
    return measureValue(reader, resolved.source, resolved.measure, rows);
  };
  return arithmetic(
    measure.expression.op,
    operand(measure.expression.left),
    operand(measure.expression.right),
  );
}

/** The type a measure's value has, for HAVING operand normalization. */
function measureType(catalog: Catalog, source: RefSource, measure: RefMeasure): FieldType {
  if (isDerivedMeasure(measure)) return 'number';
  if (measure.aggregate === 'count' || measure.aggregate === 'count_distinct') return 'integer';
  if (measure.aggregate === 'min' || measure.aggregate === 'max')
    return measureField(catalog, source, measure.sql ?? '').type;
  return 'number';
}

function groupLookup(reader: Reader, rows: JoinedRow[]): Lookup {
  return {
    ref: (ref) => {
      const resolved = resolveRef(reader.catalog, ref);
      if (resolved.kind !== 'measure') throw new Error(`internal: HAVING on field ${ref}`);
      return {
        value: measureValue(reader, resolved.source, resolved.measure, rows),
        type: measureType(reader.catalog, resolved.source, resolved.measure),
      };
    },
    perMeasure: (leaf) => {
      throw new Error(`internal: HAVING on ${leaf.field} per ${leaf.per ?? ''}`);
    },
    grain: (spec) => grainMeasureValue(reader, spec, null),
  };
}

// ---------------------------------------------------------------------------
// Result rows
// ---------------------------------------------------------------------------

function dimensionValue(reader: Reader, row: JoinedRow, column: Column): Value {
  if (column.resolved.kind !== 'dimension') throw new Error('internal: not a dimension');
  const { source, field, per } = column.resolved;
  if (per) return perMeasureValue(reader, per, joinedRow(row, source.name));
  const value = fieldValue(row, source, field);
  return column.granularity === undefined ? value : truncateValue(value, field.type, column.granularity);
}

/** The grain: the root and the sources contributing selected fields, with the sources on the paths. */
function grainSources(root: string, columns: Column[], paths: Map<string, Step[]>): string[] {
  const grain = new Set<string>([root]);
  for (const column of columns) {
    for (const step of paths.get(column.resolved.source.name) ?? []) grain.add(step.to);
  }
  return [...grain];
}

/** No measure: one output row per distinct grain-row identity among the surviving rows. */
function grainRows(reader: Reader, columns: Column[], rows: JoinedRow[], grain: string[]): Row[] {
  const seen = new Set<string>();
  const result: Row[] = [];
  for (const row of rows) {
    const identity = grain.map((name) => row[name]?.index ?? 'null').join('|');
    if (seen.has(identity)) continue;
    seen.add(identity);
    result.push(
      Object.fromEntries(columns.map((column) => [column.name, dimensionValue(reader, row, column)])),
    );
  }
  return result;
}

interface Group {
  dimensions: Value[];
  rows: JoinedRow[];
}

/** GROUP BY the dimension columns; with no dimension, exactly one group (even over zero rows). */
function groupRows(reader: Reader, rows: JoinedRow[], dimensions: Column[]): Group[] {
  if (dimensions.length === 0) return [{ dimensions: [], rows }];
  const groups = new Map<string, Group>();
  for (const row of rows) {
    const values = dimensions.map((column) => dimensionValue(reader, row, column));
    const key = tupleKey(values);
    const group = groups.get(key) ?? { dimensions: values, rows: [] };
    group.rows.push(row);
    groups.set(key, group);
  }
  return [...groups.values()];
}

function aggregatedRows(reader: Reader, columns: Column[], rows: JoinedRow[], having: RefFilter[]): Row[] {
  const dimensions = columns.filter((column) => column.resolved.kind === 'dimension');
  return groupRows(reader, rows, dimensions)
    .filter((group) => having.every((filter) => filterHolds(filter, groupLookup(reader, group.rows))))
    .map((group) =>
      Object.fromEntries(
        columns.map((column) => {
          const { resolved } = column;
          const value =
            resolved.kind === 'measure'
              ? measureValue(reader, resolved.source, resolved.measure, group.rows)
              : (group.dimensions[dimensions.indexOf(column)] ?? null);
          return [column.name, value];
        }),
      ),
    );
}

// ---------------------------------------------------------------------------
// Sort (NULLs last in both directions) and limit
// ---------------------------------------------------------------------------

function compareForSort(a: Value, b: Value, direction: RefSort['direction']): number {
  if (a === null || b === null) return (a === null ? 1 : 0) - (b === null ? 1 : 0);
  return direction === 'asc' ? compareValues(a, b) : -compareValues(a, b);
}

function sortRows(rows: Row[], sort: RefSort[], columnNames: string[]): Row[] {
  for (const key of sort) {
    if (!columnNames.includes(key.field)) throw new Error(`sort on unknown output column ${key.field}`);
  }
  return [...rows].sort((a, b) => {
    for (const key of sort) {
      const c = compareForSort(a[key.field] ?? null, b[key.field] ?? null, key.direction);
      if (c !== 0) return c;
    }
    return 0;
  });
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/** The correct answer of `input` over `tables`, by SPEC.md section 4. Throws on invalid input. */
/** Every source an input reads: the root, its fields', filters' and measures' sources, and those on the join paths to them. */
export function sourcesRead(sources: RefSource[], input: RefInput): Set<string> {
  const catalog = buildCatalog(sources);
  const columns = resolveColumns(catalog, input.fields);
  const paths = shortestPaths(
    catalog,
    input.from,
    neededSources(catalog, input.from, columns, input.filters),
  );
  const lookups = [
    ...columns.map((column) => column.resolved),
    ...input.filters
      .flatMap(leafFilters)
      .flatMap((leaf) => [leaf.field, ...(leaf.other === undefined ? [] : [leaf.other])])
      .map((ref) => resolveRef(catalog, ref)),
  ].flatMap((resolved) =>
    resolved.kind === 'measure' ? [...lookupSources(catalog, resolved.source, resolved.measure)] : [],
  );
  // Measures at another grain: their own query from the measure's source, its filters' sources.
  const grains = [
    ...input.fields.flatMap((f) => (f.per === undefined ? [] : [{ measure: f.field, filters: f.filters }])),
    ...input.filters
      .flatMap(leafFilters)
      .flatMap((leaf) => [
        ...(leaf.per === undefined ? [] : [{ measure: leaf.field, filters: leaf.filters }]),
        ...(leaf.grain === undefined ? [] : [leaf.grain]),
      ]),
  ].flatMap((spec: { measure: string; filters?: RefFilter[]; groupBy?: string }) => [
    ...grainSourcesRead(catalog, spec.measure, spec.filters ?? []),
    ...(spec.groupBy === undefined ? [] : [spec.groupBy]),
  ]);
  return new Set([input.from, ...paths.keys(), ...lookups, ...grains]);
}

/** The sources a measure at another grain reads: its own, its lookups', its filters'. */
function grainSourcesRead(catalog: Catalog, ref: string, filters: RefFilter[]): Set<string> {
  const resolved = resolveRef(catalog, ref);
  if (resolved.kind !== 'measure') throw new Error(`${ref} is not a measure`);
  return new Set([
    ...sourcesRead([...catalog.values()], {
      from: resolved.source.name,
      fields: [{ field: ref }],
      filters,
    }),
  ]);
}

/** The sources a measure's related fields are read from, with those their paths pass through. */
function lookupSources(catalog: Catalog, source: RefSource, measure: RefMeasure): Set<string> {
  const found = new Set<string>();
  if (isDerivedMeasure(measure)) {
    for (const ref of [measure.expression.left, measure.expression.right]) {
      const operand = resolveMeasureRef(catalog, source, ref);
      for (const name of lookupSources(catalog, operand.source, operand.measure)) found.add(name);
    }
    return found;
  }
  for (const ref of [measure.sql, measure.filter?.field]) {
    if (ref === undefined || !isRelatedField(ref)) continue;
    for (const step of toOnePath(catalog, source.name, ref.source, ref.via)) found.add(step.to);
  }
  return found;
}

export function evaluateReference(sources: RefSource[], input: RefInput, tables: Tables): Row[] {
  const catalog = buildCatalog(sources);
  getSource(catalog, input.from);
  const columns = resolveColumns(catalog, input.fields);
  const having = input.filters.filter((filter) => isHavingFilter(catalog, filter));
  const rowFilters = input.filters.filter((filter) => !having.includes(filter));
  const paths = shortestPaths(
    catalog,
    input.from,
    neededSources(catalog, input.from, columns, input.filters),
  );
  const reader = new Reader(catalog, tables);
  const surviving = joinedRelation(catalog, tables, input.from, paths).filter((row) =>
    rowFilters.every((filter) => filterHolds(filter, rowLookup(reader, row))),
  );
  const aggregated = having.length > 0 || columns.some((column) => column.resolved.kind === 'measure');
  const rows = aggregated
    ? aggregatedRows(reader, columns, surviving, having)
    : grainRows(reader, columns, surviving, grainSources(input.from, columns, paths));
  const sorted = sortRows(
    rows,
    input.sort ?? [],
    columns.map((column) => column.name),
  );
  return input.limit === undefined ? sorted : sorted.slice(0, input.limit);
}
