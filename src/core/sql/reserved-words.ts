/**
 * Each dialect's words that cannot be bare identifiers. Quoting only these keeps the SQL
 * readable; a word missing here is a query that fails to parse, so each list comes from its
 * engine where the engine can tell:
 * - DuckDB: `duckdb_keywords()` whose category is not `unreserved` (DuckDB 1.5);
 * - PostgreSQL: `pg_get_keywords()` whose category is not `U` (PostgreSQL 15);
 * - Trino: the reserved words of Trino's documentation (Trino 4xx);
 * - MySQL/MariaDB: every keyword of MariaDB 10.11's `information_schema.KEYWORDS` that fails
 *   as a bare column, table alias or CTE name there, plus MySQL 8's reserved words.
 */
const words = (text: string): ReadonlySet<string> => new Set(text.trim().split(/\s+/));

const SQL_STANDARD_XML = `xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
  xmlroot xmlserialize xmltable`;

export const DUCKDB_RESERVED = words(`all analyse analyze and anti any array as asc asof asymmetric at
  authorization between bigint binary bit boolean both by case cast char character check coalesce collate
  collation column columns concurrently constraint create cross dec decimal default deferrable desc describe
  distinct do else end except exists extract false fetch float for foreign freeze from full generated glob
  group grouping grouping_id having ilike in initially inner inout int integer intersect interval into is
  isnull join lambda lateral leading left like limit map national natural nchar none not notnull null nullif
  numeric offset on only or order out outer overlaps overlay pivot pivot_longer pivot_wider placing position
  positional precision primary qualify real references returning right row select semi setof show similar
  smallint some struct substring summarize symmetric table tablesample then time timestamp to trailing treat
  trim true try_cast union unique unpack unpivot using values varchar variadic verbose when where window with
  ${SQL_STANDARD_XML}`);

export const POSTGRES_RESERVED = words(`all analyse analyze and any array as asc asymmetric authorization
  between bigint binary bit boolean both case cast char character check coalesce collate collation column
  concurrently constraint create cross current_catalog current_date current_role current_schema current_time
  current_timestamp current_user dec decimal default deferrable desc distinct do else end except exists
  extract false fetch float for foreign freeze from full grant greatest group grouping having ilike in
  initially inner inout int integer intersect interval into is isnull join lateral leading least left like
  limit localtime localtimestamp national natural nchar none normalize not notnull null nullif numeric offset
  on only or order out outer overlaps overlay placing position precision primary real references returning
  right row select session_user setof similar smallint some substring symmetric table tablesample then time
  timestamp to trailing treat trim true union unique user using values varchar variadic verbose when where
  window with ${SQL_STANDARD_XML}`);

export const TRINO_RESERVED = words(`alter and as between by case cast constraint create cross cube
  current_catalog current_date current_path current_role current_schema current_time current_timestamp
  current_user deallocate delete describe distinct drop else end escape except execute exists extract false
  for from full group grouping having in inner insert intersect into is join json_array json_exists
  json_object json_query json_table json_value left like listagg localtime localtimestamp natural normalize
  not null on or order outer prepare recursive right rollup select skip table then trim true uescape union
  unnest using values when where with`);

export const MYSQL_RESERVED = words(`accessible add all alter analyze and as asc asensitive before between
  bigint binary blob both by call cascade case change char character check collate column condition
  constraint continue convert create cross cube cume_dist current_date current_role current_time
  current_timestamp current_user cursor database databases day_hour day_microsecond day_minute day_second dec
  decimal declare default delayed delete delete_domain_id dense_rank desc describe deterministic distinct
  distinctrow div do_domain_ids double drop dual each else elseif empty enclosed escaped except exists exit
  explain false fetch first_value float float4 float8 for force foreign from fulltext function generated get
  grant group grouping groups having high_priority hour_microsecond hour_minute hour_second if ignore
  ignore_domain_ids in index infile inner inout insensitive insert int int1 int2 int3 int4 int8 integer
  intersect interval into io_after_gtids io_before_gtids is iterate join json_table key keys kill lag
  last_value lateral lead leading leave left like limit linear lines load localtime localtimestamp lock long
  longblob longtext loop low_priority master_bind master_demote_to_replica master_demote_to_slave
  master_ssl_verify_server_cert match maxvalue mediumblob mediumint mediumtext middleint minute_microsecond
  minute_second mod modifies natural no_write_to_binlog not nth_value ntile null numeric of offset on
  optimize optimizer_costs option optionally or order out outer outfile over page_checksum parse_vcol_expr
  partition percent_rank portion precision primary procedure purge range rank read read_write reads real
  recursive ref_system_id references regexp release rename repeat replace require resignal restrict return
  returning revoke right rlike rollup row row_number rows schema schemas second_microsecond select sensitive
  separator set show signal smallint spatial specific sql sql_big_result sql_calc_found_rows
  sql_small_result sqlexception sqlstate sqlwarning ssl starting stats_auto_recalc stats_persistent
  stats_sample_pages stored straight_join system table terminated then tinyblob tinyint tinytext to trailing
  trigger true undo union unique unlock unsigned update usage use using utc_date utc_time utc_timestamp
  values varbinary varchar varcharacter varying virtual when where while window with write xor year_month
  zerofill`);
