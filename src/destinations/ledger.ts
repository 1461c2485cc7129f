/**
 * The run ledger: what each run wrote to a destination that cannot record it itself. Airtable
 * records carry nothing that names a run, so keyless append notes here, per run and batch,
 * when it sent the batch and then which records it created. A retried job (same run id) skips
 * what its earlier attempts created; a batch whose outcome was never learned (a lost response,
 * a worker killed mid-request) is looked for among the records no run has claimed.
 *
 * Workers share one in Redis (redis-ledger.ts), next to the jobs whose retries read it; a
 * single process (`strata sync`, tests) keeps it in memory.
 */

export interface LedgerEntry {
  /** When the batch's request was sent (the writer's clock, ms since the epoch). */
  sentAt: number;
  /** The records the batch created; absent while its outcome is unknown. */
  records?: string[];
}

export interface RunLedger {
  /** What earlier attempts of `runId` noted for `destination`, by batch index. */
  read(runId: string, destination: string): Promise<Map<number, LedgerEntry>>;
  /** Notes a batch; an entry with `records` also claims them for this run at `now`. */
  write(runId: string, destination: string, batch: number, entry: LedgerEntry, now: number): Promise<void>;
  /** The records any run claimed in `destination` at `since` or later. */
  claimed(destination: string, since: number): Promise<Set<string>>;
}

/** How long a run's entries are kept: as long as a failed job may still be retried (BullMQ keeps them 30 days). */
export const LEDGER_TTL_MS = 30 * 24 * 3600_000;
/** How long claims are kept: they only matter while an unknown outcome is being looked for. */
export const CLAIM_TTL_MS = 24 * 3600_000;

/** One process's ledger. */
export class InMemoryRunLedger implements RunLedger {
  private readonly runs = new Map<string, Map<number, LedgerEntry>>();
  private readonly claims = new Map<string, Map<string, number>>();

  async read(runId: string, destination: string): Promise<Map<number, LedgerEntry>> {
    return new Map(this.runs.get(runKey(runId, destination)) ?? []);
  }

  async write(
    runId: string,
    destination: string,
    batch: number,
    entry: LedgerEntry,
    now: number,
  ): Promise<void> {
    const key = runKey(runId, destination);
    const entries = this.runs.get(key) ?? new Map<number, LedgerEntry>();
    entries.set(batch, { ...entry });
    this.runs.set(key, entries);
    if (!entry.records) return;
    const claims = this.claims.get(destination) ?? new Map<string, number>();
    for (const [id, at] of claims) if (at < now - CLAIM_TTL_MS) claims.delete(id);
    for (const id of entry.records) claims.set(id, now);
    this.claims.set(destination, claims);
  }

  async claimed(destination: string, since: number): Promise<Set<string>> {
    const claims = this.claims.get(destination) ?? new Map<string, number>();
    return new Set([...claims].filter(([, at]) => at >= since).map(([id]) => id));
  }
}

function runKey(runId: string, destination: string): string {
  return `${runId}\n${destination}`;
}

/** The ledger of destinations whose context brings none (a single process). */
export const localLedger = new InMemoryRunLedger();
