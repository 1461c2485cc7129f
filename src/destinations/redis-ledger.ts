/**
 * The run ledger every worker shares (see ledger.ts), in the Redis that holds the jobs whose
 * retries read it. Per run and destination, a hash of batch index -> entry (JSON), kept
 * LEDGER_TTL_MS; per destination, a sorted set of claimed record ids scored by claim time,
 * trimmed to CLAIM_TTL_MS. `{destination}` is a hash tag: both live in one slot of a Redis
 * Cluster, so one MULTI writes them together.
 */
import type { Redis } from 'ioredis';
import { CLAIM_TTL_MS, LEDGER_TTL_MS, type LedgerEntry, type RunLedger } from './ledger.js';

export interface RedisRunLedgerOptions {
  /** Prepended to every key (default `strata:ledger:`). */
  prefix?: string;
}

export class RedisRunLedger implements RunLedger {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisRunLedgerOptions = {},
  ) {
    this.prefix = options.prefix ?? 'strata:ledger:';
  }

  private runKey(runId: string, destination: string): string {
    return `${this.prefix}{${destination}}:run:${runId}`;
  }

  private claimKey(destination: string): string {
    return `${this.prefix}{${destination}}:claimed`;
  }

  async read(runId: string, destination: string): Promise<Map<number, LedgerEntry>> {
    const stored = await this.redis.hgetall(this.runKey(runId, destination));
    return new Map(
      Object.entries(stored).map(([batch, json]) => [Number(batch), JSON.parse(json) as LedgerEntry]),
    );
  }

  async write(
    runId: string,
    destination: string,
    batch: number,
    entry: LedgerEntry,
    now: number,
  ): Promise<void> {
    const runKey = this.runKey(runId, destination);
    const multi = this.redis
      .multi()
      .hset(runKey, String(batch), JSON.stringify(entry))
      .pexpire(runKey, LEDGER_TTL_MS);
    if (entry.records && entry.records.length > 0) {
      const claimKey = this.claimKey(destination);
      multi
        .zadd(claimKey, ...entry.records.flatMap((id) => [now, id]))
        .zremrangebyscore(claimKey, '-inf', now - CLAIM_TTL_MS)
        .pexpire(claimKey, CLAIM_TTL_MS);
    }
    const results = await multi.exec();
    const failure = results?.find(([error]) => error)?.[0];
    if (failure) throw failure;
  }

  async claimed(destination: string, since: number): Promise<Set<string>> {
    return new Set(await this.redis.zrangebyscore(this.claimKey(destination), since, '+inf'));
  }
}
