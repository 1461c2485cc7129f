/** PostgreSQL queried directly through `pg`, rows streamed with a cursor. */
import pg from 'pg';
import Cursor from 'pg-cursor';
import { isoFromNaiveTimestamp, type Cell, type Row } from '../core/values/cell.js';
import { QueryError, type Engine, type ResultColumn, type TableVersions } from './engine.js';

const { Client, types } = pg;

const OID = { int8: 20, numeric: 1700, date: 1082, timestamp: 1114, timestamptz: 1184 } as const;

/** Per-client parsers (no global pg.types changes): every value arrives as a Cell. */
export const cellTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    switch (oid) {
      case OID.int8:
      case OID.numeric:
        return (text: string): Cell => Number(text);
      case OID.date:
        return (text: string): Cell => text;
      case OID.timestamp:
        return (text: string): Cell => isoFromNaiveTimestamp(text);
      case OID.timestamptz:
        return (text: string): Cell => new Date(text).toISOString();
      default:
        return types.getTypeParser(oid, format ?? 'text');
    }
  },
};

const BATCH = 2000;

export interface PostgresSessionOptions {
  /** Schemas to search, comma-separated (strata.yaml `postgres.schema`). */
  searchPath?: string;
  /** Every transaction read-only: how queries built from definitions run. */
  readOnly?: boolean;
  /** A role to act as (`SET ROLE`), for least privilege when the connection's user has more. */
  role?: string;
  /** Cancel any statement running longer than this. */
  statementTimeoutMs?: number;
}

const quoteName = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The SET statements that shape a session; names are quoted, never spliced. */
export function sessionStatements(options: PostgresSessionOptions): string[] {
  const statements: string[] = [];
  if (options.searchPath) {
    const schemas = options.searchPath.split(',').map((s) => quoteName(s.trim().replace(/^"(.*)"$/, '$1')));
    statements.push(`SET search_path TO ${schemas.join(', ')}`);
  }
  if (options.role) statements.push(`SET ROLE ${quoteName(options.role)}`);
  if (options.statementTimeoutMs !== undefined)
    statements.push(`SET statement_timeout = ${Math.max(0, Math.round(options.statementTimeoutMs))}`);
  if (options.readOnly) statements.push('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  return statements;
}

export class PostgresEngine implements Engine {
  readonly name = 'postgres';
  readonly dialect = 'postgres';

  private constructor(
    private readonly client: pg.Client,
    private readonly connectionString: string | undefined,
  ) {}

  static async connect(
    connectionString: string | undefined,
    options: PostgresSessionOptions = {},
  ): Promise<PostgresEngine> {
    const client = new Client({ ...(connectionString ? { connectionString } : {}), types: cellTypes });
    try {
      await client.connect();
    } catch (e) {
      throw new QueryError('postgres', cannotConnect(client, connectionString, e as Error));
    }
    try {
      for (const statement of sessionStatements(options)) await client.query(statement);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw new QueryError('postgres', `cannot prepare the session: ${(e as Error).message}`);
    }
    return new PostgresEngine(client, connectionString);
  }

  /** Cancels the running statement from a second connection, as psql's Ctrl-C does. */
  async interrupt(): Promise<void> {
    const pid = (this.client as pg.Client & { processID?: number }).processID;
    if (pid === undefined) return;
    const canceller = new Client(this.connectionString ? { connectionString: this.connectionString } : {});
    try {
      await canceller.connect();
      await canceller.query('SELECT pg_cancel_backend($1)', [pid]);
    } finally {
      await canceller.end().catch(() => undefined);
    }
  }

  async *stream(sql: string): AsyncIterable<Row[]> {
    const cursor = this.client.query(new Cursor(sql, [], { rowMode: 'array' }));
    try {
      for (;;) {
        const rows = (await cursor.read(BATCH).catch((e: Error) => {
          throw new QueryError('postgres', e.message);
        })) as Cell[][];
        if (rows.length === 0) return;
        yield rows;
      }
    } finally {
      await cursor.close();
    }
  }

  async query(sql: string): Promise<{ columns: ResultColumn[]; rows: Row[] }> {
    try {
      const result = await this.client.query({ text: sql, rowMode: 'array' });
      return {
        columns: result.fields.map((f) => ({ name: f.name, engineType: String(f.dataTypeID) })),
        rows: result.rows as Row[],
      };
    } catch (e) {
      throw new QueryError('postgres', (e as Error).message);
    }
  }

  /**
   * Row-change counters from pg_stat_user_tables: cheap, and they only grow while the server
   * runs; a writer's counts arrive up to ~10 s after its commit (PostgreSQL flushes them when
   * idle), so a change that recent may be seen only by the next run. PostgreSQL keeps no time
   * of the last change, so `changedAt` stays unknown. Undefined when a table is not a table
   * here (a view: its changes cannot be seen).
   */
  async tableVersions(tables: readonly string[]): Promise<TableVersions | undefined> {
    const named = tables.filter((t) => t.split('.').length >= 2);
    if (named.length === 0) return undefined;
    const result = await this.client.query<{ name: string; changes: string }>(
      `SELECT schemaname || '.' || relname AS name, (n_tup_ins + n_tup_upd + n_tup_del)::text AS changes
         FROM pg_stat_user_tables WHERE schemaname || '.' || relname = ANY($1) ORDER BY 1`,
      [named],
    );
    if (result.rows.length < new Set(named).size) return undefined;
    return {
      fingerprint: result.rows.map((r) => `${r.name}=${r.changes}`).join(';'),
      source: 'table_statistics',
    };
  }

  async execute(sql: string): Promise<void> {
    try {
      await this.client.query(sql);
    } catch (e) {
      throw new QueryError('postgres', (e as Error).message);
    }
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

/** Driver errors that say what is wrong in the user's terms. */
const CONNECT_PROBLEMS: [RegExp, string][] = [
  [/ECONNREFUSED/, 'nothing listens there'],
  [/ENOTFOUND|EAI_AGAIN/, 'the host name is unknown'],
  [/ETIMEDOUT|timeout/i, 'no answer'],
  [/password authentication failed|no password supplied/, 'the password was refused'],
  [/database ".*" does not exist/, 'that database does not exist'],
  [/role ".*" does not exist/, 'that user does not exist'],
];

/**
 * Why a connection failed and what to do: where it tried (the URL is redacted by the
 * caller's error path; only host, port and database are named here), and where the setting lives.
 */
function cannotConnect(client: pg.Client, connectionString: string | undefined, error: Error): string {
  const target = `${client.host ?? 'localhost'}:${client.port ?? 5432}${client.database ? `/${client.database}` : ''}`;
  const problem = CONNECT_PROBLEMS.find(([pattern]) => pattern.test(error.message))?.[1] ?? error.message;
  const where = connectionString
    ? 'check the URL (postgres.connection in strata.yaml, or --database)'
    : 'no connection is configured: set postgres.connection: env:NAME in strata.yaml, DATABASE_URL, or pass --database URL';
  return `cannot connect to PostgreSQL at ${target} (${problem}): ${where}`;
}
