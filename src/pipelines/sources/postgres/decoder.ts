/**
 * Turns the pgoutput stream into change events, and runs the initial snapshot inside it.
 *
 * The snapshot follows DBLog (Netflix, 2019): a table is copied in primary-key chunks, each
 * read between a low and a high watermark written into the WAL as logical messages. While
 * the stream passes between the two, every key it changes is struck from the chunk (the
 * stream already carries a newer state for it); at the high watermark the rest of the chunk
 * is emitted, positioned there. No lock is held beyond each chunk's SELECT, writers never
 * wait, and the snapshot resumes after a crash from the last key the warehouse holds.
 *
 * One PostgreSQL subtlety DBLog does not meet: a transaction becomes visible a moment after
 * its commit record is written, so one committed just before the low watermark may be
 * invisible to the chunk's SELECT and still stream before the window opens. The chunk is read
 * in a snapshot whose in-progress transactions are known (pg_current_snapshot), and the keys
 * those transactions change are struck too.
 */
import type { Client } from 'pg';
import type { Pgoutput } from 'pg-logical-replication';
import type { ChangeEvent, PipelineEvent, Position, RowValues, TableSchema } from '../../events.js';
import { keyOf } from '../../raw-reader.js';
import { describeTable, qualified, quoteIdent, type UpstreamTable } from './catalog.js';
import { formatLsn, messageSeq, parseLsn, seqAt, type PostgresResume } from './positions.js';
import type { ReplicationStream } from './stream.js';
import { columnTypeOf, rowOf, type TypedColumn } from './types.js';

/** Rows per snapshot chunk. */
export const CHUNK_ROWS = 5_000;
/** Stream messages decoded per yielded batch (at most). */
const MESSAGES_PER_BATCH = 2_000;

const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/** Logical messages of one slot carry this prefix (several pipelines may share a database). */
export function messagePrefix(slot: string): string {
  return `strata.${slot}`;
}

interface WatermarkMessage {
  kind: 'low' | 'high';
  id: string;
}
interface HeartbeatMessage {
  kind: 'heartbeat';
  ts: string;
}
type StrataMessage = WatermarkMessage | HeartbeatMessage;

interface Relation {
  table: string;
  columns: TypedColumn[];
  primaryKey: string[];
}

interface Transaction {
  xid: number;
  commitLsn: bigint;
  index: bigint;
  ts: string;
}

/** A chunk between its watermarks. */
interface Chunk {
  id: string;
  table: UpstreamTable;
  rows: RowValues[];
  /** The chunk's last key (text), whether or not its row survives. */
  lastKey: (string | null)[] | undefined;
  complete: boolean;
  open: boolean;
  changed: Set<string>;
  truncated: boolean;
  /** The transactions the chunk's snapshot did not see (as of its SELECT). */
  unseen: SnapshotXids;
}

/** `pg_current_snapshot()`: transactions from xmax on, and those listed, were in progress. */
export interface SnapshotXids {
  xmax: number;
  inProgress: Set<number>;
}

export function parseSnapshot(text: string): SnapshotXids {
  const [, xmax, list] = text.split(':');
  // Stream xids are 32-bit; the snapshot's carry an epoch above them.
  const xid = (value: string) => Number(BigInt(value) & 0xffffffffn);
  return { xmax: xid(xmax!), inProgress: new Set((list ?? '').split(',').filter(Boolean).map(xid)) };
}

/** Whether a snapshot did not see transaction `xid` (32-bit xids compare modulo 2^32). */
export function unseenBy(snapshot: SnapshotXids, xid: number): boolean {
  return snapshot.inProgress.has(xid) || ((xid - snapshot.xmax) | 0) >= 0;
}

export interface DecoderOptions {
  pipeline: string;
  tables: readonly string[];
  slot: string;
  /** Distinguishes this run's watermarks from those of runs before a restart. */
  session: string;
  resume: PostgresResume;
  stream: ReplicationStream;
  /** A plain connection: watermarks, chunk reads, table descriptions. */
  admin: Client;
  snapshot: boolean;
}

export class ChangeDecoder {
  private readonly base: bigint;
  private readonly prefix: string;
  private readonly relations = new Map<number, Relation>();
  private readonly schemas = new Map<string, TableSchema>();
  private readonly covered: Set<string>;
  private progress: PostgresResume['snapshot'];
  private tx: Transaction | undefined;
  private chunk: Chunk | undefined;
  private chunks = 0;
  private lastResume:
    { restart: bigint; progress: PostgresResume['snapshot']; covered: number; text: string } | undefined;

  constructor(private readonly options: DecoderOptions) {
    this.base = parseLsn(options.resume.base);
    this.prefix = messagePrefix(options.slot);
    // Without a snapshot a table counts as whole from the first change streamed.
    this.covered = new Set(options.snapshot ? options.resume.tables : options.tables);
    this.progress = options.resume.snapshot;
  }

  async *events(): AsyncGenerator<PipelineEvent[]> {
    for (;;) {
      if (!this.chunk) await this.beginChunk();
      const messages = await this.options.stream.take(MESSAGES_PER_BATCH);
      if (!messages) return;
      const out: PipelineEvent[] = [];
      for (const message of messages) await this.decode(message, out);
      if (out.length > 0) yield out;
    }
  }

  // ------------------------------------------------------------------ positions

  private resume(restart: bigint): string {
    // Every event of a transaction resumes at the same place: its text is made once.
    const cached = this.lastResume;
    if (
      cached &&
      cached.restart === restart &&
      cached.progress === this.progress &&
      cached.covered === this.covered.size
    )
      return cached.text;
    const text = JSON.stringify({
      base: this.options.resume.base,
      restart: formatLsn(restart),
      tables: [...this.covered].sort(),
      ...(this.progress ? { snapshot: this.progress } : {}),
    } satisfies PostgresResume);
    this.lastResume = { restart, progress: this.progress, covered: this.covered.size, text };
    return text;
  }

  /** The next event of the current transaction: replayed whole after a restart, its committed events skipped. */
  private txPosition(): Position {
    const tx = this.tx!;
    tx.index += 1n;
    return { seq: seqAt(this.base, tx.commitLsn, tx.index), resume: this.resume(tx.commitLsn) };
  }

  /** An event at a logical message ending at `end` (or a snapshot row following it): streaming restarts after it. */
  private messagePosition(end: bigint, index: bigint): Position {
    return { seq: messageSeq(this.base, end, index), resume: this.resume(end) };
  }

  // ------------------------------------------------------------------- decoding

  private async decode(message: Pgoutput.Message, out: PipelineEvent[]): Promise<void> {
    switch (message.tag) {
      case 'begin':
        this.tx = {
          xid: message.xid,
          commitLsn: parseLsn(message.commitLsn!),
          index: 0n,
          ts: new Date(Number(BigInt(message.commitTime as bigint) / 1000n)).toISOString(),
        };
        return;
      case 'commit':
        this.tx = undefined;
        return;
      case 'relation':
        return this.onRelation(message, out);
      case 'insert':
        return this.onChange(message.relation, 'c', message.new, undefined, out);
      case 'update':
        return this.onChange(message.relation, 'u', message.new, message.key ?? message.old, out);
      case 'delete':
        return this.onChange(message.relation, 'd', undefined, message.key ?? message.old, out);
      case 'truncate':
        return this.onTruncate(message, out);
      case 'message':
        return this.onMessage(message, out);
      default:
        return;
    }
  }

  private async onRelation(message: Pgoutput.MessageRelation, out: PipelineEvent[]): Promise<void> {
    const table = `${message.schema}.${message.name}`;
    if (!this.options.tables.includes(table)) return;
    const columns = message.columns.map((c) => ({ name: c.name, type: columnTypeOf(c.typeOid) }));
    // The relation names the replica identity's columns (every column under FULL): the key is the catalog's.
    const described = await describeTable(this.options.admin, table);
    const primaryKey = described?.primaryKey.length ? described.primaryKey : message.keyColumns;
    this.relations.set(message.relationOid, { table, columns, primaryKey });
    const schema: TableSchema = { table, columns, primaryKey };
    this.schemas.set(table, schema);
    out.push({ kind: 'schema', schema, position: this.schemaPosition() });
  }

  /** Schemas apply wherever they stand: they take the stream's current place without consuming a seq. */
  private schemaPosition(): Position {
    const lsn = this.tx?.commitLsn ?? parseLsn(this.options.resume.restart);
    return { seq: seqAt(this.base, lsn, this.tx?.index ?? 0n), resume: this.resume(lsn) };
  }

  private onChange(
    relation: Pgoutput.MessageRelation,
    op: 'c' | 'u' | 'd',
    after: Record<string, unknown> | undefined,
    before: Record<string, unknown> | null | undefined,
    out: PipelineEvent[],
  ): void {
    const known = this.relations.get(relation.relationOid);
    if (!known || !this.tx) return;
    const event = (kind: ChangeEvent['op'], row: RowValues): ChangeEvent => ({
      kind: 'change',
      table: known.table,
      op: kind,
      ts: this.tx!.ts,
      position: this.txPosition(),
      row,
    });
    const newRow = after ? rowOf(known.columns, after) : undefined;
    const oldRow = before ? rowOf(known.columns, before) : undefined;
    const newKey = newRow && keyOf(newRow, known.primaryKey);
    const oldKey = oldRow && keyOf(oldRow, known.primaryKey);
    // An update that changes the key leaves the old key behind: it is deleted first.
    if (op === 'u' && oldRow && oldKey !== newKey) out.push(event('d', oldRow));
    if (op === 'd') out.push(event('d', oldRow ?? {}));
    else out.push(event(op, newRow!));
    this.strike(known.table, [newKey, oldKey]);
  }

  private onTruncate(message: Pgoutput.MessageTruncate, out: PipelineEvent[]): void {
    for (const relation of message.relations) {
      const known = this.relations.get(relation.relationOid);
      if (!known || !this.tx) continue;
      out.push({ kind: 'truncate', table: known.table, ts: this.tx.ts, position: this.txPosition() });
      const chunk = this.chunk;
      if (chunk?.table.table === known.table && (chunk.open || unseenBy(chunk.unseen, this.tx.xid)))
        chunk.truncated = true;
    }
  }

  private async onMessage(message: Pgoutput.MessageMessage, out: PipelineEvent[]): Promise<void> {
    if (message.transactional || message.prefix !== this.prefix) return;
    // pgoutput sends a message with the LSN where its record ends.
    const lsn = parseLsn(message.messageLsn!);
    let content: StrataMessage;
    try {
      content = JSON.parse(Buffer.from(message.content).toString('utf8')) as StrataMessage;
    } catch {
      return;
    }
    if (content.kind === 'heartbeat') {
      out.push({ kind: 'heartbeat', ts: content.ts, position: this.messagePosition(lsn, 0n) });
      return;
    }
    const chunk = this.chunk;
    if (!chunk || content.id !== chunk.id) return;
    if (content.kind === 'low') chunk.open = true;
    else if (chunk.open) await this.release(chunk, lsn, out);
  }

  /** Keys the stream changed while a chunk of their table was open, or that its snapshot could not see. */
  private strike(table: string, keys: (string | undefined)[]): void {
    const chunk = this.chunk;
    if (!chunk || chunk.table.table !== table) return;
    if (!chunk.open && !(this.tx && unseenBy(chunk.unseen, this.tx.xid))) return;
    for (const key of keys) if (key !== undefined) chunk.changed.add(key);
  }

  // ------------------------------------------------------------------- snapshot

  /** The table to copy next, if any. */
  private nextTable(): string | undefined {
    if (!this.options.snapshot) return undefined;
    if (this.progress) return this.progress.table;
    return this.options.tables.find((t) => !this.covered.has(t));
  }

  /** Writes the low watermark, reads the chunk, writes the high watermark. */
  private async beginChunk(): Promise<void> {
    const name = this.nextTable();
    if (!name) return;
    const { admin } = this.options;
    const table = await describeTable(admin, name);
    if (!table) throw new Error(`pipeline ${this.options.pipeline}: table ${name} disappeared upstream`);
    const id = `${this.options.session}:${++this.chunks}`;
    await this.emit({ kind: 'low', id });
    const after = this.progress?.table === name ? this.progress.after : undefined;
    const { rows, unseen } = await this.readChunk(table, after);
    await this.emit({ kind: 'high', id });
    const lastRow = rows.at(-1);
    this.chunk = {
      id,
      table,
      rows: rows.map((r) => rowOf(table.columns, r)),
      lastKey: lastRow ? table.primaryKey.map((c) => (lastRow[c] as string | null) ?? null) : after,
      complete: rows.length < CHUNK_ROWS,
      open: false,
      changed: new Set(),
      truncated: false,
      unseen,
    };
  }

  private async emit(message: StrataMessage): Promise<void> {
    await this.options.admin.query('SELECT pg_logical_emit_message(false, $1, $2)', [
      this.prefix,
      JSON.stringify(message),
    ]);
  }

  /** The next CHUNK_ROWS rows after `after` in key order, as text, and what their snapshot did not see. */
  private async readChunk(
    table: UpstreamTable,
    after: (string | null)[] | undefined,
  ): Promise<{ rows: Record<string, string | null>[]; unseen: SnapshotXids }> {
    const { admin } = this.options;
    const key = table.primaryKey.map(quoteIdent).join(', ');
    const where = after ? `WHERE (${key}) > (${after.map((_, i) => `$${i + 1}`).join(', ')})` : '';
    await admin.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const snapshot = await admin.query<{ snapshot: string }>(
        'SELECT pg_current_snapshot()::text AS snapshot',
      );
      const result = await admin.query<Record<string, string | null>>({
        text: `SELECT * FROM ${qualified(table.table)} ${where} ORDER BY ${key} LIMIT ${CHUNK_ROWS}`,
        values: after ?? [],
        types: TEXT_TYPES,
      });
      await admin.query('COMMIT');
      return { rows: result.rows, unseen: parseSnapshot(snapshot.rows[0]!.snapshot) };
    } catch (e) {
      await admin.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /** At the high watermark: the chunk's rows the stream did not change, as snapshot reads. */
  private async release(chunk: Chunk, lsn: bigint, out: PipelineEvent[]): Promise<void> {
    this.chunk = undefined;
    const name = chunk.table.table;
    if (!this.schemas.has(name)) {
      const schema: TableSchema = {
        table: name,
        columns: chunk.table.columns.map(({ name: column, type }) => ({ name: column, type })),
        primaryKey: chunk.table.primaryKey,
      };
      this.schemas.set(name, schema);
      out.push({ kind: 'schema', schema, position: this.messagePosition(lsn, 0n) });
    }
    const ts = new Date().toISOString();
    const primaryKey = chunk.table.primaryKey;
    const keyed = (chunk.truncated ? [] : chunk.rows).map((row) => ({ row, key: keyOf(row, primaryKey) }));
    const surviving = keyed.filter(({ key }) => !chunk.changed.has(key));
    let index = 0n;
    for (const { row, key } of surviving) {
      const last = index === BigInt(surviving.length - 1);
      // The table's last row carries its completion, so a restart does not read it again.
      if (last && chunk.complete) this.finishTable(name);
      else this.progress = { table: name, after: JSON.parse(key) as (string | null)[] };
      out.push({
        kind: 'change',
        table: name,
        op: 'r',
        ts,
        row,
        position: this.messagePosition(lsn, ++index),
      });
    }
    if (chunk.complete) this.finishTable(name);
    else this.progress = { table: name, ...(chunk.lastKey ? { after: chunk.lastKey } : {}) };
  }

  private finishTable(table: string): void {
    this.covered.add(table);
    this.progress = undefined;
  }
}
