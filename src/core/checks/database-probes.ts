/**
 * `strata validate --database`, the pure half: which zero-row queries check a source's
 * definitions on a real engine, and what the engine's answers mean for the YAML.
 * The I/O half (running them) is src/checks/database.ts.
 *
 * Every probe is built as a syntax tree and printed by the dialect, like any query Strata
 * runs: definition SQL enters only as parsed fragments, never spliced as text.
 */
import { error, type Diagnostic, type SourceLocation } from '../diagnostics.js';
import type { Aggregate, Dialect, EngineName, FieldType } from '../definitions/schema.js';
import type { ValuePath } from '../definitions/document.js';
import type { DialectFragment, SemanticModel, SourceModel } from '../model/types.js';
import { call, col, FALSE, lit, type Expr, type FromItem, type Select } from '../sql/ast.js';
import type { SqlFragment } from '../sql/fragments/fragment.js';

/** One expression of a source to check: it must compile, and may have to be of a type. */
export interface Probe {
  /** What it is, for messages: `sql of field 'movie.runtime_minutes'`. */
  what: string;
  expr: Expr;
  location: SourceLocation;
  /** A field's declared type, compared with the type the engine reports. */
  declared?: FieldType;
  /** Where that type is declared (its `type:` node). */
  typeLocation?: SourceLocation;
  /**
   * The compiler casts the expression to the declared type (a field's `sql:`): a narrower
   * number or a date from a timestamp is then what the author asked for, not a mistake.
   */
  cast?: boolean;
  /** A filter: the engine must report a boolean. */
  condition?: boolean;
  /**
   * An aggregate call (`sum(<sql>) FILTER (WHERE <filter>)`): it runs in a query of aggregates
   * only, after the measure's own expressions compiled (else its error would repeat theirs).
   */
  aggregate?: boolean;
  /** The measure (`source.measure`) whose `sql` or `filter` this is. */
  measure?: string;
  /**
   * The plain field (a column) it reads, whose engine type join keys are compared by; a
   * computed field is cast to its declared type, which validation already compares.
   */
  field?: string;
  /** The definition's SQL, and where its character at an offset is: to point at a wrong column. */
  fragment?: { sql: SqlFragment; locateWithin: (offset: number) => SourceLocation };
}

export interface SourceProbes {
  source: SourceModel;
  /** What the source reads: its table or its `sql:` SELECT. */
  relation: FromItem;
  /** `table studio.movie`, or `the sql: of source 'movie'`. */
  relationLabel: string;
  relationLocation: SourceLocation;
  probes: Probe[];
  /** Problems found without asking the engine (an expression with no SQL for its dialect). */
  notes: Diagnostic[];
}

/** The zero-row checks of one source in `dialect`. */
export function sourceProbes(source: SourceModel, dialect: Dialect): SourceProbes {
  const at = locator(source);
  const notes: Diagnostic[] = [];
  const probes: Probe[] = [];
  const fragmentProbe = (
    sql: DialectFragment,
    path: ValuePath,
    what: string,
    extra: Pick<Probe, 'declared' | 'typeLocation' | 'cast' | 'condition' | 'measure'> = {},
    placeholders?: ReadonlyMap<string, Expr>,
  ): Expr | undefined => {
    const chosen = fragmentFor(sql, dialect);
    const where = sql.kind === 'shared' ? path : [...path, dialect];
    if (!chosen) {
      notes.push({
        severity: 'warning',
        code: 'missing_dialect_sql',
        message: `${what} has no SQL for dialect ${dialect}: not checked`,
        location: at(path, source.loc),
        hint: `add ${dialect}: ... under it`,
      });
      return;
    }
    const expr: Expr = {
      kind: 'fragment',
      sql: { kind: 'shared', fragment: chosen },
      owner: what,
      ...(placeholders ? { placeholders } : {}),
    };
    const within = source.locateWithin;
    probes.push({
      what,
      expr,
      location: at(where, source.loc),
      ...(within ? { fragment: { sql: chosen, locateWithin: (offset) => within(where, offset) } } : {}),
      ...extra,
    });
    return expr;
  };

  for (const field of source.fields.values()) {
    const what = `field '${source.name}.${field.name}'`;
    const base = field.path ?? [];
    const declared = { declared: field.type, typeLocation: at([...base, 'type'], field.loc) };
    if (field.sql) fragmentProbe(field.sql, [...base, 'sql'], `sql of ${what}`, { ...declared, cast: true });
    else
      probes.push({
        what: `column of ${what}`,
        expr: col(undefined, field.name),
        location: field.loc,
        field: field.name,
        ...declared,
      });
  }
  for (const measure of source.measures.values()) {
    const { definition } = measure;
    if (definition.kind !== 'aggregate') continue;
    const id = `${source.name}.${measure.name}`;
    const what = `measure '${id}'`;
    const base = measure.path ?? [];
    // A related source's `{source.field}` is not joined here: NULL stands in for it (as a
    // left join gives it); the query compiles the same around any value of its type.
    const lookups = definition.lookups
      ? new Map<string, Expr>(definition.lookups.map((l) => [l.placeholder, lit(null)]))
      : undefined;
    const value =
      definition.sql &&
      fragmentProbe(definition.sql, [...base, 'sql'], `sql of ${what}`, { measure: id }, lookups);
    const filter =
      definition.filter &&
      fragmentProbe(
        definition.filter,
        [...base, 'filter'],
        `filter of ${what}`,
        { condition: true, measure: id },
        lookups,
      );
    if (value || filter)
      probes.push({
        what: `${definition.aggregate} of ${what}`,
        expr: aggregateExpr(definition.aggregate, value, filter),
        location: at([...base, value ? 'sql' : 'filter'], measure.loc),
        aggregate: true,
        measure: id,
      });
  }
  source.access?.rowFilters.forEach(({ role, filter }, i) => {
    // A caller's attributes are unknown here: NULL stands in for each `{user.x}`.
    const nulls = new Map<string, Expr>(filter.placeholders.map((p) => [p, lit(null)]));
    fragmentProbe(
      shared(filter),
      ['access', 'rowFilters', i, 'filter'],
      `row filter of role '${role}' on '${source.name}'`,
      { condition: true },
      nulls,
    );
  });
  if (source.cdc) {
    const { orderBy, deletedWhen } = source.cdc;
    orderBy.forEach((column, i) =>
      probes.push({
        what: `cdc.orderBy column '${column}' of '${source.name}'`,
        expr: col(undefined, column),
        location: at(['cdc', 'orderBy', i], source.loc),
      }),
    );
    if (deletedWhen)
      fragmentProbe(shared(deletedWhen), ['cdc', 'deletedWhen'], `cdc.deletedWhen of '${source.name}'`, {
        condition: true,
      });
  }
  return { ...relationOf(source, at), probes, notes };
}

/** The aggregate the compiler emits for a measure, over its probed `sql` and `filter`. */
function aggregateExpr(aggregate: Aggregate, value: Expr | undefined, filter: Expr | undefined): Expr {
  const extra = filter ? { filter } : {};
  const counted = value ?? lit({ type: 'integer', value: 1 });
  switch (aggregate) {
    case 'count':
      return call('count', [counted], extra);
    case 'count_distinct':
      return call('count', [counted], { ...extra, distinct: true });
    default:
      return call(aggregate, [counted], extra);
  }
}

function relationOf(
  source: SourceModel,
  at: ReturnType<typeof locator>,
): Pick<SourceProbes, 'source' | 'relation' | 'relationLabel' | 'relationLocation'> {
  if (source.relation.kind === 'table') {
    return {
      source,
      relation: { kind: 'table', path: source.relation.path, alias: source.name },
      relationLabel: `table ${source.relation.path.join('.')}`,
      relationLocation: at(['table'], source.loc),
    };
  }
  return {
    source,
    relation: { kind: 'definitionQuery', query: source.relation.query, alias: source.name },
    relationLabel: `the sql: of source '${source.name}'`,
    relationLocation: at(['sql'], source.loc),
  };
}

/** Where a node of the source's file is; the source's name when the model cannot tell. */
function locator(source: SourceModel): (path: ValuePath, fallback: SourceLocation) => SourceLocation {
  return (path, fallback) => (source.locate ? source.locate(path) : fallback);
}

function shared(fragment: SqlFragment): DialectFragment {
  return { kind: 'shared', fragment };
}

function fragmentFor(sql: DialectFragment, dialect: Dialect): SqlFragment | undefined {
  return sql.kind === 'shared' ? sql.fragment : sql.fragments[dialect];
}

/** `SELECT 1 FROM <relation> WHERE FALSE`: does the relation exist and run? */
export function relationProbe(plan: SourceProbes): Select {
  return zeroRows(plan, [lit({ type: 'integer', value: 1 })]);
}

/** `SELECT <each probe's expression> FROM <relation> WHERE FALSE`: one round trip for many. */
export function expressionsProbe(plan: SourceProbes, probes: readonly Probe[]): Select {
  return zeroRows(
    plan,
    probes.map((p) => p.expr),
  );
}

function zeroRows(plan: SourceProbes, exprs: readonly Expr[]): Select {
  return {
    columns: exprs.map((expr, i) => ({ expr, alias: `probe_${i}` })),
    from: plan.relation,
    // Names and types are resolved when the query is planned; no row is ever read.
    where: FALSE,
  };
}

/** The first line of an engine's message, without the `engine: ` prefix QueryError adds. */
export function engineMessage(engine: EngineName, message: string): string {
  const first = message.split('\n').find((line) => line.trim() !== '') ?? message;
  const prefix = `${engine}: `;
  return first.startsWith(prefix) ? first.slice(prefix.length) : first;
}

export function relationFailure(plan: SourceProbes, engine: EngineName, message: string): Diagnostic {
  const what =
    plan.source.relation.kind === 'table'
      ? `${plan.relationLabel} does not exist in ${engine} (or cannot be read)`
      : `${plan.relationLabel} does not run on ${engine}`;
  return error(
    'database_relation',
    `${what}: ${engineMessage(engine, message)}`,
    plan.relationLocation,
    'the fields, measures and filters of this source were not checked',
  );
}

export function probeFailure(probe: Probe, engine: EngineName, message: string): Diagnostic {
  return error(
    'database_expression',
    `${probe.what} does not compile on ${engine}: ${engineMessage(engine, message)}`,
    columnLocation(probe, message) ?? probe.location,
  );
}

/** How each engine names a column it cannot find (DuckDB, PostgreSQL, MySQL/MariaDB, Trino). */
const MISSING_COLUMN = [
  /Referenced column "([^"]+)" not found/,
  /column "([^"]+)" does not exist/,
  /Unknown column '([^']+)'/,
  /Column '([^']+)' cannot be resolved/,
];

/** Where, inside the YAML string, the column the engine could not find is written. */
function columnLocation(probe: Probe, message: string): SourceLocation | undefined {
  if (!probe.fragment) return undefined;
  const name = MISSING_COLUMN.map((pattern) => pattern.exec(message)?.[1]).find((n) => n !== undefined);
  if (name === undefined) return undefined;
  // The engine may qualify it (`movie.x`) or fold its case; the fragment's tokens are as written.
  const bare = name.split('.').pop()!.toLowerCase();
  const token = probe.fragment.sql.tokens.find((t) => t.role === 'column' && t.value.toLowerCase() === bare);
  return token ? probe.fragment.locateWithin(token.start) : undefined;
}

/** The Strata type an engine's column type holds, when it maps onto one. */
export function strataType(engine: EngineName, engineType: string): FieldType | undefined {
  switch (engine) {
    case 'postgres':
      return POSTGRES_TYPES[engineType];
    case 'mysql':
      return MYSQL_TYPES[engineType];
    case 'duckdb':
    case 'trino':
      return namedType(engineType);
  }
}

/** DuckDB and Trino report type names: `VARCHAR`, `DECIMAL(18,2)`, `timestamp(6) with time zone`. */
function namedType(engineType: string): FieldType | undefined {
  const name = engineType.toLowerCase().replace(/\(.*$/, '').trim();
  if (/^(varchar|char|text|string|uuid)/.test(name)) return 'string';
  if (
    /^(tinyint|smallint|integer|int|bigint|hugeint|utinyint|usmallint|uinteger|ubigint|uhugeint)$/.test(name)
  )
    return 'integer';
  if (name === 'decimal' || name === 'numeric') return 'decimal';
  if (name === 'double' || name === 'real' || name === 'float') return 'number';
  if (name === 'boolean') return 'boolean';
  if (name === 'date') return 'date';
  if (/^timestamp/.test(engineType.toLowerCase())) return 'timestamp';
  return undefined;
}

/** PostgreSQL reports type OIDs (pg_type). */
const POSTGRES_TYPES: Record<string, FieldType> = {
  '16': 'boolean',
  '20': 'integer',
  '21': 'integer',
  '23': 'integer',
  '700': 'number',
  '701': 'number',
  '1700': 'decimal',
  '18': 'string',
  '19': 'string',
  '25': 'string',
  '1042': 'string',
  '1043': 'string',
  '1082': 'date',
  '1114': 'timestamp',
  '1184': 'timestamp',
};

/** MySQL and MariaDB report protocol type codes (mysql2's `Types`); TEXT columns are BLOB (252). */
const MYSQL_TYPES: Record<string, FieldType> = {
  '0': 'decimal',
  '246': 'decimal',
  '1': 'integer',
  '2': 'integer',
  '3': 'integer',
  '8': 'integer',
  '9': 'integer',
  '13': 'integer',
  '4': 'number',
  '5': 'number',
  '7': 'timestamp',
  '12': 'timestamp',
  '10': 'date',
  '14': 'date',
  '15': 'string',
  '252': 'string',
  '253': 'string',
  '254': 'string',
};

const NUMERIC: readonly FieldType[] = ['integer', 'decimal', 'number'];

/**
 * How a declared type fits what the engine reports: `ok` when equal or when the declared type
 * holds every value of the actual one (an integer column declared decimal, a date declared
 * timestamp); `warning` when both are numbers, or both dates, but the declared one is
 * narrower (values may be rounded or cut); `error` across families (a string declared integer).
 */
export function typeFit(
  declared: FieldType,
  actual: FieldType,
  engine: EngineName,
): 'ok' | 'warning' | 'error' {
  if (declared === actual) return 'ok';
  // MySQL has no boolean type: BOOLEAN is TINYINT(1), and conditions are integers.
  if (engine === 'mysql' && declared === 'boolean' && actual === 'integer') return 'ok';
  if (NUMERIC.includes(declared) && NUMERIC.includes(actual))
    return NUMERIC.indexOf(declared) > NUMERIC.indexOf(actual) ? 'ok' : 'warning';
  if (declared === 'timestamp' && actual === 'date') return 'ok';
  if (declared === 'date' && actual === 'timestamp') return 'warning';
  return 'error';
}

/** What the engine's reported type of a probe says about its definition, if anything. */
export function typeDiagnostic(probe: Probe, engine: EngineName, engineType: string): Diagnostic | undefined {
  const actual = strataType(engine, engineType);
  if (actual === undefined) return undefined; // arrays, JSON, intervals...: nothing to compare
  if (probe.condition) {
    if (typeFit('boolean', actual, engine) === 'ok') return undefined;
    return error(
      'database_type',
      `${probe.what} must be a condition (true or false), but ${engine} reports ${engineType}`,
      probe.location,
    );
  }
  if (!probe.declared) return undefined;
  const fit = typeFit(probe.declared, actual, engine);
  // A cast within a family (DOUBLE to integer, timestamp to date) is the author's choice.
  if (fit === 'ok' || (fit === 'warning' && probe.cast)) return undefined;
  return {
    severity: fit,
    code: 'database_type',
    message: `${probe.what} is declared ${probe.declared}, but ${engine} reports ${engineType} (${actual})`,
    location: probe.typeLocation ?? probe.location,
    hint: `declare type: ${actual}, or cast it in sql:`,
  };
}

/** A field's type as the engine reported it. */
export interface EngineFieldType {
  engineType: string;
  type: FieldType;
}

/** Same family: numbers with numbers, dates with timestamps, or equal. */
function comparable(a: FieldType, b: FieldType): boolean {
  if (a === b) return true;
  if (NUMERIC.includes(a) && NUMERIC.includes(b)) return true;
  const temporal = ['date', 'timestamp'];
  return temporal.includes(a) && temporal.includes(b);
}

/**
 * Joins whose paired keys the engine holds in types it cannot compare (text with a number):
 * the declared types may agree while the columns do not. One error per pair, at the join.
 * `types` is keyed by `source.field`; pairs with a type not known are not judged.
 */
export function joinKeyDiagnostics(
  model: SemanticModel,
  types: ReadonlyMap<string, EngineFieldType>,
  engine: EngineName,
): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const edges of model.joins.values()) {
    for (const edge of edges) {
      // Each join is listed under both of its sources; judge it once.
      const key = `${edge.loc.file}:${edge.loc.line}:${edge.loc.col}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const pair of edge.on) {
        const left = types.get(`${edge.from}.${pair.from}`);
        const right = types.get(`${edge.to}.${pair.to}`);
        if (!left || !right || comparable(left.type, right.type)) continue;
        diagnostics.push(
          error(
            'database_join_types',
            `join ${edge.from} -> ${edge.to} pairs ${edge.from}.${pair.from} with ${edge.to}.${pair.to}, which ${engine} holds as ${left.engineType} and ${right.engineType}: their values cannot be compared`,
            edge.loc,
            'cast one of the keys in its field sql:',
          ),
        );
      }
    }
  }
  return diagnostics;
}
