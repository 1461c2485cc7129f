/**
 * `strata generate source <schema.table>`: drafts `definitions/sources/<name>.yaml` from a
 * table's columns, read from the embedded warehouse's Iceberg schema or from the configured
 * engine's information_schema (PostgreSQL, MySQL, a DuckDB file).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { fieldTypeForIceberg, fieldTypeForSqlType } from '../core/import/column-types.js';
import { draftSourceYaml, singular, strataName, type TableColumn } from '../core/import/draft-source.js';
import type { Engine } from '../engines/engine.js';
import { engineName, openEngine, UsageError, type EngineChoice } from '../engines/open-engine.js';
import { openCatalog, warehouseExists, warehouseLocation } from '../engines/warehouse-location.js';
import { loadProject } from '../project/load-project.js';
import { parseMetadataJson, schemaById } from '../warehouse/metadata.js';
import { fromUri } from '../warehouse/files.js';
import { readFile } from 'node:fs/promises';

export interface GenerateFlags extends EngineChoice {
  name?: string;
  out?: string;
  force?: boolean;
}

/** `schema.table` or `catalog.schema.table`, split. */
function tableParts(table: string): { catalog?: string; schema: string; name: string } {
  const parts = table.split('.');
  if ((parts.length !== 2 && parts.length !== 3) || parts.some((p) => p === ''))
    throw new UsageError(`expected schema.table (or catalog.schema.table), got '${table}'`);
  const [a, b, c] = parts as [string, string, string | undefined];
  return c === undefined ? { schema: a, name: b } : { catalog: a, schema: b, name: c };
}

export async function generateSourceCommand(
  projectDir: string,
  table: string,
  flags: GenerateFlags,
): Promise<number> {
  const { config } = loadProject(projectDir);
  const parts = tableParts(table);
  const name = flags.name ?? strataName(parts.name);
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new UsageError(`--name '${name}' must match ^[a-z][a-z0-9_]*$`);
  const target =
    flags.out === '-' ? undefined : (flags.out ?? join(projectDir, 'definitions', 'sources', `${name}.yaml`));
  if (target && existsSync(target) && !flags.force)
    throw new UsageError(
      `${target} exists already: pass --force to overwrite it, or --out - to print the draft`,
    );
  const columns = await readTableColumns(projectDir, config, flags, parts);
  const unique = await uniqueCandidates(projectDir, config, flags, table, parts.name, columns);
  const yaml = draftSourceYaml({ table, name, columns, isUnique: (c) => unique.get(c) });
  if (!target) {
    process.stdout.write(yaml);
    return 0;
  }
  mkdirSync(join(target, '..'), { recursive: true });
  writeFileSync(target, yaml);
  process.stdout.write(
    `wrote ${target}: source ${name}, ${columns.length} field${columns.length === 1 ? '' : 's'}\n`,
  );
  return 0;
}

/** Whether the embedded warehouse answers for this table (no --database, DuckDB, a catalog there). */
function usesWarehouse(projectDir: string, config: ProjectConfig, flags: EngineChoice): boolean {
  return (
    flags.database === undefined &&
    engineName(flags, config) === 'duckdb' &&
    warehouseExists(warehouseLocation(projectDir, config))
  );
}

async function readTableColumns(
  projectDir: string,
  config: ProjectConfig,
  flags: EngineChoice,
  parts: { catalog?: string; schema: string; name: string },
): Promise<TableColumn[]> {
  if (usesWarehouse(projectDir, config, flags) && parts.catalog === undefined) {
    const fromWarehouse = await icebergColumns(projectDir, config, parts.schema, parts.name);
    if (fromWarehouse) return fromWarehouse;
    // The warehouse engine also reads strata.yaml's duckdb.database: only then look further.
    if (!config.duckdb?.database)
      throw new UsageError(
        `table ${parts.schema}.${parts.name} is not in the embedded warehouse: load it with \`strata import FILE --table ${parts.schema}.${parts.name}\`, or point strata.yaml at your database (docs/configuration.md)`,
      );
  }
  const engine = await openEngine(projectDir, flags, config);
  try {
    const columns = await informationSchemaColumns(engine, parts);
    if (columns.length === 0)
      throw new UsageError(
        `table ${[parts.catalog, parts.schema, parts.name].filter(Boolean).join('.')} not found on ${engine.name}`,
      );
    return columns;
  } finally {
    await engine.close();
  }
}

/** The current Iceberg schema of a warehouse table; undefined when the catalog has no such table. */
async function icebergColumns(
  projectDir: string,
  config: ProjectConfig,
  namespace: string,
  name: string,
): Promise<TableColumn[] | undefined> {
  const catalog = await openCatalog(warehouseLocation(projectDir, config));
  try {
    const location = await catalog.currentMetadataLocation({ namespace, name });
    if (location === undefined) return undefined;
    const metadata = parseMetadataJson(await readFile(fromUri(location), 'utf8'));
    const schema = schemaById(metadata, metadata['current-schema-id']);
    return schema.fields.map((f) => ({ name: f.name, type: fieldTypeForIceberg(f.type) }));
  } finally {
    await catalog.close();
  }
}

/** A string literal every supported dialect reads the same (MySQL also treats backslashes as escapes). */
function literal(engine: Engine, value: string): string {
  const escaped = engine.dialect === 'mysql' ? value.replaceAll('\\', '\\\\') : value;
  return `'${escaped.replaceAll("'", "''")}'`;
}

async function informationSchemaColumns(
  engine: Engine,
  parts: { catalog?: string; schema: string; name: string },
): Promise<TableColumn[]> {
  const catalog = parts.catalog === undefined ? '' : ` AND table_catalog = ${literal(engine, parts.catalog)}`;
  // MySQL's column_type keeps tinyint(1), its spelling of boolean; data_type drops it.
  const typeColumn = engine.dialect === 'mysql' ? 'column_type' : 'data_type';
  const { rows } = await engine.query(
    `SELECT column_name, ${typeColumn} FROM information_schema.columns WHERE table_schema = ${literal(engine, parts.schema)} AND table_name = ${literal(engine, parts.name)}${catalog} ORDER BY ordinal_position`,
  );
  return rows.map((row) => ({ name: String(row[0]), type: fieldTypeForSqlType(String(row[1])) }));
}

/**
 * For the key candidates present (id, <table>_id, <singular>_id), whether their values are
 * unique and non-null: one aggregate query; unknown (undefined) when it cannot run.
 */
async function uniqueCandidates(
  projectDir: string,
  config: ProjectConfig,
  flags: EngineChoice,
  table: string,
  tableName: string,
  columns: readonly TableColumn[],
): Promise<Map<string, boolean>> {
  const bare = strataName(tableName);
  const names = new Set(['id', `${bare}_id`, `${singular(bare)}_id`]);
  const candidates = columns.filter((c) => names.has(c.name.toLowerCase())).map((c) => c.name);
  const result = new Map<string, boolean>();
  if (candidates.length === 0) return result;
  let engine: Engine | undefined;
  try {
    engine = await openEngine(projectDir, flags, config);
    const quote = (id: string) =>
      engine!.dialect === 'mysql' ? `\`${id.replaceAll('`', '``')}\`` : `"${id.replaceAll('"', '""')}"`;
    const from = table.split('.').map(quote).join('.');
    const checks = candidates.map(
      (c) => `CASE WHEN count(DISTINCT ${quote(c)}) = count(*) THEN 1 ELSE 0 END`,
    );
    const { rows } = await engine.query(`SELECT ${checks.join(', ')} FROM ${from}`);
    candidates.forEach((c, i) => result.set(c, Number(rows[0]?.[i]) === 1));
  } catch {
    // Checking is a nicety: a draft without it is still a draft.
  } finally {
    await engine?.close();
  }
  return result;
}
