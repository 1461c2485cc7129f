/**
 * Change events (spec §9): what a source emits, processors transform and the Iceberg sink
 * writes as raw CDC rows (`_op`, `_op_ts`, `_seq`, spec §8). Sources differ in how they
 * read (logical replication, JetStream, files) but all speak this.
 */
import type { z } from 'zod';
import type { UpstreamColumnType } from '../core/definitions/schema.js';

/** A row's values, by column name: JSON-like scalars (dates and timestamps as ISO strings). */
export type RowValues = Record<string, string | number | boolean | null>;

export type ChangeOp = 'c' | 'u' | 'd' | 'r';

/** The type of an upstream column, as far as the source tells it. */
export type ColumnType = z.infer<typeof UpstreamColumnType>;

export interface ColumnSchema {
  name: string;
  type: ColumnType;
}

/** An upstream table's columns and key, when the source knows them (pgoutput relations, Debezium's schema envelope). */
export interface TableSchema {
  /** `schema.table` upstream. */
  table: string;
  columns: ColumnSchema[];
  primaryKey: string[];
}

/**
 * Where a source is in its log: opaque to everything but the source, ordered by `seq`.
 * `seq` is strictly increasing over the source's events (an LSN, a stream sequence, a
 * file and line packed into one number) and becomes the raw rows' `_seq`.
 */
export interface Position {
  /** Strictly increasing over a source's events; fits in a BIGINT. */
  seq: bigint;
  /** What the source needs to resume after this event (JSON-serializable). */
  resume: string;
}

export interface ChangeEvent {
  kind: 'change';
  /** `schema.table` upstream. */
  table: string;
  op: ChangeOp;
  /** When the change happened upstream (ISO-8601 UTC). */
  ts: string;
  position: Position;
  /**
   * The row after the change; for a delete, the row before it (at least its key). Columns a
   * source could not read (an unchanged TOAST value) are absent, never null.
   */
  row: RowValues;
}

/** Every row of a table is gone (TRUNCATE): written as a delete of each key the table holds. */
export interface TruncateEvent {
  kind: 'truncate';
  table: string;
  ts: string;
  position: Position;
}

/** An upstream table's columns changed (or were first seen): checked against what downstream consumes. */
export interface SchemaEvent {
  kind: 'schema';
  schema: TableSchema;
  position: Position;
}

/** A synthetic event proving the pipeline is alive end to end (spec §9). */
export interface HeartbeatEvent {
  kind: 'heartbeat';
  /** When it was emitted upstream (ISO-8601 UTC). */
  ts: string;
  position: Position;
}

export type PipelineEvent = ChangeEvent | TruncateEvent | SchemaEvent | HeartbeatEvent;

/**
 * A source of change events. `start` resumes after `from` (the last position committed with
 * the data, or undefined for a fresh start); `acknowledge` tells the source a position is
 * durably committed downstream, so it may release what came before (a replication slot's
 * confirmed LSN, a JetStream ack).
 */
export interface ChangeSource {
  start(from: string | undefined): AsyncIterable<PipelineEvent[]>;
  acknowledge(position: Position): Promise<void>;
  close(): Promise<void>;
  /**
   * Writes a heartbeat upstream that comes back through the stream as a HeartbeatEvent
   * (PostgreSQL: `pg_logical_emit_message`), proving the whole path alive. Absent for
   * sources Strata only reads.
   */
  emitHeartbeat?(): Promise<void>;
  /** How far the source's head is past the acknowledged position. */
  lag?(): Promise<SourceLag>;
  /**
   * For audits: the keys an upstream table holds now (each the JSON array of its key columns'
   * text), and the `seq` of the source's position they are consistent with. `committed` is the
   * resume string of the last committed position (undefined before the first commit), for
   * sources whose seq is relative to where the pipeline began. Absent for sources Strata
   * cannot query (Debezium streams).
   */
  snapshotKeys?(
    table: string,
    primaryKey: readonly string[],
    committed: string | undefined,
  ): Promise<{ keys: string[]; seq: bigint }>;
}

export interface SourceLag {
  /** WAL bytes (PostgreSQL). */
  bytes?: number;
  /** Messages not yet acknowledged (JetStream) or lines not yet read (files). */
  events?: number;
}
