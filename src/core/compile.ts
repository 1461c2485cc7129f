/**
 * The compiler's front door: an input (by name or definition) + options -> SQL text and the
 * typed output columns. Pure: no I/O, no globals; a Compiler caches per-model work only.
 */
import { StrataError, error, internalError, type Diagnostic } from './diagnostics.js';
import type { Dialect, FieldType } from './definitions/schema.js';
import type { InputModel, SemanticModel, SourceModel } from './model/types.js';
import { AccessPolicy } from './access/policy.js';
import { NameAllocator, SqlBuilder } from './plan/emit.js';
import type {
  AggregateRequest,
  Dimension,
  LogicalPlan,
  MeasureOutput,
  QueryShape,
  SortKey,
} from './plan/logical-plan.js';
import { atomTargets } from './plan/logical-plan.js';
import { JoinPathFinder } from './model/paths.js';
import { plan, type PlannerInput } from './plan/planner.js';
import { resolveInput, type ResolveOptions } from './plan/resolve.js';
import type { ColumnSpec, FilterTarget, MeasureAtGrain, MeasureUse, QuerySpec } from './plan/spec.js';
import { grainsOf, leafUses, queriesOf } from './plan/spec.js';
import { atomsOf } from './plan/condition.js';
import { dialectFor } from './sql/dialects/index.js';
import { explainOperators, naiveOperators, planOperators } from './plan/operators.js';

export interface CompileOptions extends ResolveOptions {
  dialect: Dialect;
}

export interface OutputColumn {
  name: string;
  label: string;
  type: FieldType;
  format?: string;
  kind: 'dimension' | 'measure';
}

export interface CompiledQuery {
  input: string;
  dialect: Dialect;
  sql: string;
  columns: OutputColumn[];
  plan: LogicalPlan;
  /** The tables the SQL reads (`table:` sources and those a source's `sql:` names), for change detection and lineage. */
  tables: string[];
  /**
   * What the answer moves with besides the data: `today` when a filter is relative to the
   * current date (in `timezone`), `now` when relative to the current instant.
   */
  relativeTo?: 'today' | 'now';
  timezone: string;
}

export class Compiler {
  private readonly finder: JoinPathFinder;
  private readonly reserved: string[];

  constructor(readonly model: SemanticModel) {
    this.finder = new JoinPathFinder(model);
    this.reserved = namesNotToShadow(model);
  }

  input(nameOrModel: string | InputModel): InputModel {
    if (typeof nameOrModel !== 'string') return nameOrModel;
    const input = this.model.inputs.get(nameOrModel);
    if (!input) throw new StrataError([error('unknown_input', `unknown input '${nameOrModel}'`)]);
    return input;
  }

  /**
   * The problems of an input: resolved and, when it resolves, planned, so that validation
   * finds what compiling would. Never throws: a failure of the compiler itself becomes a
   * diagnostic at the input, and the rest of the project is still checked.
   */
  check(input: InputModel, options: ResolveOptions = {}): Diagnostic[] {
    try {
      const { spec, diagnostics } = resolveInput(this.model, input, options, this.finder);
      if (spec) {
        const names = new NameAllocator(this.reserved);
        plan(prepare(spec, names).plannerInput);
        planGrains(spec, names);
      }
      return diagnostics;
    } catch (e) {
      if (e instanceof StrataError) return e.diagnostics;
      return [internalError(`input '${input.name}'`, e, input.locate(['name']))];
    }
  }

  compile(nameOrModel: string | InputModel, options: CompileOptions): CompiledQuery {
    const { input, spec, policy, plannerInput, names } = this.resolve(nameOrModel, options);
    const logical = plan(plannerInput);
    const grains = planGrains(spec, names);
    const rowCondition = (source: SourceModel) => {
      const access = policy?.rowAccess(source);
      return access?.kind === 'filtered' ? access.condition : undefined;
    };
    const dialect = dialectFor(options.dialect);
    const { select, materialize } = new SqlBuilder(
      names,
      spec.timezone,
      rowCondition,
      dialect.capabilities,
      grains,
    ).build(logical);
    const sql = dialect.render(select, materialize);
    return {
      input: input.name,
      dialect: options.dialect,
      sql,
      columns: spec.columns.map(outputColumn),
      plan: logical,
      tables: tablesRead(logical, grains),
      ...relativeTo(spec),
      timezone: spec.timezone,
    };
  }

  /** The query as operators, before the planner's passes and after them (`strata compile --explain`). */
  explain(nameOrModel: string | InputModel, options: CompileOptions): { before: string; after: string } {
    const { plannerInput } = this.resolve(nameOrModel, options);
    return {
      before: explainOperators(naiveOperators(plannerInput)),
      after: explainOperators(planOperators(plan(plannerInput))),
    };
  }

  /** What the planner takes for an input: for running its passes one by one (tests, tools). */
  plannerInput(nameOrModel: string | InputModel, options: CompileOptions): PlannerInput {
    return this.resolve(nameOrModel, options).plannerInput;
  }

  private resolve(nameOrModel: string | InputModel, options: CompileOptions) {
    const input = this.input(nameOrModel);
    const policy = options.caller ? new AccessPolicy(options.caller, this.model.sources) : undefined;
    const { spec, diagnostics } = resolveInput(this.model, input, options, this.finder, policy);
    if (!spec) throw new StrataError(diagnostics);
    const names = new NameAllocator(this.reserved);
    return { input, spec, policy, names, ...prepare(spec, names) };
  }
}

/** Whether the query's filters are relative to today or to now (now wins: it moves more often). */
function relativeTo(spec: QuerySpec): { relativeTo?: 'today' | 'now' } {
  const anchors = queriesOf(spec)
    .flatMap((q) => [...q.where, ...q.having])
    .flatMap(atomsOf)
    .filter((a) => a.op === 'in_last' || a.op === 'in_next')
    .map((a) => (a.target.kind === 'field' && a.target.field.type === 'date' ? 'today' : 'now'));
  if (anchors.includes('now')) return { relativeTo: 'now' };
  return anchors.length > 0 ? { relativeTo: 'today' } : {};
}

function tablesRead(plan: LogicalPlan, grains: ReadonlyMap<MeasureAtGrain, LogicalPlan>): string[] {
  const tables = new Set<string>();
  const visit = (p: LogicalPlan) => {
    for (const node of p.roles.keys()) {
      const relation = node.source.relation;
      // A source's SELECT names its tables too (and its CTEs, which no catalog holds: harmless).
      const paths = relation.kind === 'table' ? [relation.path] : relation.query.tables;
      for (const path of paths) tables.add(path.join('.'));
    }
    for (const pre of p.preaggregates) visit(pre.plan);
  };
  visit(plan);
  for (const grain of grains.values()) visit(grain);
  return [...tables].sort();
}

function outputColumn(c: ColumnSpec): OutputColumn {
  return {
    name: c.name,
    label: c.label,
    type: c.type,
    ...(c.format ? { format: c.format } : {}),
    kind: c.kind,
  };
}

const useKey = (use: MeasureUse) => `${use.node.id}:${use.measure.source}.${use.measure.name}`;

/** QuerySpec -> what the planner takes: the whole query, its shape included. */
function prepare(spec: QuerySpec, names: NameAllocator) {
  const requestIds = new NameAllocator();
  const requests = new Map<string, AggregateRequest>();
  const outputs = new Map<string, MeasureOutput>();
  const outputOf = (use: MeasureUse): MeasureOutput => {
    const key = useKey(use);
    const known = outputs.get(key);
    if (known) return known;
    let out: MeasureOutput;
    if (use.parts) {
      out = { kind: 'derived', measure: use.measure, parts: use.parts.map(outputOf) };
    } else {
      const def = use.measure.definition;
      if (def.kind !== 'aggregate') throw new Error('unreachable: leaf measure without aggregate');
      const id = requestIds.allocate(use.measure.name);
      requests.set(key, {
        id,
        node: use.node,
        aggregate: def.aggregate,
        input: def.sql !== undefined ? { kind: 'value', measure: use.measure } : { kind: 'rows' },
        ...(def.filter !== undefined ? { filter: use.measure } : {}),
        ...(use.lookups ? { lookups: use.lookups } : {}),
      });
      out = { kind: 'request', id };
    }
    outputs.set(key, out);
    return out;
  };
  const measureUses = [
    ...[...spec.columns, ...spec.hidden].filter((c) => c.kind === 'measure').map((c) => c.use),
    ...spec.having
      .flatMap(atomsOf)
      .flatMap(atomTargets)
      .map((t) => (t as { use: MeasureUse }).use),
  ];
  for (const use of measureUses) {
    outputOf(use);
    for (const leaf of leafUses(use)) outputOf(leaf);
  }
  const dimensionOf = new Map<ColumnSpec, Dimension>();
  for (const c of [...spec.columns, ...spec.hidden]) {
    if (c.kind !== 'dimension') continue;
    dimensionOf.set(
      c,
      c.grain
        ? { name: c.name, node: c.node, grain: c.grain }
        : {
            name: c.name,
            node: c.node,
            field: c.field,
            ...(c.granularity ? { granularity: c.granularity } : {}),
          },
    );
  }
  const aggregated = measureUses.length > 0;
  const hiddenDims = spec.hidden.filter((c) => c.kind === 'dimension').map((c) => dimensionOf.get(c)!);
  const sortKey = (c: ColumnSpec): SortKey =>
    spec.columns.includes(c)
      ? { kind: 'output', name: c.name }
      : c.kind === 'dimension'
        ? { kind: 'dimension', dimension: dimensionOf.get(c)! }
        : { kind: 'measure', useKey: useKey(c.use) };
  const shape: QueryShape = {
    columns: spec.columns.map((c) =>
      c.kind === 'dimension'
        ? { kind: 'dimension', dimension: dimensionOf.get(c)! }
        : { kind: 'measure', name: c.name, useKey: useKey(c.use) },
    ),
    having: spec.having,
    sort: spec.sort.map((s) => ({ key: sortKey(s.column), direction: s.direction })),
    ...(spec.limit !== undefined ? { limit: spec.limit } : {}),
    ...(spec.offset !== undefined ? { offset: spec.offset } : {}),
    useKeyOf: (target: FilterTarget) => useKey((target as { use: MeasureUse }).use),
  };
  return {
    plannerInput: {
      root: spec.root,
      dimensions: spec.columns.filter((c) => c.kind === 'dimension').map((c) => dimensionOf.get(c)!),
      sortOnly: hiddenDims,
      requests: [...requests.values()],
      outputs,
      where: spec.where,
      shape,
      aggregated,
      nameFor: (base: string) => names.allocate(base),
    },
  };
}

/**
 * Each measure at another grain (`valueFrom: { measure, per }`) of the query, and of theirs,
 * planned as the query of its own that it is: the emitter makes it a scalar subquery.
 */
function planGrains(
  spec: QuerySpec,
  names: NameAllocator,
  plans = new Map<MeasureAtGrain, LogicalPlan>(),
): Map<MeasureAtGrain, LogicalPlan> {
  for (const grain of grainsOf(spec)) {
    if (plans.has(grain)) continue;
    plans.set(grain, plan({ ...prepare(grain.query, names).plannerInput, nested: true }));
    planGrains(grain.query, names, plans);
  }
  return plans;
}

/**
 * CTE names must not hide a table that a source reads by its bare name (`table: movie`, or
 * `FROM movie` inside a source's `sql:`); qualified names (`studio.movie`) cannot be hidden.
 */
function namesNotToShadow(model: SemanticModel): string[] {
  const names = new Set<string>(['anchor', 'versions']);
  for (const source of model.sources.values()) {
    const tables = source.relation.kind === 'table' ? [source.relation.path] : source.relation.query.tables;
    for (const path of tables) if (path.length === 1) names.add(path[0]!.toLowerCase());
  }
  return [...names];
}
