/**
 * SQL for CDC sources outside a query: latest-row views for a Trino (or any) warehouse,
 * the rows a compaction keeps, and Trino's maintenance statements for a raw table.
 * Pure: the callers run the statements.
 */
import type { Dialect } from './definitions/schema.js';
import type { SemanticModel, SourceModel } from './model/types.js';
import { fieldExpr } from './plan/field-expr.js';
import { latestRowsSelect } from './plan/latest-rows.js';
import { col, type FromItem, type Select } from './sql/ast.js';
import { dialectFor } from './sql/dialects/index.js';

/** The column that identifies one change row of a raw table: its strictly increasing log position. */
export const LOG_POSITION_COLUMN = '_seq';

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
 * column (`_op`, `_op_ts`, `_seq` included), deletes dropped. `relation` is what to read
 * (the raw table, or a pinned snapshot of it).
 */
export function compactedRowsSelect(
  source: SourceModel,
  rawColumns: readonly string[],
  relation: FromItem = rawTable(source),
): Select {
  return latestRowsSelect(
    source,
    rawColumns.map((c) => ({ expr: col(undefined, c), alias: c })),
    relation,
  );
}

/**
 * Trino/Iceberg maintenance of a raw table: delete superseded and deleted rows (by log
 * position), rewrite the files, then expire old snapshots and orphan files.
 */
export function trinoMaintenanceStatements(source: SourceModel, retention = '7d'): string[] {
  if (source.relation.kind !== 'table')
    throw new Error(`source ${source.name} reads SQL, not a table: nothing to compact`);
  const d = dialectFor('trino');
  const table = source.relation.path.map((p) => d.identifier(p)).join('.');
  const position = d.identifier(LOG_POSITION_COLUMN);
  const kept = d.render(compactedRowsSelect(source, [LOG_POSITION_COLUMN]), new Set(), 1);
  const threshold = d.stringLiteral(retention);
  return [
    `DELETE FROM ${table}\nWHERE ${position} NOT IN (\n${kept}\n)`,
    `ALTER TABLE ${table} EXECUTE optimize`,
    `ALTER TABLE ${table} EXECUTE expire_snapshots(retention_threshold => ${threshold})`,
    `ALTER TABLE ${table} EXECUTE remove_orphan_files(retention_threshold => ${threshold})`,
  ];
}
