/**
 * What running or auditing a pipeline opens, and closes again whatever happens: its own
 * writable warehouse (a DuckDB and a catalog connection, so one pipeline's failure or slow
 * commit never holds another's) and its source. Sources come from a factory, so the worker,
 * the CLI and tests share this code and tests can inject scripted sources.
 */
import type { ProjectConfig, PipelineDefinition } from '../core/definitions/schema.js';
import type { Logger } from '../destinations/destination.js';
import { openWritableWarehouse, type WritableWarehouse } from '../engines/warehouse-location.js';
import type { ChangeSource } from './events.js';
import { openSource, type SourceContext } from './sources/index.js';

export type SourceFactory = (context: SourceContext) => Promise<ChangeSource>;

/** The factory of the real sources (postgres, debezium). */
export const defaultSourceFactory: SourceFactory = openSource;

export type WarehouseOpener = (projectDir: string, config: ProjectConfig) => Promise<WritableWarehouse>;

export interface ResourceOptions {
  projectDir: string;
  config: ProjectConfig;
  pipeline: PipelineDefinition;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  openSource?: SourceFactory;
  openWarehouse?: WarehouseOpener;
}

export interface PipelineResources {
  opened: WritableWarehouse;
  source: ChangeSource;
}

/** Opens the warehouse and the source, runs `body`, closes both (a failing close is logged, not thrown). */
export async function withPipelineResources<T>(
  options: ResourceOptions,
  body: (resources: PipelineResources) => Promise<T>,
): Promise<T> {
  const opened = await (options.openWarehouse ?? openWritableWarehouse)(options.projectDir, options.config);
  try {
    const source = await (options.openSource ?? defaultSourceFactory)({
      pipeline: options.pipeline,
      projectDir: options.projectDir,
      env: options.env,
      logger: options.logger,
    });
    try {
      return await body({ opened, source });
    } finally {
      await closeQuietly('source', () => source.close(), options);
    }
  } finally {
    await closeQuietly('warehouse', () => opened.close(), options);
  }
}

async function closeQuietly(
  what: string,
  close: () => Promise<void>,
  options: ResourceOptions,
): Promise<void> {
  try {
    await close();
  } catch (e) {
    options.logger.warn(`could not close the pipeline's ${what}`, {
      pipeline: options.pipeline.name,
      error: (e as Error).message,
    });
  }
}
