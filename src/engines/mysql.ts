/**
 * MySQL 8 and MariaDB 10.11+ through `mysql2`, rows streamed. The session is pinned so the
 * mysql dialect's SQL means one thing whatever the server's defaults: UTC, backslash
 * escapes in strings, `||` as concatenation (as in the other dialects), full-precision
 * division and averages, read-only
 * transactions and a statement time limit for queries built from definitions.
 */
import mysql from 'mysql2';
import type { Connection, FieldPacket, TypeCastField, TypeCastNext } from 'mysql2';
import { isoFromNaiveTimestamp, type Cell, type Row } from '../core/values/cell.js';
import { QueryError, type Engine, type ResultColumn } from './engine.js';

const BATCH = 2000;

/** Every mode a definition's SQL could depend on, named: nothing inherited from the server. */
const SQL_MODE = 'PIPES_AS_CONCAT,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';

export interface MySqlSessionOptions {
  /** Every transaction read-only: how queries built from definitions run. */
  readOnly?: boolean;
  /** Cancel any statement running longer than this. */
  statementTimeoutMs?: number;
}

/** Values as Cells: exact numbers as numbers, dates as text, timestamps as ISO UTC, TINYINT(1) as boolean. */
function toCell(field: TypeCastField, next: TypeCastNext): unknown {
  switch (field.type) {
    case 'LONGLONG':
    case 'NEWDECIMAL':
    case 'DECIMAL': {
      const text = field.string();
      return text === null ? null : Number(text);
    }
    case 'DATE':
    case 'NEWDATE':
      return field.string();
    case 'DATETIME':
    case 'DATETIME2':
    case 'TIMESTAMP':
    case 'TIMESTAMP2': {
      const text = field.string();
      return text === null ? null : isoFromNaiveTimestamp(text);
    }
    case 'TINY': {
      if (field.length !== 1) return next();
      const text = field.string();
      return text === null ? null : text !== '0';
    }
    default:
      return next();
  }
}

/** The SET statements that shape a session (numbers only: nothing is spliced). */
export function sessionStatements(options: MySqlSessionOptions, mariaDb: boolean): string[] {
  const statements = [
    `SET SESSION sql_mode = '${SQL_MODE}'`,
    `SET SESSION time_zone = '+00:00'`,
    // avg() and / keep 4 decimal places by default (1/3 = 0.3333): keep as many as MySQL can.
    'SET SESSION div_precision_increment = 30',
  ];
  if (options.statementTimeoutMs !== undefined) {
    const ms = Math.max(0, Math.round(options.statementTimeoutMs));
    statements.push(
      mariaDb ? `SET SESSION max_statement_time = ${ms / 1000}` : `SET SESSION max_execution_time = ${ms}`,
    );
  }
  if (options.readOnly) statements.push('SET SESSION TRANSACTION READ ONLY');
  return statements;
}

export class MySqlEngine implements Engine {
  readonly name = 'mysql';
  readonly dialect = 'mysql';

  private constructor(
    private readonly connection: Connection,
    private readonly url: string,
  ) {}

  static async connect(url: string | undefined, options: MySqlSessionOptions = {}): Promise<MySqlEngine> {
    if (!url)
      throw new QueryError(
        'mysql',
        'no connection: set mysql.connection: env:NAME in strata.yaml, or MYSQL_URL, to a mysql:// URL',
      );
    const connection = mysql.createConnection({ ...connectionOptions(url), typeCast: toCell });
    const engine = new MySqlEngine(connection, url);
    try {
      await engine.run('SELECT 1');
    } catch (e) {
      connection.destroy();
      throw new QueryError('mysql', `cannot connect: ${messageOf(e)}`);
    }
    try {
      const [[version]] = (await engine.run('SELECT VERSION()')).rows as [[string]];
      for (const statement of sessionStatements(options, /mariadb/i.test(version)))
        await engine.run(statement);
    } catch (e) {
      connection.destroy();
      throw new QueryError('mysql', `cannot prepare the session: ${messageOf(e)}`);
    }
    return engine;
  }

  async *stream(sql: string): AsyncIterable<Row[]> {
    const query = this.connection.query({ sql, rowsAsArray: true });
    const rows = query.stream({ highWaterMark: BATCH });
    let batch: Row[] = [];
    try {
      for await (const row of rows as AsyncIterable<Cell[]>) {
        batch.push(row);
        if (batch.length >= BATCH) {
          yield batch;
          batch = [];
        }
      }
    } catch (e) {
      throw new QueryError('mysql', messageOf(e));
    } finally {
      rows.destroy();
    }
    if (batch.length > 0) yield batch;
  }

  async query(sql: string): Promise<{ columns: ResultColumn[]; rows: Row[] }> {
    try {
      return await this.run(sql);
    } catch (e) {
      throw new QueryError('mysql', messageOf(e));
    }
  }

  async execute(sql: string): Promise<void> {
    await this.query(sql);
  }

  /** Stops the running statement from a second connection, as the mysql client's Ctrl-C does. */
  async interrupt(): Promise<void> {
    const id = this.connection.threadId;
    if (id === null) return;
    const killer = mysql.createConnection(connectionOptions(this.url));
    await new Promise<void>((resolve) => killer.query(`KILL QUERY ${Number(id)}`, () => resolve()));
    killer.destroy();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.connection.end(() => resolve()));
  }

  private run(sql: string): Promise<{ columns: ResultColumn[]; rows: Row[] }> {
    return new Promise((resolve, reject) => {
      this.connection.query({ sql, rowsAsArray: true }, (error, result, fields) => {
        if (error) return reject(error);
        const rows = Array.isArray(result) ? (result as Row[]) : [];
        const columns = ((fields ?? []) as FieldPacket[]).map((f) => ({
          name: f.name,
          engineType: String(f.type ?? f.columnType),
        }));
        resolve({ columns, rows });
      });
    });
  }
}

function connectionOptions(url: string): mysql.ConnectionOptions {
  return {
    uri: url,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
  };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
