/**
 * Runs the API's compiled queries: on a small pool of engines (each runs one query at a
 * time: an embedded DuckDB connection or a database session), under the request's deadline
 * (an expired request interrupts its query), through a result cache keyed by the SQL and the
 * exact versions of the tables it reads. The SQL holds the caller's row-filter values, so
 * callers whose rows differ never share an answer; and a key names exact table versions
 * (Iceberg metadata files), so a cached answer is never stale. Engines without exact versions
 * are not cached.
 */
import { performance } from 'node:perf_hooks';
import type { CompiledQuery } from '../../core/compile.js';
import type { Row } from '../../core/values/cell.js';
import { collect, type Engine } from '../../engines/engine.js';
import type { QueryOutcome } from '../../graphql/context.js';

export class QueryTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`the request ran longer than ${timeoutMs} ms and was cancelled`);
    this.name = 'QueryTimeoutError';
  }
}

/** A least-recently-used map of answers, bounded by entries. */
export class ResultCache {
  private readonly entries = new Map<string, Row[]>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity: number) {}

  get(key: string): Row[] | undefined {
    const rows = this.entries.get(key);
    if (rows === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Re-inserted: Map iteration order is insertion order, so the oldest is first.
    this.entries.delete(key);
    this.entries.set(key, rows);
    return rows;
  }

  set(key: string, rows: Row[]): void {
    if (this.capacity === 0) return;
    this.entries.delete(key);
    this.entries.set(key, rows);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}

interface Slot {
  engine: Promise<Engine>;
  busy: boolean;
}

/** A fixed number of engines; a query waits for a free one. */
export class EnginePool {
  private readonly slots: Slot[];
  private readonly waiting: ((slot: Slot) => void)[] = [];

  constructor(size: number, open: () => Promise<Engine>) {
    this.slots = Array.from({ length: size }, () => ({ engine: open(), busy: false }));
    // An engine that fails to open is reported by the query that waits for it.
    for (const slot of this.slots) slot.engine.catch(() => undefined);
  }

  async use<T>(work: (engine: Engine) => Promise<T>): Promise<T> {
    const slot = await this.acquire();
    try {
      return await work(await slot.engine);
    } finally {
      this.release(slot);
    }
  }

  private acquire(): Promise<Slot> {
    const free = this.slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else slot.busy = false;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        const engine = await s.engine.catch(() => undefined);
        await engine?.close().catch(() => undefined);
      }),
    );
  }
}

export interface RunOptions {
  signal: AbortSignal;
  timeoutMs: number;
}

export class QueryRunner {
  constructor(
    private readonly pool: EnginePool,
    readonly cache: ResultCache,
  ) {}

  async run(compiled: CompiledQuery, options: RunOptions): Promise<QueryOutcome> {
    const started = performance.now();
    return this.pool.use(async (engine) => {
      if (options.signal.aborted) throw new QueryTimeoutError(options.timeoutMs);
      const versions = await this.versionsOf(engine, compiled);
      const key = versions === undefined ? undefined : `${versions}\n${compiled.sql}`;
      const hit = key === undefined ? undefined : this.cache.get(key);
      if (hit) return { rows: hit, durationMs: performance.now() - started, cached: true };
      const rows = await this.execute(engine, compiled.sql, options);
      // Kept only if no table moved while the query ran: then the key names what it read.
      if (key !== undefined && (await this.versionsOf(engine, compiled)) === versions)
        this.cache.set(key, rows);
      return { rows, durationMs: performance.now() - started, cached: false };
    });
  }

  private async versionsOf(engine: Engine, compiled: CompiledQuery): Promise<string | undefined> {
    if (!engine.exactVersions || !engine.tableVersions || compiled.tables.length === 0) return undefined;
    return (await engine.tableVersions(compiled.tables))?.fingerprint;
  }

  private async execute(engine: Engine, sql: string, options: RunOptions): Promise<Row[]> {
    const interrupt = () => void engine.interrupt?.().catch(() => undefined);
    options.signal.addEventListener('abort', interrupt, { once: true });
    try {
      return await collect(engine.stream(sql));
    } catch (e) {
      if (options.signal.aborted) throw new QueryTimeoutError(options.timeoutMs);
      throw e;
    } finally {
      options.signal.removeEventListener('abort', interrupt);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
