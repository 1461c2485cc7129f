/**
 * Input definition -> QuerySpec: binds every `source.field` to a node of the join tree,
 * types every value, names the output columns. Collects every problem it finds.
 */
import { error, type Diagnostic, type SourceLocation } from '../diagnostics.js';
import type { ValuePath } from '../definitions/document.js';
import type {
  FieldSelection,
  FieldSelectionObject,
  FieldType,
  FilterAtom,
  FilterDefinition,
  FilterOp,
  MeasureAtGrainRef,
  ParamDefinition,
  Scalar,
  SortDefinition,
  ValueFromRef,
} from '../definitions/schema.js';
import { comparableTypes } from '../model/build.js';
import { humanize } from '../model/humanize.js';
import type {
  FieldLookup,
  FieldModel,
  InputModel,
  JoinEdge,
  MeasureModel,
  MemberModel,
  SemanticModel,
  SourceModel,
} from '../model/types.js';
import { memberOf } from '../model/types.js';
import { closest } from '../suggest.js';
import { coerceValue, MAX_SPAN, parseSpan, type TypedValue } from '../values/typed-value.js';
import { AccessPolicy, type Caller } from '../access/policy.js';
import { JoinPathFinder } from '../model/paths.js';
import type {
  Atom,
  ColumnSpec,
  Condition,
  FilterTarget,
  Lookups,
  MeasureAtGrain,
  MeasureUse,
  QuerySpec,
  SortSpec,
  TreeNode,
} from './spec.js';
import { atomsOf, combine, conjunctsOf, literal } from './condition.js';
import { leafUses } from './spec.js';
import { grainOf, oneValuedPerRow } from './grain.js';

export interface ResolveOptions {
  /** Parameter values as given (command line strings, or typed values from an API). */
  params?: Readonly<Record<string, unknown>>;
  /** The time zone that `in_last` / `in_next` count days in. */
  timezone?: string;
  /** An upper bound on the rows returned (the smaller of this and the input's limit wins). */
  limit?: number;
  /** Rows to skip first (after sorting), for paging through an API. */
  offset?: number;
  /** Check the definition only: parameters without a value are not an error. */
  validateOnly?: boolean;
  /**
   * Who the query is for: sources, fields and measures the caller may not read are refused.
   * Absent: a trusted local user (the CLI without `--as`), allowed everything.
   */
  caller?: Caller;
}

export interface ResolveResult {
  spec?: QuerySpec;
  diagnostics: Diagnostic[];
}

const ORDERED_TYPES: ReadonlySet<FieldType> = new Set([
  'string',
  'integer',
  'decimal',
  'number',
  'date',
  'timestamp',
]);
const NUMERIC_TYPES: ReadonlySet<FieldType> = new Set(['integer', 'decimal', 'number']);
const TEXT_OPS: ReadonlySet<FilterOp> = new Set(['contains', 'starts_with', 'ends_with', 'like']);
const RANGE_OPS: ReadonlySet<FilterOp> = new Set(['gt', 'gte', 'lt', 'lte', 'between']);
const LIST_OPS: ReadonlySet<FilterOp> = new Set(['in', 'not_in', 'between']);
const NULL_OPS: ReadonlySet<FilterOp> = new Set(['is_null', 'is_not_null']);
const RELATIVE_OPS: ReadonlySet<FilterOp> = new Set(['in_last', 'in_next']);
/** The ops that compare two fields (`valueFrom:`). */
const COMPARE_OPS: ReadonlySet<FilterOp> = new Set(['equals', 'not_equals', 'gt', 'gte', 'lt', 'lte']);

export function resolveInput(
  model: SemanticModel,
  input: InputModel,
  options: ResolveOptions = {},
  finder: JoinPathFinder = new JoinPathFinder(model),
  policy: AccessPolicy | undefined = options.caller
    ? new AccessPolicy(options.caller, model.sources)
    : undefined,
): ResolveResult {
  return new Resolver(model, input, options, finder, policy).run();
}

class Resolver {
  private readonly diagnostics: Diagnostic[] = [];
  /**
   * The join tree being built: the input's, rooted at its `from`, or while a measure at
   * another grain is resolved, that measure's own query's, rooted at its source.
   */
  private scope: { from: string; nodes: Map<string, TreeNode> };
  private nextId = 0;
  private readonly def;
  /** Sources already refused to the caller: each is reported once. */
  private readonly refused = new Set<SourceModel>();

  constructor(
    private readonly model: SemanticModel,
    private readonly input: InputModel,
    private readonly options: ResolveOptions,
    private readonly finder: JoinPathFinder,
    private readonly policy: AccessPolicy | undefined,
  ) {
    this.def = input.definition;
    this.scope = { from: this.def.from, nodes: new Map() };
  }

  /** A source the query reads (as root, on a join path, or filtered on) must be readable by the caller. */
  private checkSourceAccess(source: SourceModel, path: ValuePath): boolean {
    const access = this.policy?.rowAccess(source);
    if (!access || access.kind !== 'denied') return true;
    if (!this.refused.has(source)) {
      this.refused.add(source);
      this.fail('access_denied', `access denied: ${access.reason}`, path);
    }
    return false;
  }

  private at(path: ValuePath, key = false): SourceLocation {
    return this.input.locate(path, { key });
  }

  private fail(code: string, message: string, path: ValuePath, hint?: string): undefined {
    this.diagnostics.push(error(code, message, this.at(path), hint));
    return undefined;
  }

  run(): ResolveResult {
    const rootSource = this.model.sources.get(this.def.from);
    if (!rootSource && this.model.broken.has(this.def.from)) {
      this.fail('broken_dependency', `source '${this.def.from}' has errors in its definition`, ['from']);
      return { diagnostics: this.diagnostics };
    }
    if (!rootSource) {
      const suggestion = closest(this.def.from, this.model.sources.keys());
      this.fail(
        'unknown_source',
        `unknown source '${this.def.from}'`,
        ['from'],
        suggestion ? `did you mean ${suggestion}?` : undefined,
      );
      return { diagnostics: this.diagnostics };
    }
    const root = this.node(rootSource, []);
    this.checkSourceAccess(rootSource, ['from']);
    this.checkUnknownParams();
    const columns = this.def.fields.map((sel, i) => this.column(sel, ['fields', i]));
    const where: Condition[] = [];
    const having: Condition[] = [];
    (this.def.filters ?? []).forEach((f, i) => {
      const condition = this.condition(f, ['filters', i], false);
      if (!condition) return;
      // A measure per a source's row (`per:`) is a value of the row: a WHERE, like a field.
      const kinds = new Set(atomsOf(condition).map((a) => (a.target.kind === 'measure' ? 'measure' : 'row')));
      if (kinds.size > 1) {
        this.fail(
          'mixed_filter_group',
          'a filter group (`any`, `all`, `not`) cannot mix measure filters (applied after aggregation) with field filters',
          ['filters', i],
        );
      } else (kinds.has('measure') ? having : where).push(...conjunctsOf(condition));
    });
    const resolvedColumns = columns.filter((c): c is ColumnSpec => c !== undefined);
    this.nameColumns(columns);
    const aggregated = resolvedColumns.some((c) => c.kind === 'measure');
    const hidden: ColumnSpec[] = [];
    const sort = (this.def.sort ?? [])
      .map((s, i) => this.sort(s, ['sort', i], resolvedColumns, hidden, aggregated))
      .filter((s): s is SortSpec => s !== undefined);
    if (this.diagnostics.length > 0) return { diagnostics: this.diagnostics };
    const limits = [this.def.limit, this.options.limit].filter((l): l is number => l !== undefined);
    return {
      spec: {
        root,
        columns: resolvedColumns,
        hidden,
        where,
        having,
        sort,
        ...(limits.length > 0 ? { limit: Math.min(...limits) } : {}),
        ...(this.options.offset ? { offset: this.options.offset } : {}),
        timezone: this.options.timezone ?? 'UTC',
      },
      diagnostics: this.diagnostics,
    };
  }

  // ---- join tree -------------------------------------------------------------------------

  private node(source: SourceModel, edges: readonly JoinEdge[]): TreeNode {
    let parent: TreeNode | undefined;
    let key = source.name;
    if (edges.length > 0) {
      parent = this.node(this.model.sources.get(edges[edges.length - 1]!.from)!, edges.slice(0, -1));
      key = `${parent.key}>${source.name}`;
    }
    let node = this.scope.nodes.get(key);
    if (!node) {
      const edge = edges[edges.length - 1];
      node = {
        id: this.nextId++,
        key,
        source,
        children: [],
        ...(parent ? { parent } : {}),
        ...(edge ? { edge } : {}),
      };
      parent?.children.push(node);
      this.scope.nodes.set(key, node);
    }
    return node;
  }

  private nodeFor(
    source: SourceModel,
    via: readonly string[] | undefined,
    path: ValuePath,
    /** Where `via` is written, when not next to the reference at `path`. */
    viaPath: ValuePath = path,
  ): TreeNode | undefined {
    for (const [i, name] of (via ?? []).entries()) {
      if (!this.model.sources.has(name)) {
        const suggestion = closest(name, this.model.sources.keys());
        return this.fail(
          'unknown_source',
          `via names unknown source '${name}'`,
          [...viaPath, 'via', i],
          suggestion ? `did you mean ${suggestion}?` : undefined,
        );
      }
    }
    const from = this.scope.from;
    const result = this.finder.path(from, source.name, via ?? []);
    if (result.ok) {
      const readable = result.edges.every((edge) =>
        this.checkSourceAccess(this.model.sources.get(edge.to)!, path),
      );
      return readable ? this.node(source, result.edges) : undefined;
    }
    const target = via && via.length > 0 ? `${source.name} via ${via.join(', ')}` : source.name;
    switch (result.reason) {
      case 'unreachable':
        return this.fail(
          'no_join_path',
          `'${target}' cannot be reached from '${from}' by the declared joins`,
          path,
          'declare a join between them',
        );
      case 'revisits':
        return this.fail(
          'no_join_path',
          `the join path to '${target}' passes through '${result.source}' twice`,
          path,
        );
      case 'tie': {
        const shown = result.alternatives.map((alt) => [from, ...alt, source.name].join(' -> ')).join('; ');
        const hint = result.alternatives
          .filter((alt) => alt.length > 0)
          .map((alt) => `via: [${alt.join(', ')}]`)
          .join(' or ');
        return this.fail(
          'ambiguous_join_path',
          `'${source.name}' is reached from '${from}' by more than one shortest join path (${shown})`,
          path,
          `add ${hint} to pick one`,
        );
      }
    }
  }

  // ---- references ------------------------------------------------------------------------

  private member(ref: string, path: ValuePath): { source: SourceModel; member: MemberModel } | undefined {
    const [sourceName, memberName] = ref.split('.') as [string, string];
    const source = this.model.sources.get(sourceName);
    const member = source ? memberOf(source, memberName) : undefined;
    if (source && member) {
      // A source the caller may not read is reported once, where it joins the query.
      const denial = this.policy?.sourceDenial(source)
        ? undefined
        : this.policy?.memberDenial(source, member);
      if (denial) return this.fail('access_denied', `access denied: ${denial}`, path);
      return { source, member };
    }
    if (!source && this.model.broken.has(sourceName)) {
      return this.fail('broken_dependency', `source '${sourceName}' has errors in its definition`, path);
    }
    const candidates = source
      ? [...source.fields.keys(), ...source.measures.keys()].map((m) => `${sourceName}.${m}`)
      : [...this.model.sources.values()].flatMap((s) =>
          [...s.fields.keys(), ...s.measures.keys()].map((m) => `${s.name}.${m}`),
        );
    const suggestion = closest(ref, candidates);
    const message = source
      ? `'${sourceName}' has no field or measure '${memberName}'`
      : `unknown source '${sourceName}' in '${ref}'`;
    return this.fail(
      source ? 'unknown_field' : 'unknown_source',
      message,
      path,
      suggestion ? `did you mean ${suggestion}?` : undefined,
    );
  }

  private measureUse(node: TreeNode, measure: MeasureModel, path: ValuePath): MeasureUse | undefined {
    if (measure.definition.kind === 'aggregate') {
      if (!measure.definition.lookups) return { node, measure };
      const lookups = this.lookups(node, measure, measure.definition.lookups, path);
      return lookups && { node, measure, lookups };
    }
    const parts: MeasureUse[] = [];
    for (const part of measure.definition.refs) {
      const source = this.model.sources.get(part.source);
      const target = source?.measures.get(part.measure);
      if (!source || !target) return undefined;
      const partNode = part.source === node.source.name ? node : this.nodeFor(source, undefined, path);
      const use = partNode && this.measureUse(partNode, target, path);
      if (!use) return undefined;
      parts.push(use);
    }
    return { node, measure, parts };
  }

  /**
   * The fields a measure's `{source.field}` references read, each on a node reached from the
   * measure's node by its to-one path (always below it, so a pre-aggregated subtree holds
   * them). The caller must be allowed to read each source and field.
   */
  private lookups(
    node: TreeNode,
    measure: MeasureModel,
    lookups: readonly FieldLookup[],
    path: ValuePath,
  ): Lookups | undefined {
    const bound = new Map<string, { node: TreeNode; field: FieldModel }>();
    for (const lookup of lookups) {
      const source = this.model.sources.get(lookup.source);
      const field = source?.fields.get(lookup.field);
      const found = this.finder.toOne().path(measure.source, lookup.source, lookup.via);
      // The model reported what is wrong with the reference; the measure is left out here.
      if (!source || !field || !found.ok) return undefined;
      if (!found.edges.every((edge) => this.checkSourceAccess(this.model.sources.get(edge.to)!, path)))
        return undefined;
      const denial = this.policy?.memberDenial(source, field);
      if (denial)
        return this.fail(
          'access_denied',
          `access denied: measure '${measure.source}.${measure.name}' reads ${lookup.source}.${lookup.field}: ${denial}`,
          path,
        );
      bound.set(lookup.placeholder, { node: this.node(source, [...edgesTo(node), ...found.edges]), field });
    }
    return bound;
  }

  // ---- columns ---------------------------------------------------------------------------

  private column(sel: FieldSelection, path: ValuePath): ColumnSpec | undefined {
    const obj = typeof sel === 'string' ? { field: sel } : sel;
    const refPath = typeof sel === 'string' ? path : [...path, 'field'];
    const found = this.member(obj.field, refPath);
    if (!found) return undefined;
    if (typeof sel !== 'string' && (sel.per !== undefined || sel.filters !== undefined))
      return this.grainDimension(sel, found, path);
    const node = this.nodeFor(found.source, obj.via, refPath);
    if (!node) return undefined;
    const { member } = found;
    const base = {
      name: obj.as ?? '',
      label: obj.label ?? member.label ?? '',
      type: member.type,
      ...((obj.format ?? member.format) ? { format: (obj.format ?? member.format)! } : {}),
      ...(member.description !== undefined ? { description: member.description } : {}),
    };
    if (member.kind === 'measure') {
      if (obj.granularity)
        return this.fail(
          'invalid_granularity',
          `granularity applies to date and timestamp fields, not to measure '${obj.field}'`,
          [...path, 'granularity'],
        );
      const use = this.measureUse(node, member, refPath);
      return use && { ...base, kind: 'measure', use };
    }
    if (obj.granularity && member.type !== 'date' && member.type !== 'timestamp') {
      return this.fail(
        'invalid_granularity',
        `granularity applies to date and timestamp fields; '${obj.field}' is ${member.type}`,
        [...path, 'granularity'],
      );
    }
    return {
      ...base,
      kind: 'dimension',
      node,
      field: member,
      ...(obj.granularity ? { granularity: obj.granularity } : {}),
    };
  }

  /**
   * `{ field: orders.order_count, per: customer, filters }`: a measure as a dimension, computed
   * as a query of its own per row of the `per` source (which the measure's source joins
   * many-to-one), over the rows its filters keep.
   */
  private grainDimension(
    sel: FieldSelectionObject,
    found: { source: SourceModel; member: MemberModel },
    path: ValuePath,
  ): ColumnSpec | undefined {
    const { member } = found;
    if (sel.granularity !== undefined)
      return this.fail('invalid_field', `granularity does not apply to a measure computed per '${sel.per}'`, [
        ...path,
        'granularity',
      ]);
    const grain = this.measurePer(sel, found, path, 'invalid_field');
    if (!grain || member.kind !== 'measure') return undefined;
    const node = grain.per!.node;
    return {
      name: sel.as ?? '',
      label: sel.label ?? member.label ?? '',
      type: member.type,
      ...((sel.format ?? member.format) ? { format: (sel.format ?? member.format)! } : {}),
      ...(member.description !== undefined ? { description: member.description } : {}),
      kind: 'dimension',
      node,
      grain,
      measure: member,
    };
  }

  /**
   * A measure per row of `per` (a source its source joins many-to-one), over the rows `filters`
   * keep; `via` picks the query's path to `per` when several reach it.
   */
  private measurePer(
    ref: { field: string; per?: string; filters?: readonly FilterDefinition[]; via?: string[] },
    { source, member: measure }: { source: SourceModel; member: MemberModel },
    path: ValuePath,
    code: 'invalid_field' | 'invalid_filter',
  ): MeasureAtGrain | undefined {
    const { per, filters, via } = ref;
    if (measure.kind !== 'measure')
      return this.fail(
        code,
        `per and filters apply to a measure (its value per row of another source); '${ref.field}' is a field`,
        [...path, per !== undefined ? 'per' : 'filters'],
      );
    if (per === undefined)
      return this.fail(code, 'filters on a measure go with per: the source whose rows it is computed for', [
        ...path,
        'filters',
      ]);
    const edge = this.manyToOneEdge(source, per, [...path, 'per']);
    const node = edge && this.nodeFor(this.model.sources.get(per)!, via, [...path, 'per'], path);
    if (!edge || !node) return undefined;
    const query = this.inScope(source.name, () =>
      this.grainQuery(source, measure, filters, path, [...path, 'field'], undefined, edge),
    );
    return query && { query, per: { node, edge } };
  }

  /** `{ field: lineitem.supplier_count, per: orders, op: gt, value: 1 }`: a filter on a measure per a source's row. */
  private grainTarget(
    f: FilterAtom,
    found: { source: SourceModel; member: MemberModel },
    path: ValuePath,
  ): MeasureAtGrain | undefined {
    if (f.valueFrom !== undefined)
      return this.fail(
        'invalid_filter',
        'a measure per a source is compared with a value or a parameter, not valueFrom',
        [...path, 'valueFrom'],
      );
    return this.measurePer(f, found, path, 'invalid_filter');
  }

  /** `as`, else the field name when no other selected field shares it, else `source_field`. */
  private nameColumns(all: (ColumnSpec | undefined)[]): void {
    const columns = all.filter((c): c is ColumnSpec => c !== undefined);
    const memberOfColumn = (c: ColumnSpec) =>
      c.kind === 'measure' ? c.use.measure : c.grain ? c.measure : c.field;
    const owners = new Map<string, Set<string>>();
    for (const c of columns) {
      const m = memberOfColumn(c);
      owners.set(m.name, (owners.get(m.name) ?? new Set()).add(m.source));
    }
    const seen = new Map<string, number>();
    all.forEach((c, i) => {
      if (!c) return;
      const m = memberOfColumn(c);
      if (!c.name) c.name = owners.get(m.name)!.size === 1 ? m.name : `${m.source}_${m.name}`;
      if (!c.label) c.label = humanize(c.name);
      const earlier = seen.get(c.name);
      if (earlier !== undefined) {
        this.fail(
          'duplicate_column',
          `output column '${c.name}' is also column ${earlier + 1}`,
          ['fields', i],
          'give one of them a distinct `as:` name',
        );
      }
      seen.set(c.name, i);
    });
  }

  // ---- filters ---------------------------------------------------------------------------

  /**
   * A filter as a condition in negation normal form: `not` is pushed down to the atoms
   * (De Morgan: `not any` is `all` of the negations), so `negate` says whether `f` is under
   * an odd number of them. Every atom is resolved, so each problem is reported at its place.
   */
  private condition(f: FilterDefinition, path: ValuePath, negate: boolean): Condition | undefined {
    if ('not' in f) return this.condition(f.not, [...path, 'not'], !negate);
    if ('any' in f || 'all' in f) {
      const [key, items] = 'any' in f ? (['any', f.any] as const) : (['all', f.all] as const);
      const resolved = items.map((inner, j) => this.condition(inner, [...path, key, j], negate));
      if (resolved.some((c) => c === undefined)) return undefined;
      const kind = (key === 'any') !== negate ? 'or' : 'and';
      return combine(kind, resolved as Condition[]);
    }
    const atom = this.atom(f, path);
    return atom && literal(atom, negate);
  }

  private atom(f: FilterAtom, path: ValuePath): Atom | undefined {
    const found = this.member(f.field, [...path, 'field']);
    if (!found) return undefined;
    const { member } = found;
    const loc = this.at(path);
    let target: Atom['target'];
    if (f.per !== undefined || f.filters !== undefined) {
      const grain = this.grainTarget(f, found, path);
      if (!grain) return undefined;
      target = { kind: 'grain', grain };
    } else {
      const node = this.nodeFor(found.source, f.via, [...path, 'field']);
      if (!node) return undefined;
      target =
        member.kind === 'field'
          ? { kind: 'field', node, field: member }
          : { kind: 'measure', use: this.measureUse(node, member, path)! };
    }
    if (member.kind === 'measure' && (TEXT_OPS.has(f.op) || RELATIVE_OPS.has(f.op))) {
      return this.fail('invalid_filter', `op ${f.op} does not apply to measure '${f.field}'`, [
        ...path,
        'op',
      ]);
    }
    const given = (['value', 'values', 'param'] as const).filter((k) => f[k] !== undefined);
    const ref = f.valueFrom;
    if (ref !== undefined) {
      if (given.length > 0)
        return this.fail(
          'invalid_filter',
          `give only one of valueFrom, ${given.join(', ')}: valueFrom compares with another field`,
          path,
        );
      if (!COMPARE_OPS.has(f.op))
        return this.fail(
          'invalid_filter',
          `op ${f.op} does not compare two fields (valueFrom takes ${[...COMPARE_OPS].join(', ')})`,
          [...path, 'op'],
        );
    }
    if (!this.opFitsType(f.op, member.type)) {
      return this.fail('invalid_filter', `op ${f.op} does not apply to ${member.type} field '${f.field}'`, [
        ...path,
        'op',
      ]);
    }
    if (ref !== undefined && typeof ref === 'object' && 'measure' in ref) {
      const grain = this.measureAtGrain(f, member, ref, [...path, 'valueFrom']);
      return grain && { target, op: f.op, grain, values: [], loc };
    }
    if (ref !== undefined) {
      const other = this.otherSide(f, member, ref, path);
      return other && { target, op: f.op, other, values: [], loc };
    }
    if (NULL_OPS.has(f.op)) {
      if (given.length > 0)
        return this.fail('invalid_filter', `op ${f.op} takes no ${given[0]}`, [...path, given[0]!]);
      return { target, op: f.op, values: [], loc };
    }
    if (given.length !== 1) {
      const wanted = LIST_OPS.has(f.op) ? '`values` (or `param`)' : '`value` (or `param`)';
      return this.fail(
        'invalid_filter',
        given.length === 0 ? `op ${f.op} needs ${wanted}` : `give only one of ${given.join(', ')}`,
        path,
      );
    }
    const raw = this.rawValues(f, path);
    if (raw === undefined) return undefined;
    if (raw === 'unbound') return { target, op: f.op, values: [], loc };
    if (RELATIVE_OPS.has(f.op)) {
      const span = raw.length === 1 ? parseSpan(raw[0]) : undefined;
      if (!span)
        return this.fail(
          'invalid_value',
          `op ${f.op} needs a value like "90 days", "2 weeks", "3 months" or "1 year" (at most ${MAX_SPAN.year} years)`,
          this.valuePath(f, path),
        );
      return { target, op: f.op, values: [], span, loc };
    }
    if (f.op === 'between' && raw.length !== 2)
      return this.fail(
        'invalid_value',
        'between needs exactly two values: [low, high]',
        this.valuePath(f, path),
      );
    if (LIST_OPS.has(f.op) && raw.length === 0)
      return this.fail('invalid_value', `op ${f.op} needs at least one value`, this.valuePath(f, path));
    if (!LIST_OPS.has(f.op) && raw.length !== 1)
      return this.fail('invalid_value', `op ${f.op} takes one value, not a list`, this.valuePath(f, path));
    const values: TypedValue[] = [];
    for (const [j, v] of raw.entries()) {
      // Comparing an integer to 1.5 is meaningful (HAVING count > 1.5): any number will do.
      const coerced = coerceValue(v, member.type === 'integer' ? 'number' : member.type);
      if (!coerced.ok)
        return this.fail('invalid_value', `${f.field}: ${coerced.message}`, this.valuePath(f, path, j));
      values.push(coerced.value);
    }
    return { target, op: f.op, values, loc };
  }

  /**
   * `valueFrom: { measure, per, filters, times }`: the measure as its own query from its
   * source (its filters resolved in that query's join tree), per the row of `per` joined to
   * the filtered row, or over all rows.
   */
  private measureAtGrain(
    f: FilterAtom,
    member: MemberModel,
    ref: MeasureAtGrainRef,
    path: ValuePath,
  ): MeasureAtGrain | undefined {
    const found = this.member(ref.measure, [...path, 'measure']);
    if (!found) return undefined;
    const { source, member: measure } = found;
    if (measure.kind !== 'measure')
      return this.fail(
        'invalid_filter',
        `valueFrom.measure names '${ref.measure}', a field: name a measure`,
        [...path, 'measure'],
        `to compare with the field on the same row, write valueFrom: ${ref.measure}`,
      );
    if (!comparableTypes(member.type, measure.type))
      return this.fail(
        'type_mismatch',
        `'${f.field}' is ${member.type} but measure '${ref.measure}' is ${measure.type}: a comparison needs the same family of types`,
        [...path, 'measure'],
      );
    if (ref.times !== undefined && !NUMERIC_TYPES.has(member.type))
      return this.fail('invalid_filter', `times multiplies a number; '${f.field}' is ${member.type}`, [
        ...path,
        'times',
      ]);
    if (member.kind === 'measure' && ref.per !== undefined)
      return this.fail(
        'invalid_filter',
        `a measure is compared with a measure over all rows (no per): a group has no single '${ref.per}' row`,
        [...path, 'per'],
      );
    if ((ref.groupBy === undefined) !== (ref.aggregate === undefined))
      return this.fail(
        'invalid_filter',
        'groupBy and aggregate go together: the measure per row of the groupBy source, then the aggregate of those values',
        [...path, ref.groupBy === undefined ? 'aggregate' : 'groupBy'],
      );
    if (ref.groupBy !== undefined && ref.per !== undefined)
      return this.fail('invalid_filter', 'give per or groupBy, not both', [...path, 'groupBy']);
    if (ref.via !== undefined && ref.per === undefined)
      return this.fail('invalid_filter', "via goes with per: it picks the query's join path to that source", [
        ...path,
        'via',
      ]);
    let per: MeasureAtGrain['per'];
    if (ref.per !== undefined) {
      const edge = this.manyToOneEdge(source, ref.per, [...path, 'per']);
      const node = edge && this.nodeFor(this.model.sources.get(ref.per)!, ref.via, [...path, 'per'], path);
      if (!edge || !node) return undefined;
      per = { node, edge };
    }
    const groupEdge =
      ref.groupBy === undefined ? undefined : this.manyToOneEdge(source, ref.groupBy, [...path, 'groupBy']);
    if (ref.groupBy !== undefined && !groupEdge) return undefined;
    const query = this.inScope(source.name, () =>
      this.grainQuery(source, measure, ref.filters, path, [...path, 'measure'], groupEdge, per?.edge),
    );
    return (
      query && {
        query,
        ...(per ? { per } : {}),
        ...(ref.aggregate ? { groups: { aggregate: ref.aggregate } } : {}),
        ...(ref.times !== undefined ? { times: ref.times } : {}),
      }
    );
  }

  /** The join by which `source` belongs to one row of source `name` (`per:`, `groupBy:`). */
  private manyToOneEdge(source: SourceModel, name: string, path: ValuePath): JoinEdge | undefined {
    const key = path[path.length - 1];
    if (!this.model.sources.has(name)) {
      const suggestion = closest(name, this.model.sources.keys());
      return this.fail(
        'unknown_source',
        `${key} names unknown source '${name}'`,
        path,
        suggestion ? `did you mean ${suggestion}?` : undefined,
      );
    }
    if (name === source.name)
      return this.fail(
        'invalid_filter',
        `${key}: '${name}' is the measure's own source (one row each): name the source its rows belong to, which '${name}' joins many-to-one`,
        path,
      );
    const edge = (this.model.joins.get(source.name) ?? []).find(
      (e) => e.to === name && e.relationship !== 'one_to_many',
    );
    if (!edge)
      return this.fail(
        'invalid_filter',
        `${key}: '${name}' must be a source that '${source.name}' joins many-to-one, so that each ${source.name} row belongs to one ${name} row`,
        path,
        `declare a many_to_one join from ${source.name} to ${name}`,
      );
    return edge;
  }

  /** The measure's own query: from its source, the measure, its filters (on fields). */
  private grainQuery(
    source: SourceModel,
    measure: MeasureModel,
    filters: readonly FilterDefinition[] | undefined,
    /** Where the filters are (`filters` under it) and the measure is named. */
    path: ValuePath,
    measurePath: ValuePath,
    /** groupBy: the join to the source whose rows are the groups. */
    groupEdge?: JoinEdge,
    /** `per`: the join whose columns of the measure's source it also groups by. */
    keyEdge?: JoinEdge,
  ): QuerySpec | undefined {
    const root = this.node(source, []);
    // The measure's own query reads its source (and a groupBy source): the caller must be allowed to.
    const groupSource = groupEdge && this.model.sources.get(groupEdge.to)!;
    if (!this.checkSourceAccess(source, measurePath)) return undefined;
    if (groupSource && !this.checkSourceAccess(groupSource, [...path, 'groupBy'])) return undefined;
    const use = this.measureUse(root, measure, measurePath);
    const where: Condition[] = [];
    let ok = use !== undefined;
    (filters ?? []).forEach((inner, j) => {
      const condition = this.condition(inner, [...path, 'filters', j], false);
      if (!condition) ok = false;
      else if (atomsOf(condition).some((a) => a.target.kind === 'measure')) {
        ok = false;
        this.fail(
          'invalid_filter',
          'the filters of a measure at another grain choose the rows it is computed over: they filter fields, not measures',
          [...path, 'filters', j],
        );
      } else where.push(...conjunctsOf(condition));
    });
    if (use && leafUses(use).some((leaf) => leaf.node !== root)) {
      ok = false;
      this.fail(
        'invalid_filter',
        `measure '${measure.source}.${measure.name}' combines measures of other sources: a measure at another grain aggregates its own source's rows`,
        measurePath,
      );
    }
    if (!ok || !use) return undefined;
    const name = measure.name;
    // groupBy: one group per row of that source that rows of the measure's source join
    // (inner: rows without one belong to no group), keyed by its primary key.
    const groupNode = groupSource && this.node(groupSource, [groupEdge!]);
    const groupKey = groupNode ? groupNode.source.primaryKey.map((k) => groupNode.source.fields.get(k)!) : [];
    const groups: ColumnSpec[] = groupKey.map((field, i) => ({
      kind: 'dimension',
      name: `group_${i + 1}`,
      label: field.name,
      type: field.type,
      node: groupNode!,
      field,
    }));
    for (const [i, pair] of (keyEdge?.on ?? []).entries()) {
      const field = source.fields.get(pair.from)!;
      groups.push({
        kind: 'dimension',
        name: `key_${i + 1}`,
        label: field.name,
        type: field.type,
        node: root,
        field,
      });
    }
    for (const field of groupKey)
      where.push(
        literal({
          target: { kind: 'field', node: groupNode!, field },
          op: 'is_not_null',
          values: [],
          loc: this.at(path),
        }),
      );
    return {
      root,
      columns: [...groups, { kind: 'measure', name, label: name, type: measure.type, use }],
      hidden: [],
      where,
      having: [],
      sort: [],
      timezone: this.options.timezone ?? 'UTC',
    };
  }

  /** Resolves in the join tree of a query from `from` (a measure at another grain), then returns to the input's. */
  private inScope<T>(from: string, resolve: () => T): T {
    const outer = this.scope;
    this.scope = { from, nodes: new Map() };
    try {
      return resolve();
    } finally {
      this.scope = outer;
    }
  }

  /** The other side of a comparison of two fields (`valueFrom:`), checked against the first. */
  private otherSide(
    f: FilterAtom,
    member: MemberModel,
    ref: Exclude<ValueFromRef, MeasureAtGrainRef>,
    path: ValuePath,
  ): FilterTarget | undefined {
    const { field, via } = typeof ref === 'string' ? { field: ref, via: undefined } : ref;
    const refPath: ValuePath =
      typeof ref === 'string' ? [...path, 'valueFrom'] : [...path, 'valueFrom', 'field'];
    const found = this.member(field, refPath);
    if (!found) return undefined;
    const node = this.nodeFor(found.source, via, refPath, [...path, 'valueFrom']);
    if (!node) return undefined;
    const other = found.member;
    if (member.kind !== other.kind) {
      const [measure, plain] = member.kind === 'measure' ? [f.field, field] : [field, f.field];
      return this.fail(
        'invalid_filter',
        `valueFrom compares a field with a measure ('${plain}' with '${measure}'): compare two fields (WHERE) or two measures (HAVING); a field against a measure at another grain is valueFrom: { measure, per }`,
        refPath,
      );
    }
    if (!comparableTypes(member.type, other.type)) {
      return this.fail(
        'type_mismatch',
        `'${f.field}' is ${member.type} but '${field}' is ${other.type}: a comparison needs the same family of types (integer, decimal and number together; string; boolean; date; timestamp)`,
        refPath,
        new Set([member.type, other.type]).size === 2 &&
          [member.type, other.type].every((t) => t === 'date' || t === 'timestamp')
          ? 'a date and a timestamp are not compared implicitly: declare a field with sql: that casts one of them'
          : undefined,
      );
    }
    if (other.kind === 'field') return { kind: 'field', node, field: other };
    const use = this.measureUse(node, other, refPath);
    return use && { kind: 'measure', use };
  }

  private opFitsType(op: FilterOp, type: FieldType): boolean {
    if (TEXT_OPS.has(op)) return type === 'string';
    if (RELATIVE_OPS.has(op)) return type === 'date' || type === 'timestamp';
    if (RANGE_OPS.has(op)) return ORDERED_TYPES.has(type);
    return true;
  }

  private valuePath(f: FilterAtom, path: ValuePath, index?: number): ValuePath {
    if (f.param !== undefined) return [...path, 'param'];
    if (f.values !== undefined) return index !== undefined ? [...path, 'values', index] : [...path, 'values'];
    return [...path, 'value'];
  }

  /** The filter's raw values: written inline, or from a parameter (given, else its default). */
  private rawValues(f: FilterAtom, path: ValuePath): Scalar[] | 'unbound' | undefined {
    if (f.value !== undefined) return [f.value];
    if (f.values !== undefined) return f.values;
    const name = f.param!;
    const param = this.def.params?.[name];
    if (!param) {
      const suggestion = closest(name, Object.keys(this.def.params ?? {}));
      return this.fail(
        'unknown_param',
        `filter uses parameter '${name}', which is not declared under params`,
        [...path, 'param'],
        suggestion
          ? `did you mean ${suggestion}?`
          : `declare it: params: { ${name}: { type: ..., default: ... } }`,
      );
    }
    const field = this.member(f.field, [...path, 'field'])?.member;
    if (field && !comparableTypes(param.type, field.type)) {
      return this.fail(
        'param_type_mismatch',
        `parameter '${name}' is ${param.type} but '${f.field}' is ${field.type}`,
        [...path, 'param'],
      );
    }
    const given = this.options.params?.[name];
    const raw = given !== undefined ? given : param.default;
    if (raw === undefined) {
      if (this.options.validateOnly) return 'unbound';
      return this.fail(
        'missing_param',
        `parameter '${name}' has no value and no default`,
        [...path, 'param'],
        `pass --param ${name}=<value>`,
      );
    }
    return this.paramValues(name, param, raw, LIST_OPS.has(f.op), path);
  }

  private paramValues(
    name: string,
    param: ParamDefinition,
    raw: unknown,
    list: boolean,
    path: ValuePath,
  ): Scalar[] | undefined {
    const items = Array.isArray(raw)
      ? raw
      : list && typeof raw === 'string'
        ? raw.split(',').map((s) => s.trim())
        : [raw];
    const values: Scalar[] = [];
    for (const item of items) {
      const coerced = coerceValue(item, param.type);
      if (!coerced.ok)
        return this.fail('invalid_param', `parameter '${name}': ${coerced.message}`, [...path, 'param']);
      values.push(
        typeof coerced.value.value === 'string' && coerced.value.type === 'timestamp'
          ? `${coerced.value.value.replace(' ', 'T')}Z`
          : coerced.value.value,
      );
    }
    return values;
  }

  private checkUnknownParams(): void {
    for (const name of Object.keys(this.options.params ?? {})) {
      if (!this.def.params?.[name]) {
        const suggestion = closest(name, Object.keys(this.def.params ?? {}));
        this.diagnostics.push(
          error(
            'unknown_param',
            `input '${this.def.name}' has no parameter '${name}'`,
            this.at(['name']),
            suggestion ? `did you mean ${suggestion}?` : undefined,
          ),
        );
      }
    }
  }

  // ---- sort ------------------------------------------------------------------------------

  private sort(
    s: SortDefinition,
    path: ValuePath,
    columns: ColumnSpec[],
    hidden: ColumnSpec[],
    aggregated: boolean,
  ): SortSpec | undefined {
    const obj = typeof s === 'string' ? { field: s } : s;
    const fieldPath = typeof s === 'string' ? path : [...path, 'field'];
    const direction = obj.direction ?? 'asc';
    const byName = columns.find((c) => c.name === obj.field);
    if (byName) return { column: byName, direction };
    if (!obj.field.includes('.')) {
      const suggestion = closest(
        obj.field,
        columns.map((c) => c.name),
      );
      return this.fail(
        'unknown_column',
        `sort names '${obj.field}', which is not an output column`,
        fieldPath,
        suggestion ? `did you mean ${suggestion}?` : 'use an output column name or source.field',
      );
    }
    const found = this.member(obj.field, fieldPath);
    if (!found) return undefined;
    const node = this.nodeFor(found.source, undefined, fieldPath);
    if (!node) return undefined;
    const selected = columns
      .filter((c) =>
        c.kind === 'measure'
          ? c.use.node === node && c.use.measure === found.member
          : c.node === node && c.field === found.member,
      )
      .sort(
        (a, b) =>
          Number(a.kind === 'dimension' && a.granularity !== undefined) -
          Number(b.kind === 'dimension' && b.granularity !== undefined),
      );
    if (selected[0]) return { column: selected[0], direction };
    const { member } = found;
    const base = { name: `sort_${hidden.length + 1}`, label: '', type: member.type };
    let column: ColumnSpec | undefined;
    if (member.kind === 'measure') {
      if (!aggregated)
        return this.fail(
          'invalid_sort',
          `sorting by measure '${obj.field}' needs a measure among the selected fields (the result is not grouped)`,
          fieldPath,
        );
      const use = this.measureUse(node, member, fieldPath);
      column = use && { ...base, kind: 'measure', use };
    } else {
      if (aggregated)
        return this.fail(
          'invalid_sort',
          `sort by '${obj.field}' needs it among the selected fields: the result has one row per group`,
          fieldPath,
          `add ${obj.field} to fields`,
        );
      if (!this.isOneValuedPerRow(node, columns)) {
        return this.fail(
          'invalid_sort',
          `sort by '${obj.field}' is ambiguous: a row can have several ${node.source.name} rows`,
          fieldPath,
          `add ${obj.field} to fields`,
        );
      }
      column = { ...base, kind: 'dimension', node, field: member as FieldModel };
    }
    if (!column) return undefined;
    hidden.push(column);
    return { column, direction };
  }

  /** A hidden sort key must not multiply rows: every fan-out join above it is already in the grain. */
  private isOneValuedPerRow(node: TreeNode, columns: ColumnSpec[]): boolean {
    return oneValuedPerRow(node, grainOf(columns.map((c) => (c.kind === 'dimension' ? c.node : c.use.node))));
  }
}

/** The joins from the root down to `node`. */
function edgesTo(node: TreeNode): JoinEdge[] {
  const edges: JoinEdge[] = [];
  for (let n: TreeNode | undefined = node; n?.edge; n = n.parent) edges.unshift(n.edge);
  return edges;
}
