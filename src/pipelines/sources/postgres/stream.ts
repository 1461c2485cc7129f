/**
 * The replication connection (pgoutput through pg-logical-replication), as a queue the source
 * pulls from. Nothing is confirmed to the slot but what the source acknowledges (the
 * library's periodic status updates would confirm what was only received, losing it on a
 * crash); keepalives that ask for an answer get the last acknowledged position. The library's
 * flow control pauses the socket while the queue is full.
 */
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { ClientConfig } from 'pg';
import { formatLsn } from './positions.js';

/** Reads every value as text: types.ts converts them (see there for why). */
class TextPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const message = super.parse(buffer);
    // The parser caches this relation and decodes the following tuples with its columns' parsers.
    if (message.tag === 'relation')
      for (const column of message.columns) column.parser = (raw: unknown) => raw;
    return message;
  }
}

const QUEUE_HIGH = 20_000;

export class ReplicationStream {
  private readonly service: LogicalReplicationService;
  private readonly queue: Pgoutput.Message[] = [];
  private wake: (() => void) | undefined;
  private drained: (() => void) | undefined;
  private failure: Error | undefined;
  private ended = false;
  private confirmed: bigint;

  constructor(
    config: ClientConfig,
    private readonly slot: string,
    private readonly publication: string,
    start: bigint,
  ) {
    this.confirmed = start;
    this.service = new LogicalReplicationService(config, {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: true },
    });
    this.service.on('data', (_lsn: string, message: Pgoutput.Message) => this.receive(message));
    this.service.on('heartbeat', (_lsn: string, _time: number, reply: boolean) => {
      if (reply) void this.confirm(this.confirmed);
    });
    this.service.on('error', (e: Error) => this.fail(e));
  }

  /** Starts streaming from `lsn` (transactions committed before it are not sent again). */
  open(lsn: bigint): void {
    const plugin = new TextPgoutputPlugin({
      protoVersion: 1,
      publicationNames: [this.publication],
      messages: true,
    });
    this.service.subscribe(plugin, this.slot, formatLsn(lsn)).then(
      () => this.end(),
      (e: Error) => this.fail(e),
    );
  }

  private receive(message: Pgoutput.Message): Promise<void> | void {
    this.queue.push(message);
    this.wake?.();
    if (this.queue.length < QUEUE_HIGH) return;
    return new Promise((done) => (this.drained = done));
  }

  private fail(e: Error): void {
    if (this.ended) return;
    this.failure ??= e;
    this.wake?.();
  }

  private end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** The messages received so far (waiting for at least one), or undefined once the stream ended. */
  async take(max: number): Promise<Pgoutput.Message[] | undefined> {
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((done) => (this.wake = done));
      this.wake = undefined;
    }
    const batch = this.queue.splice(0, max);
    if (this.queue.length < QUEUE_HIGH / 2) {
      this.drained?.();
      this.drained = undefined;
    }
    return batch;
  }

  /** Tells the slot everything below `lsn` is durable downstream. */
  async confirm(lsn: bigint): Promise<void> {
    if (lsn > this.confirmed) this.confirmed = lsn;
    // The library reports the LSN it is given plus one.
    if (this.confirmed > 0n) await this.service.acknowledge(formatLsn(this.confirmed - 1n));
  }

  async close(): Promise<void> {
    this.ended = true;
    this.drained?.();
    this.wake?.();
    await this.service.destroy();
  }
}
