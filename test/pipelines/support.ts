/**
 * Helpers for the pipeline tests: a project model from definition texts, a warehouse in a
 * scratch directory, a state store, and the raw tables read back with hand-written SQL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { Compiler } from '../../src/core/compile.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import type { PipelineModel } from '../../src/core/model/types.js';
import { validateModel } from '../../src/core/validate.js';
import type {
  ChangeEvent,
  ChangeSource,
  PipelineEvent,
  Position,
  TableSchema,
} from '../../src/pipelines/events.js';
import { PipelineStateStore } from '../../src/pipelines/state.js';
import { SqliteCatalog, Warehouse, readParquetSql, type TableIdentifier } from '../../src/warehouse/index.js';

export interface Project {
  compiler: Compiler;
  pipeline: PipelineModel;
}

/** A model from definition texts; throws on any diagnostic, so a test never runs a broken project. */
export function projectOf(files: DefinitionFile[], pipelineName?: string): Project {
  const { model, diagnostics } = buildModel(files);
  const problems = [...diagnostics, ...validateModel(model)].filter((d) => d.severity === 'error');
  if (problems.length > 0)
    throw new Error(problems.map((d) => `${d.location?.file}:${d.location?.line}: ${d.message}`).join('\n'));
  const pipeline = pipelineName ? model.pipelines.get(pipelineName) : [...model.pipelines.values()][0];
  if (!pipeline) throw new Error('no pipeline');
  return { compiler: new Compiler(model), pipeline };
}

/** A warehouse (SQLite catalog), a DuckDB connection and a state store in a scratch directory. */
export class PipelineEnvironment {
  private constructor(
    readonly dir: string,
    readonly warehouse: Warehouse,
    readonly duckdb: DuckDBConnection,
    readonly store: PipelineStateStore,
    private readonly instance: DuckDBInstance,
    private readonly catalog: SqliteCatalog,
  ) {}

  static async create(): Promise<PipelineEnvironment> {
    const dir = await mkdtemp(join(tmpdir(), 'strata-pipeline-'));
    const instance = await DuckDBInstance.create(':memory:');
    const duckdb = await instance.connect();
    const catalog = SqliteCatalog.open(join(dir, 'catalog.db'), 'strata');
    const warehouse = new Warehouse({ root: join(dir, 'warehouse'), catalog, duckdb });
    const store = await PipelineStateStore.open({ client: 'sqlite', filename: join(dir, 'runs.db') });
    return new PipelineEnvironment(dir, warehouse, duckdb, store, instance, catalog);
  }

  /** Every row of a table, ordered by `_seq` (and the columns given), as plain values. */
  async rows(id: TableIdentifier, orderBy = '_seq'): Promise<Record<string, unknown>[]> {
    const state = await this.warehouse.load(id);
    const { files, schema } = await this.warehouse.planFiles(state);
    const reader = await this.duckdb.runAndReadAll(
      `SELECT * FROM (${readParquetSql(files, schema)}) ORDER BY ${orderBy}`,
    );
    return reader
      .getRowObjectsJS()
      .map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
      );
  }

  /** The latest view, written by hand: the greatest `_seq` per key, deletes left out. */
  async latest(id: TableIdentifier, key: string): Promise<Record<string, unknown>[]> {
    const state = await this.warehouse.load(id);
    const { files, schema } = await this.warehouse.planFiles(state);
    const reader = await this.duckdb.runAndReadAll(
      `SELECT * EXCLUDE (_op, _op_ts, _seq) FROM (${readParquetSql(files, schema)})
       QUALIFY row_number() OVER (PARTITION BY ${key} ORDER BY _seq DESC) = 1 AND _op <> 'd'
       ORDER BY ${key}`,
    );
    return reader
      .getRowObjectsJS()
      .map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
      );
  }

  async dispose(): Promise<void> {
    await this.store.close();
    await this.catalog.close();
    this.duckdb.closeSync();
    this.instance.closeSync();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A change source that replays a script of events (a test driver of the ChangeSource
 * contract: the real sources are tested against PostgreSQL and NATS). Resumes after the
 * position it is given, yields `batch` events at a time, and ends when the script does
 * unless `follow` keeps it open for events pushed later.
 */
export class ScriptedSource implements ChangeSource {
  readonly acknowledged: Position[] = [];
  private readonly script: PipelineEvent[] = [];
  private waiting: (() => void) | undefined;
  private closed = false;
  heartbeats = 0;

  constructor(
    events: PipelineEvent[] = [],
    private readonly options: {
      batch?: number;
      follow?: boolean;
      /** Where it really starts, given where it was asked to (a slot resends from its acknowledged LSN). */
      startAt?: (from: string | undefined) => string | undefined;
    } = {},
  ) {
    this.script.push(...events);
  }

  push(...events: PipelineEvent[]): void {
    this.script.push(...events);
    this.waiting?.();
  }

  async *start(asked: string | undefined): AsyncIterable<PipelineEvent[]> {
    const from = this.options.startAt ? this.options.startAt(asked) : asked;
    const after = from === undefined ? -1n : BigInt(from);
    // A source re-sends every table's schema when it starts again (pgoutput's Relation messages do).
    let i = 0;
    const schemas = new Map<string, PipelineEvent>();
    for (const event of this.script)
      if (event.kind === 'schema' && event.position.seq <= after) schemas.set(event.schema.table, event);
    if (schemas.size > 0) yield [...schemas.values()];
    while (!this.closed) {
      const batch: PipelineEvent[] = [];
      while (i < this.script.length && batch.length < (this.options.batch ?? 100)) {
        const event = this.script[i++]!;
        if (event.position.seq > after) batch.push(event);
      }
      if (batch.length > 0) {
        yield batch;
        continue;
      }
      if (!this.options.follow) return;
      await new Promise<void>((done) => (this.waiting = done));
    }
  }

  async acknowledge(position: Position): Promise<void> {
    this.acknowledged.push(position);
  }

  async emitHeartbeat(): Promise<void> {
    this.heartbeats++;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiting?.();
  }
}

/** Builds events with increasing positions. */
export class EventScript {
  private seq = 0n;
  readonly events: PipelineEvent[] = [];

  private position(): Position {
    this.seq += 1n;
    return { seq: this.seq, resume: this.seq.toString() };
  }

  schema(schema: TableSchema): this {
    this.events.push({ kind: 'schema', schema, position: this.position() });
    return this;
  }

  change(
    table: string,
    op: ChangeEvent['op'],
    row: ChangeEvent['row'],
    ts = '2026-01-01T00:00:00.000Z',
  ): this {
    this.events.push({ kind: 'change', table, op, row, ts, position: this.position() });
    return this;
  }

  truncate(table: string, ts = '2026-01-01T00:00:00.000Z'): this {
    this.events.push({ kind: 'truncate', table, ts, position: this.position() });
    return this;
  }

  heartbeat(ts: string): this {
    this.events.push({ kind: 'heartbeat', ts, position: this.position() });
    return this;
  }
}

export { rm };
