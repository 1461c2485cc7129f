/**
 * A JetStream stream as Debezium Server's NATS JetStream sink writes it (one message per
 * change, subject `<prefix>.<schema>.<table>`, the value as payload), read with a durable
 * pull consumer.
 *
 * - Acknowledgement: the consumer's ack policy is `all`: acknowledging one message
 *   acknowledges every message before it. `acknowledge(seq)` acks the newest delivered
 *   message that is safe to ack: every message up to it that carried events is committed.
 *   Messages that carry none (other tables, tombstones, DDL) are acked as soon as nothing
 *   uncommitted comes before them, so a stream of them never fills `max_ack_pending`.
 * - Redelivery: a message whose stream sequence is at or below the newest one already seen
 *   this session (an `ack_wait` expiry, a second pull) is skipped.
 * - Start: the consumer is created when missing, delivering after the committed position;
 *   recreated there when it acknowledged past that position (the warehouse was reset), when
 *   its filter or ack policy no longer match the definition, or when an earlier run left
 *   messages delivered but unacknowledged (they would otherwise wait `ack_wait` to come
 *   again; only on a `limits` stream, where deleting a consumer loses no message).
 * - Flow: a background pump fetches up to a batch at a time while fewer than a batch wait,
 *   so a slow runner holds back the stream rather than filling memory.
 */
import {
  AckPolicy,
  DeliverPolicy,
  NatsError,
  ReplayPolicy,
  RetentionPolicy,
  connect,
  nanos,
  type ConnectionOptions,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { Logger } from '../../../destinations/destination.js';
import { redact } from '../../../engines/secrets.js';
import type { PipelineEvent, SourceLag } from '../../events.js';

export interface JetStreamOptions {
  /** The server URL(s), comma-separated; may hold `user:password@` or `token@`. */
  url: string;
  stream: string;
  /** Filter subjects (default: every subject of the stream). */
  subjects?: string[];
  /** The durable consumer's name. */
  consumer: string;
  /** Shown in the server's connection list and the consumer's description. */
  pipeline: string;
  ackWaitMs: number;
  maxAckPending: number;
  /** Messages per fetch and per yielded batch. */
  batch: number;
  logger: Logger;
}

/** A message handed to the decoder. */
export interface StreamMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
}

/** How long a pull request waits on the server for messages before another is sent. */
const FETCH_EXPIRES_MS = 30_000;
/** Consecutive failed fetches before the source gives up (the runner marks the pipeline failed). */
const MAX_FETCH_FAILURES = 5;

interface Delivered {
  seq: number;
  msg: JsMsg;
  /** It produced events the runner will commit (and acknowledge). */
  carrying: boolean;
}

/** Wakes one waiter; a wake with nobody waiting is dropped (waiters check state first). */
class Signal {
  private waiter: (() => void) | undefined;
  wait(): Promise<void> {
    return new Promise((resolve) => (this.waiter = resolve));
  }
  notify(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

export class JetStreamReader {
  private connecting: Promise<NatsConnection> | undefined;
  private closing = false;
  private session = 0;
  private pumping: Promise<void> | undefined;
  private fetching: ConsumerMessages | undefined;
  private failure: Error | undefined;
  private queue: JsMsg[] = [];
  private readonly dataReady = new Signal();
  private readonly roomReady = new Signal();
  /** Delivered this session and not yet acknowledged, by increasing stream sequence. */
  private delivered: Delivered[] = [];
  private highestSeen = 0;
  private acknowledged = 0;

  constructor(private readonly options: JetStreamOptions) {}

  /** The server(s), never with credentials: what messages show. */
  get where(): string {
    return serversOf(this.options.url).servers.join(',');
  }

  /**
   * Events from the stream after sequence `after` (0: from its start), following until
   * close(). `decode` turns one message into events (throwing when it is malformed).
   */
  async *read(
    after: number,
    decode: (message: StreamMessage) => PipelineEvent[],
  ): AsyncGenerator<PipelineEvent[]> {
    const session = await this.newSession(after);
    let consumer: Consumer;
    try {
      consumer = await this.prepareConsumer(after);
    } catch (e) {
      // Cut off by close() (the drain): a stopped runner no longer waits for this iterator.
      if (this.closing) return;
      throw e;
    }
    if (this.closing || session !== this.session) return;
    this.pumping = this.pump(consumer, session);
    for (;;) {
      if (this.closing || session !== this.session) return;
      if (this.failure) throw this.failure;
      if (this.queue.length === 0) {
        await this.dataReady.wait();
        continue;
      }
      const messages = this.queue.splice(0, this.options.batch);
      this.roomReady.notify();
      const events = this.take(messages, after, decode);
      await this.settle();
      if (events.length > 0) yield events;
    }
  }

  /** Everything up to stream sequence `seq` is committed downstream. */
  async acknowledge(seq: number): Promise<void> {
    if (seq > this.acknowledged) this.acknowledged = seq;
    await this.settle();
  }

  async lag(): Promise<SourceLag> {
    if (!this.connecting || this.closing) return {};
    const jsm = await (await this.connecting).jetstreamManager();
    const info = await jsm.consumers.info(this.options.stream, this.options.consumer);
    return { events: info.num_pending + info.num_ack_pending };
  }

  /** Ends the reading promptly (the iterator returns) and drains the connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopPump();
    await this.pumping;
    const connection = await this.connecting?.catch(() => undefined);
    if (connection && !connection.isClosed()) await connection.drain().catch(() => undefined);
  }

  // ------------------------------------------------------------------ session

  private async newSession(after: number): Promise<number> {
    const session = ++this.session;
    // A second start (the runner starting again) ends the first one's pump.
    this.stopPump();
    await this.pumping;
    this.queue = [];
    this.delivered = [];
    this.failure = undefined;
    this.highestSeen = 0;
    this.acknowledged = after;
    return session;
  }

  private stopPump(): void {
    this.fetching?.stop();
    this.dataReady.notify();
    this.roomReady.notify();
  }

  /** Messages not seen this session, as events; the committed ones and the empty ones only to acknowledge. */
  private take(
    messages: JsMsg[],
    after: number,
    decode: (m: StreamMessage) => PipelineEvent[],
  ): PipelineEvent[] {
    const events: PipelineEvent[] = [];
    for (const msg of messages) {
      if (msg.seq <= this.highestSeen) continue;
      this.highestSeen = msg.seq;
      if (msg.seq <= after) {
        this.delivered.push({ seq: msg.seq, msg, carrying: false });
        continue;
      }
      let decoded: PipelineEvent[];
      try {
        decoded = decode({ seq: msg.seq, subject: msg.subject, data: msg.data });
      } catch (e) {
        // The events before the malformed message go first; the next pull throws.
        this.fail(e instanceof Error ? e : new Error(String(e)));
        break;
      }
      this.delivered.push({ seq: msg.seq, msg, carrying: decoded.some((e) => e.kind !== 'schema') });
      events.push(...decoded);
    }
    return events;
  }

  /**
   * Acks the newest delivered message before which everything carrying events is
   * committed (ack policy `all` acks all before it too).
   */
  private async settle(): Promise<void> {
    let last = -1;
    for (let i = 0; i < this.delivered.length; i++) {
      const entry = this.delivered[i]!;
      if (entry.carrying && entry.seq > this.acknowledged) break;
      last = i;
    }
    if (last < 0) return;
    const target = this.delivered[last]!;
    this.delivered = this.delivered.slice(last + 1);
    if (this.closing) return;
    try {
      await target.msg.ackAck();
    } catch (e) {
      // Harmless: the next ack covers this one, and a restart resumes from the committed position.
      this.options.logger.warn('could not acknowledge a JetStream message', {
        pipeline: this.options.pipeline,
        stream: this.options.stream,
        seq: target.seq,
        error: redact((e as Error).message),
      });
    }
  }

  // --------------------------------------------------------------------- pump

  private async pump(consumer: Consumer, session: number): Promise<void> {
    let failures = 0;
    const active = () => !this.closing && session === this.session && !this.failure;
    while (active()) {
      if (this.queue.length >= this.options.batch) {
        await this.roomReady.wait();
        continue;
      }
      try {
        const messages = await consumer.fetch({
          max_messages: this.options.batch,
          expires: FETCH_EXPIRES_MS,
        });
        this.fetching = messages;
        if (!active()) messages.stop();
        for await (const msg of messages) {
          if (!active()) break;
          this.queue.push(msg);
          this.dataReady.notify();
        }
        failures = 0;
      } catch (e) {
        if (!active()) break;
        const error = e as Error;
        if (++failures >= MAX_FETCH_FAILURES || isMissing(error)) {
          this.fail(
            new Error(
              redact(`reading JetStream stream ${this.options.stream} at ${this.where}: ${describe(error)}`),
            ),
          );
          break;
        }
        this.options.logger.warn('reading the JetStream stream failed; trying again', {
          pipeline: this.options.pipeline,
          stream: this.options.stream,
          error: redact(describe(error)),
        });
        await this.pause(500 * 2 ** failures);
      } finally {
        this.fetching = undefined;
      }
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.dataReady.notify();
  }

  /** Waits, unless closed or restarted meanwhile. */
  private async pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((done) => (timer = setTimeout(done, ms))), this.roomReady.wait()]);
    clearTimeout(timer);
  }

  // ---------------------------------------------------------------- consumer

  private connection(): Promise<NatsConnection> {
    if (this.closing) return Promise.reject(new Error('the source is closed'));
    this.connecting ??= this.connect();
    return this.connecting;
  }

  private async connect(): Promise<NatsConnection> {
    try {
      const connection = await connect({
        ...serversOf(this.options.url),
        name: `strata pipeline ${this.options.pipeline}`,
        timeout: 10_000,
      });
      void connection.closed().then((error) => {
        if (!this.closing)
          this.fail(
            new Error(
              redact(`the connection to NATS at ${this.where} closed${error ? `: ${describe(error)}` : ''}`),
            ),
          );
      });
      return connection;
    } catch (e) {
      this.connecting = undefined;
      throw new Error(redact(`cannot connect to NATS at ${this.where}: ${describe(e as Error)}`));
    }
  }

  /** The durable consumer, made to deliver after `after`. */
  private async prepareConsumer(after: number): Promise<Consumer> {
    const { stream, consumer: name, pipeline, logger } = this.options;
    const connection = await this.connection();
    const jsm = await connection.jetstreamManager();
    const streamInfo = await jsm.streams.info(stream).catch((e: Error) => {
      throw new Error(
        redact(
          isMissing(e)
            ? `JetStream stream ${stream} does not exist at ${this.where}`
            : `cannot read JetStream stream ${stream} at ${this.where}: ${describe(e)}`,
        ),
      );
    });
    if (after > streamInfo.state.last_seq)
      logger.warn(
        'the stream ends before the committed position: was it recreated? Nothing is read until it passes it',
        {
          pipeline,
          stream,
          committed: after,
          last: streamInfo.state.last_seq,
        },
      );
    const existing = await consumerInfo(jsm, stream, name);
    const fields = { pipeline, stream, consumer: name, from: after + 1 };
    if (existing) {
      const reason = this.recreateReason(existing, after, streamInfo.config.retention);
      if (!reason) {
        await this.updateLimits(jsm, existing);
        return connection.jetstream().consumers.get(stream, name);
      }
      if (reason.level === 'warn') logger.warn(`recreating the JetStream consumer: ${reason.text}`, fields);
      else logger.info(`recreating the JetStream consumer: ${reason.text}`, fields);
      await jsm.consumers.delete(stream, name);
    } else if (after > 0) {
      logger.warn('recreating the JetStream consumer: it is missing (deleted, or expired)', fields);
    } else {
      logger.info('creating the JetStream consumer', fields);
    }
    await jsm.consumers.add(stream, this.consumerConfig(after));
    return connection.jetstream().consumers.get(stream, name);
  }

  private recreateReason(
    info: ConsumerInfo,
    after: number,
    retention: RetentionPolicy,
  ): { text: string; level: 'warn' | 'info' } | undefined {
    if (info.ack_floor.stream_seq > after)
      return {
        text: `it acknowledged up to ${info.ack_floor.stream_seq}, past the committed position ${after} (was the warehouse reset?)`,
        level: 'warn',
      };
    if (info.config.ack_policy !== AckPolicy.All)
      return { text: `its ack policy is ${info.config.ack_policy}, not all`, level: 'warn' };
    if (!sameSubjects(filterOf(info.config), this.options.subjects ?? []))
      return { text: 'its subject filter is not the definition’s', level: 'warn' };
    if (info.num_ack_pending > 0 && retention === RetentionPolicy.Limits)
      return {
        text: `${info.num_ack_pending} messages delivered to an earlier run were never acknowledged (recreated so they come now, not after ack_wait)`,
        level: 'info',
      };
    return undefined;
  }

  /** ack_wait and max_ack_pending follow the definition (commitEvents) without recreating. */
  private async updateLimits(jsm: JetStreamManager, info: ConsumerInfo): Promise<void> {
    const ackWait = nanos(this.options.ackWaitMs);
    if (info.config.ack_wait === ackWait && info.config.max_ack_pending === this.options.maxAckPending)
      return;
    await jsm.consumers.update(this.options.stream, this.options.consumer, {
      ack_wait: ackWait,
      max_ack_pending: this.options.maxAckPending,
    });
  }

  private consumerConfig(after: number): Partial<ConsumerConfig> {
    const subjects = this.options.subjects ?? [];
    return {
      durable_name: this.options.consumer,
      description: `Strata pipeline ${this.options.pipeline}`,
      ack_policy: AckPolicy.All,
      ack_wait: nanos(this.options.ackWaitMs),
      max_ack_pending: this.options.maxAckPending,
      max_deliver: -1,
      replay_policy: ReplayPolicy.Instant,
      ...(after > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }
        : { deliver_policy: DeliverPolicy.All }),
      // One subject works on every server; several need filter_subjects (NATS 2.10+).
      ...(subjects.length === 1 ? { filter_subject: subjects[0] } : {}),
      ...(subjects.length > 1 ? { filter_subjects: subjects } : {}),
    };
  }
}

async function consumerInfo(
  jsm: JetStreamManager,
  stream: string,
  name: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (e) {
    if (isMissing(e as Error)) return undefined;
    throw e;
  }
}

function filterOf(config: ConsumerConfig): string[] {
  if (config.filter_subjects && config.filter_subjects.length > 0) return config.filter_subjects;
  return config.filter_subject ? [config.filter_subject] : [];
}

function sameSubjects(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** A stream or consumer that does not exist (or was deleted while read). */
function isMissing(error: Error): boolean {
  if (!(error instanceof NatsError)) return false;
  const code = error.api_error?.code ?? Number(error.code);
  return code === 404 || code === 409;
}

function describe(error: Error): string {
  const code = error instanceof NatsError ? error.code : (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

/**
 * The servers of a NATS URL list, credentials taken out into options: the client does not
 * read them from the URL, and the servers list is what messages may show.
 */
export function serversOf(url: string): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token'> & {
  servers: string[];
} {
  const servers: string[] = [];
  let user: string | undefined;
  let pass: string | undefined;
  for (const entry of url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    let parsed: URL;
    try {
      parsed = new URL(entry.includes('://') ? entry : `nats://${entry}`);
    } catch {
      throw new Error('the NATS URL is not a URL');
    }
    if (parsed.username && user === undefined) {
      user = decodeURIComponent(parsed.username);
      pass = parsed.password ? decodeURIComponent(parsed.password) : undefined;
    }
    servers.push(`${parsed.protocol}//${parsed.host}`);
  }
  if (servers.length === 0) throw new Error('the NATS URL is empty');
  // `nats://token@host`: a user without a password is a token.
  if (user !== undefined && pass === undefined) return { servers, token: user };
  return { servers, ...(user !== undefined ? { user, pass } : {}) };
}
