/**
 * Schema evolution (spec §9): an upstream table's columns, checked against what downstream
 * consumes: the processors (the columns they read) and the Strata sources over the raw
 * table (their fields', measures', key and CDC columns). A change that drops or retypes a
 * consumed column pauses the pipeline; a compatible one (a new column, a dropped column
 * nobody reads) is applied to the raw table (`opt_in`: new columns flow in) or ignored
 * (`opt_out`: only consumed columns are written).
 *
 * Types are stored at the widest of their kind (integers as long, decimals as
 * decimal(38, 9), floats as double), so upstream widenings (int to bigint, numeric(10,2) to
 * numeric(12,2), real to double) change nothing downstream.
 */
import type { IcebergSchema, IcebergType } from '../warehouse/schema.js';
import { CDC_COLUMNS, icebergType } from './sink.js';
import type { ColumnSchema, TableSchema } from './events.js';
import type { ProcessorChain } from './processors/index.js';

export type SchemaEvolution = 'opt_in' | 'opt_out';

/**
 * Whether values of one type still land in a column of the other: integers of any width,
 * decimals of any precision (a raw table made elsewhere, by `strata demo` or an import, keeps its
 * own), floats, timestamps with or without a zone.
 */
function sameFamily(a: IcebergType, b: IcebergType): boolean {
  const family = (t: IcebergType) =>
    t === 'int' || t === 'long'
      ? 'integer'
      : t.startsWith('decimal')
        ? 'decimal'
        : t === 'float' || t === 'double'
          ? 'float'
          : t === 'timestamptz'
            ? 'timestamp'
            : t;
  return family(a) === family(b);
}

/** A consumed column that is gone or changed type, and who reads it. */
export interface BreakingChange {
  column: string;
  change: 'dropped' | 'retyped';
  /** `int -> string`, for a retype. */
  detail?: string;
  /** The processors that read it (`processors[0] (filter)`), if any. */
  processors: string[];
  /** Whether Strata sources over the raw table read it. */
  readBySources: boolean;
}

export type SchemaDecision =
  | {
      kind: 'compatible';
      /** The raw table's columns when it does not exist yet. */
      create?: { name: string; type: IcebergType }[];
      /** New columns to add to the raw table. */
      add: { name: string; type: IcebergType }[];
      /** The columns the sink writes from now on (the others are not written). */
      written: Set<string>;
      /** What else changed, for the log (`column x dropped upstream; nobody reads it`). */
      notes: string[];
    }
  | { kind: 'breaking'; changes: BreakingChange[] };

export interface SchemaCheck {
  upstream: TableSchema;
  chain: ProcessorChain;
  /** The raw table's current schema; undefined before it exists. */
  raw: IcebergSchema | undefined;
  /** The upstream schema seen before (for columns the raw table does not keep). */
  previous: TableSchema | undefined;
  /** Columns the Strata sources over the raw table read. */
  readBySources: ReadonlySet<string>;
  evolution: SchemaEvolution;
}

const CDC_NAMES = new Set(CDC_COLUMNS.map((c) => c.name));

export function checkSchemaChange(check: SchemaCheck): SchemaDecision {
  const { upstream, chain, raw, previous, readBySources, evolution } = check;
  const output = chain.outputSchema(upstream);
  const produced = new Map(output.columns.map((c) => [c.name, c]));
  const changes = new Map<string, BreakingChange>();
  const breaking = (column: string, change: BreakingChange['change'], detail?: string): BreakingChange => {
    const existing = changes.get(column);
    if (existing) return existing;
    const entry: BreakingChange = {
      column,
      change,
      ...(detail ? { detail } : {}),
      processors: [],
      readBySources: false,
    };
    changes.set(column, entry);
    return entry;
  };

  for (const { processor, columns } of chain.missingColumns(upstream))
    for (const column of columns) breaking(column, 'dropped').processors.push(processor.label);
  for (const column of readBySources) {
    if (CDC_NAMES.has(column)) continue;
    if (!produced.has(column)) breaking(column, 'dropped').readBySources = true;
  }
  const rawTypes = new Map((raw?.fields ?? []).map((f) => [f.name, f.type]));
  const previousTypes = new Map((previous?.columns ?? []).map((c) => [c.name, icebergType(c.type)]));
  const readByProcessors = new Map<string, string[]>();
  for (const processor of chain.processors)
    for (const column of processor.reads)
      readByProcessors.set(column, [...(readByProcessors.get(column) ?? []), processor.label]);
  const notes: string[] = [];
  const retyped = new Set<string>();
  for (const column of upstream.columns) {
    const now = icebergType(column.type);
    const before = rawTypes.get(column.name) ?? previousTypes.get(column.name);
    if (before === undefined || sameFamily(before, now)) continue;
    const readers = readByProcessors.get(column.name) ?? [];
    if (readers.length > 0 || readBySources.has(column.name)) {
      const entry = breaking(column.name, 'retyped', `${before} -> ${now}`);
      entry.processors.push(...readers.filter((r) => !entry.processors.includes(r)));
      entry.readBySources ||= readBySources.has(column.name);
    } else if (rawTypes.has(column.name)) {
      retyped.add(column.name);
      notes.push(
        `column ${column.name} changed type upstream (${before} -> ${now}); nobody reads it, so it is no longer written`,
      );
    }
  }
  if (changes.size > 0) return { kind: 'breaking', changes: [...changes.values()] };

  const consumed = new Set([
    ...upstream.primaryKey,
    ...readBySources,
    ...readByProcessors.keys(),
    ...chain.processors.flatMap((p) =>
      p.outputSchema({ table: '', columns: [], primaryKey: [] }).columns.map((c) => c.name),
    ),
  ]);
  const wanted = (column: ColumnSchema) => evolution === 'opt_in' || consumed.has(column.name);
  const typed = (c: ColumnSchema) => ({ name: c.name, type: icebergType(c.type) });
  if (!raw) {
    const columns = output.columns.filter(wanted);
    return {
      kind: 'compatible',
      create: columns.map(typed),
      add: [],
      written: new Set(columns.map((c) => c.name)),
      notes,
    };
  }
  const add = output.columns.filter((c) => !rawTypes.has(c.name) && wanted(c));
  for (const column of output.columns)
    if (!rawTypes.has(column.name) && !wanted(column))
      notes.push(`new upstream column ${column.name} is not written (schemaEvolution: opt_out)`);
  for (const [name] of rawTypes)
    if (!CDC_NAMES.has(name) && !produced.has(name))
      notes.push(`column ${name} was dropped upstream; nobody reads it, so it is NULL from now on`);
  const written = new Set(
    [...output.columns.filter((c) => rawTypes.has(c.name) || wanted(c))]
      .map((c) => c.name)
      .filter((name) => !retyped.has(name)),
  );
  return { kind: 'compatible', add: add.map(typed), written, notes };
}

/** One line per breaking change: `column budget_usd dropped upstream; read by processors[1] (project) and the Strata sources`. */
export function describeBreaking(table: string, changes: readonly BreakingChange[]): string {
  return changes
    .map((c) => {
      const readers = [
        ...c.processors,
        ...(c.readBySources ? ['the Strata sources over its raw table'] : []),
      ];
      const what = c.change === 'dropped' ? 'was dropped upstream' : `changed type upstream (${c.detail})`;
      return `${table}: column ${c.column} ${what}; read by ${readers.join(' and ')}`;
    })
    .join('\n');
}
