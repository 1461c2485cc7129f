/** What every pipeline source is opened with. */
import type { PipelineDefinition } from '../../core/definitions/schema.js';
import type { Logger } from '../../destinations/destination.js';

export interface SourceContext {
  pipeline: PipelineDefinition;
  /** The project folder: a Debezium source's `files` are relative to it. */
  projectDir: string;
  /** Where `env:NAME` references resolve. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
}
