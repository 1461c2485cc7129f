/** Where a project's run history lives, from strata.yaml `runs:` (SQLite by default). */
import { isAbsolute, join } from 'node:path';
import { durationMs, type ProjectConfig } from '../core/definitions/schema.js';
import { resolveSecret } from '../engines/secrets.js';
import type { HistoryLocation } from './history.js';

export const DEFAULT_RUNS_PATH = '.strata/runs.db';

export function historyLocation(
  projectDir: string,
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
): HistoryLocation {
  const runs = config.runs ?? {};
  const retention = runs.retention ? { retentionMs: durationMs(runs.retention) } : {};
  if (runs.store === 'postgres')
    return {
      client: 'postgres',
      connection: resolveSecret(runs.connection ?? 'env:STRATA_RUNS_DATABASE_URL', env),
      ...retention,
    };
  const path = runs.path ?? DEFAULT_RUNS_PATH;
  return { client: 'sqlite', filename: isAbsolute(path) ? path : join(projectDir, path), ...retention };
}
