/**
 * The Iceberg sink of a pipeline (spec §9, §8): change events land in one append-only raw
 * table per upstream table, as the row's columns plus `_op`, `_op_ts` and `_seq`. A batch is
 * committed to all its tables atomically (one catalog transaction), and every snapshot it
 * writes records the batch's last source position in its summary; so the position is
 * committed with the data, and after a crash the pipeline resumes after the position its
 * tables record, never applying a change twice nor losing one.
 *
 * Every commit also appends to the pipeline's heartbeats table (zero rows unless a heartbeat
 * arrived), which therefore always records the latest position: a commit applies only if that
 * position is still the one the batch started after (compare-and-set), and only if no later
 * lease holder (a higher fence) has committed. A runner that lost its lease, or that raced
 * another, can never commit the same changes twice.
 */
import type { PipelineDefinition } from '../core/definitions/schema.js';
import { rawTableOf, type RawTable } from '../core/pipelines.js';
import type { TableIdentifier } from '../warehouse/catalog.js';
import type { IcebergType } from '../warehouse/schema.js';
import { NoSuchTableError, type TableAppend, type TableState, type Warehouse } from '../warehouse/table.js';
import type { ChangeEvent, ColumnType, HeartbeatEvent, Position } from './events.js';
import type { DeadLetter } from './processors/processor.js';

/** Summary properties of the snapshots a pipeline commits. */
export const POSITION_PROPERTIES = {
  pipeline: 'strata.pipeline',
  seq: 'strata.pipeline.seq',
  resume: 'strata.pipeline.resume',
  fence: 'strata.pipeline.fence',
} as const;

/** The raw table's own columns, beside the row's (spec §8). */
export const CDC_COLUMNS: readonly { name: string; type: IcebergType }[] = [
  { name: '_op', type: 'string' },
  { name: '_op_ts', type: 'timestamp' },
  { name: '_seq', type: 'long' },
];

const HEARTBEAT_COLUMNS: readonly { name: string; type: IcebergType }[] = [
  { name: 'emitted_at', type: 'timestamp' },
  { name: 'committed_at', type: 'timestamp' },
  { name: '_seq', type: 'long' },
];

const DEAD_LETTER_COLUMNS: readonly { name: string; type: IcebergType }[] = [
  { name: 'upstream_table', type: 'string' },
  { name: 'op', type: 'string' },
  { name: 'op_ts', type: 'timestamp' },
  { name: '_seq', type: 'long' },
  { name: 'row_json', type: 'string' },
  { name: 'processor', type: 'string' },
  { name: 'error', type: 'string' },
  { name: 'attempts', type: 'long' },
  { name: 'failed_at', type: 'timestamp' },
];

const ICEBERG_TYPES: Record<ColumnType, IcebergType> = {
  string: 'string',
  integer: 'long',
  decimal: 'decimal(38, 9)',
  number: 'double',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp',
};

export function icebergType(type: ColumnType): IcebergType {
  return ICEBERG_TYPES[type];
}

/** A change as the raw table's row (only the columns the table writes). */
export function rawRow(event: ChangeEvent, written?: ReadonlySet<string>): Record<string, unknown> {
  // Called once per change: a plain loop, no intermediate arrays.
  const row: Record<string, unknown> = {};
  for (const column in event.row) if (!written || written.has(column)) row[column] = event.row[column];
  row._op = event.op;
  row._op_ts = event.ts;
  row._seq = event.position.seq;
  return row;
}

/** What one commit writes. */
export interface SinkBatch {
  /** Processed changes, in position order, with their rows shaped for their raw tables. */
  changes: readonly { event: ChangeEvent; row: Record<string, unknown> }[];
  deadLetters: readonly DeadLetter[];
  heartbeats: readonly HeartbeatEvent[];
  /** The position the source resumes after once this batch is committed. */
  last: Position;
  /** The position the batch started after (what the tables must still record). */
  after: Position | undefined;
  /** The lease's fencing token (0 without a lease). */
  fence: number;
}

export type CommitOutcome =
  | { kind: 'committed'; at: number }
  /** The tables record another position (or a higher fence): someone else committed. */
  | { kind: 'conflict'; recorded: Position | undefined; fencedBy?: number };

export class IcebergSink {
  readonly heartbeatsTable: TableIdentifier;
  readonly deadLettersTable: TableIdentifier;

  constructor(
    private readonly warehouse: Warehouse,
    private readonly pipeline: PipelineDefinition,
    private readonly clock: () => number = Date.now,
  ) {
    const namespace = pipeline.sink.namespace;
    this.heartbeatsTable = { namespace, name: `${pipeline.name}__heartbeats` };
    this.deadLettersTable = { namespace, name: `${pipeline.name}__dead_letters` };
  }

  rawTable(upstream: string): RawTable {
    return rawTableOf(this.pipeline, upstream);
  }

  /** The last position this pipeline committed (undefined before its first commit). */
  async committed(): Promise<{ position: Position | undefined; fence: number }> {
    const state = await this.loadIfExists(this.heartbeatsTable);
    return {
      position: state ? positionIn(state, this.pipeline.name) : undefined,
      fence: state ? fenceIn(state, this.pipeline.name) : 0,
    };
  }

  async loadIfExists(id: TableIdentifier): Promise<TableState | undefined> {
    try {
      return await this.warehouse.load(id);
    } catch (error) {
      if (error instanceof NoSuchTableError) return undefined;
      throw error;
    }
  }

  /** Creates the pipeline's own tables (heartbeats, dead letters) when missing. */
  async ensureOwnTables(): Promise<void> {
    await this.createIfMissing(this.heartbeatsTable, HEARTBEAT_COLUMNS);
    await this.createIfMissing(this.deadLettersTable, DEAD_LETTER_COLUMNS);
  }

  /** Creates a raw table with these row columns (and the CDC columns), when it does not exist. */
  async createRawTable(
    upstream: string,
    columns: readonly { name: string; type: IcebergType }[],
  ): Promise<TableState> {
    return this.createIfMissing(this.rawTable(upstream), [...columns, ...CDC_COLUMNS]);
  }

  private async createIfMissing(
    id: TableIdentifier,
    columns: readonly { name: string; type: IcebergType }[],
  ): Promise<TableState> {
    const existing = await this.loadIfExists(id);
    if (existing) return existing;
    try {
      return await this.warehouse.createTable(id, [...columns]);
    } catch (error) {
      // Created meanwhile by another runner.
      const created = await this.loadIfExists(id);
      if (created) return created;
      throw error;
    }
  }

  /**
   * Commits a batch, or reports that the tables no longer record `batch.after` (another
   * runner committed meanwhile: the caller resumes from what they record instead).
   */
  async commit(batch: SinkBatch): Promise<CommitOutcome> {
    const at = this.clock();
    const properties = {
      [POSITION_PROPERTIES.pipeline]: this.pipeline.name,
      [POSITION_PROPERTIES.seq]: batch.last.seq.toString(),
      [POSITION_PROPERTIES.resume]: batch.last.resume,
      [POSITION_PROPERTIES.fence]: String(batch.fence),
    };
    const rows = new Map<string, { id: TableIdentifier; rows: Record<string, unknown>[] }>();
    const add = (id: TableIdentifier, row?: Record<string, unknown>) => {
      const key = `${id.namespace}.${id.name}`;
      const entry = rows.get(key) ?? { id, rows: [] };
      if (row) entry.rows.push(row);
      rows.set(key, entry);
    };
    add(this.heartbeatsTable);
    for (const heartbeat of batch.heartbeats)
      add(this.heartbeatsTable, {
        emitted_at: heartbeat.ts,
        committed_at: new Date(at).toISOString(),
        _seq: heartbeat.position.seq,
      });
    for (const { event, row } of batch.changes) add(this.rawTable(event.table), row);
    for (const letter of batch.deadLetters) add(this.deadLettersTable, deadLetterRow(letter));
    const appends: TableAppend[] = [...rows.values()].map((entry) => ({ ...entry, properties }));

    let conflict: CommitOutcome | undefined;
    const outcome = await this.warehouse.appendAtomically(appends, (current) => {
      const log = current.get(`${this.heartbeatsTable.namespace}.${this.heartbeatsTable.name}`)!;
      const recorded = positionIn(log, this.pipeline.name);
      const fence = Math.max(...[...current.values()].map((state) => fenceIn(state, this.pipeline.name)));
      if (fence > batch.fence) conflict = { kind: 'conflict', recorded, fencedBy: fence };
      else if (recorded?.seq !== batch.after?.seq) conflict = { kind: 'conflict', recorded };
      return conflict === undefined;
    });
    return outcome === 'committed' ? { kind: 'committed', at } : conflict!;
  }
}

function deadLetterRow(letter: DeadLetter): Record<string, unknown> {
  return {
    upstream_table: letter.event.table,
    op: letter.event.op,
    op_ts: letter.event.ts,
    _seq: letter.event.position.seq,
    row_json: JSON.stringify(letter.event.row),
    processor: letter.processor,
    error: letter.error,
    attempts: letter.attempts,
    failed_at: letter.failedAt,
  };
}

/** The position a table's current snapshot records for `pipeline`, if any. */
export function positionIn(state: TableState, pipeline: string): Position | undefined {
  const summary = state.snapshot?.summary;
  if (!summary || summary[POSITION_PROPERTIES.pipeline] !== pipeline) return undefined;
  const seq = summary[POSITION_PROPERTIES.seq];
  const resume = summary[POSITION_PROPERTIES.resume];
  return seq !== undefined && resume !== undefined ? { seq: BigInt(seq), resume } : undefined;
}

function fenceIn(state: TableState, pipeline: string): number {
  const summary = state.snapshot?.summary;
  if (!summary || summary[POSITION_PROPERTIES.pipeline] !== pipeline) return 0;
  return Number(summary[POSITION_PROPERTIES.fence] ?? 0);
}
