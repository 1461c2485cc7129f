/**
 * `type: table`: a typed table in a BI database (PostgreSQL; any knex client). `replace`
 * builds a staging table and swaps it in one transaction, so readers see the old or the new
 * table, never a half; `upsert` compares by key and writes only changed rows; `append`
 * records each run in a ledger table in the same transaction, so a retried job never adds
 * its rows twice.
 */
import knex, { type Knex } from 'knex';
import type { FieldType, TableDestination as TableDefinition } from '../core/definitions/schema.js';
import type { Cell } from '../core/values/cell.js';
import { cellTypes } from '../engines/postgres.js';
import { resolveSecret } from '../engines/secrets.js';
import type { Destination, DestinationContext, SyncTable, WritePlan, WriteResult } from './destination.js';
import { DestinationError, rowKey } from './destination.js';
import { QUIET_KNEX_LOG } from './knex-log.js';

const LEDGER = 'strata_sync_ledger';
const BATCH = 1000;
const CONNECT_TIMEOUT_MS = 10_000;

/** `postgres://user:secret@db:5432/bi` -> `db:5432/bi`: where, never who or with what. */
function serverOf(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.host || 'localhost'}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return 'the database';
  }
}

type Diff = { inserts: Cell[][]; updates: Cell[][]; deletes: Cell[][]; unchanged: number };

export class TableDestination implements Destination {
  private readonly schema: string | undefined;
  private readonly name: string;

  constructor(
    private readonly definition: TableDefinition,
    private readonly options: { env?: NodeJS.ProcessEnv } = {},
  ) {
    const parts = definition.table.split('.');
    this.schema = parts.length === 2 ? parts[0] : undefined;
    this.name = parts[parts.length - 1]!;
  }

  describe(): string {
    return `table ${this.definition.table}`;
  }

  private get mode() {
    return this.definition.mode ?? 'replace';
  }

  /** A connection that answered: an unreachable database fails here, as one line naming the server. */
  private async connect(): Promise<Knex> {
    const connectionString = resolveSecret(this.definition.connection, this.options.env ?? process.env);
    const db = knex({
      client: 'pg',
      connection: {
        connectionString,
        types: cellTypes,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      } as Knex.PgConnectionConfig,
      pool: { min: 0, max: 1 },
      acquireConnectionTimeout: CONNECT_TIMEOUT_MS + 5000,
      log: QUIET_KNEX_LOG,
    });
    try {
      await db.raw('SELECT 1');
      return db;
    } catch (error) {
      await db.destroy();
      throw new DestinationError(
        this.describe(),
        `cannot connect to ${serverOf(connectionString)}: ${(error as Error).message}`,
      );
    }
  }

  private table(db: Knex, name = this.name) {
    return this.schema ? db.withSchema(this.schema).table(name) : db.table(name);
  }

  async plan(table: SyncTable): Promise<WritePlan> {
    const db = await this.connect();
    try {
      const base = { destination: this.describe(), details: [] as string[] };
      if (this.mode !== 'upsert') {
        const existing = (await this.exists(db))
          ? Number((await this.table(db).count({ n: '*' }).first())?.n ?? 0)
          : 0;
        const call =
          this.mode === 'replace'
            ? 'CREATE staging table, INSERT, swap in one transaction'
            : 'INSERT in one transaction with a ledger row';
        return {
          ...base,
          creates: table.rows.length,
          updates: 0,
          deletes: this.mode === 'replace' ? existing : 0,
          unchanged: 0,
          apiCalls: [{ method: 'sql', endpoint: this.definition.table, description: call }],
          reads: 1,
        };
      }
      const diff = await this.diff(db, table);
      return {
        ...base,
        creates: diff.inserts.length,
        updates: diff.updates.length,
        deletes: diff.deletes.length,
        unchanged: diff.unchanged,
        apiCalls: [
          {
            method: 'sql',
            endpoint: this.definition.table,
            description: 'INSERT new keys, UPDATE changed rows, DELETE vanished keys in one transaction',
          },
        ],
        reads: 1,
      };
    } finally {
      await db.destroy();
    }
  }

  async write(table: SyncTable, ctx: DestinationContext): Promise<WriteResult> {
    const db = await this.connect();
    try {
      if (this.schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [this.schema]);
      const counts =
        this.mode === 'replace'
          ? await this.replace(db, table)
          : this.mode === 'upsert'
            ? await this.upsert(db, table)
            : await this.append(db, table, ctx.runId);
      // One transaction is this destination's one call, as the run records it.
      ctx.observer?.apiCall('table');
      return {
        destination: this.describe(),
        ...counts,
        apiCalls: 1,
        bytes: Buffer.byteLength(JSON.stringify(table.rows)),
      };
    } finally {
      await db.destroy();
    }
  }

  private async exists(db: Knex): Promise<boolean> {
    return this.schema
      ? db.schema.withSchema(this.schema).hasTable(this.name)
      : db.schema.hasTable(this.name);
  }

  private createTable(db: Knex, name: string, table: SyncTable, key?: readonly string[]) {
    const builder = (t: Knex.CreateTableBuilder) => {
      for (const column of table.columns) addColumn(t, column.name, column.type);
      if (key) t.unique([...key]);
    };
    return this.schema
      ? db.schema.withSchema(this.schema).createTable(name, builder)
      : db.schema.createTable(name, builder);
  }

  private rowsAsObjects(table: SyncTable, rows: Cell[][]) {
    return rows.map((r) => Object.fromEntries(table.columns.map((c, i) => [c.name, r[i] ?? null])));
  }

  private async replace(db: Knex, table: SyncTable) {
    const staging = `${this.name}__strata_staging`;
    const qualified = (n: string) => (this.schema ? `${this.schema}.${n}` : n);
    const dropStaging = () =>
      this.schema
        ? db.schema.withSchema(this.schema).dropTableIfExists(staging)
        : db.schema.dropTableIfExists(staging);
    await dropStaging();
    await this.createTable(db, staging, table);
    await db.batchInsert(qualified(staging), this.rowsAsObjects(table, table.rows), BATCH);
    const deleted = (await this.exists(db))
      ? Number((await this.table(db).count({ n: '*' }).first())?.n ?? 0)
      : 0;
    await db.transaction(async (trx) => {
      await trx.raw('DROP TABLE IF EXISTS ??', [qualified(this.name)]);
      await trx.raw('ALTER TABLE ?? RENAME TO ??', [qualified(staging), this.name]);
    });
    return { created: table.rows.length, updated: 0, deleted, unchanged: 0 };
  }

  private keyColumns(): string[] {
    const key = this.definition.key;
    if (!key) throw new DestinationError(this.describe(), `mode ${this.mode} needs key`);
    return key;
  }

  private async diff(db: Knex, table: SyncTable): Promise<Diff> {
    const key = this.keyColumns();
    const current = new Map<string, Cell[]>();
    if (await this.exists(db)) {
      for (const row of await this.table(db).select(table.columns.map((c) => c.name))) {
        const cells = table.columns.map((c) =>
          normalize((row as Record<string, Cell>)[c.name] ?? null, c.type),
        );
        current.set(rowKey(table, cells, key), cells);
      }
    }
    const diff: Diff = { inserts: [], updates: [], deletes: [], unchanged: 0 };
    const seen = new Set<string>();
    for (const row of table.rows) {
      const k = rowKey(table, row, key);
      if (seen.has(k))
        throw new DestinationError(
          this.describe(),
          `key ${k} appears twice in the result; a key must identify one row`,
        );
      seen.add(k);
      const before = current.get(k);
      const normalized = row.map((v, i) => normalize(v, table.columns[i]!.type));
      if (!before) diff.inserts.push(row);
      else if (JSON.stringify(before) !== JSON.stringify(normalized)) diff.updates.push(row);
      else diff.unchanged++;
    }
    if ((this.definition.onMissing ?? 'keep') === 'delete') {
      for (const [k, row] of current) if (!seen.has(k)) diff.deletes.push(row);
    }
    return diff;
  }

  private async upsert(db: Knex, table: SyncTable) {
    const key = this.keyColumns();
    if (!(await this.exists(db))) await this.createTable(db, this.name, table, key);
    const diff = await this.diff(db, table);
    const keyIndexes = key.map((k) => table.columns.findIndex((c) => c.name === k));
    const where = (row: Cell[]) => Object.fromEntries(key.map((k, i) => [k, row[keyIndexes[i]!] ?? null]));
    await db.transaction(async (trx) => {
      const target = () =>
        this.schema ? trx.withSchema(this.schema).table(this.name) : trx.table(this.name);
      if (diff.inserts.length > 0)
        await trx.batchInsert(
          this.schema ? `${this.schema}.${this.name}` : this.name,
          this.rowsAsObjects(table, diff.inserts),
          BATCH,
        );
      for (const row of diff.updates)
        await target()
          .where(where(row))
          .update(this.rowsAsObjects(table, [row])[0]!);
      for (const row of diff.deletes) await target().where(where(row)).delete();
    });
    return {
      created: diff.inserts.length,
      updated: diff.updates.length,
      deleted: diff.deletes.length,
      unchanged: diff.unchanged,
    };
  }

  private async append(db: Knex, table: SyncTable, runId: string) {
    if (!(await this.exists(db))) await this.createTable(db, this.name, table);
    if (!(await db.schema.hasTable(LEDGER))) {
      await db.schema.createTable(LEDGER, (t) => {
        t.string('run_id').notNullable();
        t.string('destination').notNullable();
        t.primary(['run_id', 'destination']);
      });
    }
    const entry = { run_id: runId, destination: this.definition.table };
    return db.transaction(async (trx) => {
      const done = await trx(LEDGER).where(entry).first();
      if (done) return { created: 0, updated: 0, deleted: 0, unchanged: table.rows.length };
      await trx.batchInsert(
        this.schema ? `${this.schema}.${this.name}` : this.name,
        this.rowsAsObjects(table, table.rows),
        BATCH,
      );
      await trx(LEDGER).insert(entry);
      return { created: table.rows.length, updated: 0, deleted: 0, unchanged: 0 };
    });
  }
}

function addColumn(t: Knex.CreateTableBuilder, name: string, type: FieldType): void {
  switch (type) {
    case 'string':
      t.text(name);
      break;
    case 'integer':
      t.bigInteger(name);
      break;
    case 'decimal':
      t.decimal(name, 38, 9);
      break;
    case 'number':
      t.double(name);
      break;
    case 'boolean':
      t.boolean(name);
      break;
    case 'date':
      t.date(name);
      break;
    case 'timestamp':
      t.timestamp(name, { useTz: false });
      break;
  }
}

/** Values as read back from the table, in the Cell convention, so comparisons are by value. */
function normalize(value: Cell, type: FieldType): Cell {
  if (value === null) return null;
  if (type === 'integer' || type === 'decimal' || type === 'number') return Number(value);
  if (type === 'timestamp' && typeof value === 'string')
    return new Date(value.endsWith('Z') ? value : `${value}Z`).toISOString();
  return value;
}
