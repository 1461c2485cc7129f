/**
 * SQL for CDC sources outside a query: latest-row views for a Trino (or any) warehouse,
 * the rows a compaction keeps, and Trino's maintenance statements for a raw table.
 * Pure: the callers run the statements.
 */
import type { Dialect } from './definitions/schema.js';
import type { SemanticModel, SourceModel } from './model/types.js';
import { fieldExpr } from './plan/field-expr.js';
import { latestRowsSelect } from './plan/latest-rows.js';
import { col, lit, TRUE, type Expr, type FromItem, type Select } from './sql/ast.js';
import { dialectFor } from './sql/dialects/index.js';

/** The column that identifies one change row of a raw table: its strictly increasing log position. */
export const LOG_POSITION_COLUMN = '_seq';
/** The raw table's change timestamp (spec §8): a tombstone's age is measured on it. */
export const CHANGE_TIME_COLUMN = '_op_ts';

/** Which deletes a compaction keeps as tombstones. */
export interface TombstonePolicy {
  /**
   * Deletes whose `_op_ts` is at or after this UTC instant (`YYYY-MM-DD HH:MM:SS[.fff]`) are
   * kept as the key's latest row; older ones are dropped. Without it, or without `_op_ts`
   * among the raw columns, every delete is kept: nothing tells its age, and dropping it could
   * let a late change bring its key back.
   */
  since?: string;
}

export function cdcSources(model: SemanticModel): SourceModel[] {
  return [...model.sources.values()]
    .filter((s) => s.cdc !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

function rawTable(source: SourceModel): FromItem {
  if (source.relation.kind !== 'table')
    return { kind: 'definitionQuery', query: source.relation.query, alias: `${source.name}_query` };
  return { kind: 'table', path: source.relation.path };
}

/** `<schema of the raw table>.<source>_latest`, or just `<source>_latest` for an unqualified table. */
export function latestViewName(source: SourceModel): string[] {
  const path = source.relation.kind === 'table' ? source.relation.path : [];
  return [...path.slice(0, -1), `${source.name}_latest`];
}

/** The source's fields, read as the latest row per key with deletes dropped. */
export function latestViewSelect(source: SourceModel): Select {
  const items = [...source.fields.values()].map((f) => ({ expr: fieldExpr(f), alias: f.name }));
  return latestRowsSelect(source, items, rawTable(source));
}

/** `CREATE OR REPLACE VIEW` statements for the latest views of every CDC source. */
export function latestViewStatements(
  model: SemanticModel,
  dialect: Dialect,
): { source: string; sql: string }[] {
  const d = dialectFor(dialect);
  return cdcSources(model).map((source) => {
    const name = latestViewName(source)
      .map((p) => d.identifier(p))
      .join('.');
    return {
      source: source.name,
      sql: `CREATE OR REPLACE VIEW ${name} AS\n${d.render(latestViewSelect(source))}`,
    };
  });
}

/**
 * The rows a compacted raw table holds: for each key its latest change row, with every raw
 * column (`_op`, `_op_ts`, `_seq` included). A key whose latest row is a delete keeps it as a
 * tombstone while `tombstones` says so (latest views still drop the key: its newest row is a
 * delete), so that a change older than the delete, arriving after the compaction, does not
 * bring the key back; without `tombstones` deletes are dropped. `relation` is what to read
 * (the raw table, or a pinned snapshot of it).
 */
export function compactedRowsSelect(
  source: SourceModel,
  rawColumns: readonly string[],
  relation: FromItem = rawTable(source),
  tombstones?: TombstonePolicy,
): Select {
  return latestRowsSelect(
    source,
    rawColumns.map((c) => ({ expr: col(undefined, c), alias: c })),
    relation,
    [],
    undefined,
    tombstones ? keepTombstone(rawColumns, tombstones) : undefined,
  );
}

function keepTombstone(rawColumns: readonly string[], policy: TombstonePolicy): Expr {
  if (policy.since === undefined || !rawColumns.includes(CHANGE_TIME_COLUMN)) return TRUE;
  return {
    kind: 'compare',
    op: '>=',
    left: col(undefined, CHANGE_TIME_COLUMN),
    right: lit({ type: 'timestamp', value: policy.since }),
  };
}

/**
 * Trino/Iceberg maintenance of a raw table: delete superseded and deleted rows (by log
 * position; deletes within `tombstones` stay), rewrite the files, then expire old snapshots
 * and orphan files.
 */
export function trinoMaintenanceStatements(
  source: SourceModel,
  retention = '7d',
  tombstones?: TombstonePolicy,
): string[] {
  if (source.relation.kind !== 'table')
    throw new Error(`source ${source.name} reads SQL, not a table: nothing to compact`);
  const d = dialectFor('trino');
  const table = source.relation.path.map((p) => d.identifier(p)).join('.');
  const position = d.identifier(LOG_POSITION_COLUMN);
  const columns = tombstones ? [LOG_POSITION_COLUMN, CHANGE_TIME_COLUMN] : [LOG_POSITION_COLUMN];
  const kept = d.render(
    {
      ...compactedRowsSelect(source, columns, rawTable(source), tombstones),
      columns: [{ expr: col(undefined, LOG_POSITION_COLUMN) }],
    },
    new Set(),
    1,
  );
  const threshold = d.stringLiteral(retention);
  return [
    `DELETE FROM ${table}\nWHERE ${position} NOT IN (\n${kept}\n)`,
    `ALTER TABLE ${table} EXECUTE optimize`,
    `ALTER TABLE ${table} EXECUTE expire_snapshots(retention_threshold => ${threshold})`,
    `ALTER TABLE ${table} EXECUTE remove_orphan_files(retention_threshold => ${threshold})`,
  ];
}
