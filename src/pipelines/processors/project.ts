/**
 * `project` (spec §9): only the listed columns flow on, and always the primary key (the raw
 * table's latest view needs it). Columns absent from the list never reach the raw table, so
 * an upstream change to them concerns nobody downstream.
 */
import type { ChangeEvent, RowValues, TableSchema } from '../events.js';
import type { Processor, ProcessorOutput } from './processor.js';

export class ProjectProcessor implements Processor {
  constructor(
    readonly label: string,
    private readonly fields: readonly string[],
  ) {}

  get reads(): readonly string[] {
    return this.fields;
  }

  private kept(schema: TableSchema): Set<string> {
    return new Set([...schema.primaryKey, ...this.fields]);
  }

  outputSchema(input: TableSchema): TableSchema {
    const kept = this.kept(input);
    return { ...input, columns: input.columns.filter((c) => kept.has(c.name)) };
  }

  async process(events: ChangeEvent[], schema: TableSchema): Promise<ProcessorOutput> {
    const kept = this.kept(schema);
    const project = (row: RowValues): RowValues =>
      Object.fromEntries(Object.entries(row).filter(([column]) => kept.has(column)));
    return { events: events.map((e) => ({ ...e, row: project(e.row) })), deadLetters: [] };
  }
}
