/**
 * Logical plan -> SQL syntax tree. One CTE per source scan (only the columns the query
 * reads, its own filters applied), one per pre-aggregated subtree, and for queries whose
 * measures need de-duplication one `joined` step; then the final SELECT.
 */
import type { Aggregate, Granularity } from '../definitions/schema.js';
import type { FieldModel, MeasureModel, SourceModel } from '../model/types.js';
import { LIKE_ESCAPE, type DialectCapabilities } from '../sql/dialect.js';
import {
  and,
  call,
  col,
  FALSE,
  lit,
  or,
  type Cte,
  type Expr,
  type FromItem,
  type Join,
  type OrderItem,
  type Select,
  type SelectItem,
} from '../sql/ast.js';
import {
  rowAtomsOf,
  type AggregateRequest,
  type Dimension,
  type ExistsGroup,
  type LogicalPlan,
  type MeasureOutput,
  type Preaggregate,
  type QueryShape,
  type RowCondition,
  type SortKey,
} from './logical-plan.js';
import { DELETED_COLUMN, latestRowsSelect, VERSION_COLUMN, VISIBLE_COLUMN } from './latest-rows.js';
import { fieldExpr } from './field-expr.js';
import { fragmentColumns } from '../model/columns.js';
import {
  atomGrains,
  grainMeasure,
  type Atom,
  type Condition,
  type FilterTarget,
  type MeasureAtGrain,
  type TreeNode,
} from './spec.js';
import { isBelow } from './grain.js';
import { atomsOf } from './condition.js';
import { atomTargets } from './logical-plan.js';

/** Hands out SQL names that are unique in one scope and avoid names the query must not shadow. */
export class NameAllocator {
  private readonly taken: Set<string>;
  constructor(reserved: Iterable<string> = []) {
    this.taken = new Set(reserved);
  }
  allocate(base: string): string {
    let name = base;
    for (let i = 2; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }
}

interface ScanColumn {
  name: string;
  expr: Expr;
  /** A partial aggregate of a grouped scan (the other columns are its GROUP BY). */
  aggregate?: boolean;
}

/** The CTE that reads one node's source. */
class Scan {
  readonly columns = new Map<string, ScanColumn>();
  readonly filters: Condition[] = [];
  private readonly names = new NameAllocator([VERSION_COLUMN, DELETED_COLUMN, VISIBLE_COLUMN]);
  references = 0;
  /** Aggregated per its other columns (the plan's eagerRoot). */
  grouped = false;

  constructor(
    readonly node: TreeNode,
    readonly alias: string,
  ) {}

  column(key: string, preferred: string, expr: () => Expr, aggregate = false): string {
    let c = this.columns.get(key);
    if (!c) {
      c = { name: this.names.allocate(preferred), expr: expr(), ...(aggregate ? { aggregate } : {}) };
      this.columns.set(key, c);
    }
    return c.name;
  }
}

export class SqlBuilder {
  private readonly scans = new Map<TreeNode, Scan>();
  private readonly steps: Cte[] = [];
  /** Steps read by more than one other step: computed once. */
  private readonly sharedSteps = new Set<string>();
  /** Each measure at another grain's own query, planned into SQL once however often it is read. */
  private readonly grainSelects = new Map<MeasureAtGrain, Select>();
  private readonly keyedSteps = new Map<MeasureAtGrain, { name: string; value: string; zero?: Expr }>();
  /** Keyed measures at another grain joined in the SELECT being built (read from the join, not asked). */
  private readonly keyedJoined = new Set<MeasureAtGrain>();
  /** The root scans of measures at another grain, and what each computes (for its comment). */
  private readonly scanPurposes = new Map<TreeNode, string>();

  constructor(
    private readonly names: NameAllocator,
    private readonly timezone: string,
    /** The rows of a source the caller may see (access policies), applied wherever it is read. */
    private readonly rowCondition: (source: SourceModel) => Expr | undefined = () => undefined,
    /** What the target dialect can say, where the SQL takes another shape without it. */
    private readonly capabilities: Pick<DialectCapabilities, 'lateral' | 'correlatedJoins'> = {
      lateral: true,
      correlatedJoins: true,
    },
    /** The plan of each measure at another grain the query compares with (compile.ts). */
    private readonly grains: ReadonlyMap<MeasureAtGrain, LogicalPlan> = new Map(),
  ) {}

  build(plan: LogicalPlan): { select: Select; materialize: Set<string> } {
    const body = this.planSelect(plan, plan.shape);
    const ctes = [...this.scanCtes(), ...this.steps];
    const materialize = new Set([
      ...[...this.scans.values()].filter((s) => s.references > 1).map((s) => s.alias),
      ...this.sharedSteps,
    ]);
    return { select: { ...body, ctes }, materialize };
  }

  /**
   * Every scan's CTE. A filter in a scan may compare with a measure at another grain, whose
   * subquery reads scans of its own: those are written first (a CTE reads only earlier ones).
   */
  private scanCtes(): Cte[] {
    const ctes: Cte[] = [];
    const written = new Set<Scan>();
    const write = (s: Scan) => {
      written.add(s);
      const known = new Set(this.scans.values());
      const cte = this.scanCte(s);
      for (const t of [...this.scans.values()]) if (!known.has(t) && !written.has(t)) write(t);
      ctes.push(cte);
    };
    for (const s of [...this.scans.values()]) if (!written.has(s)) write(s);
    return ctes;
  }

  // ---- scans -------------------------------------------------------------------------------

  private scan(node: TreeNode): Scan {
    let s = this.scans.get(node);
    if (!s) {
      s = new Scan(node, this.names.allocate(node.source.name));
      this.scans.set(node, s);
    }
    return s;
  }

  private scanRef(node: TreeNode): FromItem {
    const s = this.scan(node);
    s.references++;
    return { kind: 'ref', name: s.alias };
  }

  private scanField(s: Scan, field: FieldModel): string {
    return s.column(`f:${field.name}`, field.name, () => fieldExpr(field));
  }

  private fieldRef(node: TreeNode, field: FieldModel, granularity?: Granularity): Expr {
    const s = this.scan(node);
    if (!granularity) return col(s.alias, this.scanField(s, field));
    const type = field.type === 'date' ? 'date' : 'timestamp';
    const name = s.column(`t:${field.name}:${granularity}`, `${field.name}_${granularity}`, () => ({
      kind: 'truncate',
      unit: granularity,
      operand: fieldExpr(field),
      type,
    }));
    return col(s.alias, name);
  }

  /**
   * A keyed measure's value on the joined row: the step's, or where the `per` row has no rows
   * of the measure's source, the measure over no rows (a count's 0); NULL without a `per` row.
   */
  private keyedGrainValue(grain: MeasureAtGrain): Expr {
    const step = this.keyedGrainStep(grain);
    const value = col(step.name, step.value);
    if (!step.zero) return value;
    const present = perRowPresent(grain.per!, (node, field) => this.fieldRef(node, field));
    return { kind: 'case', when: present, then: call('coalesce', [value, step.zero]) };
  }

  /** A dimension's value on the joined row: a field, or a measure per the row of its node. */
  private dimensionRef(d: Dimension): Expr {
    if (!d.grain) return this.fieldRef(d.node, d.field, d.granularity);
    // A dimension's `per` row is always joined: keyedGrainJoins joined its query.
    return this.keyedGrainValue(d.grain);
  }

  private keyRef(node: TreeNode): Expr {
    const key = node.source.primaryKey[0]!;
    return this.fieldRef(node, node.source.fields.get(key)!);
  }

  /**
   * A measure's `sql` (the value it aggregates) or `filter`, computed in its source's scan; one
   * that reads related sources' fields (`{source.field}`) is computed on the joined rows, its
   * own columns read from its scan and each reference from the node it looks up.
   */
  private measureInputRef(
    r: AggregateRequest,
    measure: MeasureModel,
    part: 'sql' | 'filter',
  ): Expr | undefined {
    const input = measureInput(measure, part);
    if (input === undefined) return undefined;
    const s = this.scan(r.node);
    if (r.lookups) {
      const columns = new Map(
        fragmentColumns(input.sql).map((c) => [
          c,
          col(
            s.alias,
            s.column(`c:${c}`, c, () => col(undefined, c)),
          ),
        ]),
      );
      const placeholders = new Map([...r.lookups].map(([p, l]) => [p, this.fieldRef(l.node, l.field)]));
      return { ...input, columns, placeholders };
    }
    const suffix = part === 'sql' ? 'value' : 'filter';
    return col(
      s.alias,
      s.column(`${suffix}:${measure.name}`, `${measure.name}_${suffix}`, () => input),
    );
  }

  /**
   * An aggregate of the root computed in its grouped scan (aggregateBeforeLookups), and how
   * the query combines those partials: counts add up (0 without rows), sums add, minima and
   * maxima stay, an average is its partial sums over its partial counts.
   */
  private eagerAggregate(r: AggregateRequest): Expr {
    const s = this.scan(r.node);
    const partial = (aggregate: Aggregate, suffix: string): Expr => {
      const inScan = aggregateCall(
        { ...r, aggregate },
        {
          value: () => (r.input.kind === 'value' ? measureInput(r.input.measure, 'sql') : undefined),
          filter: () => (r.filter ? measureInput(r.filter, 'filter') : undefined),
          countRows: () => ({ kind: 'star' }),
        },
      );
      const name = s.column(
        `partial:${r.id}:${suffix}`,
        `${r.id.replaceAll('.', '_')}_${suffix}`,
        () => inScan,
        true,
      );
      return col(s.alias, name);
    };
    switch (r.aggregate) {
      case 'count':
        return call('coalesce', [
          call('sum', [partial('count', 'count')]),
          lit({ type: 'integer', value: 0 }),
        ]);
      case 'avg':
        return measureOutputExpr({ kind: 'ratio', numerator: 'sum', denominator: 'count' }, (part) =>
          call('sum', [partial(part === 'sum' ? 'sum' : 'count', part)]),
        );
      default:
        return call(r.aggregate, [partial(r.aggregate, r.aggregate)]);
    }
  }

  private scanCte(s: Scan): Cte {
    if (s.columns.size === 0) {
      const source = s.node.source;
      this.scanField(s, source.fields.get(source.primaryKey[0] ?? '') ?? [...source.fields.values()][0]!);
    }
    const source = s.node.source;
    // A CDC scan filters the latest versions by column name, so those columns must be read.
    if (source.cdc)
      for (const target of s.filters.flatMap(atomsOf).flatMap(atomTargets))
        if (target.kind === 'field') this.scanField(s, target.field);
    const relation: FromItem =
      source.relation.kind === 'table'
        ? { kind: 'table', path: source.relation.path }
        : { kind: 'definitionQuery', query: source.relation.query, alias: `${source.name}_query` };
    const items: SelectItem[] = [...s.columns.values()].map((c) => ({ expr: c.expr, alias: c.name }));
    const comment = describeScan(s.node, this.scanPurposes.get(s.node));
    const visible = this.rowCondition(source);
    if (!source.cdc) {
      const inScan = (target: FilterTarget) => fieldExpr((target as { field: FieldModel }).field);
      const where = and([
        ...(visible ? [visible] : []),
        ...s.filters.map((c) => this.conditionExpr(c, inScan, () => FALSE)),
      ]);
      const groupBy = s.grouped ? [...s.columns.values()].filter((c) => !c.aggregate).map((c) => c.expr) : [];
      return {
        name: s.alias,
        comment: s.grouped
          ? `${comment}, aggregated per the columns the query reads before joining`
          : comment,
        query: {
          columns: items,
          from: relation,
          ...(where ? { where } : {}),
          ...(groupBy.length > 0 ? { groupBy } : {}),
        },
      };
    }
    return { name: s.alias, comment, query: this.latestRowsQuery(s, items, relation, visible) };
  }

  /**
   * A CDC source: the latest version of each key (by `orderBy`), deleted keys dropped, then
   * its filters; the caller's row condition holds on that latest version.
   */
  private latestRowsQuery(s: Scan, items: SelectItem[], relation: FromItem, visible?: Expr): Select {
    const byName = (target: FilterTarget) =>
      col(undefined, this.scanField(s, (target as { field: FieldModel }).field));
    const filters = s.filters.map((c) => this.conditionExpr(c, byName, () => FALSE));
    return latestRowsSelect(s.node.source, items, relation, filters, visible);
  }

  // ---- filters -----------------------------------------------------------------------------

  /**
   * A condition tree: AND and OR nest (the renderer parenthesises), a negated atom is `NOT (pred)`.
   * `field` and `measure` give the expression of a field or measure an atom reads (either side).
   */
  private conditionExpr(
    condition: Condition,
    field: (target: FilterTarget) => Expr,
    measure: (target: FilterTarget) => Expr,
  ): Expr {
    if (condition.kind !== 'atom') {
      const items = condition.items.map((c) => this.conditionExpr(c, field, measure));
      return condition.kind === 'and' ? and(items)! : or(items);
    }
    const { atom } = condition;
    const side = (t: FilterTarget) =>
      t.kind === 'field' ? field(t) : t.kind === 'grain' ? this.grainValue(t.grain, field) : measure(t);
    const other = atom.grain ? this.grainValue(atom.grain, field) : atom.other && side(atom.other);
    const pred = this.atomExpr(atom, side(atom.target), other);
    return condition.negated ? { kind: 'not', operand: pred } : pred;
  }

  /**
   * A measure at another grain as a scalar subquery of its own plan: per a joined row, it is
   * correlated on the join of the measure's source to that row's source, and NULL where the
   * row is missing (even for a count, which would be 0 over no rows); `times` multiplies it.
   */
  private grainValue(grain: MeasureAtGrain, field: (target: FilterTarget) => Expr): Expr {
    const value = this.keyedJoined.has(grain)
      ? this.keyedGrainValue(grain)
      : this.grainSubquery(grain, field);
    if (grain.times === undefined) return value;
    return { kind: 'arithmetic', op: '*', left: lit({ type: 'number', value: grain.times }), right: value };
  }

  /**
   * The scalar subquery form, where the `per` row is not joined in the same SELECT (inside an
   * EXISTS) or there is no `per`: a keyed query asked for the one key needs no grouping.
   */
  private grainSubquery(grain: MeasureAtGrain, field: (target: FilterTarget) => Expr): Expr {
    const sub = this.grainPlan(grain);
    const planned = this.grainSelect(grain);
    const select: Select = grain.per
      ? { ...planned, columns: planned.columns.slice(-1), groupBy: undefined }
      : planned;
    const per = grain.per;
    const pairs = (per?.edge.on ?? []).map((pair) => ({
      inner: this.fieldRef(sub.root, sub.root.source.fields.get(pair.from)!),
      outer: field({ kind: 'field', node: per!.node, field: per!.node.source.fields.get(pair.to)! }),
    }));
    const where = and([
      ...(select.where ? [select.where] : []),
      ...pairs.map((p) => ({ kind: 'compare' as const, op: '=' as const, left: p.inner, right: p.outer })),
    ]);
    const query: Select = { ...select, ...(where ? { where } : {}) };
    const value: Expr = {
      kind: 'scalarSubquery',
      query: grain.groups ? this.ofGroups(query, sub, grain.groups) : query,
    };
    if (!per) return value;
    return {
      kind: 'case',
      when: perRowPresent(per, (node, f) => field({ kind: 'field', node, field: f })),
      then: value,
    };
  }

  /** `groupBy`/`aggregate`: one value of the measure's rows per group (the query's last column). */
  private ofGroups(query: Select, sub: LogicalPlan, groups: NonNullable<MeasureAtGrain['groups']>): Select {
    const alias = this.names.allocate('per_group');
    const columns = sub.shape.columns;
    const measure = columns[columns.length - 1]!;
    const name = measure.kind === 'measure' ? measure.name : measure.dimension.name;
    return {
      columns: [{ expr: call(groups.aggregate, [col(alias, name)]) }],
      from: { kind: 'subquery', alias, query },
    };
  }

  /** An atom's predicate over its operand; `other` is the other side of a comparison of two fields. */
  atomExpr(atom: Atom, operand: Expr, other?: Expr): Expr {
    const values = other ? [other] : atom.values.map((v) => lit(v));
    const compare = (op: '=' | '<>' | '<' | '<=' | '>' | '>=') =>
      ({ kind: 'compare', op, left: operand, right: values[0]! }) as Expr;
    switch (atom.op) {
      case 'equals':
        return compare('=');
      case 'not_equals':
        return compare('<>');
      case 'gt':
        return compare('>');
      case 'gte':
        return compare('>=');
      case 'lt':
        return compare('<');
      case 'lte':
        return compare('<=');
      case 'in':
      case 'not_in':
        return { kind: 'inList', operand, list: values, negated: atom.op === 'not_in' };
      case 'between':
        return { kind: 'between', operand, low: values[0]!, high: values[1]! };
      case 'like':
        return {
          kind: 'like',
          operand,
          pattern: likePattern(String(atom.values[0]!.value)),
          caseSensitive: true,
        };
      case 'contains':
      case 'starts_with':
      case 'ends_with': {
        const text = escapeLike(String(atom.values[0]!.value));
        const pattern =
          atom.op === 'contains' ? `%${text}%` : atom.op === 'starts_with' ? `${text}%` : `%${text}`;
        return { kind: 'like', operand, pattern };
      }
      case 'is_null':
      case 'is_not_null':
        return { kind: 'isNull', operand, negated: atom.op === 'is_not_null' };
      case 'in_last':
      case 'in_next': {
        const anchor = atom.target.kind === 'field' && atom.target.field.type === 'date' ? 'today' : 'now';
        const now: Expr = {
          kind: 'relativeTime',
          anchor,
          shift: null,
          direction: 1,
          timezone: this.timezone,
        };
        const other: Expr = {
          kind: 'relativeTime',
          anchor,
          shift: atom.span!,
          direction: atom.op === 'in_last' ? -1 : 1,
          timezone: this.timezone,
        };
        return atom.op === 'in_last'
          ? { kind: 'between', operand, low: other, high: now }
          : { kind: 'between', operand, low: now, high: other };
      }
    }
  }

  /** A condition on the joined rows; `ref` gives a node's field (its scan's column by default). */
  private rowFilter(
    condition: Condition,
    ref: (node: TreeNode, field: FieldModel) => Expr = (node, field) => this.fieldRef(node, field),
  ): Expr {
    return this.conditionExpr(
      condition,
      (target) => {
        const t = target as { node: TreeNode; field: FieldModel };
        return ref(t.node, t.field);
      },
      () => FALSE,
    );
  }

  private joinCondition(
    child: TreeNode,
    parentRef: (field: FieldModel) => Expr,
    childRef: (node: TreeNode, field: FieldModel) => Expr = (node, field) => this.fieldRef(node, field),
  ): Expr {
    return and(
      child.edge!.on.map((pair) => ({
        kind: 'compare' as const,
        op: '=' as const,
        left: childRef(child, child.source.fields.get(pair.to)!),
        right: parentRef(child.parent!.source.fields.get(pair.from)!),
      })),
    )!;
  }

  private correlation(top: TreeNode): Expr {
    return this.joinCondition(top, (f) => this.fieldRef(top.parent!, f));
  }

  private descendantJoins(group: ExistsGroup, top: TreeNode): Join[] {
    return group.nodes
      .filter((n) => isBelow(n, top))
      .map((n) => ({
        type: 'left' as const,
        item: this.scanRef(n),
        on: this.joinCondition(n, (f) => this.fieldRef(n.parent!, f)),
      }));
  }

  /**
   * "Some related row passes these filters", with left-join meaning: a row with nothing
   * related behaves as one NULL row, which `is_null` filters accept. A single-column join
   * whose filters mention only the related rows becomes a semi-join (`key IN (...)`), which
   * every engine plans well; anything else is a correlated EXISTS.
   */
  private existsExpr(group: ExistsGroup): Expr {
    const top = group.tops[0]!;
    // An anti-join: the related rows themselves are never read (nor scanned twice).
    if (group.relatedNeverMatches) return and([this.noRelatedRow(top), ...this.noRowConditions(group)])!;
    if (group.form === 'in_subquery') return this.semiJoin(group, top);
    if (group.whenNoRow === 'general')
      return this.capabilities.lateral
        ? this.lateralExists(group, [this.rowFilter(group.condition)])
        : this.leftJoinExists(group);
    const related: Expr = {
      kind: 'exists',
      query:
        this.capabilities.correlatedJoins || !group.nodes.some((n) => isBelow(n, top))
          ? this.plainExists(group, top)
          : this.joinedOnceExists(group, top),
    };
    if (group.whenNoRow === 'false') return related;
    return or([related, and([this.noRelatedRow(top), ...this.noRowConditions(group)])!]);
  }

  /** Related rows joined inside the correlated EXISTS. */
  private plainExists(group: ExistsGroup, top: TreeNode): Select {
    const filter = this.rowFilter(group.condition);
    return {
      columns: [{ expr: lit({ type: 'integer', value: 1 }) }],
      from: this.scanRef(top),
      joins: this.descendantJoins(group, top),
      where: and([this.correlation(top), filter])!,
    };
  }

  /**
   * The correlated EXISTS for engines that plan joins inside it badly (correlatedJoins off):
   * the related rows are read from one derived table joined once (`relatedRows`).
   */
  private joinedOnceExists(group: ExistsGroup, top: TreeNode): Select {
    const related = this.relatedRows(group, top);
    const where = and([
      this.joinCondition(top, (f) => this.fieldRef(top.parent!, f), related.ref),
      this.rowFilter(group.condition, related.ref),
    ])!;
    return { columns: [{ expr: lit({ type: 'integer', value: 1 }) }], from: related.table(), where };
  }

  /**
   * A filter-only subtree (`top` and the group's nodes below it, left-joined) as a derived
   * table, for engines that plan joins inside a correlated subquery badly. MariaDB has no
   * hash joins by default and no selectivity estimate for an unindexed correlation, and it
   * reorders a left join that the filters make inner: it may join every combination of the
   * related tables again for each outer row (productions_shooting_abroad: 22-42 s). Joined
   * here without the outer query, the rows are computed once: SELECT DISTINCT keeps MariaDB
   * and MySQL from merging the derived table back into the subquery, and changes nothing an
   * EXISTS can see. It reads the scans' CTEs, so row conditions and CDC latest rows hold.
   * `ref` gives a node's field as a column of the table (an outer node's as itself);
   * `table()`, asked for once every column has been, is the derived table.
   */
  private relatedRows(
    group: ExistsGroup,
    top: TreeNode,
  ): { ref: (node: TreeNode, field: FieldModel) => Expr; table: () => FromItem } {
    const alias = this.names.allocate(`${top.source.name}_related`);
    const inside = new Set([top, ...group.nodes.filter((n) => isBelow(n, top))]);
    const names = new NameAllocator();
    const exposed = new Map<string, SelectItem>();
    const ref = (node: TreeNode, field: FieldModel): Expr => {
      if (!inside.has(node)) return this.fieldRef(node, field);
      const s = this.scan(node);
      const name = this.scanField(s, field);
      const key = `${s.alias}.${name}`;
      let item = exposed.get(key);
      if (!item) {
        item = { expr: col(s.alias, name), alias: names.allocate(name) };
        exposed.set(key, item);
      }
      return col(alias, item.alias!);
    };
    const table = (): FromItem => ({
      kind: 'subquery',
      query: {
        distinct: true,
        columns: [...exposed.values()],
        from: this.scanRef(top),
        joins: this.descendantJoins(group, top),
      },
      alias,
    });
    return { ref, table };
  }

  /**
   * Filters over several filter-only subtrees at once: every node becomes a LATERAL
   * subquery yielding its related rows, or one NULL row when there are none (what a left
   * join gives), and the filters must hold on one combination. Correlation stays in WHERE
   * clauses, which every engine decorrelates (DuckDB refuses it in a LEFT JOIN's ON).
   */
  private lateralExists(group: ExistsGroup, filters: Expr[]): Expr {
    const selects = new Map<TreeNode, { related: Select; nothing: Select }>();
    const joins: Join[] = group.nodes.map((node) => {
      const correlation = this.joinCondition(node, (f) => this.fieldRef(node.parent!, f));
      const nothing: Select = {
        columns: [],
        where: {
          kind: 'not',
          operand: {
            kind: 'exists',
            query: {
              columns: [{ expr: lit({ type: 'integer', value: 1 }) }],
              from: this.scanRef(node),
              where: correlation,
            },
          },
        },
      };
      const related: Select = {
        columns: [],
        from: this.scanRef(node),
        where: correlation,
        unionAll: nothing,
      };
      selects.set(node, { related, nothing });
      return {
        type: 'cross' as const,
        item: { kind: 'lateral' as const, query: related, alias: this.scan(node).alias },
      };
    });
    // Every column the filters and correlations read is registered by now: list them.
    for (const [node, { related, nothing }] of selects) {
      const s = this.scan(node);
      if (s.columns.size === 0) this.keyRef(node);
      related.columns = [...s.columns.values()].map((c) => ({ expr: col(s.alias, c.name), alias: c.name }));
      nothing.columns = [...s.columns.values()].map((c) => ({ expr: lit(null), alias: c.name }));
    }
    const [first, ...rest] = joins;
    return {
      kind: 'exists',
      query: {
        columns: [{ expr: lit({ type: 'integer', value: 1 }) }],
        from: first!.item,
        joins: rest,
        where: and(filters)!,
      },
    };
  }

  /**
   * lateralExists without LATERAL: left joins from a one-row anchor give each node's related
   * rows, or one NULL row when there are none, as the LATERAL subqueries do. Their ON clauses
   * refer to the outer query, which engines without LATERAL (MariaDB, MySQL 5.7) accept.
   */
  private leftJoinExists(group: ExistsGroup): Expr {
    const anchor = this.names.allocate('anchor');
    if (!this.capabilities.correlatedJoins) return this.joinedOnceLeftJoinExists(group, anchor);
    const filter = this.rowFilter(group.condition);
    const joins: Join[] = group.nodes.map((node) => ({
      type: 'left',
      item: this.scanRef(node),
      on: this.joinCondition(node, (f) => this.fieldRef(node.parent!, f)),
    }));
    return anchorExists(anchor, joins, filter);
  }

  /**
   * leftJoinExists where joins inside a correlated subquery are planned badly: each
   * filter-only subtree is one derived table joined once (`relatedRows`), left-joined from
   * the anchor on its correlation (a field of one subtree compared with one of another:
   * 94 s -> 0.1 s on MariaDB, `npm run bench:mariadb`).
   */
  private joinedOnceLeftJoinExists(group: ExistsGroup, anchor: string): Expr {
    const subtrees = group.tops.map((top) => ({ top, related: this.relatedRows(group, top) }));
    const ref = (node: TreeNode, field: FieldModel): Expr => {
      const owner = subtrees.find(({ top }) => node === top || isBelow(node, top));
      return owner ? owner.related.ref(node, field) : this.fieldRef(node, field);
    };
    const on = subtrees.map(({ top, related }) =>
      this.joinCondition(top, (f) => this.fieldRef(top.parent!, f), related.ref),
    );
    const where = this.rowFilter(group.condition, ref);
    const joins: Join[] = subtrees.map(({ related }, i) => ({
      type: 'left',
      item: related.table(),
      on: on[i]!,
    }));
    return anchorExists(anchor, joins, where);
  }

  private semiJoin(group: ExistsGroup, top: TreeNode): Expr {
    const pair = top.edge!.on[0]!;
    const outerKey = this.fieldRef(top.parent!, top.parent!.source.fields.get(pair.from)!);
    const innerKey = () => this.fieldRef(top, top.source.fields.get(pair.to)!);
    const filters = [this.rowFilter(group.condition)];
    const related: Expr = {
      kind: 'inSubquery',
      operand: outerKey,
      negated: false,
      query: {
        columns: [{ expr: innerKey() }],
        from: this.scanRef(top),
        joins: this.descendantJoins(group, top),
        ...(filters.length ? { where: and(filters)! } : {}),
      },
    };
    if (group.whenNoRow === 'false') return related;
    const nothingRelated = or([
      { kind: 'isNull', operand: outerKey, negated: false },
      {
        kind: 'inSubquery',
        operand: outerKey,
        negated: true,
        query: {
          columns: [{ expr: innerKey() }],
          from: this.scanRef(top),
          where: { kind: 'isNull', operand: innerKey(), negated: true },
        },
      },
    ]);
    return or([related, and([nothingRelated, ...this.noRowConditions(group)])!]);
  }

  /** Nothing related, as an anti-join every engine plans as one. */
  private noRelatedRow(top: TreeNode): Expr {
    return {
      kind: 'not',
      operand: {
        kind: 'exists',
        query: {
          columns: [{ expr: lit({ type: 'integer', value: 1 }) }],
          from: this.scanRef(top),
          where: this.correlation(top),
        },
      },
    };
  }

  private noRowConditions(group: ExistsGroup): Expr[] {
    return typeof group.whenNoRow === 'string' ? [] : [this.rowFilter(group.whenNoRow)];
  }

  // ---- the query ---------------------------------------------------------------------------

  private fromAndJoins(plan: LogicalPlan): { from: FromItem; joins: Join[] } {
    for (const [node, conditions] of plan.pushed) this.scan(node).filters.push(...conditions);
    if (plan.eagerRoot) this.scan(plan.root).grouped = true;
    const from = this.scanRef(plan.root);
    const joins: Join[] = plan.joinOrder.map((node) => ({
      type: plan.innerJoins.has(node) ? 'inner' : 'left',
      item: this.scanRef(node),
      on: this.joinCondition(node, (f) => this.fieldRef(node.parent!, f)),
    }));
    for (const pre of plan.preaggregates) {
      this.steps.push(this.preaggregateCte(pre));
      joins.push({
        type: pre.inner ? 'inner' : 'left',
        item: { kind: 'ref', name: pre.name },
        on: and(
          pre.top.edge!.on.map((pair, i) => ({
            kind: 'compare' as const,
            op: '=' as const,
            left: col(pre.name, pre.keyColumns[i]!),
            right: this.fieldRef(pre.parent, pre.parent.source.fields.get(pair.from)!),
          })),
        )!,
      });
    }
    return { from, joins };
  }

  /**
   * Each measure selected as a dimension per a source: its own query, grouped by the
   * measure's source's join columns, is a step joined once to the `per` row (one row per key).
   */
  private grainPlan(grain: MeasureAtGrain): LogicalPlan {
    const sub = this.grains.get(grain);
    if (!sub) throw new Error('internal: a measure at another grain was not planned');
    return sub;
  }

  /** A measure at another grain's query as SQL, once (planning pushes its filters into its scans). */
  private grainSelect(grain: MeasureAtGrain): Select {
    let select = this.grainSelects.get(grain);
    if (!select) {
      const sub = this.grainPlan(grain);
      this.scanPurposes.set(sub.root, grainPurpose(grain));
      select = this.planSelect(sub, sub.shape);
      this.grainSelects.set(grain, select);
    }
    return select;
  }

  private keyedGrainJoins(plan: LogicalPlan): Join[] {
    const joined = new Set([plan.root, ...plan.joinOrder]);
    const grains = new Set([
      ...[...plan.dimensions, ...plan.sortOnly].flatMap((d) => (d.grain ? [d.grain] : [])),
      // Filters on the joined rows (an EXISTS may read the joined row too) per a joined row.
      ...plan.residual
        .flatMap(rowAtomsOf)
        .flatMap(atomGrains)
        .filter((g) => g.per && joined.has(g.per.node)),
    ]);
    return [...grains].map((grain) => {
      this.keyedJoined.add(grain);
      const { name } = this.keyedGrainStep(grain);
      const per = grain.per!;
      const on = and(
        per.edge.on.map((pair, i) => ({
          kind: 'compare' as const,
          op: '=' as const,
          left: col(name, `key_${i + 1}`),
          right: this.fieldRef(per.node, per.node.source.fields.get(pair.to)!),
        })),
      )!;
      return { type: 'left' as const, item: { kind: 'ref' as const, name }, on };
    });
  }

  private keyedGrainStep(grain: MeasureAtGrain): { name: string; value: string; zero?: Expr } {
    const known = this.keyedSteps.get(grain);
    if (known) return known;
    const sub = this.grainPlan(grain);
    const last = sub.shape.columns[sub.shape.columns.length - 1]!;
    if (last.kind !== 'measure') throw new Error('internal: a keyed measure without its measure column');
    const name = this.names.allocate(`${sub.root.source.name}_per_${grain.per!.node.source.name}`);
    const comment = `${sub.root.source.name} ${grainPurpose(grain)}`;
    this.steps.push({ name, comment, query: this.grainSelect(grain) });
    const zero = zeroRowValue(sub.outputs.get(last.useKey)!, sub.requests);
    const step = { name, value: last.name, ...(zero ? { zero } : {}) };
    this.keyedSteps.set(grain, step);
    return step;
  }

  private preaggregateCte(pre: Preaggregate): Cte {
    const shape: QueryShape = { ...pre.plan.shape, having: pre.having ?? [] };
    return {
      name: pre.name,
      comment: `${pre.top.source.name} aggregated per ${pre.parent.source.name} row before joining (one row per join key)`,
      query: this.planSelect(pre.plan, shape),
    };
  }

  private whereOf(plan: LogicalPlan): Expr | undefined {
    return and([...plan.residual.map((c) => this.rowConditionExpr(c))]);
  }

  /** A filter on the joined rows, its EXISTS groups asked for related rows. */
  private rowConditionExpr(condition: RowCondition): Expr {
    if (condition.kind === 'exists') return this.existsExpr(condition.group);
    if (condition.kind === 'atom') return this.rowFilter(condition);
    const items = condition.items.map((c) => this.rowConditionExpr(c));
    return condition.kind === 'and' ? and(items)! : or(items);
  }

  private planSelect(plan: LogicalPlan, shape: QueryShape): Select {
    const { from, joins } = this.fromAndJoins(plan);
    joins.push(...this.keyedGrainJoins(plan));
    const where = this.whereOf(plan);
    const base = { from, ...(joins.length > 0 ? { joins } : {}), ...(where ? { where } : {}) };
    if (!plan.aggregated) {
      const columns = shape.columns.map((c) => {
        const d = (c as { dimension: Dimension }).dimension;
        return { expr: this.dimensionRef(d), alias: d.name };
      });
      const orderBy = shape.sort.map((s) => ({
        expr: this.sortExpr(
          s.key,
          (d) => this.dimensionRef(d),
          () => FALSE,
        ),
        direction: s.direction,
      }));
      return {
        columns,
        ...base,
        ...(orderBy.length > 0 ? { orderBy } : {}),
        ...(shape.limit !== undefined ? { limit: shape.limit } : {}),
        ...(shape.offset !== undefined ? { offset: shape.offset } : {}),
        ...(shape.offset !== undefined ? { offset: shape.offset } : {}),
      };
    }
    const twoLevel = [...plan.strategies.values()].includes('once_per_key');
    return twoLevel ? this.deduplicatedAggregate(plan, shape, base) : this.directAggregate(plan, shape, base);
  }

  private sortExpr(key: SortKey, dimension: (d: Dimension) => Expr, measure: (useKey: string) => Expr): Expr {
    if (key.kind === 'output') return col(undefined, key.name);
    if (key.kind === 'dimension') return dimension(key.dimension);
    return measure(key.useKey);
  }

  private finishAggregate(
    plan: LogicalPlan,
    shape: QueryShape,
    base: Pick<Select, 'from' | 'joins' | 'where'>,
    dimension: (d: Dimension) => Expr,
    request: (r: AggregateRequest) => Expr,
    /** False when the parts are aggregated already (one row per group): HAVING is then a WHERE. */
    grouped = true,
  ): Select {
    const requests = new Map(plan.requests.map((r) => [r.id, r]));
    const output = (o: MeasureOutput): Expr => measureOutputExpr(o, (id) => request(requests.get(id)!));
    const outputOf = (useKey: string) => output(plan.outputs.get(useKey)!);
    const columns: SelectItem[] = shape.columns.map((c) =>
      c.kind === 'dimension'
        ? { expr: dimension(c.dimension), alias: c.dimension.name }
        : { expr: outputOf(c.useKey), alias: c.name },
    );
    const groupBy = plan.dimensions.map(dimension);
    const having = and(
      shape.having.map((c) =>
        this.conditionExpr(
          c,
          () => FALSE,
          (target) => outputOf(shape.useKeyOf(target)),
        ),
      ),
    );
    const orderBy: OrderItem[] = shape.sort.map((s) => ({
      expr: this.sortExpr(s.key, dimension, outputOf),
      direction: s.direction,
    }));
    const where = grouped
      ? base.where
      : and([...(base.where ? [base.where] : []), ...(having ? [having] : [])]);
    return {
      columns,
      ...base,
      ...(where ? { where } : {}),
      ...(grouped && groupBy.length > 0 ? { groupBy } : {}),
      ...(grouped && having ? { having } : {}),
      ...(orderBy.length > 0 ? { orderBy } : {}),
      ...(shape.limit !== undefined ? { limit: shape.limit } : {}),
      ...(shape.offset !== undefined ? { offset: shape.offset } : {}),
    };
  }

  private directAggregate(
    plan: LogicalPlan,
    shape: QueryShape,
    base: Pick<Select, 'from' | 'joins' | 'where'>,
  ): Select {
    const dimension = (d: Dimension) => this.dimensionRef(d);
    if (plan.eagerRoot)
      return this.finishAggregate(plan, shape, base, dimension, (r) => this.eagerAggregate(r));
    if (plan.oneRowPerGroup)
      return this.finishAggregate(plan, shape, base, dimension, (r) => this.singleRowValue(r, plan), false);
    return this.finishAggregate(plan, shape, base, dimension, (r) =>
      aggregateCall(r, {
        value: () => this.requestValue(r),
        filter: () => (r.filter ? this.measureInputRef(r, r.filter, 'filter') : undefined),
        countRows: () => (r.node === plan.root ? { kind: 'star' } : this.keyRef(r.node)),
      }),
    );
  }

  /**
   * An aggregate over a group of exactly one row (oneRowPerGroup): the row's value where the
   * measure's filter holds; a count is 1 when that value (or the source's row) is there, else 0.
   */
  private singleRowValue(r: AggregateRequest, plan: LogicalPlan): Expr {
    const filter = r.filter ? this.measureInputRef(r, r.filter, 'filter') : undefined;
    const value = this.requestValue(r);
    const zero = lit({ type: 'integer', value: 0 });
    const one = lit({ type: 'integer', value: 1 });
    const where = (when: Expr | undefined, then: Expr, otherwise?: Expr): Expr =>
      when ? { kind: 'case', when, then, ...(otherwise ? { else: otherwise } : {}) } : then;
    if (r.aggregate === 'count' || r.aggregate === 'count_distinct') {
      const counted = value ?? (r.node === plan.root ? undefined : this.keyRef(r.node));
      const present: Expr | undefined = counted
        ? { kind: 'isNull', operand: counted, negated: true }
        : undefined;
      const condition = and([...(present ? [present] : []), ...(filter ? [filter] : [])]);
      return where(condition, one, zero);
    }
    const selected = where(filter, value!);
    return r.aggregate === 'avg' ? { kind: 'cast', operand: selected, type: 'number' } : selected;
  }

  private requestValue(r: AggregateRequest): Expr | undefined {
    if (r.input.kind === 'partial') return col(r.input.preaggregate.name, r.input.column);
    if (r.input.kind === 'value') return this.measureInputRef(r, r.input.measure, 'sql');
    return undefined;
  }

  /**
   * Some measure's rows repeat in the join. A `joined` step holds the joined rows (group
   * columns, each aggregate's inputs, the keys of the sources read once per key); each such
   * source's aggregates read the distinct rows of the group, its key and its inputs (each of
   * its rows once per group), the others read every row. With one such source and nothing
   * else that is the whole aggregate; otherwise each part is aggregated per group on its own
   * and the parts are joined on the group columns (NULL equal to NULL).
   */
  private deduplicatedAggregate(
    plan: LogicalPlan,
    shape: QueryShape,
    base: Pick<Select, 'from' | 'joins' | 'where'>,
  ): Select {
    const names = new NameAllocator();
    const items: SelectItem[] = [];
    const projected = new Map<string, string>();
    /** A column of `joined` (the same expression once), by name. */
    const project = (expr: Expr, preferred: string): string => {
      // Maps (a fragment's placeholders and columns) are part of what an expression says.
      const key = JSON.stringify(expr, (_, v: unknown) => (v instanceof Map ? [...v] : v));
      const known = projected.get(key);
      if (known) return known;
      const alias = names.allocate(preferred);
      items.push({ expr, alias });
      projected.set(key, alias);
      return alias;
    };
    const dimColumns = new Map(plan.dimensions.map((d) => [d, project(this.dimensionRef(d), d.name)]));
    // Each part: the requests reading one source once per key (or all rows: undefined), and its columns.
    const parts = new Map<TreeNode | undefined, { requests: AggregateRequest[]; columns: Set<string> }>();
    const partOf = (node: TreeNode | undefined) => {
      let part = parts.get(node);
      if (!part) {
        const keys = node
          ? node.source.primaryKey.map((k) =>
              project(this.fieldRef(node, node.source.fields.get(k)!), `${this.scan(node).alias}_${k}`),
            )
          : [];
        part = { requests: [], columns: new Set([...dimColumns.values(), ...keys]) };
        parts.set(node, part);
      }
      return part;
    };
    const requestCalls = new Map<string, (from: string) => Expr>();
    for (const r of plan.requests) {
      const part = partOf(plan.keyNodes.get(r.id));
      const value = this.requestValue(r);
      const filter = r.filter ? this.measureInputRef(r, r.filter, 'filter') : undefined;
      const valueCol = value ? project(value, `${r.id.replaceAll('.', '_')}_value`) : undefined;
      const filterCol = filter ? project(filter, `${r.id.replaceAll('.', '_')}_filter`) : undefined;
      const rowsCol =
        !value && r.aggregate === 'count'
          ? project(this.keyRef(r.node), `${this.scan(r.node).alias}_key`)
          : undefined;
      for (const c of [valueCol, filterCol, rowsCol]) if (c) part.columns.add(c);
      part.requests.push(r);
      requestCalls.set(r.id, (from) =>
        aggregateCall(r, {
          value: () => (valueCol ? col(from, valueCol) : undefined),
          filter: () => (filterCol ? col(from, filterCol) : undefined),
          countRows: () => col(from, rowsCol!),
        }),
      );
    }
    const joined = this.names.allocate('joined');
    this.steps.push({
      name: joined,
      comment: 'the joined rows: group columns, measure inputs, and the keys of sources read once per key',
      query: { columns: items, ...base },
    });
    /** A part's rows: every joined row, or the distinct rows of its columns (each source row once per group). */
    const rowsOf = (node: TreeNode | undefined, columns: Set<string>): FromItem =>
      node
        ? {
            kind: 'subquery',
            alias: joined,
            query: {
              distinct: true,
              columns: [...columns].map((c) => ({ expr: col(joined, c), alias: c })),
              from: { kind: 'ref', name: joined },
            },
          }
        : { kind: 'ref', name: joined };
    if (parts.size === 1) {
      const [[node, part]] = [...parts] as [
        [TreeNode | undefined, { requests: AggregateRequest[]; columns: Set<string> }],
      ];
      return this.finishAggregate(
        plan,
        shape,
        { from: rowsOf(node, part.columns) },
        (d) => col(joined, dimColumns.get(d)!),
        (r) => requestCalls.get(r.id)!(joined),
      );
    }
    this.sharedSteps.add(joined);
    const partNames = new Map<string, string>();
    const ctes = [...parts].map(([node, part]) => {
      const name = this.names.allocate(node ? `${this.scan(node).alias}_once` : 'all_rows');
      const dims = [...dimColumns.values()];
      for (const r of part.requests) partNames.set(r.id, name);
      this.steps.push({
        name,
        comment: node
          ? `${node.source.name} measures per group, each ${node.source.name} row once`
          : 'measures per group over every joined row',
        query: {
          columns: [
            ...dims.map((c) => ({ expr: col(joined, c), alias: c })),
            ...part.requests.map((r) => ({ expr: requestCalls.get(r.id)!(joined), alias: requestAlias(r) })),
          ],
          from: rowsOf(node, part.columns),
          ...(dims.length > 0 ? { groupBy: dims.map((c) => col(joined, c)) } : {}),
        },
      });
      return name;
    });
    const [first, ...rest] = ctes as [string, ...string[]];
    const joins: Join[] = rest.map((name) => {
      const on = and(
        [...dimColumns.values()].map((c) => ({
          kind: 'notDistinct' as const,
          left: col(name, c),
          right: col(first, c),
        })),
      );
      return on
        ? { type: 'inner', item: { kind: 'ref', name }, on }
        : { type: 'cross', item: { kind: 'ref', name } };
    });
    return this.finishAggregate(
      plan,
      shape,
      { from: { kind: 'ref', name: first }, ...(joins.length > 0 ? { joins } : {}) },
      (d) => col(first, dimColumns.get(d)!),
      (r) => col(partNames.get(r.id)!, requestAlias(r)),
      false,
    );
  }
}

/** `EXISTS (SELECT 1 FROM (SELECT 1) AS anchor LEFT JOIN ... WHERE ...)`: one row, whatever is related. */
function anchorExists(anchor: string, joins: Join[], where: Expr): Expr {
  const one = lit({ type: 'integer', value: 1 });
  return {
    kind: 'exists',
    query: {
      columns: [{ expr: one }],
      from: { kind: 'subquery', query: { columns: [{ expr: one, alias: 'one' }] }, alias: anchor },
      joins,
      where,
    },
  };
}

function derivedDefinition(measure: MeasureModel) {
  if (measure.definition.kind !== 'derived') throw new Error(`internal: ${measure.name} is not derived`);
  return measure.definition;
}

/** A measure's `sql` or `filter` as an expression over its source's columns. */
function measureInput(
  measure: MeasureModel,
  part: 'sql' | 'filter',
): Extract<Expr, { kind: 'fragment' }> | undefined {
  const def = measure.definition;
  const sql = def.kind === 'aggregate' ? def[part] : undefined;
  if (sql === undefined) return undefined;
  const owner = `${part === 'sql' ? 'measure' : 'filter of measure'} ${measure.source}.${measure.name}`;
  return { kind: 'fragment', sql, owner };
}

/**
 * Whether the query's `per` row is there: its primary key is not NULL (a row without one has
 * a NULL join column only when it has no rows of the measure's source, which is not the
 * same). Without a key, its join columns.
 */
function perRowPresent(
  per: NonNullable<MeasureAtGrain['per']>,
  ref: (node: TreeNode, field: FieldModel) => Expr,
): Expr {
  const { node, edge } = per;
  const key = node.source.primaryKey.length > 0 ? node.source.primaryKey : edge.on.map((pair) => pair.to);
  return and(
    key.map((name) => ({
      kind: 'isNull' as const,
      operand: ref(node, node.source.fields.get(name)!),
      negated: true,
    })),
  )!;
}

/**
 * What a measure is over no rows, where that is not NULL: a count is 0, and a derived measure
 * is its expression over its parts' values over no rows. Undefined for NULL.
 */
function zeroRowValue(o: MeasureOutput, requests: readonly AggregateRequest[]): Expr | undefined {
  const counts = new Set(
    requests.filter((r) => r.aggregate === 'count' || r.aggregate === 'count_distinct').map((r) => r.id),
  );
  const empty = (id: string): Expr => lit(counts.has(id) ? { type: 'integer', value: 0 } : null);
  if (o.kind === 'request') return counts.has(o.id) ? empty(o.id) : undefined;
  return measureOutputExpr(o, empty);
}

/** A request's output column in a per-source part. */
function requestAlias(r: AggregateRequest): string {
  return r.id.replaceAll('.', '_');
}

function aggregateCall(
  r: AggregateRequest,
  access: { value(): Expr | undefined; filter(): Expr | undefined; countRows(): Expr },
): Expr {
  const filter = access.filter();
  const extra = filter ? { filter } : {};
  const value = access.value();
  switch (r.aggregate) {
    case 'count':
      return call('count', [value ?? access.countRows()], extra);
    case 'count_distinct':
      return call('count', [value!], { ...extra, distinct: true });
    default:
      return call(r.aggregate, [value!], extra);
  }
}

function measureOutputExpr(o: MeasureOutput, request: (id: string) => Expr): Expr {
  switch (o.kind) {
    case 'request':
      return request(o.id);
    case 'coalesce_zero':
      return call('coalesce', [request(o.id), lit({ type: 'integer', value: 0 })]);
    case 'ratio':
      return {
        kind: 'arithmetic',
        op: '/',
        left: { kind: 'cast', operand: request(o.numerator), type: 'number' },
        right: call('nullif', [request(o.denominator), lit({ type: 'integer', value: 0 })]),
      };
    case 'derived': {
      const { expression } = derivedDefinition(o.measure);
      return {
        kind: 'fragment',
        sql: { kind: 'shared', fragment: expression },
        owner: `measure ${o.measure.source}.${o.measure.name}`,
        placeholders: new Map(
          expression.placeholders.map((path, i) => [path, measureOutputExpr(o.parts[i]!, request)]),
        ),
      };
    }
  }
}

/**
 * A `like` filter's pattern (`%` any run of characters, `_` one; a backslash makes the next
 * character literal) in the escaping every dialect is given (LIKE_ESCAPE): the same on all.
 */
function likePattern(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) out += escapeLike(pattern[++i]!);
    else out += c === '%' || c === '_' ? c : escapeLike(c);
  }
  return out;
}

function escapeLike(text: string): string {
  return text
    .replaceAll(LIKE_ESCAPE, LIKE_ESCAPE + LIKE_ESCAPE)
    .replaceAll('%', `${LIKE_ESCAPE}%`)
    .replaceAll('_', `${LIKE_ESCAPE}_`);
}

function describeScan(node: TreeNode, purpose?: string): string {
  const source = node.source;
  const what = source.cdc
    ? `${source.name}: latest row per ${source.primaryKey.join(', ')}, deletes dropped`
    : source.name;
  if (purpose) return `${what} (${purpose})`;
  return node.parent ? `${what} (via ${node.key.split('>').join(' -> ')})` : what;
}

/** What a measure at another grain computes, for the comment on its source's scan. */
function grainPurpose(grain: MeasureAtGrain): string {
  const { measure: m } = grainMeasure(grain).use;
  const measure = `${m.source}.${m.name}`;
  if (grain.per) return `for ${measure} per ${grain.per.node.source.name}`;
  if (grain.groups) return `for the ${grain.groups.aggregate} of ${measure} per group`;
  return `for ${measure} over all rows`;
}
