/**
 * Words that must be quoted as identifiers in at least one of the dialects. Quoting only
 * when needed keeps the SQL readable; quoting these keeps it valid everywhere.
 */
const RESERVED = new Set(
  `all alter analyse analyze and any array as asc asymmetric authorization between binary both by call case cast check
  collate column constraint create cross cube current current_catalog current_date current_path current_role
  current_schema current_time current_timestamp current_user deallocate default deferrable delete desc describe
  distinct do drop else end escape except execute exists extract false fetch filter for foreign freeze from full
  function grant group grouping having ilike in initially inner insert intersect interval into is isnull join
  json_array json_exists json_object json_query json_table json_value lateral leading left like limit listagg
  localtime localtimestamp natural normalize not notnull null of offset on only or order outer over overlaps
  placing pivot pivot_longer pivot_wider prepare primary qualify recursive references returning right rollup row
  rows select semi session_user set show similar skip some summarize symmetric table tablesample then to trailing
  trim true uescape union unique unknown unnest unpivot update user using values variadic verbose when where
  window with within`.split(/\s+/),
);

const PLAIN = /^[a-z_][a-z0-9_]*$/;

export function quoteIdentifier(name: string): string {
  if (PLAIN.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}
