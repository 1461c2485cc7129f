// fast-check generators of random projects, data and inputs for the reference oracle,
// plus renderers to the spec's YAML formats and to CREATE TABLE / INSERT statements.
//
// The generators lean toward what breaks fan-out handling (measured by mutating the planner:
// each seeded bug is found within a few dozen runs): one_to_many chains and stars, several
// child rows per parent row, sum/count measures next to dimensions whose join repeats the
// measure's rows, measures of fan-out sources, and `is_null` / `any` filters on sources that
// contribute no selected field. About a quarter of the inputs are still unbiased picks.
import fc from 'fast-check';
import { compareValues, outputColumnNames } from './evaluate.js';
import {
  FIELD_TYPES,
  GRANULARITIES,
  innerFilters,
  isAnyFilter,
  isLeafFilter,
  isNotFilter,
  isDerivedMeasure,
  isRelatedField,
  type AggregateKind,
  type ArithmeticOp,
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
  type RefJoin,
  type RefLeafFilter,
  type RefMeasure,
  type RefMeasureField,
  type RefSelectedField,
  type RefSource,
  type Relationship,
  type Row,
  type Scenario,
  type Tables,
  type Value,
} from './model.js';
import { MYSQL_TEXT } from '../support/mysql-text.js';

export type { Scenario } from './model.js';

// ---------------------------------------------------------------------------
// Value domains: small, so that filters and joins hit. Strings are ASCII and are compared by
// code unit (Postgres tables use COLLATE "C", see toCreateTableSql). Numbers are dyadic
// rationals so that sums are exact in floating point.
// ---------------------------------------------------------------------------

const DOMAINS: Record<FieldType, readonly Value[]> = {
  string: ['a', 'ab', 'Ab', 'b', 'ba', "o'k", ''],
  integer: [-1, 0, 1, 2, 3],
  decimal: [0, 1.5, 2.25, -3.75, 10],
  number: [0, 0.5, -1.25, 2, 100.125],
  boolean: [true, false],
  // 2024-01-01 and 2024-12-30 are Mondays, 2023-12-31 and 2024-01-07 Sundays.
  date: ['2023-12-31', '2024-01-01', '2024-01-07', '2024-02-29', '2024-04-15', '2024-12-30'],
  timestamp: [
    '2023-12-31T23:59:59.999Z',
    '2024-01-01T00:00:00.000Z',
    '2024-02-29T12:30:00.000Z',
    '2024-04-15T08:00:00.500Z',
    '2024-07-07T18:45:30.000Z',
  ],
};

/** Filter values for `id` and foreign-key columns (ids are 1..8; 9 never exists). */
const KEY_DOMAIN: readonly Value[] = [1, 2, 3, 4, 9];
/**
 * Foreign-key cell values: mostly 1 or 2, so that a parent row has several child rows (fan-out
 * repeats it) while the parents with greater ids have none; some NULL, some dangling.
 */
const FOREIGN_KEY_VALUE: fc.Arbitrary<Value> = fc.oneof(
  { arbitrary: fc.constantFrom(1, 2), weight: 8 },
  { arbitrary: fc.constantFrom(3, 4, 5), weight: 4 },
  { arbitrary: fc.constant(null), weight: 2 },
  { arbitrary: fc.constant(9), weight: 1 },
);
/** Patterns for contains / starts_with / ends_with, in mixed case (the ops are case-insensitive). */
const TEXT_PATTERNS: readonly Value[] = ['A', 'b', 'AB', "'", 'O', 'K', 'Ba'];
/** LIKE patterns (case-sensitive): wildcards, a literal quote, escaped wildcards. */
const LIKE_PATTERNS: readonly Value[] = ['a%', '%b', '_', '_b%', 'A%', '%a%', "o'%", '%', '', 'a\\_', '%\\%'];
/** `times` of a measure at another grain: dyadic, so that sums stay exact. */
const TIMES: readonly number[] = [0.5, 2, 0.25];
const HAVING_DOMAIN: readonly Value[] = [0, 1, 2, 3, 1.5, 10];
/** `_op_ts` values of CDC tables, in increasing order (two differ by one millisecond). */
const CDC_TIMESTAMPS: readonly string[] = [
  '2024-06-01T00:00:00.000Z',
  '2024-06-01T00:00:00.001Z',
  '2024-06-01T10:00:00.000Z',
  '2024-06-02T00:00:00.000Z',
  '2024-06-03T00:00:00.000Z',
];
const CDC_ORDER_BY = ['_op_ts', '_seq'];
const CDC_DELETED_OP = 'd';

const COMPARISON_OPS: readonly FilterOp[] = [
  'equals',
  'not_equals',
  'in',
  'not_in',
  'gt',
  'gte',
  'lt',
  'lte',
  'between',
  'is_null',
  'is_not_null',
];
const TEXT_OPS: readonly FilterOp[] = ['contains', 'starts_with', 'ends_with', 'like'];
const BOOLEAN_OPS: readonly FilterOp[] = ['equals', 'not_equals', 'in', 'not_in', 'is_null', 'is_not_null'];
const AGGREGATES: readonly AggregateKind[] = ['count', 'count_distinct', 'sum', 'avg', 'min', 'max'];

/** Parent-to-child relationships, biased toward fan-out (one_to_many) and its reverse. */
const RELATIONSHIP: fc.Arbitrary<Relationship> = fc.oneof(
  { arbitrary: fc.constant<Relationship>('one_to_many'), weight: 4 },
  { arbitrary: fc.constant<Relationship>('many_to_one'), weight: 2 },
  { arbitrary: fc.constant<Relationship>('one_to_one'), weight: 1 },
);
/** A source's own field types: the first mostly a number (so that sum and avg have one), then any. */
const FIELD_TYPES_ARB: fc.Arbitrary<FieldType[]> = fc
  .tuple(
    fc.oneof(
      { arbitrary: fc.constantFrom<FieldType>('integer', 'decimal', 'number'), weight: 3 },
      { arbitrary: fc.constantFrom(...FIELD_TYPES), weight: 1 },
    ),
    fc.array(fc.constantFrom(...FIELD_TYPES), { maxLength: 2 }),
  )
  .map(([first, rest]) => [first, ...rest]);
const AGGREGATE: fc.Arbitrary<AggregateKind> = fc.oneof(
  { arbitrary: fc.constantFrom<AggregateKind>('sum', 'count'), weight: 4 },
  { arbitrary: fc.constantFrom(...AGGREGATES), weight: 3 },
);
const ARITHMETIC_OPS: readonly ArithmeticOp[] = ['+', '-', '*', '/'];

function isNumericType(type: FieldType): boolean {
  return type === 'integer' || type === 'decimal' || type === 'number';
}

function opsFor(type: FieldType): readonly FilterOp[] {
  if (type === 'boolean') return BOOLEAN_OPS;
  if (type === 'string') return [...COMPARISON_OPS, ...TEXT_OPS];
  return COMPARISON_OPS;
}

function sourceName(index: number): string {
  return `s${index}`;
}

function foreignKeyName(referenced: number): string {
  return `${sourceName(referenced)}_id`;
}

function reverseRelationship(relationship: Relationship): Relationship {
  if (relationship === 'one_to_many') return 'many_to_one';
  if (relationship === 'many_to_one') return 'one_to_many';
  return 'one_to_one';
}

/** `arb` once in `oneIn` draws, else null. */
function occasionally<T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> {
  return fc.oneof({ arbitrary: fc.constant(null), weight: oneIn - 1 }, { arbitrary: arb, weight: 1 });
}

function pickFrom<T>(items: readonly T[], pick: number): T {
  const item = items[pick % items.length];
  if (item === undefined) throw new Error('pickFrom: empty list');
  return item;
}

// ---------------------------------------------------------------------------
// Project plan: a random join tree and per-source seeds, resolved into RefSources.
// ---------------------------------------------------------------------------

/** A tree edge; `relationship` reads from parent to child. */
interface EdgePlan {
  parent: number;
  child: number;
  relationship: Relationship;
  /** Which side holds the foreign key (the `many` side; either side for one_to_one). */
  fkOnChild: boolean;
  declaredOnChild: boolean;
}

interface MeasureSeed {
  aggregate: AggregateKind;
  fieldPick: number;
  countsField: boolean;
  filter: { fieldPick: number; valuePick: number } | null;
  /** Reads a related source's field (in `sql`, `filter` or both) when a to-one path allows. */
  lookup: LookupSeed | null;
}

interface LookupSeed {
  targetPick: number;
  fieldPick: number;
  valuePick: number;
  part: 'sql' | 'filter' | 'both';
  /** Names the sources the path passes through (`{via.source.field}`). */
  via: boolean;
}

/** A source reached from a measure's source by to-one joins only, and its own fields. */
interface LookupTarget {
  source: string;
  /** The sources the (only) path passes through. */
  via: string[];
  fields: RefField[];
}

interface DerivedSeed {
  op: ArithmeticOp;
  leftPick: number;
  rightPick: number;
  crossSource: boolean;
}

interface SourcePlan {
  fieldTypes: FieldType[];
  cdc: boolean;
  measures: MeasureSeed[];
  derived: DerivedSeed | null;
}

interface ForeignKey {
  name: string;
  /** A one_to_one foreign key is unique among non-NULL values. */
  unique: boolean;
}

/** A generated source with what data generation needs to know about it. */
interface BuiltSource {
  source: RefSource;
  foreignKeys: ForeignKey[];
}

/**
 * `random`: any earlier node is the parent; `chain`: the previous node; `star`: mostly node 0
 * (a parent with several fan-out children: the chasm trap).
 */
type TreeShape = 'random' | 'chain' | 'star';

function parentArb(child: number, shape: TreeShape): fc.Arbitrary<number> {
  const any = fc.integer({ min: 0, max: child - 1 });
  if (shape === 'chain') return fc.constant(child - 1);
  if (shape === 'star')
    return fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: any, weight: 1 });
  return any;
}

function edgeArb(child: number, shape: TreeShape): fc.Arbitrary<EdgePlan> {
  return fc
    .record({
      parent: parentArb(child, shape),
      relationship: RELATIONSHIP,
      oneToOneFkOnChild: fc.boolean(),
      declaredOnChild: fc.boolean(),
    })
    .map(({ parent, relationship, oneToOneFkOnChild, declaredOnChild }) => ({
      parent,
      child,
      relationship,
      fkOnChild: relationship === 'one_to_many' || (relationship === 'one_to_one' && oneToOneFkOnChild),
      declaredOnChild,
    }));
}

function treeArb(): fc.Arbitrary<EdgePlan[]> {
  return fc
    .record({
      size: fc.oneof(
        { arbitrary: fc.integer({ min: 3, max: 5 }), weight: 4 },
        { arbitrary: fc.constant(2), weight: 1 },
      ),
      shape: fc.constantFrom<TreeShape>('star', 'random', 'chain'),
    })
    .chain(({ size, shape }) =>
      fc.tuple(...Array.from({ length: size - 1 }, (_, i) => edgeArb(i + 1, shape))),
    );
}

/**
 * Whether lookups sometimes name the sources their path passes through, `{via.source.field}`
 * (on by default; STRATA_LOOKUP_VIA=0 leaves it out).
 */
export const LOOKUP_VIA = process.env.STRATA_LOOKUP_VIA !== '0';

const measureSeedArb: fc.Arbitrary<MeasureSeed> = fc.record({
  aggregate: AGGREGATE,
  fieldPick: fc.nat(),
  countsField: fc.boolean(),
  filter: occasionally(fc.record({ fieldPick: fc.nat(), valuePick: fc.nat() }), 6),
  lookup: occasionally(
    fc.record({
      targetPick: fc.nat(),
      fieldPick: fc.nat(),
      valuePick: fc.nat(),
      part: fc.constantFrom<LookupSeed['part']>('sql', 'filter', 'both'),
      via: fc.boolean(),
    }),
    3,
  ),
});

const derivedSeedArb: fc.Arbitrary<DerivedSeed> = fc.record({
  op: fc.constantFrom(...ARITHMETIC_OPS),
  leftPick: fc.nat(),
  rightPick: fc.nat(),
  crossSource: fc.boolean(),
});

const sourcePlanArb: fc.Arbitrary<SourcePlan> = fc.record({
  fieldTypes: FIELD_TYPES_ARB,
  cdc: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  measures: fc.oneof(
    { arbitrary: fc.array(measureSeedArb, { minLength: 1, maxLength: 3 }), weight: 4 },
    { arbitrary: fc.constant<MeasureSeed[]>([]), weight: 1 },
  ),
  derived: occasionally(derivedSeedArb, 4),
});

function foreignKeysOf(index: number, edges: EdgePlan[]): ForeignKey[] {
  return edges
    .filter((edge) => (edge.fkOnChild ? edge.child : edge.parent) === index)
    .map((edge) => ({
      name: foreignKeyName(edge.fkOnChild ? edge.parent : edge.child),
      unique: edge.relationship === 'one_to_one',
    }));
}

/** The join an edge declares, and on which source it is declared. */
function edgeJoin(edge: EdgePlan): { owner: number; join: RefJoin } {
  const [parentField, childField] = edge.fkOnChild
    ? ['id', foreignKeyName(edge.parent)]
    : [foreignKeyName(edge.child), 'id'];
  if (edge.declaredOnChild) {
    return {
      owner: edge.child,
      join: {
        to: sourceName(edge.parent),
        relationship: reverseRelationship(edge.relationship),
        on: { [childField]: parentField },
      },
    };
  }
  return {
    owner: edge.parent,
    join: { to: sourceName(edge.child), relationship: edge.relationship, on: { [parentField]: childField } },
  };
}

function resolveMeasureFilter(
  seed: { fieldPick: number; valuePick: number },
  fields: RefField[],
  ref: (field: RefField) => RefMeasureField = (field) => field.name,
): RefAggregateMeasure['filter'] {
  const field = pickFrom(fields, seed.fieldPick);
  return { field: ref(field), equals: pickFrom(DOMAINS[field.type], seed.valuePick) };
}

/** The fields an aggregate can read: numbers for sum/avg, ordered types for min/max. */
function aggregateCandidates(aggregate: AggregateKind, fields: RefField[]): RefField[] {
  if (aggregate === 'sum' || aggregate === 'avg') return fields.filter((f) => isNumericType(f.type));
  if (aggregate === 'min' || aggregate === 'max') return fields.filter((f) => f.type !== 'boolean');
  return fields;
}

/**
 * Turns a seed into an aggregate over the source's non-key fields (falling back to `count`);
 * with a lookup seed and a to-one target, its value and/or filter read the target's field
 * (a lookup the value cannot take, for want of a field of the right type, goes to the filter).
 */
function resolveAggregate(
  seed: MeasureSeed,
  fields: RefField[],
  name: string,
  targets: LookupTarget[],
): RefAggregateMeasure {
  const lookup = seed.lookup && targets.length > 0 ? seed.lookup : null;
  const target = lookup ? pickFrom(targets, lookup.targetPick) : null;
  const related = (field: RefField): RefMeasureField =>
    target
      ? {
          source: target.source,
          field: field.name,
          ...(LOOKUP_VIA && lookup?.via && target.via.length > 0 ? { via: target.via } : {}),
        }
      : field.name;
  const needsField = seed.aggregate !== 'count' || seed.countsField;
  const relatedValues =
    target && lookup?.part !== 'filter' ? aggregateCandidates(seed.aggregate, target.fields) : [];
  const candidates = aggregateCandidates(seed.aggregate, fields);
  let base: RefAggregateMeasure;
  if (needsField && relatedValues.length > 0) {
    base = { name, aggregate: seed.aggregate, sql: related(pickFrom(relatedValues, seed.fieldPick)) };
  } else if (needsField && candidates.length > 0) {
    base = { name, aggregate: seed.aggregate, sql: pickFrom(candidates, seed.fieldPick).name };
  } else {
    base = { name, aggregate: 'count' };
  }
  const valueLooksUp = base.sql !== undefined && isRelatedField(base.sql);
  if (target && lookup && target.fields.length > 0 && (lookup.part !== 'sql' || !valueLooksUp)) {
    return { ...base, filter: resolveMeasureFilter(lookup, target.fields, related) };
  }
  return seed.filter ? { ...base, filter: resolveMeasureFilter(seed.filter, fields) } : base;
}

/**
 * The sources reached from `index` by many-to-one and one-to-one joins only (in the join
 * tree each has one path, so the shortest to-one path is unique), with their own fields.
 */
function lookupTargets(index: number, edges: EdgePlan[], fieldsOf: RefField[][]): LookupTarget[] {
  const steps = edges.flatMap((e) => [
    { from: e.parent, to: e.child, relationship: e.relationship },
    { from: e.child, to: e.parent, relationship: reverseRelationship(e.relationship) },
  ]);
  const paths = new Map<number, number[]>([[index, []]]);
  const queue = [index];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    const path = paths.get(node) ?? [];
    for (const step of steps) {
      if (step.from !== node || step.relationship === 'one_to_many' || paths.has(step.to)) continue;
      paths.set(step.to, [...path, step.to]);
      queue.push(step.to);
    }
  }
  return [...paths].flatMap(([target, path]) =>
    target === index
      ? []
      : [
          {
            source: sourceName(target),
            via: path.slice(0, -1).map(sourceName),
            fields: (fieldsOf[target] ?? []).filter((f) => /^f\d+$/.test(f.name)),
          },
        ],
  );
}

interface MeasureCandidate {
  owner: number;
  name: string;
  /** Integer-typed in SQL (count, count_distinct, min/max of integer): never a `/` numerator. */
  integerValued: boolean;
}

function numericCandidates(owner: number, source: RefSource, sources: RefSource[]): MeasureCandidate[] {
  return source.measures.flatMap((measure): MeasureCandidate[] => {
    const type = measureResultType(sources, source, measure);
    if (isDerivedMeasure(measure) || type === null || !isNumericType(type)) return [];
    const integerValued = type === 'integer' && measure.aggregate !== 'sum' && measure.aggregate !== 'avg';
    return [{ owner, name: measure.name, integerValued }];
  });
}

/**
 * A derived measure over numeric aggregate measures (own, or any source's when crossSource).
 * A `/` whose numerator would be integer-typed becomes `-`: integer division differs by dialect.
 */
function resolveDerived(
  seed: DerivedSeed,
  owner: number,
  all: MeasureCandidate[],
  name: string,
): RefDerivedMeasure | null {
  const own = all.filter((c) => c.owner === owner);
  const pool = seed.crossSource || own.length === 0 ? all : own;
  if (pool.length === 0) return null;
  const left = pickFrom(pool, seed.leftPick);
  const right = pickFrom(pool, seed.rightPick);
  const ref = (c: MeasureCandidate): string =>
    c.owner === owner ? c.name : `${sourceName(c.owner)}.${c.name}`;
  const op = seed.op === '/' && left.integerValued ? '-' : seed.op;
  return { name, expression: { op, left: ref(left), right: ref(right) } };
}

function buildSources(edges: EdgePlan[], plans: SourcePlan[]): BuiltSource[] {
  const joins = edges.map(edgeJoin);
  const fieldsOf = plans.map((plan) => plan.fieldTypes.map((type, k): RefField => ({ name: `f${k}`, type })));
  const built = plans.map((plan, index): BuiltSource => {
    const foreignKeys = foreignKeysOf(index, edges);
    const ownFields = fieldsOf[index] ?? [];
    const targets = lookupTargets(index, edges, fieldsOf);
    const source: RefSource = {
      name: sourceName(index),
      table: `t.${sourceName(index)}`,
      primaryKey: ['id'],
      ...(plan.cdc ? { cdc: { orderBy: CDC_ORDER_BY, deletedOp: CDC_DELETED_OP } } : {}),
      fields: [
        { name: 'id', type: 'integer' },
        ...foreignKeys.map((fk): RefField => ({ name: fk.name, type: 'integer' })),
        ...ownFields,
      ],
      measures: plan.measures.map((seed, k) => resolveAggregate(seed, ownFields, `m${k}`, targets)),
      joins: joins.filter((j) => j.owner === index).map((j) => j.join),
    };
    return { source, foreignKeys };
  });
  const all = built.map((b) => b.source);
  const candidates = built.flatMap((b, index) => numericCandidates(index, b.source, all));
  plans.forEach((plan, index) => {
    const target = built[index]?.source;
    if (!plan.derived || !target || target.measures.length >= 3) return;
    const derived = resolveDerived(plan.derived, index, candidates, `m${target.measures.length}`);
    if (derived) target.measures.push(derived);
  });
  return built;
}

// ---------------------------------------------------------------------------
// Data: rows consistent with the relationships. Ids are 1..n (unique); foreign keys may be
// NULL or dangle; a one_to_one foreign key is unique among non-NULL values.
// ---------------------------------------------------------------------------

/**
 * Per table, the values each own field takes: its whole domain, or a few of them (so rows share
 * values); at least two for a number (a sum of zeros hides rows counted twice).
 */
type Palettes = Record<string, readonly Value[]>;

function ownFields(built: BuiltSource): RefField[] {
  return built.source.fields.filter((f) => /^f\d+$/.test(f.name));
}

function palettesArb(built: BuiltSource): fc.Arbitrary<Palettes> {
  const arbs: Record<string, fc.Arbitrary<readonly Value[]>> = {};
  for (const field of ownFields(built)) {
    const domain = DOMAINS[field.type];
    arbs[field.name] = fc.oneof(
      { arbitrary: fc.constant(domain), weight: 1 },
      {
        arbitrary: fc.subarray([...domain], {
          minLength: isNumericType(field.type) ? 2 : 1,
          maxLength: Math.min(3, domain.length),
        }),
        weight: 1,
      },
    );
  }
  return fc.record(arbs);
}

function nonIdValuesArb(built: BuiltSource, palettes: Palettes): fc.Arbitrary<Row> {
  const arbs: Record<string, fc.Arbitrary<Value>> = {};
  for (const fk of built.foreignKeys) arbs[fk.name] = FOREIGN_KEY_VALUE;
  for (const field of ownFields(built)) {
    const palette = palettes[field.name] ?? DOMAINS[field.type];
    arbs[field.name] = fc.option(fc.constantFrom(...palette), { nil: null, freq: 6 });
  }
  return fc.record(arbs);
}

/** Mostly 3..max rows (so that fan-out repeats rows), sometimes 0-2 (what failures shrink to). */
function rowCountArray<T>(arb: fc.Arbitrary<T>, max: number): fc.Arbitrary<T[]> {
  return fc.oneof(
    { withCrossShrink: true },
    { arbitrary: fc.array(arb, { maxLength: 2 }), weight: 1 },
    { arbitrary: fc.array(arb, { minLength: 3, maxLength: max }), weight: 10 },
  );
}

/** Nulls out repeated values of unique foreign keys (keeps the first occurrence). */
function enforceUniqueKeys(rows: Row[], foreignKeys: ForeignKey[]): Row[] {
  const uniqueColumns = foreignKeys.filter((fk) => fk.unique).map((fk) => fk.name);
  const seen = new Map<string, Set<Value>>(uniqueColumns.map((c) => [c, new Set<Value>()]));
  return rows.map((row) => {
    const copy = { ...row };
    for (const column of uniqueColumns) {
      const value = copy[column] ?? null;
      const values = seen.get(column);
      if (value === null || !values) continue;
      if (values.has(value)) copy[column] = null;
      else values.add(value);
    }
    return copy;
  });
}

function withIds(rows: Row[], firstId = 1): Row[] {
  return rows.map((row, i) => ({ id: firstId + i, ...row }));
}

function plainTableArb(built: BuiltSource): fc.Arbitrary<Row[]> {
  return palettesArb(built)
    .chain((palettes) => rowCountArray(nonIdValuesArb(built, palettes), 8))
    .map((rows) => enforceUniqueKeys(withIds(rows), built.foreignKeys));
}

interface VersionSeed {
  values: Row;
  op: string;
  /** Arrives after the latest version (greater `_seq`) but with an older `_op_ts`. */
  late: boolean;
  ts: number;
}

interface KeySeed {
  latest: Row;
  latestOp: string;
  latestTs: number;
  earlier: VersionSeed[];
}

function keySeedArb(built: BuiltSource, palettes: Palettes, deleted: boolean): fc.Arbitrary<KeySeed> {
  const values = nonIdValuesArb(built, palettes);
  return fc.record({
    latest: values,
    latestOp: deleted ? fc.constant(CDC_DELETED_OP) : fc.constantFrom('c', 'u', 'r'),
    latestTs: fc.integer({ min: 1, max: CDC_TIMESTAMPS.length - 1 }),
    earlier: fc.array(
      fc.record({
        values,
        op: fc.constantFrom('c', 'u', 'd'),
        late: fc.boolean(),
        ts: fc.nat(CDC_TIMESTAMPS.length - 1),
      }),
      { maxLength: 2 },
    ),
  });
}

interface PlacedVersion {
  values: Row;
  op: string;
  ts: number;
  /** 0: before the latest versions in the log, 1: the latest versions, 2: late arrivals. */
  phase: number;
}

/**
 * Versions of one key, built so that the intended latest version has the greatest
 * (`_op_ts`, `_seq`): earlier versions have `_op_ts` <= latest and a smaller `_seq`,
 * late arrivals a greater `_seq` but a strictly smaller `_op_ts`.
 */
function placeVersions(seed: KeySeed, latestValues: Row): PlacedVersion[] {
  const id = latestValues['id'] ?? null;
  const earlier = seed.earlier.map((v) => ({
    values: { id, ...v.values },
    op: v.op,
    ts: v.late ? Math.min(v.ts, seed.latestTs - 1) : Math.min(v.ts, seed.latestTs),
    phase: v.late ? 2 : 0,
  }));
  return [...earlier, { values: latestValues, op: seed.latestOp, ts: seed.latestTs, phase: 1 }];
}

function assembleCdcTable(built: BuiltSource, live: KeySeed[], deleted: KeySeed[]): Row[] {
  const liveLatest = enforceUniqueKeys(withIds(live.map((seed) => seed.latest)), built.foreignKeys);
  const deletedLatest = withIds(
    deleted.map((seed) => seed.latest),
    live.length + 1,
  );
  const versions = [
    ...live.flatMap((seed, i) => placeVersions(seed, liveLatest[i] ?? {})),
    ...deleted.flatMap((seed, i) => placeVersions(seed, deletedLatest[i] ?? {})),
  ].sort((a, b) => a.phase - b.phase);
  return versions.map((v, position) => ({
    ...v.values,
    _op: v.op,
    _op_ts: CDC_TIMESTAMPS[v.ts] ?? null,
    _seq: position + 1,
  }));
}

/** At most 6 live and 2 deleted keys: ids stay within 1..8. */
function cdcTableArb(built: BuiltSource): fc.Arbitrary<Row[]> {
  return palettesArb(built)
    .chain((palettes) =>
      fc.record({
        live: rowCountArray(keySeedArb(built, palettes, false), 6),
        deleted: fc.array(keySeedArb(built, palettes, true), { maxLength: 2 }),
      }),
    )
    .map(({ live, deleted }) => assembleCdcTable(built, live, deleted));
}

function tablesArb(built: BuiltSource[]): fc.Arbitrary<Tables> {
  const arbs: Record<string, fc.Arbitrary<Row[]>> = {};
  for (const b of built) arbs[b.source.table] = b.source.cdc ? cdcTableArb(b) : plainTableArb(b);
  return fc.record(arbs);
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/** A field or measure that an input can select or filter on. */
interface Selectable {
  ref: string;
  source: string;
  kind: 'dimension' | 'measure';
  /** A dimension's type, or a measure's result type (null when not simple). */
  type: FieldType | null;
  domain: readonly Value[];
  /** A measure's aggregate (`derived` for an expression); null for a dimension. */
  aggregate: AggregateKind | 'derived' | null;
}

/** The type of a measure's value: count -> integer, sum/avg/derived -> number, min/max -> field type. */
function measureResultType(sources: RefSource[], source: RefSource, measure: RefMeasure): FieldType | null {
  if (isDerivedMeasure(measure)) return 'number';
  if (measure.aggregate === 'count' || measure.aggregate === 'count_distinct') return 'integer';
  const field = measure.sql === undefined ? undefined : measureFieldOf(sources, source, measure.sql);
  if (measure.aggregate === 'min' || measure.aggregate === 'max') return field?.type ?? null;
  return field?.type === 'integer' && measure.aggregate === 'sum' ? 'integer' : 'number';
}

function selectables(sources: RefSource[]): Selectable[] {
  return sources.flatMap((source) => [
    ...source.fields.map((field): Selectable => ({
      ref: `${source.name}.${field.name}`,
      source: source.name,
      kind: 'dimension',
      type: field.type,
      domain: /^f\d+$/.test(field.name) ? DOMAINS[field.type] : KEY_DOMAIN,
      aggregate: null,
    })),
    ...source.measures.map((measure): Selectable => ({
      ref: `${source.name}.${measure.name}`,
      source: source.name,
      kind: 'measure',
      type: measureResultType(sources, source, measure),
      domain: HAVING_DOMAIN,
      aggregate: isDerivedMeasure(measure) ? 'derived' : measure.aggregate,
    })),
  ]);
}

/**
 * The join tree seen from the input's root (`from`): each source's parent and the
 * relationship from that parent to it.
 */
class Topology {
  readonly parent = new Map<string, string>();
  readonly into = new Map<string, Relationship>();

  constructor(
    readonly root: string,
    edges: EdgePlan[],
  ) {
    const steps = edges.flatMap((e) => [
      { from: sourceName(e.parent), to: sourceName(e.child), relationship: e.relationship },
      {
        from: sourceName(e.child),
        to: sourceName(e.parent),
        relationship: reverseRelationship(e.relationship),
      },
    ]);
    const order = [root];
    for (let i = 0; i < order.length; i++) {
      const node = order[i] ?? root;
      for (const step of steps.filter((s) => s.from === node && s.to !== root && !this.parent.has(s.to))) {
        this.parent.set(step.to, node);
        this.into.set(step.to, step.relationship);
        order.push(step.to);
      }
    }
  }

  /** The source and its ancestors, up to the root. */
  pathUp(source: string): string[] {
    const path = [source];
    for (let n = this.parent.get(source); n !== undefined; n = this.parent.get(n)) path.push(n);
    return path;
  }

  /** Whether the join path from `a` to `b` takes a one_to_many step (it repeats `a`'s rows). */
  fansOut(a: string, b: string): boolean {
    const up = this.pathUp(a);
    const down = this.pathUp(b);
    const meet = up.find((n) => down.includes(n));
    const before = (path: string[]) => path.slice(0, meet === undefined ? path.length : path.indexOf(meet));
    return (
      before(up).some((n) => this.into.get(n) === 'many_to_one') ||
      before(down).some((n) => this.into.get(n) === 'one_to_many')
    );
  }

  /** Sources whose rows the root's rows fan out to. */
  fannedOut(source: string): boolean {
    return this.fansOut(this.root, source);
  }

  /** The root and the sources on the paths to these. */
  grain(sources: Iterable<string>): Set<string> {
    const grain = new Set([this.root]);
    for (const source of sources) for (const n of this.pathUp(source)) grain.add(n);
    return grain;
  }

  /** Whether a row of `source` repeats in a join of this grain. */
  repeats(source: string, grain: Set<string>): boolean {
    return [...grain].some((g) => this.fansOut(source, g));
  }

  /** A source outside the grain below a one_to_many step from it: a filter on it is an EXISTS. */
  existsOnly(source: string, grain: Set<string>): boolean {
    if (grain.has(source)) return false;
    for (let n: string | undefined = source; n !== undefined && !grain.has(n); n = this.parent.get(n)) {
      if (this.into.get(n) === 'one_to_many') return true;
    }
    return false;
  }
}

/** One of `items`, each with its weight (weight 0: never); null when all weights are 0. */
function weightedPick<T>(items: readonly T[], weight: (item: T) => number): fc.Arbitrary<T> | null {
  const choices = items
    .map((item) => ({ arbitrary: fc.constant(item), weight: weight(item) }))
    .filter((c) => c.weight > 0);
  return choices.length > 0 ? fc.oneof(...choices) : null;
}

/** A measure whose value a repeated row can change (not min, max or count_distinct). */
function isDuplicateSensitive(item: Selectable): boolean {
  return item.kind === 'measure' && ['sum', 'count', 'avg', 'derived'].includes(item.aggregate ?? '');
}

/** Measures whose value repeated rows change are preferred (avg less: it often does not change). */
function measureWeight(item: Selectable): number {
  if (item.kind !== 'measure') return 0;
  if (item.aggregate === 'sum' || item.aggregate === 'count') return 4;
  return item.aggregate === 'derived' ? 2 : 1;
}

function upTo<T>(arb: fc.Arbitrary<T> | null, min: number, max: number): fc.Arbitrary<T[]> {
  return arb ? fc.array(arb, { minLength: min, maxLength: max }) : fc.constant([]);
}

/** Selected items, and the sources whose fields filters should test for NULL. */
interface Selection {
  picked: Selectable[];
  focus: string[];
  /** Measures a HAVING filter should often be on (the first filter, three times in four). */
  havingOn?: Selectable[];
}

/** Any 1-4 selectables, uniformly (the original, unbiased selection). */
function anySelection(items: Selectable[]): fc.Arbitrary<Selection> {
  return fc
    .array(fc.constantFrom(...items), { minLength: 1, maxLength: 4 })
    .map((picked) => ({ picked, focus: [] }));
}

/**
 * Grouping by a foreign key puts all the related rows of one parent row in one group (so does
 * a date truncated to a year, often); grouping by an `id` puts one row of the source in each
 * group (its parents are then not repeated within a group).
 */
function dimensionWeight(item: Selectable): number {
  const name = fieldNamePart(item.ref);
  if (name === 'id') return 0;
  return name.endsWith('_id') || item.type === 'date' || item.type === 'timestamp' ? 4 : 3;
}

/**
 * A dimension of a non-root source with measures, preferably of sources whose rows that
 * dimension's join path repeats (`movie.total_budget` grouped by `production.country`, or
 * a sibling branch's measure: the chasm trap), and maybe one more selectable.
 */
function fanOutDimensionSelection(items: Selectable[], topo: Topology): fc.Arbitrary<Selection> | null {
  const measureSources = new Set(items.filter(isDuplicateSensitive).map((i) => i.source));
  const repeatsSome = (source: string) => {
    const grain = topo.grain([source]);
    return [...measureSources].some((s) => topo.repeats(s, grain));
  };
  const dimensions = items.filter(
    (i) =>
      i.kind === 'dimension' && i.source !== topo.root && dimensionWeight(i) > 0 && repeatsSome(i.source),
  );
  if (dimensions.length === 0) return null;
  return (weightedPick(dimensions, dimensionWeight) ?? fc.constantFrom(...dimensions)).chain((dimension) => {
    const grain = topo.grain([dimension.source]);
    const repeated = weightedPick(
      items.filter((i) => topo.repeats(i.source, grain) && isDuplicateSensitive(i)),
      measureWeight,
    );
    return fc
      .tuple(
        upTo(repeated, 1, 1),
        upTo(weightedPick(items, measureWeight), 0, 1),
        upTo(fc.constantFrom(...items), 0, 1),
      )
      .map(([ms, more, extra]) => ({ picked: [dimension, ...ms, ...more, ...extra], focus: [] }));
  });
}

/**
 * Measures of sources that fan out (pre-aggregated per parent, or de-duplicated), often with
 * a measure of the root or a source it does not fan out to (whose rows a wrongly kept root
 * row would add to), grouped by 0-1 dimensions of the sources it does not fan out to.
 */
function fanOutMeasureSelection(items: Selectable[], topo: Topology): fc.Arbitrary<Selection> | null {
  const measures = weightedPick(
    items.filter((i) => topo.fannedOut(i.source)),
    measureWeight,
  );
  if (!measures) return null;
  const dimensions = items.filter((i) => i.kind === 'dimension' && !topo.fannedOut(i.source));
  return fc
    .tuple(
      upTo(measures, 1, 2),
      fc.oneof(
        {
          arbitrary: upTo(
            weightedPick(items, (i) => measureWeight(i) * (topo.fannedOut(i.source) ? 1 : 3)),
            1,
            1,
          ),
          weight: 2,
        },
        { arbitrary: fc.constant([]), weight: 1 },
      ),
      dimensions.length > 0
        ? fc.oneof(
            { arbitrary: fc.constantFrom(...dimensions).map((d) => [d]), weight: 3 },
            { arbitrary: fc.constant([]), weight: 1 },
          )
        : fc.constant([]),
    )
    .map(([fanned, other, dims]) => ({
      picked: [...dims, ...fanned, ...other],
      focus: fanned.map((item) => item.source),
    }));
}

/**
 * Fields of the root and the sources it reaches without fan-out only, with filters on the
 * sources it fans out to (filter-only: EXISTS, where `is_null` also holds with no related row).
 */
function filterOnlyFanOutSelection(items: Selectable[], topo: Topology): fc.Arbitrary<Selection> | null {
  const fanned = [...new Set(items.filter((i) => topo.fannedOut(i.source)).map((i) => i.source))];
  const near = items.filter((i) => !topo.fannedOut(i.source));
  if (fanned.length === 0 || near.length === 0) return null;
  const nearDimensions = near.filter((i) => i.kind === 'dimension');
  return fc
    .oneof(
      { arbitrary: fc.array(fc.constantFrom(...near), { minLength: 1, maxLength: 3 }), weight: 1 },
      { arbitrary: fc.array(fc.constantFrom(...nearDimensions), { minLength: 1, maxLength: 3 }), weight: 1 },
    )
    .map((picked) => ({ picked, focus: fanned }));
}

/**
 * Measures of the root only, grouped by fields of sources it reaches without fan-out: the
 * shape the planner aggregates before joining those lookups (eager aggregation).
 */
function lookupRollupSelection(items: Selectable[], topo: Topology): fc.Arbitrary<Selection> | null {
  const rootMeasures = items.filter((i) => i.kind === 'measure' && i.source === topo.root);
  const lookups = items.filter(
    (i) => i.kind === 'dimension' && i.source !== topo.root && !topo.fannedOut(i.source),
  );
  if (rootMeasures.length === 0 || lookups.length === 0) return null;
  return fc
    .tuple(
      fc.array(fc.constantFrom(...lookups), { minLength: 1, maxLength: 2 }),
      fc.array(fc.constantFrom(...rootMeasures), { minLength: 1, maxLength: 2 }),
    )
    .map(([dims, measures]) => ({ picked: [...dims, ...measures], focus: [] }));
}

/**
 * The root's key and measures of sources it fans out to: one group per root row, where a
 * HAVING on such a measure can filter inside its per-key aggregate.
 */
function perRootRowSelection(
  items: Selectable[],
  topo: Topology,
  rootKey: string[],
): fc.Arbitrary<Selection> | null {
  const keys = rootKey.map((k) => items.find((i) => i.ref === `${topo.root}.${k}`));
  const fanned = items.filter((i) => i.kind === 'measure' && topo.fannedOut(i.source));
  if (keys.length === 0 || keys.some((k) => k === undefined) || fanned.length === 0) return null;
  return fc.array(fc.constantFrom(...fanned), { minLength: 1, maxLength: 2 }).map((measures) => ({
    picked: [...(keys as Selectable[]), ...measures],
    focus: [],
    havingOn: measures.filter((m) => m.type !== null && isNumericType(m.type)),
  }));
}

interface SelectionSeed {
  item: Selectable;
  granularity: Granularity | undefined;
  alias: boolean;
}

/** One of the selection strategies (the unbiased one always among them), with aliases and granularities. */
function selectionArb(
  items: Selectable[],
  topo: Topology,
  rootKey: string[],
): fc.Arbitrary<{ seeds: SelectionSeed[]; focus: string[]; havingOn: Selectable[] }> {
  const strategies: { arbitrary: fc.Arbitrary<Selection>; weight: number }[] = [
    { arbitrary: anySelection(items), weight: 3 },
  ];
  const rollup = lookupRollupSelection(items, topo);
  if (rollup) strategies.push({ arbitrary: rollup, weight: 2 });
  const perRootRow = perRootRowSelection(items, topo, rootKey);
  if (perRootRow) strategies.push({ arbitrary: perRootRow, weight: 2 });
  const dimensionFirst = fanOutDimensionSelection(items, topo);
  if (dimensionFirst) strategies.push({ arbitrary: dimensionFirst, weight: 4 });
  const measureFirst = fanOutMeasureSelection(items, topo);
  if (measureFirst) strategies.push({ arbitrary: measureFirst, weight: 4 });
  const filterFirst = filterOnlyFanOutSelection(items, topo);
  if (filterFirst) strategies.push({ arbitrary: filterFirst, weight: 2 });
  return fc.oneof(...strategies).chain(({ picked, focus, havingOn }) =>
    fc
      .tuple(
        ...picked.map((item) =>
          fc.record({
            item: fc.constant(item),
            granularity: fc.option(fc.constantFrom(...GRANULARITIES), { nil: undefined, freq: 2 }),
            alias: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
          }),
        ),
      )
      .map((seeds) => ({ seeds, focus, havingOn: havingOn ?? [] })),
  );
}

/** Distinct selected fields (with whether to alias them); granularity only on date/timestamp dimensions. */
function resolveSelection(seeds: SelectionSeed[]): { field: RefSelectedField; alias: boolean }[] {
  const byKey = new Map<string, { field: RefSelectedField; alias: boolean }>();
  for (const { item, granularity, alias } of seeds) {
    const truncatable = item.kind === 'dimension' && (item.type === 'date' || item.type === 'timestamp');
    const field: RefSelectedField =
      truncatable && granularity ? { field: item.ref, granularity } : { field: item.ref };
    byKey.set(`${field.field}|${field.granularity ?? ''}`, { field, alias });
  }
  return [...byKey.values()];
}

function fieldNamePart(ref: string): string {
  return ref.slice(ref.indexOf('.') + 1);
}

/**
 * Output names never collide: when the spec's natural names collide, every column is named `cN`.
 * Otherwise some columns get an `as` (`aN`), but only those whose field name no other selected
 * field shares (so that the names never depend on how `as` interacts with uniqueness).
 */
function withDistinctNames(selection: { field: RefSelectedField; alias: boolean }[]): RefSelectedField[] {
  const fields = selection.map((s) => s.field);
  const names = outputColumnNames(fields);
  if (new Set(names).size !== names.length) return fields.map((field, i) => ({ ...field, as: `c${i}` }));
  const refs = [...new Set(fields.map((f) => f.field))];
  const shared = (field: RefSelectedField): boolean =>
    refs.filter((ref) => fieldNamePart(ref) === fieldNamePart(field.field)).length > 1;
  return selection.map(({ field, alias }, i) =>
    alias && !shared(field) ? { ...field, as: `a${i}` } : field,
  );
}

type Operands = Pick<RefLeafFilter, 'value' | 'values'>;

function operandsArb(op: FilterOp, domain: readonly Value[]): fc.Arbitrary<Operands> {
  const one = fc.constantFrom(...domain);
  switch (op) {
    case 'is_null':
    case 'is_not_null':
      return fc.constant({});
    case 'in':
    case 'not_in':
      return fc.uniqueArray(one, { minLength: 1, maxLength: 3 }).map((values) => ({ values }));
    case 'between':
      // Mostly low <= high (an inverted range matches nothing).
      return fc.tuple(one, one, fc.integer({ min: 0, max: 3 })).map(([a, b, invert]) => {
        const [low, high] = compareValues(a, b) <= 0 ? [a, b] : [b, a];
        return { values: invert === 0 ? [high, low] : [low, high] };
      });
    case 'contains':
    case 'starts_with':
    case 'ends_with':
      return fc.constantFrom(...TEXT_PATTERNS).map((value) => ({ value }));
    case 'like':
      return fc.constantFrom(...LIKE_PATTERNS).map((value) => ({ value }));
    default:
      return one.map((value) => ({ value }));
  }
}

function leafFilterArb(
  items: Selectable[],
  op: (item: Selectable) => fc.Arbitrary<FilterOp>,
): fc.Arbitrary<RefLeafFilter> {
  return fc
    .constantFrom(...items)
    .chain((item) =>
      op(item).chain((o) =>
        operandsArb(o, item.domain).map((operands) => ({ field: item.ref, op: o, ...operands })),
      ),
    );
}

const FIELD_COMPARISON_OPS: readonly FilterOp[] = ['equals', 'not_equals', 'gt', 'gte', 'lt', 'lte'];

/**
 * A comparison of two fields (`valueFrom:`), or of two measures: a left side from `left`, the
 * other side of the same type from `right` (the same field at times). Booleans only take
 * equals and not_equals. Falls back to `fallback` when no pair has a common type.
 */
function comparisonArb(
  left: Selectable[],
  right: Selectable[],
  fallback: fc.Arbitrary<RefLeafFilter>,
): fc.Arbitrary<RefLeafFilter> {
  const pairs = left.flatMap((a) =>
    right.filter((b) => a.type !== null && b.type === a.type).map((b) => [a, b] as const),
  );
  if (pairs.length === 0) return fallback;
  return fc
    .constantFrom(...pairs)
    .chain(([a, b]) =>
      fc
        .constantFrom(...(a.type === 'boolean' ? FIELD_COMPARISON_OPS.slice(0, 2) : FIELD_COMPARISON_OPS))
        .map((op): RefLeafFilter => ({ field: a.ref, op, other: b.ref })),
    );
}

/** Mostly plain leaves, one in four a comparison of two fields of `left` and `right`. */
function leafOrComparisonArb(
  leaf: fc.Arbitrary<RefLeafFilter>,
  left: Selectable[],
  right: Selectable[],
): fc.Arbitrary<RefLeafFilter> {
  return fc.oneof({ arbitrary: leaf, weight: 3 }, { arbitrary: comparisonArb(left, right, leaf), weight: 1 });
}

/**
 * A boolean tree of filters up to `depth` levels of `any` / `all` / `not` above the leaves
 * (1-3 filters per group), leaves most often.
 */
function filterTreeArb(leaf: fc.Arbitrary<RefLeafFilter>, depth: number): fc.Arbitrary<RefFilter> {
  if (depth === 0) return leaf;
  const inner = filterTreeArb(leaf, depth - 1);
  const group = fc.array(inner, { minLength: 1, maxLength: 3 });
  return fc.oneof(
    { arbitrary: leaf, weight: 3 },
    { arbitrary: inner.map((not): RefFilter => ({ not })), weight: 2 },
    { arbitrary: group.map((any): RefFilter => ({ any })), weight: 1 },
    { arbitrary: group.map((all): RefFilter => ({ all })), weight: 1 },
  );
}

/** Any op of the dimension's type (for a string, a text op one time in three, `like` one in six). */
function dimensionOp(item: Selectable): fc.Arbitrary<FilterOp> {
  const any = fc.constantFrom(...opsFor(item.type ?? 'string'));
  if (item.type !== 'string') return any;
  return fc.oneof(
    { arbitrary: any, weight: 3 },
    { arbitrary: fc.constantFrom(...TEXT_OPS), weight: 1 },
    { arbitrary: fc.constant<FilterOp>('like'), weight: 1 },
  );
}

/** `is_null` (true on the NULL row of "no related row") and `is_not_null` often, else any op. */
function nullishOp(item: Selectable): fc.Arbitrary<FilterOp> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...opsFor(item.type ?? 'string')), weight: 3 },
    { arbitrary: fc.constant<FilterOp>('is_null'), weight: 2 },
    { arbitrary: fc.constant<FilterOp>('is_not_null'), weight: 1 },
  );
}

/** Mostly `is_null`. */
function isNullOften(item: Selectable): fc.Arbitrary<FilterOp> {
  return fc.oneof(
    { arbitrary: fc.constant<FilterOp>('is_null'), weight: 2 },
    { arbitrary: fc.constantFrom(...opsFor(item.type ?? 'string')), weight: 1 },
  );
}

/** Any comparison, the ones that keep most groups more often. */
function havingOp(): fc.Arbitrary<FilterOp> {
  return fc.oneof(
    {
      arbitrary: fc.constantFrom<FilterOp>('gt', 'gte', 'lt', 'lte', 'not_equals', 'is_not_null'),
      weight: 2,
    },
    { arbitrary: fc.constantFrom(...COMPARISON_OPS), weight: 1 },
  );
}

// ---------------------------------------------------------------------------
// Measures at another grain: compared with a field (valueFrom, per a source, over all rows, or
// grouped then aggregated), with a measure (HAVING), filtered on per a source, or selected as a
// dimension per a source.
// ---------------------------------------------------------------------------

/**
 * Whether a measure is computed per a source that holds the foreign key of a one-to-one join
 * (`per: P` where `M.id = P.m_id`; on by default, STRATA_PER_FOREIGN_KEY=0 leaves it out): an
 * existing P row with a NULL key has no M rows, a count's 0 (the compiler once tested the key
 * column for "the query has a P row" and gave NULL).
 */
export const PER_FOREIGN_KEY = process.env.STRATA_PER_FOREIGN_KEY !== '0';

/**
 * Whether a min/max of a related field (`min({p.d})`) of a non-numeric type is compared at
 * another grain (on by default, STRATA_GRAIN_RELATED_EXTREMES=0 leaves it out; the compiler
 * once typed such a measure `number`, so comparing a date field with it was a type error).
 */
export const GRAIN_RELATED_EXTREMES = process.env.STRATA_GRAIN_RELATED_EXTREMES !== '0';

/** An aggregate measure and the sources its source joins to-one by one declared join. */
interface GrainCandidate {
  measure: string;
  source: string;
  type: FieldType;
  /** Sources the measure can be computed per. */
  toOne: string[];
  /** Sources it can be grouped by (`groupBy`). */
  groupBy: string[];
}

function grainCandidates(sources: RefSource[], edges: EdgePlan[]): GrainCandidate[] {
  return sources.flatMap((source, index) => {
    // The edges read from this source to-one, and whether the other side holds the key.
    const reached = edges.flatMap((e) => {
      if (e.parent === index && e.relationship !== 'one_to_many')
        return [{ target: sourceName(e.child), keyOnTarget: e.fkOnChild }];
      if (e.child === index && e.relationship !== 'many_to_one')
        return [{ target: sourceName(e.parent), keyOnTarget: !e.fkOnChild }];
      return [];
    });
    const groupBy = reached.map((r) => r.target);
    const toOne = reached.filter((r) => PER_FOREIGN_KEY || !r.keyOnTarget).map((r) => r.target);
    return source.measures.flatMap((measure): GrainCandidate[] => {
      const type = measureResultType(sources, source, measure);
      if (isDerivedMeasure(measure) || type === null) return [];
      const relatedExtreme =
        (measure.aggregate === 'min' || measure.aggregate === 'max') &&
        measure.sql !== undefined &&
        isRelatedField(measure.sql) &&
        !isNumericType(type);
      if (relatedExtreme && !GRAIN_RELATED_EXTREMES) return [];
      return [{ measure: `${source.name}.${measure.name}`, source: source.name, type, toOne, groupBy }];
    });
  });
}

/** Types that compare: numbers with numbers, otherwise the same type. */
function comparable(a: FieldType, b: FieldType): boolean {
  return a === b || (isNumericType(a) && isNumericType(b));
}

/** Sometimes 1-2 filters of a query from the measure's source (mostly on its own fields). */
function grainFiltersArb(
  candidate: GrainCandidate,
  dimensions: Selectable[],
): fc.Arbitrary<RefFilter[] | null> {
  const own = dimensions.filter((d) => d.source === candidate.source);
  const leaf = fc.oneof(
    { arbitrary: leafFilterArb(own.length > 0 ? own : dimensions, nullishOp), weight: 3 },
    { arbitrary: leafFilterArb(dimensions, dimensionOp), weight: 1 },
  );
  const filter = fc.oneof(
    { arbitrary: leaf, weight: 3 },
    { arbitrary: leaf.map((not): RefFilter => ({ not })), weight: 1 },
  );
  return occasionally(fc.array(filter, { minLength: 1, maxLength: 2 }), 3);
}

type GrainMode = 'per' | 'all' | 'groupBy';

/**
 * A measure at another grain of `candidate`: per one of its to-one sources (when `per` is
 * allowed), over all rows, or per one of them then max/min (any type) or avg/sum (numbers);
 * `times` sometimes, on numbers.
 */
function grainSpecArb(
  candidate: GrainCandidate,
  dimensions: Selectable[],
  allowPer: boolean,
): fc.Arbitrary<RefGrainMeasure> {
  const modes: { arbitrary: fc.Arbitrary<GrainMode>; weight: number }[] = [
    { arbitrary: fc.constant<GrainMode>('all'), weight: 1 },
  ];
  if (allowPer && candidate.toOne.length > 0)
    modes.push({ arbitrary: fc.constant<GrainMode>('per'), weight: 3 });
  if (candidate.groupBy.length > 0) modes.push({ arbitrary: fc.constant<GrainMode>('groupBy'), weight: 2 });
  const numeric = isNumericType(candidate.type);
  const aggregates: GrainAggregate[] = numeric ? ['max', 'min', 'avg', 'sum'] : ['max', 'min'];
  const target = (targets: string[]) => (targets.length > 0 ? fc.constantFrom(...targets) : fc.constant(''));
  return fc
    .record({
      mode: fc.oneof(...modes),
      per: target(candidate.toOne),
      groupBy: target(candidate.groupBy),
      aggregate: fc.constantFrom(...aggregates),
      times: numeric ? occasionally(fc.constantFrom(...TIMES), 3) : fc.constant(null),
      filters: grainFiltersArb(candidate, dimensions),
    })
    .map(({ mode, per, groupBy, aggregate, times, filters }): RefGrainMeasure => ({
      measure: candidate.measure,
      ...(mode === 'per' ? { per } : {}),
      ...(mode === 'groupBy' ? { groupBy, aggregate } : {}),
      ...(times === null ? {} : { times }),
      ...(filters === null ? {} : { filters }),
    }));
}

/** The type a measure at another grain has: the measure's, a number once multiplied or averaged. */
function grainType(candidate: GrainCandidate, spec: RefGrainMeasure): FieldType {
  return spec.times !== undefined || spec.aggregate === 'avg' || spec.aggregate === 'sum'
    ? 'number'
    : candidate.type;
}

/** `{ field, op, valueFrom: { measure, ... } }` on a field of `left` (a row filter), or null when no type fits. */
function grainComparisonArb(
  left: Selectable[],
  candidates: GrainCandidate[],
  dimensions: Selectable[],
  allowPer: boolean,
): fc.Arbitrary<RefLeafFilter> | null {
  const pairs = left.flatMap((a) =>
    candidates
      .filter((c) => a.type !== null && a.type !== 'boolean' && comparable(a.type, c.type))
      .map((c) => [a, c] as const),
  );
  if (pairs.length === 0) return null;
  return fc.constantFrom(...pairs).chain(([a, c]) =>
    fc
      .tuple(fc.constantFrom(...FIELD_COMPARISON_OPS), grainSpecArb(c, dimensions, allowPer))
      .filter(([, spec]) => a.type !== null && comparable(a.type, grainType(c, spec)))
      .map(([op, grain]): RefLeafFilter => ({ field: a.ref, op, grain })),
  );
}

/**
 * `{ field: m.x, per: P, filters?, op, value }`: a WHERE on the measure's value per the row's P
 * row. Numeric measures only: the compiler reads a measure filter's value as a number (a min of
 * a string or date compared with a string or date value is an `expected a number` error).
 */
function perFilterArb(
  candidates: GrainCandidate[],
  dimensions: Selectable[],
): fc.Arbitrary<RefLeafFilter> | null {
  const usable = candidates.filter((c) => c.toOne.length > 0 && isNumericType(c.type));
  if (usable.length === 0) return null;
  return fc.constantFrom(...usable).chain((c) =>
    fc
      .record({
        per: fc.constantFrom(...c.toOne),
        filters: grainFiltersArb(c, dimensions),
        op: fc.constantFrom<FilterOp>('equals', 'not_equals', 'gt', 'gte', 'lt', 'lte'),
        value: fc.constantFrom(...HAVING_DOMAIN),
      })
      .map(({ per, filters, op, value }): RefLeafFilter => ({
        field: c.measure,
        per,
        ...(filters === null ? {} : { filters }),
        op,
        value,
      })),
  );
}

/** `{ field: m.x, per: P, filters?, as }`: a measure selected as a dimension. */
function perDimensionArb(
  candidates: GrainCandidate[],
  dimensions: Selectable[],
  name: string,
): fc.Arbitrary<RefSelectedField> | null {
  const usable = candidates.filter((c) => c.toOne.length > 0);
  if (usable.length === 0) return null;
  return fc.constantFrom(...usable).chain((c) =>
    fc
      .record({ per: fc.constantFrom(...c.toOne), filters: grainFiltersArb(c, dimensions) })
      .map(({ per, filters }): RefSelectedField => ({
        field: c.measure,
        per,
        ...(filters === null ? {} : { filters }),
        as: name,
      })),
  );
}

/**
 * 0-3 filters. Besides filters on any field: filters on filter-only sources (outside the
 * grain), preferably ones below a one_to_many step (an EXISTS), often `is_null`, sometimes two
 * on the same source, sometimes in an `any` group with a field of the grain; `is_null` on a
 * fan-out source whose measures are selected; HAVING filters. Three times in four, when the
 * selection names `focus` sources, the first filter is a mostly-`is_null` one on them.
 */
function filtersArb(
  items: Selectable[],
  fields: RefSelectedField[],
  topo: Topology,
  focus: string[],
  grains: GrainCandidate[] = [],
): fc.Arbitrary<RefFilter[]> {
  const selectedItems = items.filter((item) => fields.some((f) => f.field === item.ref));
  const contributing = new Set(selectedItems.map((item) => item.source));
  const dimensions = items.filter((item) => item.kind === 'dimension');
  const grain = topo.grain(contributing);
  const filterOnly = dimensions.filter((item) => !grain.has(item.source));
  const existsOnly = filterOnly.filter((item) => topo.existsOnly(item.source, grain));
  const grainDimensions = dimensions.filter((item) => grain.has(item.source));
  const measureSources = new Set(selectedItems.filter((i) => i.kind === 'measure').map((i) => i.source));
  const fannedMeasureDimensions = dimensions.filter(
    (i) => measureSources.has(i.source) && topo.fannedOut(i.source),
  );
  const numericMeasures = items.filter(
    (item) => item.kind === 'measure' && item.type !== null && isNumericType(item.type),
  );
  const single = (arb: fc.Arbitrary<RefFilter>) => arb.map((f) => [f]);
  const leaf = leafOrComparisonArb(leafFilterArb(dimensions, dimensionOp), dimensions, dimensions);
  const choices: { arbitrary: fc.Arbitrary<RefFilter[]>; weight: number }[] = [
    { arbitrary: single(leaf), weight: 3 },
    { arbitrary: fc.array(leaf, { minLength: 2, maxLength: 3 }).map((any) => [{ any }]), weight: 1 },
    { arbitrary: single(filterTreeArb(leaf, 3)), weight: 2 },
    // An `any` of `all` groups (a disjunctive normal form), comparisons among the leaves.
    {
      arbitrary: fc
        .array(fc.array(leaf, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 3 })
        .map((groups): RefFilter[] => [{ any: groups.map((all): RefFilter => ({ all })) }]),
      weight: 1,
    },
  ];
  if (filterOnly.length > 0) {
    const target = existsOnly.length > 0 ? existsOnly : filterOnly;
    choices.push({ arbitrary: single(leafFilterArb(filterOnly, nullishOp)), weight: 1 });
    choices.push({ arbitrary: single(leafFilterArb(target, isNullOften)), weight: 4 });
    // Several filters on one filter-only source must hold on the same related row.
    const sameSource = fc.constantFrom(...new Set(target.map((i) => i.source))).chain((source) =>
      fc.array(
        leafFilterArb(
          target.filter((i) => i.source === source),
          nullishOp,
        ),
        { minLength: 2, maxLength: 2 },
      ),
    );
    choices.push({ arbitrary: sameSource, weight: 1 });
    // Comparisons on filter-only sources: within one, across two, with any other field, in trees.
    const related = leafFilterArb(target, nullishOp);
    choices.push({
      arbitrary: single(
        fc.oneof(
          comparisonArb(target, target, related),
          comparisonArb(target, dimensions, related),
          filterTreeArb(leafOrComparisonArb(related, target, dimensions), 2),
        ),
      ),
      weight: 2,
    });
    if (grainDimensions.length > 0) {
      const mixed = fc
        .tuple(leafFilterArb(target, nullishOp), leafFilterArb(grainDimensions, dimensionOp), fc.boolean())
        .map(([a, b, swap]) => [{ any: swap ? [b, a] : [a, b] }]);
      choices.push({ arbitrary: mixed, weight: 2 });
      // Trees over the filter-only source and the grain: `all` inside `any`, `not` of both.
      const either = fc.oneof(
        leafFilterArb(target, nullishOp),
        leafFilterArb(grainDimensions, dimensionOp),
        comparisonArb(target, grainDimensions, leafFilterArb(target, nullishOp)),
      );
      choices.push({ arbitrary: single(filterTreeArb(either, 3)), weight: 3 });
    }
    // `not` on a filter-only source: TRUE on the NULL row where the leaf is FALSE there.
    choices.push({
      arbitrary: single(
        filterTreeArb(leafFilterArb(target, nullishOp), 2).map((f): RefFilter => ({ not: f })),
      ),
      weight: 2,
    });
  }
  // Measures at another grain: a field compared with one, a measure per a source filtered on,
  // alone or in trees with field filters.
  const grainComparison = grainComparisonArb(dimensions, grains, dimensions, true);
  if (grainComparison) {
    choices.push({ arbitrary: single(grainComparison), weight: 2 });
    choices.push({ arbitrary: single(grainComparison.map((not): RefFilter => ({ not }))), weight: 1 });
    choices.push({
      arbitrary: single(filterTreeArb(fc.oneof(grainComparison, leafFilterArb(dimensions, dimensionOp)), 2)),
      weight: 2,
    });
  }
  const perFilter = perFilterArb(grains, dimensions);
  if (perFilter) {
    choices.push({ arbitrary: single(perFilter), weight: 1 });
    const either = fc.oneof(perFilter, leafFilterArb(dimensions, dimensionOp));
    choices.push({
      arbitrary: single(
        fc.oneof(
          perFilter.map((not): RefFilter => ({ not })),
          fc.tuple(perFilter, either).map(([a, b]): RefFilter => ({ any: [a, b] })),
          filterTreeArb(either, 2),
        ),
      ),
      weight: 2,
    });
  }
  const strings = dimensions.filter((i) => i.type === 'string');
  if (strings.length > 0) {
    const like = leafFilterArb(strings, () => fc.constant<FilterOp>('like'));
    choices.push({ arbitrary: single(filterTreeArb(like, 1)), weight: 2 });
  }
  const focusDimensions = dimensions.filter((i) => focus.includes(i.source));
  if (fannedMeasureDimensions.length > 0) {
    choices.push({ arbitrary: single(leafFilterArb(fannedMeasureDimensions, isNullOften)), weight: 3 });
  }
  if (selectedItems.some((item) => item.kind === 'measure') && numericMeasures.length > 0) {
    const selectedNumeric = numericMeasures.filter((item) => selectedItems.includes(item));
    const pool = selectedNumeric.length > 0 ? selectedNumeric : numericMeasures;
    choices.push({ arbitrary: single(leafFilterArb(pool, havingOp)), weight: 2 });
    choices.push({ arbitrary: single(filterTreeArb(leafFilterArb(pool, havingOp), 2)), weight: 1 });
    // Two measures compared (HAVING).
    choices.push({
      arbitrary: single(comparisonArb(pool, numericMeasures, leafFilterArb(pool, havingOp))),
      weight: 1,
    });
    // A measure compared with a measure over all rows, or grouped then aggregated (HAVING).
    const havingGrain = grainComparisonArb(pool, grains, dimensions, false);
    if (havingGrain) choices.push({ arbitrary: single(havingGrain), weight: 1 });
  }
  const filter = fc.oneof(...choices);
  const random = fc.oneof(
    { arbitrary: fc.tuple(filter), weight: 4 },
    { arbitrary: fc.tuple(filter, filter), weight: 2 },
    { arbitrary: fc.constant([]), weight: 3 },
    { arbitrary: fc.tuple(filter, filter, filter), weight: 1 },
  );
  const withFocus =
    focusDimensions.length > 0
      ? fc.oneof(
          {
            arbitrary: fc.tuple(
              leafFilterArb(focusDimensions, isNullOften).map((f) => [f]),
              fc.oneof({ arbitrary: fc.constant([]), weight: 2 }, { arbitrary: filter, weight: 1 }),
            ),
            weight: 3,
          },
          { arbitrary: random, weight: 1 },
        )
      : random;
  return withFocus.map((groups) => groups.flat().slice(0, 3));
}

function inputArb(sources: RefSource[], edges: EdgePlan[], grain: boolean): fc.Arbitrary<RefInput> {
  const items = selectables(sources);
  // The tree's own root is `from` most often: the generated relationships then read outward.
  const from = fc.oneof(
    { arbitrary: fc.constant(0), weight: 1 },
    { arbitrary: fc.nat(sources.length - 1), weight: 1 },
  );
  const grains = grain ? grainCandidates(sources, edges) : [];
  const dimensions = items.filter((item) => item.kind === 'dimension');
  const perDimension = perDimensionArb(grains, dimensions, 'g0');
  const maybePerDimension: fc.Arbitrary<RefSelectedField | null> = perDimension
    ? occasionally(perDimension, 5)
    : fc.constant(null);
  return fc.tuple(from, maybePerDimension).chain(([root, extra]) => {
    const topo = new Topology(sourceName(root), edges);
    return selectionArb(items, topo, sources[root]?.primaryKey ?? []).chain(({ seeds, focus, havingOn }) => {
      const distinct = withDistinctNames(resolveSelection(seeds));
      // The measure as a dimension is named by `as`; none of the others shares its name.
      const fitsIn =
        extra !== null &&
        distinct.length < 4 &&
        !distinct.some((f) => fieldNamePart(f.field) === fieldNamePart(extra.field));
      const fields = extra !== null && fitsIn ? [...distinct, extra] : distinct;
      const filters = filtersArb(items, fields, topo, focus, grains);
      const havingFirst =
        havingOn.length > 0
          ? fc.oneof(
              {
                arbitrary: fc
                  .tuple(leafFilterArb(havingOn, havingOp), filters)
                  .map(([having, rest]) => [having, ...rest].slice(0, 3)),
                weight: 3,
              },
              { arbitrary: filters, weight: 1 },
            )
          : filters;
      return havingFirst.map((filters): RefInput => ({
        from: sourceName(root),
        fields,
        filters,
      }));
    });
  });
}

export interface ScenarioOptions {
  /** Measures at another grain and measures per a source in inputs (default true). */
  grain?: boolean;
}

/**
 * A random scenario: a join tree of 2-5 sources, consistent data, and an input over it
 * (1-4 selected fields, 0-3 filters, no sort, no limit). Biased toward what fan-out gets
 * wrong: one_to_many chains and stars, several child rows per parent, sum/count/avg measures
 * next to dimensions of fan-out sources, `is_null` and `any` filters on filter-only sources.
 */
export function arbitraryScenario(options: ScenarioOptions = {}): fc.Arbitrary<Scenario> {
  return treeArb()
    .chain((edges) =>
      fc.tuple(
        fc.constant(edges),
        fc.tuple(...Array.from({ length: edges.length + 1 }, () => sourcePlanArb)),
      ),
    )
    .chain(([edges, plans]) => {
      const built = buildSources(edges, plans);
      const sources = built.map((b) => b.source);
      return fc
        .record({ tables: tablesArb(built), input: inputArb(sources, edges, options.grain ?? true) })
        .map(({ tables, input }): Scenario => ({ sources, input, tables }));
    });
}

// ---------------------------------------------------------------------------
// SQL literals and CREATE TABLE / INSERT statements
// ---------------------------------------------------------------------------

export type SqlDialect = 'duckdb' | 'postgres' | 'mysql';

function quoteIdentifier(name: string, dialect: SqlDialect = 'duckdb'): string {
  return dialect === 'mysql' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`;
}

function quoteString(value: string, dialect: SqlDialect = 'duckdb'): string {
  if (value.includes('\u0000')) throw new Error('NUL character in a string literal');
  const escaped = dialect === 'mysql' ? value.replaceAll('\\', '\\\\') : value;
  return `'${escaped.replaceAll("'", "''")}'`;
}

/** `2024-01-01T10:00:00.000Z` -> `2024-01-01 10:00:00.000` (a TIMESTAMP without time zone, UTC). */
function timestampText(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`not a timestamp: ${value}`);
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A safely quoted SQL literal of a field type (valid in DuckDB, PostgreSQL and Trino; MySQL escapes backslashes). */
export function sqlLiteral(value: Value, type: FieldType, dialect: SqlDialect = 'duckdb'): string {
  if (value === null) return 'NULL';
  const mismatch = (): Error => new Error(`${JSON.stringify(value)} is not a ${type}`);
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw mismatch();
      return quoteString(value, dialect);
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw mismatch();
      return String(value);
    case 'decimal':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw mismatch();
      return String(value);
    case 'boolean':
      if (typeof value !== 'boolean') throw mismatch();
      return value ? 'TRUE' : 'FALSE';
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw mismatch();
      return `DATE ${quoteString(value)}`;
    case 'timestamp':
      if (typeof value !== 'string') throw mismatch();
      return `TIMESTAMP ${quoteString(timestampText(value))}`;
  }
}

function sqlType(type: FieldType, dialect: SqlDialect): string {
  switch (type) {
    case 'string':
      // Code-unit ordering, as in DuckDB and in the oracle, whatever the database's locale
      // (and, on MySQL, case-sensitive comparisons without trailing-space padding).
      if (dialect === 'mysql') return MYSQL_TEXT;
      return dialect === 'postgres' ? 'VARCHAR COLLATE "C"' : 'VARCHAR';
    case 'integer':
      return 'BIGINT';
    case 'decimal':
      return 'DECIMAL(18,4)';
    case 'number':
      return dialect === 'postgres' ? 'DOUBLE PRECISION' : 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'date':
      return 'DATE';
    case 'timestamp':
      return dialect === 'mysql' ? 'DATETIME(6)' : 'TIMESTAMP';
  }
}

/** The type of a column that is not a declared field (CDC `_op`, `_op_ts`, `_seq`), from its values. */
function inferType(column: string, rows: Row[]): FieldType {
  const sample = rows.map((row) => row[column]).find((v) => v !== null && v !== undefined);
  if (typeof sample === 'boolean') return 'boolean';
  if (typeof sample === 'number') return Number.isInteger(sample) ? 'integer' : 'number';
  if (typeof sample === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(sample)) return 'timestamp';
  if (typeof sample === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(sample)) return 'date';
  return 'string';
}

function tableColumns(source: RefSource, rows: Row[]): RefField[] {
  const declared = new Set(source.fields.map((f) => f.name));
  const extra = source.cdc ? ['_op', ...source.cdc.orderBy].filter((c) => !declared.has(c)) : [];
  return [...source.fields, ...extra.map((name): RefField => ({ name, type: inferType(name, rows) }))];
}

/**
 * Statements that (re)create a source's table with these rows: CREATE SCHEMA IF NOT EXISTS,
 * DROP TABLE IF EXISTS, CREATE TABLE, and one multi-row INSERT (none for zero rows).
 * A CDC source's table also gets `_op` and its orderBy columns.
 */
export function toCreateTableSql(source: RefSource, rows: Row[], dialect: SqlDialect): string[] {
  const parts = source.table.split('.');
  if (parts.length > 2) throw new Error(`toCreateTableSql supports schema.table, not ${source.table}`);
  const quote = (name: string) => quoteIdentifier(name, dialect);
  const table = parts.map(quote).join('.');
  const columns = tableColumns(source, rows);
  const statements = parts.length === 2 ? [`CREATE SCHEMA IF NOT EXISTS ${quote(parts[0] ?? '')}`] : [];
  statements.push(`DROP TABLE IF EXISTS ${table}`);
  const definitions = columns.map((c) => `  ${quote(c.name)} ${sqlType(c.type, dialect)}`);
  statements.push(`CREATE TABLE ${table} (\n${definitions.join(',\n')}\n)`);
  if (rows.length > 0) {
    const names = columns.map((c) => quote(c.name)).join(', ');
    const tuples = rows.map(
      (row) => `  (${columns.map((c) => sqlLiteral(row[c.name] ?? null, c.type, dialect)).join(', ')})`,
    );
    statements.push(`INSERT INTO ${table} (${names}) VALUES\n${tuples.join(',\n')}`);
  }
  return statements;
}

// ---------------------------------------------------------------------------
// YAML renderers (spec sections 2 and 3)
// ---------------------------------------------------------------------------

/** A YAML 1.2 scalar: dates/timestamps plain (as the spec writes them), other strings double-quoted. */
function yamlScalar(value: Value): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z)?$/.test(value) ? value : JSON.stringify(value);
  }
  return String(value);
}

function yamlFlowList(values: Value[]): string {
  return `[${values.map(yamlScalar).join(', ')}]`;
}

function expressionText(expression: RefDerivedMeasure['expression']): string {
  const left = `{${expression.left}}`;
  const right = `{${expression.right}}`;
  return expression.op === '/' ? `${left} / NULLIF(${right}, 0)` : `${left} ${expression.op} ${right}`;
}

/** The field a measure reads: its own source's, or a related source's (undefined if unknown). */
function measureFieldOf(
  sources: readonly RefSource[],
  source: RefSource,
  ref: RefMeasureField,
): RefField | undefined {
  const owner = isRelatedField(ref) ? sources.find((s) => s.name === ref.source) : source;
  const name = isRelatedField(ref) ? ref.field : ref;
  return owner?.fields.find((f) => f.name === name);
}

/** A measure's field in its SQL: the column, or `{via….source.field}`. */
function measureFieldText(ref: RefMeasureField): string {
  return isRelatedField(ref) ? `{${[...(ref.via ?? []), ref.source, ref.field].join('.')}}` : ref;
}

function measureYaml(source: RefSource, measure: RefMeasure, sources: readonly RefSource[]): string[] {
  if (isDerivedMeasure(measure)) {
    return [
      `  - name: ${measure.name}`,
      `    expression: ${JSON.stringify(expressionText(measure.expression))}`,
    ];
  }
  const lines = [`  - name: ${measure.name}`, `    aggregate: ${measure.aggregate}`];
  if (measure.sql !== undefined)
    lines.push(
      `    sql: ${isRelatedField(measure.sql) ? JSON.stringify(measureFieldText(measure.sql)) : measure.sql}`,
    );
  if (measure.filter) {
    const field = measureFieldOf(sources, source, measure.filter.field);
    if (!field)
      throw new Error(
        `unknown measure filter field ${measureFieldText(measure.filter.field)} (pass the project's sources)`,
      );
    const condition = `${measureFieldText(measure.filter.field)} = ${sqlLiteral(measure.filter.equals, field.type)}`;
    lines.push(`    filter: ${JSON.stringify(condition)}`);
  }
  return lines;
}

function joinYaml(join: RefJoin): string[] {
  const pairs = Object.entries(join.on).map(([mine, theirs]) => `${mine}: ${theirs}`);
  return [`  - to: ${join.to}`, `    relationship: ${join.relationship}`, `    on: { ${pairs.join(', ')} }`];
}

/**
 * A data source definition file (spec section 2). `sources` (the project) gives the types of
 * the related fields its measures' filters read.
 */
export function toSourceYaml(source: RefSource, sources: readonly RefSource[] = []): string {
  const lines = [`name: ${source.name}`, `table: ${source.table}`];
  if (source.primaryKey) lines.push(`primaryKey: [${source.primaryKey.join(', ')}]`);
  if (source.cdc) {
    const deletedWhen = `_op = ${quoteString(source.cdc.deletedOp)}`;
    lines.push(
      'cdc:',
      `  orderBy: [${source.cdc.orderBy.join(', ')}]`,
      `  deletedWhen: ${JSON.stringify(deletedWhen)}`,
    );
  }
  lines.push('fields:', ...source.fields.flatMap((f) => [`  - name: ${f.name}`, `    type: ${f.type}`]));
  if (source.measures.length > 0)
    lines.push('measures:', ...source.measures.flatMap((m) => measureYaml(source, m, sources)));
  if (source.joins.length > 0) lines.push('joins:', ...source.joins.flatMap(joinYaml));
  return `${lines.join('\n')}\n`;
}

function selectedFieldYaml(selected: RefSelectedField): string[] {
  const plain = selected.as === undefined && selected.granularity === undefined && selected.per === undefined;
  if (plain && selected.filters === undefined) return [`  - ${selected.field}`];
  const lines = [`  - field: ${selected.field}`];
  if (selected.per !== undefined) lines.push(`    per: ${selected.per}`);
  if (selected.filters !== undefined) lines.push(`    filters: ${filtersFlow(selected.filters)}`);
  if (selected.granularity !== undefined) lines.push(`    granularity: ${selected.granularity}`);
  if (selected.as !== undefined) lines.push(`    as: ${selected.as}`);
  return lines;
}

/** A list of filters in YAML flow style (inside a flow mapping). */
function filtersFlow(filters: RefFilter[]): string {
  return `[${filters.map(filterFlow).join(', ')}]`;
}

function filterFlow(filter: RefFilter): string {
  if (isLeafFilter(filter)) return leafFilterFlow(filter);
  if (isNotFilter(filter)) return `{ not: ${filterFlow(filter.not)} }`;
  return `{ ${isAnyFilter(filter) ? 'any' : 'all'}: ${filtersFlow(innerFilters(filter))} }`;
}

function grainFlow(grain: RefGrainMeasure): string {
  const parts = [`measure: ${grain.measure}`];
  if (grain.per !== undefined) parts.push(`per: ${grain.per}`);
  if (grain.groupBy !== undefined) parts.push(`groupBy: ${grain.groupBy}`);
  if (grain.aggregate !== undefined) parts.push(`aggregate: ${grain.aggregate}`);
  if (grain.times !== undefined) parts.push(`times: ${grain.times}`);
  if (grain.filters !== undefined) parts.push(`filters: ${filtersFlow(grain.filters)}`);
  return `{ ${parts.join(', ')} }`;
}

function leafFilterFlow(filter: RefLeafFilter): string {
  const parts = [`field: ${filter.field}`];
  if (filter.per !== undefined) parts.push(`per: ${filter.per}`);
  if (filter.filters !== undefined) parts.push(`filters: ${filtersFlow(filter.filters)}`);
  parts.push(`op: ${filter.op}`);
  if (filter.value !== undefined) parts.push(`value: ${yamlScalar(filter.value)}`);
  if (filter.values !== undefined) parts.push(`values: ${yamlFlowList(filter.values)}`);
  if (filter.other !== undefined) parts.push(`valueFrom: ${filter.other}`);
  if (filter.grain !== undefined) parts.push(`valueFrom: ${grainFlow(filter.grain)}`);
  return `{ ${parts.join(', ')} }`;
}

function filterYaml(filter: RefFilter, indent: string): string[] {
  const [first, ...rest] = filterBody(filter, indent.length + 2);
  return [`${indent}- ${first}`, ...rest];
}

/** A filter's YAML whose first line starts at column `col` (the caller writes what precedes it). */
function filterBody(filter: RefFilter, col: number): string[] {
  if (isLeafFilter(filter)) return [leafFilterFlow(filter)];
  const pad = ' '.repeat(col + 2);
  if (isNotFilter(filter)) {
    const [first, ...rest] = filterBody(filter.not, col + 2);
    return isLeafFilter(filter.not) ? [`not: ${first}`] : ['not:', `${pad}${first}`, ...rest];
  }
  const key = isAnyFilter(filter) ? 'any' : 'all';
  return [`${key}:`, ...innerFilters(filter).flatMap((inner) => filterYaml(inner, pad))];
}

/**
 * The `field` of a sort key: the selected field's `source.field` when the output column is a
 * plain selection of it (no `as`, no granularity, selected once), else the output column name.
 */
function sortFieldText(input: RefInput, column: string): string {
  const names = outputColumnNames(input.fields);
  const selected = input.fields[names.indexOf(column)];
  if (!selected || selected.as !== undefined || selected.granularity !== undefined) return column;
  const selectedOnce = input.fields.filter((f) => f.field === selected.field).length === 1;
  return selectedOnce ? selected.field : column;
}

/** An input definition file (spec section 3). */
export function toInputYaml(name: string, input: RefInput): string {
  const lines = [
    `name: ${name}`,
    `from: ${input.from}`,
    'fields:',
    ...input.fields.flatMap(selectedFieldYaml),
  ];
  if (input.filters.length > 0) lines.push('filters:', ...input.filters.flatMap((f) => filterYaml(f, '  ')));
  if (input.sort && input.sort.length > 0) {
    lines.push(
      'sort:',
      ...input.sort.map(
        (key) => `  - { field: ${sortFieldText(input, key.field)}, direction: ${key.direction} }`,
      ),
    );
  }
  if (input.limit !== undefined) lines.push(`limit: ${input.limit}`);
  return `${lines.join('\n')}\n`;
}
