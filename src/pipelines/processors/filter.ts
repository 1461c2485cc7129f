/**
 * `filter` (spec §9): keeps the changes whose row satisfies a condition, written with the
 * rules of definition SQL (one expression, parsed and re-printed from its tokens) and
 * evaluated by an in-memory DuckDB with no file or network access, one query per batch.
 *
 * In a change stream a row can leave the filter: an update to a row that no longer matches
 * becomes a delete of its key, so the raw table's latest row says it is gone. Deletes always
 * pass (a delete of a key the table never held is harmless); creates and snapshot reads that
 * do not match are dropped.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { parseFragment, printFragment, type SqlFragment } from '../../core/sql/fragments/fragment.js';
import { dialectFor } from '../../core/sql/dialects/index.js';
import { DuckDbEngine } from '../../engines/duckdb.js';
import { duckDbType, quoteIdent } from '../../warehouse/schema.js';
import type { ChangeEvent, ColumnType, TableSchema } from '../events.js';
import { icebergType } from '../sink.js';
import type { Processor, ProcessorOutput } from './processor.js';

const duckdb = dialectFor('duckdb');

export class FilterProcessor implements Processor {
  readonly reads: readonly string[];
  private readonly condition: string;
  private engine: Promise<DuckDbEngine> | undefined;

  constructor(
    readonly label: string,
    where: string,
  ) {
    const parsed = parseFragment(where, 'pipeline_filter');
    if (!parsed.ok) throw new Error(`${label}: ${parsed.problem.message}`);
    this.reads = parsed.fragment.columns;
    this.condition = print(parsed.fragment);
  }

  outputSchema(input: TableSchema): TableSchema {
    return input;
  }

  async process(events: ChangeEvent[], schema: TableSchema): Promise<ProcessorOutput> {
    const candidates = events.filter((e) => e.op !== 'd');
    const matching = candidates.length > 0 ? await this.matching(candidates, schema) : new Set<number>();
    const out: ChangeEvent[] = [];
    let i = 0;
    for (const event of events) {
      if (event.op === 'd') {
        out.push(event);
        continue;
      }
      const matches = matching.has(i++);
      if (matches) out.push(event);
      else if (event.op === 'u') out.push({ ...event, op: 'd' });
    }
    return { events: out, deadLetters: [] };
  }

  /** The indexes of the events whose row satisfies the condition. */
  private async matching(events: ChangeEvent[], schema: TableSchema): Promise<Set<number>> {
    const engine = await (this.engine ??= openSandbox());
    const connection = engine.rawConnection;
    const types = columnTypes(this.reads, schema, events);
    const table = `filter_batch`;
    await connection.run(
      `CREATE OR REPLACE TEMP TABLE ${table} (__i INTEGER, ${this.reads.map((c) => `${quoteIdent(c)} VARCHAR`).join(', ')})`,
    );
    try {
      await appendRows(connection, table, this.reads, events);
      const typed = this.reads
        .map(
          (c) =>
            `TRY_CAST(${quoteIdent(c)} AS ${duckDbType(icebergType(types.get(c)!))}) AS ${quoteIdent(c)}`,
        )
        .join(', ');
      const reader = await connection.runAndReadAll(
        `SELECT __i FROM (SELECT __i${typed ? `, ${typed}` : ''} FROM ${table}) WHERE (${this.condition})`,
      );
      return new Set(reader.getRows().map((r) => Number(r[0])));
    } catch (e) {
      throw new Error(`${this.label}: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${table}`);
    }
  }

  async close(): Promise<void> {
    const engine = await this.engine;
    await engine?.close();
    this.engine = undefined;
  }
}

function print(fragment: SqlFragment): string {
  return printFragment(fragment, {
    identifier: (name) => duckdb.identifier(name),
    stringLiteral: (value) => duckdb.stringLiteral(value),
    placeholder: (path) => {
      throw new Error(`internal: a pipeline filter has no placeholders ({${path}})`);
    },
  });
}

async function openSandbox(): Promise<DuckDbEngine> {
  const engine = await DuckDbEngine.open({ path: ':memory:' });
  await engine.lockDown({ directories: [] });
  return engine;
}

/** Each read column's type: the schema's when the source knows it, else what the values look like. */
function columnTypes(
  columns: readonly string[],
  schema: TableSchema,
  events: readonly ChangeEvent[],
): Map<string, ColumnType> {
  const known = new Map(schema.columns.map((c) => [c.name, c.type]));
  return new Map(columns.map((c) => [c, known.get(c) ?? inferredType(c, events)]));
}

function inferredType(column: string, events: readonly ChangeEvent[]): ColumnType {
  const kinds = new Set(events.map((e) => typeof e.row[column]));
  if (kinds.has('string') || kinds.size === 0) return 'string';
  if (kinds.has('number') && kinds.has('boolean')) return 'string';
  if (kinds.has('boolean')) return 'boolean';
  if (!kinds.has('number')) return 'string';
  return events.every((e) => typeof e.row[column] !== 'number' || Number.isInteger(e.row[column]))
    ? 'integer'
    : 'number';
}

async function appendRows(
  connection: DuckDBConnection,
  table: string,
  columns: readonly string[],
  events: readonly ChangeEvent[],
): Promise<void> {
  const appender = await connection.createAppender(table, 'main', 'temp');
  events.forEach((event, i) => {
    appender.appendInteger(i);
    for (const column of columns) {
      const value = event.row[column];
      if (value === null || value === undefined) appender.appendNull();
      else appender.appendVarchar(String(value));
    }
    appender.endRow();
  });
  appender.closeSync();
}
