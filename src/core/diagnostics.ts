/** A position in a definition file: 1-based line and column, as editors show them. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export type Severity = 'error' | 'warning';

/**
 * One problem found in a project. `code` is stable (tests and tooling match on it),
 * `message` is for people, `hint` says what to do about it.
 */
export interface Diagnostic {
  severity: Severity;
  code: string;
  message: string;
  location?: SourceLocation;
  hint?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.location ? `${d.location.file}:${d.location.line}:${d.location.col}: ` : '';
  const hint = d.hint ? ` (${d.hint})` : '';
  return `${where}${d.severity}: ${d.message}${hint}`;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const fa = a.location?.file ?? '';
  const fb = b.location?.file ?? '';
  if (fa !== fb) return fa < fb ? -1 : 1;
  return (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0);
}

/** Thrown by the core when a request cannot be compiled; carries every diagnostic found. */
export class StrataError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'StrataError';
  }
}

/** A failure of Strata itself while checking `what`: reported where it happened, never fatal to validation. */
export function internalError(what: string, cause: unknown, location?: SourceLocation): Diagnostic {
  const message = cause instanceof Error ? cause.message : String(cause);
  return error(
    'internal_error',
    `internal error while checking ${what}: ${message}`,
    location,
    'this is a bug in Strata; please report it with the definitions involved',
  );
}

export function error(code: string, message: string, location?: SourceLocation, hint?: string): Diagnostic {
  return { severity: 'error', code, message, ...(location ? { location } : {}), ...(hint ? { hint } : {}) };
}
