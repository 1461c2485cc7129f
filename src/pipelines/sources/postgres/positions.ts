/**
 * Positions of the PostgreSQL source. A change's `seq` must be strictly increasing over the
 * stream, the same every time the stream is replayed, and fit in a BIGINT. Transactions
 * arrive in commit order but their changes' own WAL positions interleave, so a change is
 * placed by its transaction's commit LSN: `seq = (commitLsn - base) << 20 | index`, where
 * `base` is where the pipeline first started streaming and `index` counts the transaction's
 * events from 1. A logical message (heartbeat, snapshot watermark) arrives with the LSN where
 * its record ENDS (E); it takes `(E - 24 - base) << 20`, and the snapshot rows released at a
 * high watermark follow it.
 *
 * Why this never collides: every WAL record is at least WAL_RECORD_MIN bytes, so the next
 * commit after one at C starts at C + 24 or later, and a message ending at E started at
 * E - 24 or earlier, after the commit before it had ended: indexes below WAL_RECORD_MIN << 20
 * stay under the next record's seq. That bounds one transaction to 25,165,823 events (an error beyond, never a
 * silent overlap) and a pipeline to 2^43 bytes (8 TiB) of WAL after it first started.
 */

const INDEX_BITS = 20n;
/** The smallest WAL record (its header alone is 24 bytes). */
const WAL_RECORD_MIN = 24n;
export const MAX_EVENTS_PER_RECORD = (WAL_RECORD_MIN << INDEX_BITS) - 1n;

/** `16/B374D848` ↔ bigint. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`not a PostgreSQL LSN: '${text}'`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The table a snapshot is copying, and the last key it copied (absent before the first chunk). */
export interface SnapshotProgress {
  table: string;
  after?: (string | null)[];
}

/** What a committed position means to this source (serialized as the position's `resume`). */
export interface PostgresResume {
  /** The LSN the pipeline's seqs are relative to. */
  base: string;
  /** Everything below this LSN is in the warehouse: where streaming starts again. */
  restart: string;
  /** The tables the warehouse holds in full: snapshotted (or streamed from their first row). */
  tables: string[];
  /** The table being snapshotted; absent between tables. */
  snapshot?: SnapshotProgress;
}

/** The seq of a logical message whose record ends at `end` (its events follow with index 1, 2, ...). */
export function messageSeq(base: bigint, end: bigint, index: bigint): bigint {
  return seqAt(base, end - WAL_RECORD_MIN, index);
}

export function seqAt(base: bigint, lsn: bigint, index: bigint): bigint {
  if (lsn < base) throw new Error(`LSN ${formatLsn(lsn)} is before the pipeline's base ${formatLsn(base)}`);
  if (index > MAX_EVENTS_PER_RECORD)
    throw new Error(
      `a transaction with more than ${MAX_EVENTS_PER_RECORD} changes cannot be numbered; split it upstream`,
    );
  const seq = ((lsn - base) << INDEX_BITS) + index;
  if (seq >= 1n << 63n)
    throw new Error('the pipeline has outgrown its positions: start it again from a snapshot');
  return seq;
}

export function parseResume(text: string): PostgresResume {
  const value = JSON.parse(text) as Partial<PostgresResume>;
  if (typeof value.base !== 'string' || typeof value.restart !== 'string' || !Array.isArray(value.tables))
    throw new Error(`not a PostgreSQL pipeline position: ${text.slice(0, 100)}`);
  parseLsn(value.base);
  parseLsn(value.restart);
  return value as PostgresResume;
}
