/**
 * A pipeline's dead letters (`<namespace>.<pipeline>__dead_letters`): the events a processor
 * gave up on (an enrichment that kept failing), parked with the error instead of stopping the
 * pipeline. Read back newest first for `strata pipeline dead-letters`.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PipelineDefinition } from '../core/definitions/schema.js';
import type { Warehouse } from '../warehouse/table.js';
import { readParquetSql } from '../warehouse/sql.js';
import { IcebergSink } from './sink.js';

export interface DeadLetterRow {
  failedAt: string | null;
  upstreamTable: string | null;
  op: string | null;
  opTs: string | null;
  /** The event's position (`_seq`), as text: it may pass 2^53. */
  seq: string | null;
  processor: string | null;
  attempts: number | null;
  error: string | null;
  /** The event's row, as JSON. */
  row: string | null;
}

export interface DeadLetters {
  table: string;
  /** Every dead letter the table holds. */
  total: number;
  /** The newest `limit` of them. */
  rows: DeadLetterRow[];
}

/** Undefined when the table does not exist (the pipeline never ran). */
export async function readDeadLetters(
  warehouse: Warehouse,
  duckdb: DuckDBConnection,
  pipeline: PipelineDefinition,
  limit: number,
): Promise<DeadLetters | undefined> {
  const sink = new IcebergSink(warehouse, pipeline);
  const state = await sink.loadIfExists(sink.deadLettersTable);
  if (!state) return undefined;
  const { files, schema } = await warehouse.planFiles(state);
  const from = `(${readParquetSql(files, schema)})`;
  const count = await duckdb.runAndReadAll(`SELECT count(*) FROM ${from}`);
  const reader = await duckdb.runAndReadAll(
    `SELECT strftime(failed_at, '%Y-%m-%dT%H:%M:%S.%gZ'), upstream_table, op,
            strftime(op_ts, '%Y-%m-%dT%H:%M:%S.%gZ'), CAST(_seq AS VARCHAR), processor, attempts, error, row_json
     FROM ${from} ORDER BY failed_at DESC, _seq DESC LIMIT ${Math.max(0, Math.floor(limit))}`,
  );
  return {
    table: `${sink.deadLettersTable.namespace}.${sink.deadLettersTable.name}`,
    total: Number(count.getRows()[0]?.[0] ?? 0),
    rows: reader.getRows().map((r) => ({
      failedAt: text(r[0]),
      upstreamTable: text(r[1]),
      op: text(r[2]),
      opTs: text(r[3]),
      seq: text(r[4]),
      processor: text(r[5]),
      attempts: r[6] === null || r[6] === undefined ? null : Number(r[6]),
      error: text(r[7]),
      row: text(r[8]),
    })),
  };
}

function text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
