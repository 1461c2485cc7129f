/**
 * Words that must be quoted as identifiers in at least one of the dialects: DuckDB's and
 * PostgreSQL's non-unreserved keywords (duckdb_keywords(), pg_get_keywords()) and Trino's
 * reserved words. Quoting only when needed keeps the SQL readable; quoting these keeps it
 * valid everywhere.
 */
const RESERVED = new Set(
  `all alter analyse analyze and anti any array as asc asof asymmetric at authorization between bigint binary
  bit boolean both by call case cast char character check coalesce collate collation column columns
  concurrently constraint create cross cube current current_catalog current_date current_path current_role
  current_schema current_time current_timestamp current_user deallocate dec decimal default deferrable delete
  desc describe distinct do drop else end escape except execute exists extract false fetch filter float for
  foreign freeze from full function generated glob grant greatest group grouping grouping_id having ilike in
  initially inner inout insert int integer intersect interval into is isnull join json_array json_exists
  json_object json_query json_table json_value lambda lateral leading least left like limit listagg localtime
  localtimestamp map national natural nchar none normalize not notnull null nullif numeric of offset on only or
  order out outer over overlaps overlay pivot pivot_longer pivot_wider placing position positional precision
  prepare primary qualify real recursive references returning right rollup row rows select semi session_user
  set setof show similar skip smallint some struct substring summarize symmetric table tablesample then time
  timestamp to trailing treat trim true try_cast uescape union unique unknown unnest unpack unpivot update user
  using values varchar variadic verbose when where window with within xmlattributes xmlconcat xmlelement
  xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable`.split(/\s+/),
);

const PLAIN = /^[a-z_][a-z0-9_]*$/;

export function quoteIdentifier(name: string): string {
  if (PLAIN.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}
