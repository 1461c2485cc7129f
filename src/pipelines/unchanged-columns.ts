/**
 * PostgreSQL does not send a TOASTed value an update left unchanged (pgoutput's 'u' marker):
 * the event's row lacks the column. Written as is, the raw table's latest row would hold NULL
 * there, so the value is carried over from the key's previous version: an earlier event of
 * the same batch, or the latest row committed to the raw table.
 */
import type { ChangeEvent, RowValues } from './events.js';
import { keyOf } from './raw-reader.js';

/** Looks up the latest committed values of `columns` for `keys`. */
export type LatestValues = (keys: string[], columns: string[]) => Promise<Map<string, RowValues>>;

export async function completeUnchanged(
  events: readonly ChangeEvent[],
  written: ReadonlySet<string>,
  primaryKey: readonly string[],
  latest: LatestValues,
): Promise<ChangeEvent[]> {
  if (primaryKey.length === 0) return [...events];
  const absent = (event: ChangeEvent) =>
    event.op === 'u' ? [...written].filter((c) => !(c in event.row)) : [];
  // Keys whose first event in the batch is an update lacking columns: only the table knows them.
  const seen = new Set<string>();
  const lookUp = new Set<string>();
  const columns = new Set<string>();
  for (const event of events) {
    const key = keyOf(event.row, primaryKey);
    const missing = absent(event);
    if (!seen.has(key) && missing.length > 0) {
      lookUp.add(key);
      missing.forEach((c) => columns.add(c));
    }
    seen.add(key);
  }
  if (lookUp.size === 0 && !events.some((e) => absent(e).length > 0)) return [...events];
  const committed = lookUp.size > 0 ? await latest([...lookUp], [...columns]) : new Map<string, RowValues>();
  const current = new Map<string, RowValues>(committed);
  return events.map((event) => {
    const key = keyOf(event.row, primaryKey);
    const previous = current.get(key);
    const missing = absent(event);
    const filled: RowValues =
      missing.length > 0 && previous
        ? { ...Object.fromEntries(missing.map((c) => [c, previous[c] ?? null])), ...event.row }
        : event.row;
    if (event.op === 'd') current.delete(key);
    else current.set(key, { ...previous, ...filled });
    return filled === event.row ? event : { ...event, row: filled };
  });
}
