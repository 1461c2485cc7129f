/** A pipeline's source, by its `type` (one folder per source kind). */
import type { ChangeSource } from '../events.js';
import type { SourceContext } from './source.js';

export type { SourceContext } from './source.js';

export async function openSource(context: SourceContext): Promise<ChangeSource> {
  const source = context.pipeline.source;
  switch (source.type) {
    case 'postgres':
      throw new Error(`the ${source.type} source is not available yet`);
    case 'debezium': {
      // Loaded when used: the NATS client is only needed by pipelines that read a stream.
      const { DebeziumSource } = await import('./debezium/index.js');
      return new DebeziumSource(context);
    }
  }
}
