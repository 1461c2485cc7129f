/**
 * The latest-row-per-key reading of a CDC source (spec §2 `cdc:`, §4 rule 8, §8): every
 * version numbered per primary key by the `orderBy` columns, newest first; the newest kept
 * unless `deletedWhen` says it is a delete. Shared by query scans, latest views and compaction.
 */
import type { SourceModel } from '../model/types.js';
import {
  and,
  call,
  col,
  FALSE,
  lit,
  or,
  type Expr,
  type FromItem,
  type Select,
  type SelectItem,
} from '../sql/ast.js';
import { fieldExpr } from './field-expr.js';

/** Column names the versions subquery adds; callers keep them out of their own columns. */
export const VERSION_COLUMN = '_version';
export const DELETED_COLUMN = '_deleted';
export const VISIBLE_COLUMN = '_visible';

/**
/**
 * `SELECT <items by name> FROM (SELECT <items>, row_number() ..., <deleted> FROM relation)
 * WHERE newest AND NOT deleted AND <conditions>`; `conditions` see the items by name.
 * `visible` (a caller's row condition, over the raw columns) is evaluated on each version and
 * must hold on the newest: an older version that passed it shows nothing. `keepDeleted` (over
 * the raw columns) keeps a newest version that is a delete when it holds: compaction keeps
 * recent deletes as tombstones, so that an older change arriving late stays superseded.
 */
export function latestRowsSelect(
  source: SourceModel,
  items: SelectItem[],
  relation: FromItem,
  conditions: Expr[] = [],
  visible?: Expr,
  keepDeleted?: Expr,
): Select {
  const cdc = source.cdc;
  if (!cdc) throw new Error(`source ${source.name} is not a CDC source`);
  const keyExprs = source.primaryKey.map((k) => fieldExpr(source.fields.get(k)!));
  const versions: SelectItem[] = [
    ...items,
    {
      expr: {
        kind: 'rowNumber',
        partitionBy: keyExprs,
        orderBy: cdc.orderBy.map((c) => ({ expr: col(undefined, c), direction: 'desc' as const })),
      },
      alias: VERSION_COLUMN,
    },
  ];
  const where: Expr[] = [
    {
      kind: 'compare',
      op: '=',
      left: col(undefined, VERSION_COLUMN),
      right: lit({ type: 'integer', value: 1 }),
    },
  ];
  if (cdc.deletedWhen) {
    versions.push({
      expr: call('coalesce', [
        {
          kind: 'fragment',
          sql: { kind: 'shared', fragment: cdc.deletedWhen },
          owner: `cdc.deletedWhen of ${source.name}`,
        },
        FALSE,
      ]),
      alias: DELETED_COLUMN,
    });
    const notDeleted: Expr = { kind: 'not', operand: col(undefined, DELETED_COLUMN) };
    where.push(keepDeleted ? or([notDeleted, keepDeleted]) : notDeleted);
  }
  if (visible) {
    versions.push({ expr: call('coalesce', [visible, FALSE]), alias: VISIBLE_COLUMN });
    where.push(col(undefined, VISIBLE_COLUMN));
  }
  return {
    columns: items.map((item) => ({ expr: col(undefined, item.alias ?? columnName(item.expr)) })),
    from: { kind: 'subquery', alias: 'versions', query: { columns: versions, from: relation } },
    where: and([...where, ...conditions])!,
  };
}

function columnName(e: Expr): string {
  if (e.kind !== 'column') throw new Error('a latest-rows item without an alias must be a column');
  return e.name;
}
