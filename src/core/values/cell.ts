/**
 * A result value as every engine hands it over: JSON-ready and typed by convention.
 * Numbers (integers and decimals) are JS numbers; dates are `YYYY-MM-DD`; timestamps are
 * ISO-8601 UTC (`2026-01-31T12:00:00.000Z`); NULL is null.
 */
export type Cell = null | boolean | number | string;

export type Row = Cell[];

/** A timestamp without time zone is read as UTC. */
export function isoFromNaiveTimestamp(text: string): string {
  const iso = text.includes('T') ? text : text.replace(' ', 'T');
  const hasZone = /(Z|[+-]\d{2}(:?\d{2})?)$/.test(iso);
  return new Date(hasZone ? iso : `${iso}Z`).toISOString();
}
