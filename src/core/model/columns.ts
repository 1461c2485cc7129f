/** The physical columns a source's definition reads, as far as its definitions tell. */
import type { SourceModel } from './types.js';

/** Plain fields' own columns, and the columns computed fields' SQL reads. */
export function fieldColumns(source: SourceModel): Set<string> {
  const columns = new Set<string>();
  for (const field of source.fields.values()) {
    if (!field.sql) columns.add(field.name);
    else if (field.sql.kind === 'shared') field.sql.fragment.columns.forEach((c) => columns.add(c));
    else Object.values(field.sql.fragments).forEach((f) => f.columns.forEach((c) => columns.add(c)));
  }
  return columns;
}
