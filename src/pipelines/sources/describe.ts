/**
 * A committed position as an operator reads it (`strata pipeline status`): the WAL position
 * of a PostgreSQL source (and the snapshot's progress), a Debezium file's line, a stream's
 * sequence. Positions are the sources' own JSON; anything else is shown as it is.
 */
export function describePosition(resume: string): string {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(resume) as Record<string, unknown>;
  } catch {
    return resume;
  }
  if (typeof value.restart === 'string') {
    const snapshot = value.snapshot as { table?: string; after?: unknown[] } | undefined;
    const copying = snapshot?.table
      ? `; snapshot of ${snapshot.table} ${snapshot.after ? `after key ${JSON.stringify(snapshot.after)}` : 'starting'}`
      : '';
    return `LSN ${value.restart}${copying}`;
  }
  if (typeof value.file === 'string' && typeof value.line === 'number') return `${value.file}:${value.line}`;
  if (typeof value.stream === 'string' && value.seq !== undefined)
    return `stream ${value.stream} sequence ${String(value.seq)}`;
  return resume;
}
