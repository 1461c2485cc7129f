/**
 * The `debezium` pipeline source (spec §9): Debezium JSON change events from
 * newline-delimited files (replay, backfill), from a NATS JetStream stream (as Debezium
 * Server's NATS JetStream sink writes it), or both: the files first, then the stream.
 * Positions and their packing into `seq` are in position.ts; the envelope in envelope.ts.
 *
 * A files-only source ends at the end of its last file; with a stream it follows until
 * close(). Strata only reads: there is no heartbeat to emit (Debezium's own heartbeats, on
 * `__debezium-heartbeat.<prefix>`, come through as HeartbeatEvents when subscribed) and no
 * upstream to audit.
 */
import { resolve } from 'node:path';
import type { PipelineSource } from '../../../core/definitions/schema.js';
import { registerSecrets, resolveSecret } from '../../../engines/secrets.js';
import type { ChangeSource, PipelineEvent, Position, SourceLag } from '../../events.js';
import { DEFAULT_COMMIT_EVENTS } from '../../runner.js';
import type { SourceContext } from '../source.js';
import { DebeziumDecoder, DebeziumFormatError } from './envelope.js';
import { readLines } from './files.js';
import { JetStreamReader, serversOf, type StreamMessage } from './jetstream.js';
import {
  MAX_FILES,
  STREAM_BASE_AFTER_FILES,
  filePosition,
  parsePosition,
  streamPosition,
  type DebeziumPosition,
  type FilePosition,
} from './position.js';

type DebeziumDefinition = Extract<PipelineSource, { type: 'debezium' }>;

export interface DebeziumSourceOptions {
  /**
   * How long JetStream waits for an acknowledgement before delivering a message again
   * (default 5 minutes: a commit of 10,000 events, enrichment included, fits well inside).
   */
  ackWaitMs?: number;
  /** Events per batch yielded to the runner (default 1000). */
  batch?: number;
}

const DEFAULT_ACK_WAIT_MS = 5 * 60_000;
const DEFAULT_BATCH = 1000;
/** Room for two full commits in flight, so a commit never waits for the server to deliver. */
const MIN_MAX_ACK_PENDING = 20_000;

export class DebeziumSource implements ChangeSource {
  private readonly definition: DebeziumDefinition;
  private readonly batch: number;
  private readonly jetstream: JetStreamReader | undefined;
  private closing = false;

  constructor(
    private readonly context: SourceContext,
    options: DebeziumSourceOptions = {},
  ) {
    const source = context.pipeline.source;
    if (source.type !== 'debezium')
      throw new Error(`pipeline ${context.pipeline.name}: not a debezium source`);
    if (!source.nats && !source.files)
      throw new Error(`pipeline ${context.pipeline.name}: a debezium source reads nats: or files:`);
    if ((source.files?.length ?? 0) > MAX_FILES)
      throw new Error(`pipeline ${context.pipeline.name}: more than ${MAX_FILES} files`);
    this.definition = source;
    this.batch = options.batch ?? DEFAULT_BATCH;
    if (source.nats) {
      const url = resolveSecret(source.nats.url, context.env);
      // The credentials a URL carries (a token too: `nats://token@host`) are never shown.
      const { pass, token } = serversOf(url);
      registerSecrets([pass, token].filter((s): s is string => s !== undefined));
      const commitEvents = context.pipeline.sink.commitEvents ?? DEFAULT_COMMIT_EVENTS;
      this.jetstream = new JetStreamReader({
        url,
        stream: source.nats.stream,
        ...(source.nats.subjects ? { subjects: source.nats.subjects } : {}),
        consumer: source.nats.consumer ?? `strata_${context.pipeline.name}`,
        pipeline: context.pipeline.name,
        ackWaitMs: options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS,
        maxAckPending: Math.max(MIN_MAX_ACK_PENDING, 2 * commitEvents),
        batch: this.batch,
        logger: context.logger,
      });
    }
  }

  start(from: string | undefined): AsyncIterable<PipelineEvent[]> {
    return this.read(from === undefined ? undefined : parsePosition(from));
  }

  async acknowledge(position: Position): Promise<void> {
    const at = parsePosition(position.resume);
    // Files need no acknowledgement: the committed position is all a restart needs.
    if (at.kind === 'stream') await this.jetstream?.acknowledge(at.seq);
  }

  async lag(): Promise<SourceLag> {
    return this.jetstream ? this.jetstream.lag() : {};
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.jetstream?.close();
  }

  private async *read(from: DebeziumPosition | undefined): AsyncGenerator<PipelineEvent[]> {
    // A new session: every table's schema goes out again before its first change.
    const decoder = new DebeziumDecoder(this.definition.tables);
    const files = this.definition.files ?? [];
    if (from?.kind === 'stream') this.checkStream(from.stream);
    if (files.length > 0 && from?.kind !== 'stream') {
      yield* this.readFiles(files, from, decoder);
      if (this.closing) return;
    }
    if (!this.jetstream || !this.definition.nats) return;
    const stream = this.definition.nats.stream;
    const after = from?.kind === 'stream' ? from.seq : 0;
    const base = from?.kind === 'stream' ? from.base : files.length > 0 || from ? STREAM_BASE_AFTER_FILES : 0;
    const decode = (message: StreamMessage): PipelineEvent[] => {
      const position = streamPosition(stream, message.seq, base);
      try {
        return decoder.decode(new TextDecoder().decode(message.data), position);
      } catch (e) {
        throw located(e, `stream ${stream} sequence ${message.seq} (subject ${message.subject})`);
      }
    };
    yield* this.jetstream.read(after, decode);
  }

  private checkStream(committed: string): void {
    const stream = this.definition.nats?.stream;
    if (stream !== undefined && stream !== committed)
      throw new Error(
        `pipeline ${this.context.pipeline.name}: the committed position is in JetStream stream ${committed}, but the definition reads ${stream}`,
      );
  }

  /** The files from `from` on (the start when it is undefined), in batches. */
  private async *readFiles(
    files: readonly string[],
    from: FilePosition | undefined,
    decoder: DebeziumDecoder,
  ): AsyncGenerator<PipelineEvent[]> {
    if (from && files[from.index] !== from.file)
      throw new Error(
        `pipeline ${this.context.pipeline.name}: the committed position is in ${from.file} (file ${from.index + 1}), which files: no longer lists there; add files after the last one instead`,
      );
    for (let index = from?.index ?? 0; index < files.length; index++) {
      const file = files[index]!;
      const cursor =
        from?.index === index ? { line: from.line, offset: from.offset } : { line: 0, offset: 0 };
      let batch: PipelineEvent[] = [];
      for await (const line of readLines(resolve(this.context.projectDir, file), file, cursor)) {
        if (this.closing) return;
        const position = filePosition(file, index, line.line, line.end);
        try {
          batch.push(...decoder.decode(line.text, position));
        } catch (e) {
          // What came before the malformed line goes first: the runner may commit it.
          if (batch.length > 0) yield batch;
          throw located(e, `${file}:${line.line}`);
        }
        if (batch.length >= this.batch) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    }
  }
}

/** A malformed event's error, saying where it is. */
function located(error: unknown, where: string): Error {
  if (error instanceof DebeziumFormatError) return new Error(`${where}: ${error.message}`);
  return error instanceof Error ? error : new Error(String(error));
}
