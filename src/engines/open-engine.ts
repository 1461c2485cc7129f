/** Chooses and opens the engine a command runs on: flags first, then strata.yaml, then the default. */
import { isAbsolute, join } from 'node:path';
import { durationMs, ENGINES, type ProjectConfig } from '../core/definitions/schema.js';
import { QueryError, type Engine, type EngineName } from './engine.js';
import { resolveSecret } from './secrets.js';
import { openCatalog, warehouseExists, warehouseLocation } from './warehouse-location.js';

/** How long a query built from definitions may run on PostgreSQL, MySQL or Trino unless strata.yaml says otherwise. */
export const DEFAULT_STATEMENT_TIMEOUT = '10m';

export interface EngineChoice {
  engine?: string;
  database?: string;
}

export function engineName(choice: EngineChoice, config: ProjectConfig): EngineName {
  const name = choice.engine ?? config.engine ?? 'duckdb';
  if (!(ENGINES as readonly string[]).includes(name))
    throw new UsageError(`unknown engine '${name}' (expected ${ENGINES.join(', ')})`);
  return name as EngineName;
}

/** strata.yaml `duckdb.database`, resolved against the project folder. */
function configuredDatabase(projectDir: string, config: ProjectConfig): string | undefined {
  const configured = config.duckdb?.database;
  if (!configured) return undefined;
  return isAbsolute(configured) ? configured : join(projectDir, configured);
}

/**
 * `--database FILE` names exactly the DuckDB file to read. Without it the embedded default
 * reads the project's Iceberg warehouse (plus `duckdb.database` from strata.yaml, when
 * set); a project with neither has nothing to read yet.
 */
export async function openEngine(
  projectDir: string,
  choice: EngineChoice,
  config: ProjectConfig,
  options: { readOnly?: boolean } = {},
): Promise<Engine> {
  const name = engineName(choice, config);
  switch (name) {
    case 'duckdb': {
      // Engines load lazily: `compile` and `validate` never pay for a native driver.
      const { DuckDbEngine } = await import('./duckdb.js');
      if (choice.database) return openLockedFile(DuckDbEngine, choice.database, options.readOnly ?? true);
      const location = warehouseLocation(projectDir, config);
      const configuredFile = configuredDatabase(projectDir, config);
      if (warehouseExists(location)) {
        const { IcebergDuckDbEngine } = await import('./iceberg-duckdb.js');
        return IcebergDuckDbEngine.open({
          root: location.root,
          catalog: await openCatalog(location),
          ...(configuredFile ? { databaseFile: configuredFile } : {}),
        });
      }
      if (configuredFile) return openLockedFile(DuckDbEngine, configuredFile, options.readOnly ?? true);
      throw new QueryError(
        'duckdb',
        'no warehouse yet: build the demo with `strata demo`, or pass --database FILE',
      );
    }
    case 'postgres': {
      const { PostgresEngine } = await import('./postgres.js');
      const configured = config.postgres?.connection;
      const connection =
        choice.database ?? (configured ? resolveSecret(configured) : process.env.DATABASE_URL);
      const pg = config.postgres ?? {};
      return PostgresEngine.connect(connection, {
        readOnly: true,
        statementTimeoutMs: durationMs(pg.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT),
        ...(pg.schema ? { searchPath: pg.schema } : {}),
        ...(pg.role ? { role: pg.role } : {}),
      });
    }
    case 'mysql': {
      const { MySqlEngine } = await import('./mysql.js');
      const configured = config.mysql?.connection;
      const connection = choice.database ?? (configured ? resolveSecret(configured) : process.env.MYSQL_URL);
      return MySqlEngine.connect(connection, {
        readOnly: true,
        statementTimeoutMs: durationMs(config.mysql?.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT),
      });
    }
    case 'trino': {
      const { TrinoEngine, trinoOptionsFromEnv } = await import('./trino.js');
      const trino = config.trino ?? {};
      return TrinoEngine.connect({
        ...trinoOptionsFromEnv(trino),
        session: {
          query_max_execution_time: `${durationMs(trino.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT)}ms`,
        },
      });
    }
  }
}

/** A DuckDB file, attached, then the engine locked down: queries reach nothing but that file. */
async function openLockedFile(
  engine: typeof import('./duckdb.js').DuckDbEngine,
  path: string,
  readOnly: boolean,
): Promise<Engine> {
  const opened = await engine.open({ path, readOnly });
  await opened.lockDown({ directories: [], files: [path] });
  return opened;
}

/** Bad usage of a command (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
