import type { FieldModel } from '../model/types.js';
import { col, type Expr } from '../sql/ast.js';

/** A field over its source's own columns: its `sql:` cast to its declared type, or the column of its name. */
export function fieldExpr(field: FieldModel): Expr {
  return field.sql !== undefined
    ? {
        kind: 'cast',
        operand: { kind: 'fragment', sql: field.sql, owner: `field ${field.source}.${field.name}` },
        type: field.type,
      }
    : col(undefined, field.name);
}
