/** The processors of a pipeline definition, as one chain per upstream table. */
import type { PipelineDefinition, ProcessorDefinition } from '../../core/definitions/schema.js';
import { FilterProcessor } from './filter.js';
import { GraphqlEnrichProcessor, type EnrichOptions } from './graphql-enrich.js';
import { ProcessorChain, type Processor } from './processor.js';
import { ProjectProcessor } from './project.js';

export { ProcessorChain, type DeadLetter, type Processor, type ProcessorOutput } from './processor.js';

function buildProcessor(definition: ProcessorDefinition, index: number, options: EnrichOptions): Processor {
  const label = `processors[${index}] (${definition.type})`;
  switch (definition.type) {
    case 'filter':
      return new FilterProcessor(label, definition.where);
    case 'project':
      return new ProjectProcessor(label, definition.fields);
    case 'graphql_enrich':
      return new GraphqlEnrichProcessor(label, definition, options);
  }
}

export interface PipelineProcessors {
  chains: Map<string, ProcessorChain>;
  close(): Promise<void>;
}

/** One processor instance per definition (shared by the tables it applies to: one cache, one sandbox). */
export function buildProcessors(
  pipeline: PipelineDefinition,
  options: EnrichOptions = {},
): PipelineProcessors {
  const definitions = pipeline.processors ?? [];
  const processors = definitions.map((d, i) => buildProcessor(d, i, options));
  const chains = new Map(
    pipeline.source.tables.map((table) => [
      table,
      new ProcessorChain(
        processors.filter((_, i) => !definitions[i]!.tables || definitions[i]!.tables.includes(table)),
      ),
    ]),
  );
  return {
    chains,
    close: async () => {
      await Promise.all(processors.map((p) => p.close?.()));
    },
  };
}
