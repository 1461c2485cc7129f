/**
 * A definition's SQL fragments, parsed where they are written: a problem is reported at
 * the line and column of the offending character inside the YAML string.
 */
import { error, type Diagnostic } from '../diagnostics.js';
import type { ParsedFile, ValuePath } from '../definitions/document.js';
import { DIALECTS, type DialectSql } from '../definitions/schema.js';
import { parseFragment, type FragmentContext, type SqlFragment } from '../sql/fragments/fragment.js';
import type { DialectFragment } from './types.js';

export class FragmentReader {
  /** Set once any fragment of the file failed to parse. */
  failed = false;

  constructor(
    private readonly parsed: ParsedFile,
    private readonly diagnostics: Diagnostic[],
  ) {}

  /** One fragment (the string at `path`). */
  read(path: ValuePath, text: string, context: FragmentContext): SqlFragment | undefined {
    const result = parseFragment(text, context);
    if (result.ok) return result.fragment;
    this.failed = true;
    const { problem } = result;
    this.diagnostics.push(
      error(problem.code, problem.message, this.parsed.locateWithin(path, problem.offset), problem.hint),
    );
    return undefined;
  }

  /** `sql:` as one string for every dialect, or one per dialect (each parsed). */
  readDialectSql(path: ValuePath, sql: DialectSql, context: FragmentContext): DialectFragment | undefined {
    if (typeof sql === 'string') {
      const fragment = this.read(path, sql, context);
      return fragment && { kind: 'shared', fragment };
    }
    const fragments: Partial<Record<(typeof DIALECTS)[number], SqlFragment>> = {};
    let ok = true;
    for (const dialect of DIALECTS) {
      const text = sql[dialect];
      if (text === undefined) continue;
      const fragment = this.read([...path, dialect], text, context);
      if (fragment) fragments[dialect] = fragment;
      else ok = false;
    }
    return ok ? { kind: 'per_dialect', fragments } : undefined;
  }
}

/** The column a fragment is, when it is one column name in every dialect it is written for. */
export function bareColumnOf(sql: DialectFragment | undefined): string | undefined {
  if (!sql) return undefined;
  if (sql.kind === 'shared') return sql.fragment.bareColumn;
  const columns = new Set(Object.values(sql.fragments).map((f) => f.bareColumn));
  return columns.size === 1 ? [...columns][0] : undefined;
}
