/** Chooses and opens the engine a command runs on: flags first, then strata.yaml, then the default. */
import { isAbsolute, join } from 'node:path';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { QueryError, type Engine, type EngineName } from './engine.js';
import { resolveSecret } from './secrets.js';

export const DEFAULT_DATABASE = '.strata/demo.duckdb';

export interface EngineChoice {
  engine?: string;
  database?: string;
}

export function engineName(choice: EngineChoice, config: ProjectConfig): EngineName {
  const name = choice.engine ?? config.engine ?? 'duckdb';
  if (name !== 'duckdb' && name !== 'postgres' && name !== 'trino') {
    throw new UsageError(`unknown engine '${name}' (expected duckdb, postgres or trino)`);
  }
  return name;
}

export function duckDbPath(projectDir: string, choice: EngineChoice, config: ProjectConfig): string {
  if (choice.database) return choice.database;
  const configured = config.duckdb?.database ?? DEFAULT_DATABASE;
  return isAbsolute(configured) ? configured : join(projectDir, configured);
}

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
      return DuckDbEngine.open({
        path: duckDbPath(projectDir, choice, config),
        readOnly: options.readOnly ?? true,
      });
    }
    case 'postgres': {
      const { PostgresEngine } = await import('./postgres.js');
      const configured = config.postgres?.connection;
      const connection =
        choice.database ?? (configured ? resolveSecret(configured) : process.env.DATABASE_URL);
      return PostgresEngine.connect(
        connection,
        config.postgres?.schema ? { searchPath: config.postgres.schema } : {},
      );
    }
    case 'trino':
      throw new QueryError(
        'trino',
        'the Trino engine is not available in this build yet; use --engine duckdb or postgres',
      );
  }
}

/** Bad usage of a command (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
