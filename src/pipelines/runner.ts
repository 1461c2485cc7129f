/**
 * Runs one pipeline (spec §9): reads its source from the position its raw tables record,
 * checks each upstream schema against what downstream consumes, runs the processors, and
 * commits batches to the Iceberg sink, by size or time, each with its position; only then
 * acknowledges the source. A breaking schema change pauses the pipeline at the change
 * (everything before it committed, nothing after it), a TRUNCATE becomes a delete of every
 * key the raw table holds, and heartbeats emitted upstream come back through the stream to
 * measure end-to-end latency while the source is idle.
 *
 * A run ends when it is stopped (signal), paused, or its source ends (files); it throws when
 * something fails, and a `PositionConflictError` when another runner committed meanwhile
 * (the caller starts again from what the tables record).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Compiler } from '../core/compile.js';
import { durationMs } from '../core/definitions/schema.js';
import {
  columnsConsumed,
  consumersOfColumn,
  declaredKey,
  rawTableOf,
  sourcesReading,
} from '../core/pipelines.js';
import type { PipelineModel } from '../core/model/types.js';
import type { Logger } from '../destinations/destination.js';
import type { Warehouse } from '../warehouse/table.js';
import type {
  ChangeEvent,
  ChangeSource,
  ColumnType,
  HeartbeatEvent,
  PipelineEvent,
  Position,
  SchemaEvent,
  TableSchema,
  TruncateEvent,
} from './events.js';
import { buildProcessors, type DeadLetter, type PipelineProcessors } from './processors/index.js';
import type { EnrichOptions } from './processors/graphql-enrich.js';
import { RawTableReader } from './raw-reader.js';
import { checkSchemaChange, describeBreaking, type BreakingChange } from './schema-evolution.js';
import { IcebergSink, rawRow } from './sink.js';
import type { PipelineState, PipelineStateStore } from './state.js';
import { completeUnchanged } from './unchanged-columns.js';

export const DEFAULT_COMMIT_EVENTS = 10_000;
export const DEFAULT_COMMIT_INTERVAL = '1s';
export const DEFAULT_HEARTBEAT = '30s';
/** How often a waiting runner wakes to check for a pause or a due commit. */
const TICK_MS = 250;
/** How often it reads its state for an operator's pause. */
const CONTROL_CHECK_MS = 2_000;
/** How often it asks the source for its lag. */
const LAG_CHECK_MS = 5_000;

export interface PipelineRunOptions {
  pipeline: PipelineModel;
  /** The project's compiler: its model names the sources, inputs and trackers a pause affects. */
  compiler: Compiler;
  warehouse: Warehouse;
  /** The warehouse's DuckDB connection (reads raw tables for truncates and unchanged columns). */
  duckdb: DuckDBConnection;
  source: ChangeSource;
  store: PipelineStateStore;
  /** The lease's fencing token (0 without a lease). */
  fence?: number;
  signal?: AbortSignal;
  /** Shown in status (`host:pid`). */
  worker?: string;
  logger?: Logger;
  clock?: () => number;
  enrich?: EnrichOptions;
  /** Test hook: after a commit, before the source is acknowledged. */
  afterCommit?: (info: CommitInfo) => void | Promise<void>;
  /**
   * After a commit that changed rows: the raw tables (`namespace.table`) it changed, so the
   * trackers reading them run (change triggers). Must not throw or wait: the runner goes on.
   */
  onTablesChanged?: (tables: string[]) => void;
}

export interface CommitInfo {
  events: number;
  /** The raw tables (`namespace.table`) that received rows. */
  tables: string[];
  deadLetters: number;
  position: Position;
  committedAt: number;
}

export type RunOutcome = { kind: 'stopped' } | { kind: 'ended' } | { kind: 'paused'; reason: string };

/** Another runner committed since this one read the position. */
export class PositionConflictError extends Error {
  constructor(
    readonly pipeline: string,
    readonly fencedBy?: number,
  ) {
    super(
      fencedBy !== undefined
        ? `pipeline ${pipeline}: a runner holding a newer lease (fence ${fencedBy}) committed; this one stops`
        : `pipeline ${pipeline}: another runner committed meanwhile; starting again from its position`,
    );
    this.name = 'PositionConflictError';
  }
}

interface TableRuntime {
  upstream: TableSchema;
  written: Set<string>;
}

interface Pending {
  changes: ChangeEvent[];
  heartbeats: HeartbeatEvent[];
  last?: Position;
  firstAt?: number;
}

const QUIET: Logger = { info: () => {}, warn: () => {} };

export async function runPipeline(options: PipelineRunOptions): Promise<RunOutcome> {
  const run = new PipelineRun(options);
  try {
    const outcome = await run.run();
    // A pipeline nobody runs any more is idle (a paused one keeps its status and reason).
    if (outcome.kind !== 'paused')
      await options.store.update(
        options.pipeline.definition.name,
        { status: 'idle' },
        { unlessPaused: true },
      );
    return outcome;
  } finally {
    await run.close();
  }
}

class PipelineRun {
  private readonly def;
  private readonly sink: IcebergSink;
  private readonly reader: RawTableReader;
  private readonly processors: PipelineProcessors;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly commitEvents: number;
  private readonly commitIntervalMs: number;
  private readonly tables = new Map<string, TableRuntime>();
  private committed: Position | undefined;
  private pending: Pending = { changes: [], heartbeats: [] };
  private eventsTotal = 0;
  private deadLetters = 0;
  private lastControlCheck = 0;
  private lastLagCheck = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PipelineRunOptions) {
    this.def = options.pipeline.definition;
    this.clock = options.clock ?? Date.now;
    this.sink = new IcebergSink(options.warehouse, this.def, this.clock);
    this.reader = new RawTableReader(options.warehouse, options.duckdb);
    this.processors = buildProcessors(this.def, options.enrich);
    this.logger = options.logger ?? QUIET;
    this.commitEvents = this.def.sink.commitEvents ?? DEFAULT_COMMIT_EVENTS;
    this.commitIntervalMs = durationMs(this.def.sink.commitInterval ?? DEFAULT_COMMIT_INTERVAL);
  }

  private get name(): string {
    return this.def.name;
  }

  async run(): Promise<RunOutcome> {
    const { store, source, signal } = this.options;
    const state = await store.get(this.name);
    if (state?.status === 'paused') return { kind: 'paused', reason: state.pausedReason ?? 'paused' };
    for (const [table, schema] of Object.entries(state?.schemas ?? {})) this.remember(table, schema);
    await this.sink.ensureOwnTables();
    const committed = await this.sink.committed();
    if (committed.fence > (this.options.fence ?? 0))
      throw new PositionConflictError(this.name, committed.fence);
    this.committed = committed.position;
    this.eventsTotal = state?.eventsTotal ?? 0;
    this.deadLetters = state?.deadLetters ?? 0;
    await store.update(this.name, {
      status: 'running',
      worker: this.options.worker,
      error: undefined,
      ...(this.committed
        ? { position: this.committed.resume, positionSeq: this.committed.seq.toString() }
        : {}),
    });
    this.logger.info('pipeline started', {
      pipeline: this.name,
      from: this.committed?.resume ?? 'the beginning',
    });
    this.startHeartbeats();

    const iterator = source.start(this.committed?.resume)[Symbol.asyncIterator]();
    let next: Promise<IteratorResult<PipelineEvent[]>> | undefined;
    for (;;) {
      if (signal?.aborted) {
        await this.flush();
        return { kind: 'stopped' };
      }
      next ??= iterator.next();
      const waited = await this.waitFor(next);
      if (waited === 'tick') {
        if (this.due()) await this.flush();
        const control = await this.control();
        if (control) {
          await this.flush();
          return control;
        }
        continue;
      }
      next = undefined;
      if (waited.done) {
        await this.flush();
        return { kind: 'ended' };
      }
      for (const event of waited.value) {
        const outcome = await this.handle(event);
        if (outcome) return outcome;
        if (this.pending.changes.length >= this.commitEvents) await this.flush();
      }
      if (this.due()) await this.flush();
    }
  }

  /** The next batch, or 'tick' when the commit deadline or the next control check comes first. */
  private async waitFor(
    next: Promise<IteratorResult<PipelineEvent[]>>,
  ): Promise<IteratorResult<PipelineEvent[]> | 'tick'> {
    const dueIn =
      this.pending.firstAt === undefined
        ? TICK_MS
        : this.pending.firstAt + this.commitIntervalMs - this.clock();
    const wait = Math.max(0, Math.min(TICK_MS, dueIn));
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const signal = this.options.signal;
    try {
      return await Promise.race([
        next,
        new Promise<'tick'>((done) => {
          timer = setTimeout(() => done('tick'), wait);
          onAbort = () => done('tick');
          signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  private due(): boolean {
    return this.pending.firstAt !== undefined && this.clock() - this.pending.firstAt >= this.commitIntervalMs;
  }

  /** An operator's pause, read from the state every CONTROL_CHECK_MS. */
  private async control(): Promise<RunOutcome | undefined> {
    if (this.options.signal?.aborted) return { kind: 'stopped' };
    const now = this.clock();
    if (now - this.lastControlCheck < CONTROL_CHECK_MS) return undefined;
    this.lastControlCheck = now;
    const state = await this.options.store.get(this.name);
    return state?.status === 'paused'
      ? { kind: 'paused', reason: state.pausedReason ?? 'paused' }
      : undefined;
  }

  private async handle(event: PipelineEvent): Promise<RunOutcome | undefined> {
    // A schema describes the stream from here on, whatever its position: always applied.
    if (event.kind === 'schema') return this.onSchema(event);
    if (this.committed && event.position.seq <= this.committed.seq) return undefined;
    switch (event.kind) {
      case 'change':
        if (!this.tables.has(event.table)) {
          const outcome = await this.onSchema(inferredSchemaEvent(event, this.previousKey(event.table)));
          if (outcome) return outcome;
        }
        this.add(event);
        return undefined;
      case 'truncate':
        await this.onTruncate(event);
        return undefined;
      case 'heartbeat':
        this.pending.heartbeats.push(event);
        this.advance(event.position);
        return undefined;
    }
  }

  private add(event: ChangeEvent): void {
    this.pending.changes.push(event);
    this.advance(event.position);
  }

  private advance(position: Position): void {
    this.pending.last = position;
    this.pending.firstAt ??= this.clock();
  }

  private previousKey(table: string): string[] {
    return this.tables.get(table)?.upstream.primaryKey ?? [];
  }

  private remember(table: string, upstream: TableSchema, written?: Set<string>): void {
    this.tables.set(table, {
      upstream,
      written: written ?? this.tables.get(table)?.written ?? new Set(upstream.columns.map((c) => c.name)),
    });
  }

  // ------------------------------------------------------------------ schemas

  private async onSchema(event: SchemaEvent): Promise<RunOutcome | undefined> {
    const schema = this.withKey(event.schema);
    if (!this.def.source.tables.includes(schema.table)) return undefined;
    const chain = this.processors.chains.get(schema.table)!;
    const rawId = rawTableOf(this.def, schema.table);
    const raw = await this.sink.loadIfExists(rawId);
    const decision = checkSchemaChange({
      upstream: schema,
      chain,
      raw: raw?.schema,
      previous: this.tables.get(schema.table)?.upstream,
      readBySources: this.readBySources(schema.table),
      evolution: this.def.schemaEvolution ?? 'opt_in',
    });
    await this.flush();
    if (decision.kind === 'breaking') return this.pause(schema.table, decision.changes);
    if (decision.create) await this.sink.createRawTable(schema.table, decision.create);
    for (const column of decision.add) {
      const current = await this.options.warehouse.load(rawId);
      if (!current.schema.fields.some((f) => f.name === column.name))
        await this.options.warehouse.addColumn(rawId, column);
      this.logger.info('pipeline added a column', {
        pipeline: this.name,
        table: `${rawId.namespace}.${rawId.name}`,
        column: column.name,
        type: column.type,
      });
    }
    for (const note of decision.notes) this.logger.info(note, { pipeline: this.name, table: schema.table });
    const known = this.tables.get(schema.table)?.upstream;
    this.remember(schema.table, schema, decision.written);
    if (JSON.stringify(known) !== JSON.stringify(schema)) {
      const state = await this.options.store.get(this.name);
      await this.options.store.update(this.name, {
        schemas: { ...(state?.schemas ?? {}), [schema.table]: schema },
      });
    }
    return undefined;
  }

  /** A schema without a key (a stream that sends none) takes the key the Strata sources declare. */
  private withKey(schema: TableSchema): TableSchema {
    if (schema.primaryKey.length > 0) return schema;
    const key = declaredKey(this.options.compiler.model, rawTableOf(this.def, schema.table));
    const columns = new Set(schema.columns.map((c) => c.name));
    return key?.every((c) => columns.has(c)) ? { ...schema, primaryKey: key } : schema;
  }

  /** The columns Strata sources read from the raw table of an upstream table. */
  private readBySources(table: string): Set<string> {
    const raw = rawTableOf(this.def, table);
    const columns = new Set<string>();
    for (const source of sourcesReading(this.options.compiler.model, raw))
      for (const column of columnsConsumed(source)) if (!column.startsWith('_')) columns.add(column);
    return columns;
  }

  private async pause(table: string, changes: readonly BreakingChange[]): Promise<RunOutcome> {
    const raw = rawTableOf(this.def, table);
    const lines = [describeBreaking(table, changes)];
    for (const change of changes.filter((c) => c.readBySources)) {
      const consumers = consumersOfColumn(this.options.compiler, raw, change.column);
      lines.push(
        `  ${change.column} is read by sources: ${consumers.sources.join(', ') || 'none'}; inputs: ${consumers.inputs.join(', ') || 'none'}; trackers: ${consumers.trackers.join(', ') || 'none'}`,
      );
    }
    lines.push(
      `Nothing after this change was written. Change the definitions (or the upstream table), then run \`strata pipeline resume ${this.name}\`.`,
    );
    const reason = lines.join('\n');
    await this.options.store.update(this.name, {
      status: 'paused',
      pausedReason: reason,
      pausedAt: new Date(this.clock()).toISOString(),
    });
    this.logger.warn('pipeline paused by a schema change', { pipeline: this.name, reason });
    return { kind: 'paused', reason };
  }

  // ---------------------------------------------------------------- truncate

  /** Every key the raw table holds, deleted at the truncate's position. */
  private async onTruncate(event: TruncateEvent): Promise<void> {
    await this.flush();
    const runtime = this.tables.get(event.table);
    const primaryKey = runtime?.upstream.primaryKey ?? [];
    if (primaryKey.length === 0) {
      this.logger.warn('TRUNCATE of a table without a known primary key: nothing to delete', {
        pipeline: this.name,
        table: event.table,
      });
      this.advance(event.position);
      return;
    }
    const keys = await this.reader.liveKeys(rawTableOf(this.def, event.table), primaryKey);
    for (const key of keys) {
      const values = JSON.parse(key) as (string | null)[];
      this.add({
        kind: 'change',
        table: event.table,
        op: 'd',
        ts: event.ts,
        position: event.position,
        row: Object.fromEntries(primaryKey.map((c, i) => [c, values[i] ?? null])),
      });
    }
    this.advance(event.position);
  }

  // ------------------------------------------------------------------ commit

  private async flush(): Promise<void> {
    const batch = this.pending;
    if (!batch.last) return;
    this.pending = { changes: [], heartbeats: [] };
    const changes: { event: ChangeEvent; row: Record<string, unknown> }[] = [];
    const deadLetters: DeadLetter[] = [];
    const changedTables = new Set<string>();
    for (const [table, events] of groupByTable(batch.changes)) {
      const runtime = this.tables.get(table)!;
      const processed = await this.processors.chains.get(table)!.process(events, runtime.upstream);
      deadLetters.push(...processed.deadLetters);
      const raw = rawTableOf(this.def, table);
      const complete = await completeUnchanged(
        processed.events,
        runtime.written,
        runtime.upstream.primaryKey,
        (keys, columns) => this.reader.latestValues(raw, runtime.upstream.primaryKey, keys, columns),
      );
      for (const event of complete) changes.push({ event, row: rawRow(event, runtime.written) });
      if (complete.length > 0) changedTables.add(`${raw.namespace}.${raw.name}`);
    }
    const outcome = await this.sink.commit({
      changes,
      deadLetters,
      heartbeats: batch.heartbeats,
      last: batch.last,
      after: this.committed,
      fence: this.options.fence ?? 0,
    });
    if (outcome.kind === 'conflict') throw new PositionConflictError(this.name, outcome.fencedBy);
    this.committed = batch.last;
    const info: CommitInfo = {
      events: batch.changes.length,
      tables: [...changedTables].sort(),
      deadLetters: deadLetters.length,
      position: batch.last,
      committedAt: outcome.at,
    };
    await this.options.afterCommit?.(info);
    await this.options.source.acknowledge(batch.last);
    await this.recordCommit(batch, info);
    if (info.tables.length > 0) this.options.onTablesChanged?.(info.tables);
  }

  private async recordCommit(batch: Pending, info: CommitInfo): Promise<void> {
    this.eventsTotal += info.events;
    this.deadLetters += info.deadLetters;
    const newest = [...batch.changes, ...batch.heartbeats].reduce<string | undefined>(
      (latest, e) => (latest === undefined || e.ts > latest ? e.ts : latest),
      undefined,
    );
    const heartbeat = batch.heartbeats.at(-1);
    const patch: Partial<PipelineState> = {
      position: info.position.resume,
      positionSeq: info.position.seq.toString(),
      lastCommitAt: new Date(info.committedAt).toISOString(),
      lastCommitEvents: info.events,
      eventsTotal: this.eventsTotal,
      deadLetters: this.deadLetters,
      ...(newest ? { lagSeconds: Math.max(0, (info.committedAt - Date.parse(newest)) / 1000) } : {}),
      ...(heartbeat
        ? {
            lastHeartbeatAt: heartbeat.ts,
            heartbeatLatencyMs: Math.max(0, info.committedAt - Date.parse(heartbeat.ts)),
          }
        : {}),
    };
    if (this.options.source.lag && info.committedAt - this.lastLagCheck >= LAG_CHECK_MS) {
      this.lastLagCheck = info.committedAt;
      try {
        const lag = await this.options.source.lag();
        if (lag.bytes !== undefined) patch.lagBytes = lag.bytes;
        if (lag.events !== undefined) patch.lagEvents = lag.events;
      } catch (e) {
        this.logger.warn('could not read the source lag', {
          pipeline: this.name,
          error: (e as Error).message,
        });
      }
    }
    await this.options.store.update(this.name, patch);
    if (info.deadLetters > 0)
      this.logger.warn('events parked as dead letters', { pipeline: this.name, count: info.deadLetters });
  }

  // -------------------------------------------------------------- heartbeats

  private startHeartbeats(): void {
    const emit = this.options.source.emitHeartbeat?.bind(this.options.source);
    if (!emit) return;
    const every = durationMs(this.def.heartbeat ?? DEFAULT_HEARTBEAT);
    this.heartbeatTimer = setInterval(() => {
      emit().catch((e: Error) =>
        this.logger.warn('could not emit a heartbeat', { pipeline: this.name, error: e.message }),
      );
    }, every);
    this.heartbeatTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    await this.processors.close();
  }
}

function groupByTable(events: readonly ChangeEvent[]): Map<string, ChangeEvent[]> {
  const tables = new Map<string, ChangeEvent[]>();
  for (const event of events) {
    const list = tables.get(event.table);
    if (list) list.push(event);
    else tables.set(event.table, [event]);
  }
  return tables;
}

/** A table's schema from a row, for sources that send none (Debezium events without a schema envelope). */
function inferredSchemaEvent(event: ChangeEvent, primaryKey: string[]): SchemaEvent {
  const columns = Object.entries(event.row).map(([name, value]) => ({ name, type: valueType(value) }));
  return { kind: 'schema', schema: { table: event.table, columns, primaryKey }, position: event.position };
}

function valueType(value: unknown): ColumnType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return 'string';
}
