/**
 * The Iceberg sink of a pipeline (spec §9, §8): change events land in one append-only raw
 * table per upstream table, as the row's columns plus `_op`, `_op_ts` and `_seq`. A batch is
 * committed to all its tables atomically (one catalog transaction), and every snapshot it
 * writes records the batch's last source position in its summary; so the position is
 * committed with the data, and after a crash the pipeline resumes after the greatest
 * position its tables record, never applying a change twice nor losing one.
 */
import type { PipelineDefinition } from '../core/definitions/schema.js';
import { rawTableOf, type RawTable } from '../core/pipelines.js';
import type { IcebergType } from '../warehouse/schema.js';
import { NoSuchTableError, type TableAppend, type TableState, type Warehouse } from '../warehouse/table.js';
import type { ChangeEvent, ColumnType, Position, RowValues, TableSchema } from './events.js';

/** Summary properties of the snapshots a pipeline commits. */
export const POSITION_PROPERTIES = {
  pipeline: 'strata.pipeline',
  seq: 'strata.pipeline.seq',
  resume: 'strata.pipeline.resume',
} as const;

/** The raw table's own columns, beside the row's (spec §8). */
export const CDC_COLUMNS: readonly { name: string; type: IcebergType }[] = [
  { name: '_op', type: 'string' },
  { name: '_op_ts', type: 'timestamp' },
  { name: '_seq', type: 'long' },
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

/** A change as the raw table's row. */
export function rawRow(event: ChangeEvent): Record<string, unknown> {
  return { ...event.row, _op: event.op, _op_ts: event.ts, _seq: event.position.seq };
}

export class IcebergSink {
  constructor(
    private readonly warehouse: Warehouse,
    private readonly pipeline: PipelineDefinition,
  ) {}

  rawTable(upstream: string): RawTable {
    return rawTableOf(this.pipeline, upstream);
  }

  /** The last position this pipeline committed: the greatest its raw tables record. */
  async committed(): Promise<Position | undefined> {
    let latest: Position | undefined;
    for (const upstream of this.pipeline.source.tables) {
      const position = await this.positionOf(this.rawTable(upstream));
      if (position && (!latest || position.seq > latest.seq)) latest = position;
    }
    return latest;
  }

  private async positionOf(table: RawTable): Promise<Position | undefined> {
    try {
      return positionIn(await this.warehouse.load(table), this.pipeline.name);
    } catch (error) {
      if (error instanceof NoSuchTableError) return undefined;
      throw error;
    }
  }

  /** Creates the raw table of an upstream table from its schema, when it does not exist yet. */
  async ensureTable(schema: TableSchema): Promise<TableState> {
    const id = this.rawTable(schema.table);
    try {
      return await this.warehouse.load(id);
    } catch (error) {
      if (!(error instanceof NoSuchTableError)) throw error;
    }
    return this.warehouse.createTable(id, [
      ...schema.columns.map((c) => ({ name: c.name, type: icebergType(c.type) })),
      ...CDC_COLUMNS,
    ]);
  }

  /**
   * Commits `events` (already processed, in position order) and `last`, the position after
   * which the source resumes. 'skipped' when the tables record `last` or later already: a
   * commit that happened before a crash (or by another runner), which must not happen twice.
   */
  async commit(events: readonly ChangeEvent[], last: Position): Promise<'committed' | 'skipped'> {
    const rows = new Map<string, Record<string, unknown>[]>();
    for (const event of events) {
      rows.set(event.table, [...(rows.get(event.table) ?? []), rawRow(event)]);
    }
    // The position lands in every table the batch touches; a batch of heartbeats alone records it in the first.
    if (rows.size === 0) rows.set(this.pipeline.source.tables[0]!, []);
    const properties = {
      [POSITION_PROPERTIES.pipeline]: this.pipeline.name,
      [POSITION_PROPERTIES.seq]: last.seq.toString(),
      [POSITION_PROPERTIES.resume]: last.resume,
    };
    const appends: TableAppend[] = [...rows].map(([upstream, tableRows]) => ({
      id: this.rawTable(upstream),
      rows: tableRows,
      properties,
    }));
    return this.warehouse.appendAtomically(appends, (current) =>
      [...current.values()].every((state) => (positionIn(state, this.pipeline.name)?.seq ?? -1n) < last.seq),
    );
  }
}

/** The position a table's current snapshot records for `pipeline`, if any. */
export function positionIn(state: TableState, pipeline: string): Position | undefined {
  const summary = state.snapshot?.summary;
  if (!summary || summary[POSITION_PROPERTIES.pipeline] !== pipeline) return undefined;
  const seq = summary[POSITION_PROPERTIES.seq];
  const resume = summary[POSITION_PROPERTIES.resume];
  return seq !== undefined && resume !== undefined ? { seq: BigInt(seq), resume } : undefined;
}

/** Only the columns the raw table has (the sink drops the others; schema evolution adds them first). */
export function rowForTable(row: RowValues, columns: ReadonlySet<string>): RowValues {
  return Object.fromEntries(Object.entries(row).filter(([k]) => columns.has(k)));
}
