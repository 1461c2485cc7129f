/** The physical columns a source's definition reads, as far as its definitions tell. */
import type { DialectFragment, SourceModel } from './types.js';

/** The columns a definition's SQL names, in every dialect it is written for. */
export function fragmentColumns(sql: DialectFragment): string[] {
  return sql.kind === 'shared'
    ? [...sql.fragment.columns]
    : Object.values(sql.fragments).flatMap((f) => [...f.columns]);
}

/** Plain fields' own columns, and the columns computed fields' SQL reads. */
export function fieldColumns(source: SourceModel): Set<string> {
  const columns = new Set<string>();
  for (const field of source.fields.values()) {
    if (!field.sql) columns.add(field.name);
    else fragmentColumns(field.sql).forEach((c) => columns.add(c));
  }
  return columns;
}

/**
 * The columns each field and measure reads: a plain field its own, a computed one its SQL's,
 * an aggregate measure its SQL's and its filter's. Derived measures read measures, not columns.
 */
export function memberColumns(source: SourceModel): Map<string, Set<string>> {
  const members = new Map<string, Set<string>>();
  for (const field of source.fields.values())
    members.set(field.name, new Set(field.sql ? fragmentColumns(field.sql) : [field.name]));
  for (const measure of source.measures.values()) {
    const { definition } = measure;
    if (definition.kind !== 'aggregate') continue;
    members.set(
      measure.name,
      new Set([
        ...(definition.sql ? fragmentColumns(definition.sql) : []),
        ...(definition.filter ? fragmentColumns(definition.filter) : []),
      ]),
    );
  }
  return members;
}
