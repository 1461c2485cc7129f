/**
 * Processors (spec §9): run in order over the change events of one upstream table, each
 * consuming and emitting events. A processor may also park events it cannot process (an
 * enrichment lookup that keeps failing) as dead letters, which the sink commits with the
 * batch, so an event is either written, filtered by a rule, or parked: never lost silently.
 */
import type { ChangeEvent, ColumnSchema, TableSchema } from '../events.js';

/** An event a processor could not process, and why. */
export interface DeadLetter {
  event: ChangeEvent;
  /** `processors[i] (graphql_enrich)`. */
  processor: string;
  error: string;
  attempts: number;
  /** ISO-8601 UTC. */
  failedAt: string;
}

export interface ProcessorOutput {
  events: ChangeEvent[];
  deadLetters: DeadLetter[];
}

export interface Processor {
  /** `processors[i] (type)`, for dead letters and pause reasons. */
  readonly label: string;
  /** The upstream columns it reads (a schema change dropping one pauses the pipeline). */
  readonly reads: readonly string[];
  /** The columns its events carry, given those it receives. */
  outputSchema(input: TableSchema): TableSchema;
  process(events: ChangeEvent[], schema: TableSchema): Promise<ProcessorOutput>;
  close?(): Promise<void>;
}

/** The processors of one upstream table, applied in order. */
export class ProcessorChain {
  constructor(readonly processors: readonly Processor[]) {}

  async process(events: ChangeEvent[], schema: TableSchema): Promise<ProcessorOutput> {
    let current = events;
    let flowing = schema;
    const deadLetters: DeadLetter[] = [];
    for (const processor of this.processors) {
      if (current.length === 0) break;
      const out = await processor.process(current, flowing);
      current = out.events;
      deadLetters.push(...out.deadLetters);
      flowing = processor.outputSchema(flowing);
    }
    return { events: current, deadLetters };
  }

  /** The columns that reach the sink from an upstream schema. */
  outputSchema(schema: TableSchema): TableSchema {
    return this.processors.reduce((flowing, p) => p.outputSchema(flowing), schema);
  }

  /**
   * The first processor that reads a column its input lacks: with the columns each one gets
   * (the upstream schema through the processors before it).
   */
  missingColumns(schema: TableSchema): { processor: Processor; columns: string[] }[] {
    const problems: { processor: Processor; columns: string[] }[] = [];
    let flowing = schema;
    for (const processor of this.processors) {
      const present = new Set(flowing.columns.map((c) => c.name));
      const missing = processor.reads.filter((c) => !present.has(c));
      if (missing.length > 0) problems.push({ processor, columns: missing });
      flowing = processor.outputSchema(flowing);
    }
    return problems;
  }
}

export function withColumns(schema: TableSchema, columns: ColumnSchema[]): TableSchema {
  return { ...schema, columns };
}
