/**
 * The `postgres` pipeline source (spec §9): logical replication with pgoutput from a slot and
 * publication it creates or checks, and an initial snapshot that takes no lock beyond a
 * plain SELECT's and interleaves with the live stream (snapshot.ts). Heartbeats are logical
 * messages written upstream, so they travel the same path as the changes.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { z } from 'zod';
import type { PostgresPipelineSource } from '../../../core/definitions/schema.js';
import { resolveSecret } from '../../../engines/secrets.js';
import type { ChangeSource, PipelineEvent, Position, SourceLag } from '../../events.js';
import type { SourceContext } from '../source.js';
import {
  ensurePublication,
  ensureSlot,
  qualified,
  quoteIdent,
  replicationProblems,
  ReplicationSetupError,
  type ReplicationSetup,
} from './catalog.js';
import { ChangeDecoder, messagePrefix } from './decoder.js';
import { formatLsn, parseLsn, parseResume, seqAt, type PostgresResume } from './positions.js';
import { ReplicationStream } from './stream.js';

type Definition = z.infer<typeof PostgresPipelineSource>;

/** Every value as PostgreSQL's text (types.ts converts it). */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

export class PostgresSource implements ChangeSource {
  private readonly def: Definition;
  private readonly setup: ReplicationSetup;
  private admin: pg.Client | undefined;
  private stream: ReplicationStream | undefined;
  private readonly session = randomUUID().slice(0, 8);

  constructor(private readonly context: SourceContext) {
    const source = context.pipeline.source;
    if (source.type !== 'postgres')
      throw new Error(`pipeline ${context.pipeline.name} is not a postgres source`);
    this.def = source;
    const name = context.pipeline.name;
    this.setup = {
      publication: source.publication ?? `strata_${name}`,
      slot: source.slot ?? `strata_${name}`,
      tables: source.tables,
    };
  }

  private get pipeline(): string {
    return this.context.pipeline.name;
  }

  private clientConfig(): pg.ClientConfig {
    return {
      connectionString: resolveSecret(this.def.connection, this.context.env),
      // Values are read as text in UTC and ISO form, whatever the server's defaults.
      options: '-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3 -c IntervalStyle=iso_8601',
      application_name: `strata-pipeline-${this.pipeline}`.slice(0, 63),
    };
  }

  private async connection(): Promise<pg.Client> {
    if (this.admin) return this.admin;
    const client = new pg.Client(this.clientConfig());
    client.on('error', () => undefined);
    await client.connect();
    this.admin = client;
    return client;
  }

  /** Checks every requirement (all reported at once), then creates or completes the publication and slot. */
  private async prepare(client: pg.Client): Promise<{ confirmed: bigint }> {
    const problems = await replicationProblems(client, this.setup);
    if (problems.length === 0) problems.push(...(await ensurePublication(client, this.setup)));
    if (problems.length > 0) throw new ReplicationSetupError(this.pipeline, problems);
    const slot = await ensureSlot(client, this.setup.slot);
    if (slot.created)
      this.context.logger.info('created a replication slot', {
        pipeline: this.pipeline,
        slot: this.setup.slot,
      });
    return { confirmed: parseLsn(slot.confirmed) };
  }

  async *start(from: string | undefined): AsyncIterable<PipelineEvent[]> {
    const client = await this.connection();
    const { confirmed } = await this.prepare(client);
    const resume: PostgresResume = from
      ? parseResume(from)
      : {
          base: formatLsn(confirmed),
          restart: formatLsn(confirmed),
          tables: this.def.snapshot === false ? [...this.def.tables] : [],
        };
    const restart = parseLsn(resume.restart);
    if (confirmed > restart)
      throw new Error(
        `pipeline ${this.pipeline}: replication slot ${this.setup.slot} has moved past what the warehouse holds ` +
          `(${formatLsn(confirmed)} > ${resume.restart}): the changes between are gone from the slot. ` +
          `To start again from a snapshot, drop the slot (SELECT pg_drop_replication_slot('${this.setup.slot}')) and the pipeline's raw tables.`,
      );
    this.stream = new ReplicationStream(
      this.clientConfig(),
      this.setup.slot,
      this.setup.publication,
      restart,
    );
    this.stream.open(restart);
    const decoder = new ChangeDecoder({
      pipeline: this.context.pipeline.name,
      tables: this.def.tables,
      slot: this.setup.slot,
      session: this.session,
      resume,
      stream: this.stream,
      admin: client,
      snapshot: this.def.snapshot !== false,
    });
    yield* decoder.events();
  }

  async acknowledge(position: Position): Promise<void> {
    await this.stream?.confirm(parseLsn(parseResume(position.resume).restart));
  }

  async emitHeartbeat(): Promise<void> {
    const client = await this.connection();
    await client.query(`SELECT pg_logical_emit_message(false, $1, $2)`, [
      messagePrefix(this.setup.slot),
      JSON.stringify({ kind: 'heartbeat', ts: new Date().toISOString() }),
    ]);
  }

  async lag(): Promise<SourceLag> {
    const client = await this.connection();
    const result = await client.query<{ bytes: string | null }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS bytes
         FROM pg_replication_slots WHERE slot_name = $1`,
      [this.setup.slot],
    );
    const bytes = result.rows[0]?.bytes;
    return bytes === null || bytes === undefined ? {} : { bytes: Math.max(0, Number(bytes)) };
  }

  /**
   * The table's keys in one snapshot, and the seq of the WAL position it was taken at:
   * transactions committed before it are in the snapshot and have smaller seqs.
   */
  async snapshotKeys(
    table: string,
    primaryKey: readonly string[],
    committed: string | undefined,
  ): Promise<{ keys: string[]; seq: bigint }> {
    if (!committed) throw new Error(`pipeline ${this.pipeline} has committed nothing yet: nothing to audit`);
    const base = parseLsn(parseResume(committed).base);
    const client = await this.connection();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const at = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const keys = await client.query<string[]>({
        text: `SELECT ${primaryKey.map((c) => `${quoteIdent(c)}::text`).join(', ')} FROM ${qualified(table)}`,
        rowMode: 'array',
        types: TEXT_TYPES,
      });
      await client.query('COMMIT');
      return {
        keys: keys.rows.map((r) => JSON.stringify(r)),
        seq: seqAt(base, parseLsn(at.rows[0]!.lsn), 0n),
      };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    const stream = this.stream;
    const admin = this.admin;
    this.stream = undefined;
    this.admin = undefined;
    await stream?.close().catch(() => undefined);
    await admin?.end().catch(() => undefined);
  }
}
