/**
 * What a definition's SQL may call. A fragment is compiled into queries that run wherever
 * `sync`, `serve` or `worker` run, so anything that reaches outside the data (files, the
 * network, other databases, settings, sessions, sequences, SQL given as a string) is refused
 * at validation, whatever the engine. The engines are locked down as well (see
 * src/engines): this list is the first line, not the only one.
 */

/** Function names refused outright (lower case). */
const DENIED_FUNCTIONS = new Set([
  // settings and session state
  'set_config',
  'current_setting',
  'getvariable',
  'getenv',
  'setval',
  'nextval',
  // SQL given as text, run by the engine
  'query',
  'query_table',
  'json_execute_serialized_sql',
  'ts_stat',
  'dblink',
  // files
  'glob',
  'sniff_csv',
  'lo_import',
  'lo_export',
  // MySQL / MariaDB: server files, stalling the server, locks, UDFs that run commands
  'load_file',
  'sleep',
  'benchmark',
  'get_lock',
  'release_lock',
  'release_all_locks',
  'is_free_lock',
  'is_used_lock',
  'master_pos_wait',
  'source_pos_wait',
  'master_gtid_wait',
  'sys_exec',
  'sys_eval',
]);

/** Families of functions refused by prefix: files, other databases, server administration. */
const DENIED_PREFIXES = [
  'pg_', // pg_read_file, pg_ls_dir, pg_sleep, pg_terminate_backend, pg_reload_conf ...
  'lo_', // large objects: read and write server files
  'dblink',
  'read_', // DuckDB: read_csv, read_text, read_blob, read_parquet, read_json ...
  'parquet_',
  'iceberg_',
  'delta_',
  'sqlite_',
  'postgres_',
  'mysql_',
  'duckdb_', // DuckDB's catalog and secret functions
  'http',
  'query_to_',
  'table_to_',
  'schema_to_',
  'database_to_',
  'cursor_to_',
];

/**
 * Table functions a source's `sql:` may read from: they compute rows and touch nothing
 * outside the query. Every other function in a FROM clause is refused.
 */
export const ALLOWED_TABLE_FUNCTIONS = new Set(['unnest', 'generate_series', 'range']);

export function deniedFunction(name: string): boolean {
  const lower = name.toLowerCase();
  return DENIED_FUNCTIONS.has(lower) || DENIED_PREFIXES.some((p) => lower.startsWith(p));
}

/**
 * Aggregate and window functions, refused in a field's or measure's per-row SQL (the
 * aggregate of a measure is its `aggregate:`). Not exhaustive: the engine still rejects
 * what this misses; the list is here for a clear message on common mistakes.
 */
export const AGGREGATE_FUNCTIONS = new Set([
  'sum',
  'count',
  'avg',
  'min',
  'max',
  'any_value',
  'arbitrary',
  'array_agg',
  'list',
  'string_agg',
  'listagg',
  'group_concat',
  'bool_and',
  'bool_or',
  'every',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'median',
  'mode',
  'approx_count_distinct',
  'approx_distinct',
  'percentile_cont',
  'percentile_disc',
  'quantile',
  'quantile_cont',
  'quantile_disc',
  'row_number',
  'rank',
  'dense_rank',
  'ntile',
  'lag',
  'lead',
  'first_value',
  'last_value',
  'nth_value',
  'cume_dist',
  'percent_rank',
]);

/**
 * Words that are grammar, never a column: a fragment that uses one where a value belongs
 * is a syntax error (quote it, "like_this", to use it as a name).
 */
export const RESERVED_WORDS = new Set([
  'all',
  'and',
  'any',
  'as',
  'asc',
  'between',
  'by',
  'case',
  'cast',
  'cross',
  'desc',
  'distinct',
  'else',
  'end',
  'escape',
  'except',
  'exists',
  'false',
  'fetch',
  'for',
  'from',
  'full',
  'group',
  'having',
  'ilike',
  'in',
  'inner',
  'intersect',
  'into',
  'is',
  'join',
  'lateral',
  'like',
  'limit',
  'natural',
  'not',
  'null',
  'offset',
  'on',
  'or',
  'order',
  'outer',
  'over',
  'qualify',
  'returning',
  'select',
  'some',
  'table',
  'then',
  'true',
  'union',
  'using',
  'values',
  'when',
  'where',
  'window',
  'with',
]);

/** Words that begin a statement other than a query: named in the message when a fragment starts with one. */
export const STATEMENT_WORDS = new Set([
  'alter',
  'analyze',
  'attach',
  'begin',
  'call',
  'checkpoint',
  'commit',
  'copy',
  'create',
  'deallocate',
  'delete',
  'describe',
  'detach',
  'do',
  'drop',
  'execute',
  'explain',
  'export',
  'grant',
  'import',
  'insert',
  'install',
  'load',
  'lock',
  'merge',
  'pragma',
  'prepare',
  'reset',
  'revoke',
  'rollback',
  'set',
  'show',
  'summarize',
  'truncate',
  'update',
  'use',
  'vacuum',
]);

/** Niladic SQL functions written without parentheses. */
export const NILADIC_WORDS = new Set([
  'current_date',
  'current_time',
  'current_timestamp',
  'localtime',
  'localtimestamp',
  'current_user',
  'current_role',
  'session_user',
  'current_catalog',
  'current_schema',
]);

/** Units of EXTRACT, date_trunc-like keywords and intervals. */
export const TIME_UNITS = new Set([
  'century',
  'decade',
  'year',
  'years',
  'quarter',
  'quarters',
  'month',
  'months',
  'week',
  'weeks',
  'day',
  'days',
  'hour',
  'hours',
  'minute',
  'minutes',
  'second',
  'seconds',
  'millisecond',
  'milliseconds',
  'microsecond',
  'microseconds',
  'dow',
  'isodow',
  'doy',
  'epoch',
  'isoyear',
  'timezone',
  'timezone_hour',
  'timezone_minute',
  'day_of_week',
  'day_of_year',
  'year_of_week',
]);

/** Words that continue a multi-word type name (`DOUBLE PRECISION`, `TIMESTAMP WITH TIME ZONE`). */
export const TYPE_CONTINUATIONS = new Set([
  'precision',
  'varying',
  'with',
  'without',
  'time',
  'zone',
  'local',
]);
