/** A pipeline's source, by its `type` (one folder per source kind). */
import type { ChangeSource } from '../events.js';
import type { SourceContext } from './source.js';

export type { SourceContext } from './source.js';

/** Each source is loaded when used: a pipeline pays only for its own client library. */
export async function openSource(context: SourceContext): Promise<ChangeSource> {
  const source = context.pipeline.source;
  switch (source.type) {
    case 'postgres': {
      const { PostgresSource } = await import('./postgres/index.js');
      return new PostgresSource(context);
    }
    case 'debezium': {
      const { DebeziumSource } = await import('./debezium/index.js');
      return new DebeziumSource(context);
    }
  }
}
