/**
 * The Airtable destination: keeps an Airtable table in step with a tracker's result, through a
 * thin typed client on `fetch` (airtable/client.ts). Fields are the columns' labels; values
 * stay typed (numbers, booleans, `YYYY-MM-DD` dates, ISO timestamps, strings; NULL clears).
 *
 * Writes are only PATCH, POST and DELETE, never PUT: a PUT clears every field it does not
 * name, stakeholders' own fields included. Each write request carries at most 10 records.
 *
 * - upsert: list the table's records (tracked fields only), compare them with the result by
 *   key, and send only what changed: known records whose tracked fields differ are PATCHed by
 *   record id with just the changed fields (while the listing is still going on: the pages
 *   cannot be read faster than one round trip each, so the writes fill the rate limit around
 *   them); keys the table lacks are PATCHed with `performUpsert.fieldsToMergeOn` = the key
 *   labels, so a request repeated after a lost response (or a job retried after a crash)
 *   merges into the record it created instead of duplicating it. Records whose key vanished
 *   are deleted when `onMissing: delete` (after the listing, so pagination never shifts).
 * - replace: an upsert that also deletes every record whose key is not in the result.
 *   Airtable has no atomic replace (no transactions, 10 records per request), so readers can
 *   see the table mid-way; new and changed records are written before the deletions so that
 *   mid-way they see extra rows rather than missing ones. Without `key`, records are matched
 *   by their whole content: unmatched records are deleted and unmatched rows created.
 * - append: creates the result's rows, 10 per POST, on every run; see `appendKeyless` for how
 *   a retried job (same runId) avoids duplicating the rows an earlier attempt created. With a
 *   `key`, rows whose key already exists are skipped and the rest go through performUpsert.
 */
import type {
  AirtableDestination as AirtableDefinition,
  OnMissing,
  SyncMode,
} from '../core/definitions/schema.js';
import type { Cell } from '../core/values/cell.js';
import { resolveSecret } from '../engines/secrets.js';
import {
  ALREADY_APPLIED,
  AIRTABLE_ENDPOINT,
  AirtableClient,
  RECORDS_PER_REQUEST,
  type AirtableRecord,
  type AirtableRequest,
  type RecordsResponse,
} from './airtable/client.js';
import { Pipeline } from './airtable/pipeline.js';
import { localLedger } from './ledger.js';
import { canonical, show, toAirtable, type Canonical } from './airtable/values.js';
import {
  DestinationError,
  withUsage,
  type ApiCall,
  type Destination,
  type DestinationContext,
  type SyncColumn,
  type SyncTable,
  type WritePlan,
  type WriteResult,
} from './destination.js';

export const AIRTABLE_TOKEN_VARIABLE = 'STRATA_AIRTABLE_TOKEN';
export const AIRTABLE_ENDPOINT_VARIABLE = 'STRATA_AIRTABLE_ENDPOINT_URL';

export interface AirtableDestinationOptions {
  /** Where STRATA_AIRTABLE_TOKEN, STRATA_AIRTABLE_ENDPOINT_URL and `env:` base ids are read (default: the context's env). */
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** Requests in flight at once (default 10); the rate limiter still allows only 5 per second per base. */
  concurrency?: number;
  /** Per-request timeout (default 60 s); a timeout is retried like a network error. */
  requestTimeoutMs?: number;
  /** Records per list page (default and maximum 100). */
  pageSize?: number;
  /** The clock of the run ledger (tests). */
  now?: () => number;
}

const MAX_DETAILS = 10;
/** `performUpsert.fieldsToMergeOn` takes 1 to 3 fields. */
const MAX_MERGE_FIELDS = 3;
/** How far Strata's clock and Airtable's may disagree, when looking for a batch by creation time. */
const CLOCK_SKEW_MS = 120_000;

export class AirtableDestination implements Destination {
  constructor(
    private readonly definition: AirtableDefinition,
    private readonly options: AirtableDestinationOptions = {},
  ) {}

  describe(): string {
    return `airtable ${this.definition.baseId}/${this.definition.table}`;
  }

  async plan(table: SyncTable, ctx: DestinationContext): Promise<WritePlan> {
    const sync = this.start(table, ctx, true);
    await sync.run();
    return {
      destination: this.describe(),
      creates: sync.creates,
      updates: sync.updates,
      deletes: sync.deletes,
      unchanged: sync.unchanged,
      apiCalls: sync.plannedCalls,
      reads: sync.client.reads,
      details: sync.detailLines(),
    };
  }

  async write(table: SyncTable, ctx: DestinationContext): Promise<WriteResult> {
    const sync = this.start(table, ctx, false);
    ctx.log.info('airtable sync started', {
      destination: this.describe(),
      mode: sync.mode,
      rows: table.rows.length,
    });
    try {
      await sync.run();
    } catch (error) {
      throw withUsage(error, { apiCalls: sync.client.apiCalls, bytes: sync.client.bytes });
    }
    const result: WriteResult = {
      destination: this.describe(),
      created: sync.created,
      updated: sync.updated,
      deleted: sync.deleted,
      unchanged: sync.unchanged,
      apiCalls: sync.client.apiCalls,
      bytes: sync.client.bytes,
    };
    ctx.log.info('airtable sync finished', { ...result });
    return result;
  }

  /** Checks the definition, the result and the credentials before any request. */
  private start(table: SyncTable, ctx: DestinationContext, dryRun: boolean): AirtableSync {
    const refuse = (message: string): never => {
      throw new DestinationError(this.describe(), message);
    };
    const env = this.options.env ?? ctx.env;
    const token = env[AIRTABLE_TOKEN_VARIABLE];
    if (!token)
      refuse(`${AIRTABLE_TOKEN_VARIABLE} is not set: it must hold an Airtable personal access token`);
    let baseId = '';
    try {
      baseId = resolveSecret(this.definition.baseId, env);
    } catch (error) {
      refuse(`baseId: ${(error as Error).message}`);
    }
    if (!/^[A-Za-z0-9]+$/.test(baseId)) refuse('baseId must be an Airtable base id such as appAbC123');

    // As validation reads it (src/core/trackers.ts): no mode is replace, for every destination.
    const mode: SyncMode = this.definition.mode ?? 'replace';
    const onMissing: OnMissing = this.definition.onMissing ?? 'keep';
    const labels = new Set<string>();
    for (const column of table.columns) {
      const folded = column.label.toLowerCase();
      if (labels.has(folded))
        refuse(`two columns have the label "${column.label}" (Airtable field names must differ)`);
      labels.add(folded);
    }
    let key: number[] | undefined;
    if (this.definition.key) {
      key = this.definition.key.map((name) => {
        const index = table.columns.findIndex((c) => c.name === name);
        if (index < 0) refuse(`key column ${name} is not a column of the result`);
        return index;
      });
    } else if (mode === 'upsert') {
      refuse('mode upsert needs key (the output columns that identify a row)');
    }
    if (key) {
      const keyIndices = key;
      const emptyKeys = table.rows.filter((row) => keyIndices.some((i) => row[i] === null || row[i] === ''));
      if (emptyKeys.length > 0) {
        refuse(
          `${emptyKeys.length} row(s) have an empty key (${this.definition.key!.join(', ')}): they cannot be matched`,
        );
      }
    }

    const endpoint = (env[AIRTABLE_ENDPOINT_VARIABLE] || AIRTABLE_ENDPOINT).replace(/\/+$/, '');
    const client = new AirtableClient(
      {
        endpoint,
        token: token!,
        baseId,
        fetch: this.options.fetch ?? globalThis.fetch,
        timeoutMs: this.options.requestTimeoutMs ?? 60_000,
      },
      ctx,
    );
    return new AirtableSync({
      table,
      ctx,
      client,
      tableName: this.definition.table,
      destination: this.describe(),
      mode,
      onMissing,
      key,
      dryRun,
      concurrency: Math.max(1, this.options.concurrency ?? 10),
      pageSize: this.options.pageSize,
      ledgerKey: `airtable:${baseId}/${this.definition.table}`,
      now: this.options.now ?? Date.now,
    });
  }
}

interface SyncSettings {
  table: SyncTable;
  ctx: DestinationContext;
  client: AirtableClient;
  tableName: string;
  destination: string;
  mode: SyncMode;
  onMissing: OnMissing;
  /** Indices of the key columns. */
  key: number[] | undefined;
  dryRun: boolean;
  concurrency: number;
  pageSize: number | undefined;
  /** Names the table in the run ledger. */
  ledgerKey: string;
  now: () => number;
}

interface WriteCall {
  request: AirtableRequest;
  /** How the response is counted. */
  kind: 'update' | 'upsert' | 'create' | 'delete';
  records: number;
  description: string;
  /** Called before the request is sent (each time the task runs). */
  beforeSend?: () => Promise<void>;
  alreadyApplied?: () => Promise<boolean>;
  /** Called once the call is known applied: with the records of its response (none when a check found it applied). */
  onApplied?: (records: string[] | undefined) => Promise<void>;
}

/** A keyless append request: its index, rows, and content as a multiset (and its canonical text). */
interface KeylessBatch {
  index: number;
  rows: Cell[][];
  content: Counts;
  print: string;
}

type Fields = Record<string, Cell>;

/** One plan or write: the diff, and the write calls it emits (made, or only listed for a plan). */
class AirtableSync {
  readonly client: AirtableClient;
  readonly mode: SyncMode;
  creates = 0;
  updates = 0;
  deletes = 0;
  unchanged = 0;
  created = 0;
  updated = 0;
  deleted = 0;
  readonly plannedCalls: ApiCall[] = [];
  private readonly details: string[] = [];
  private moreDetails = 0;
  private readonly pipeline: Pipeline;
  private readonly columns: SyncColumn[];
  private readonly labels: string[];
  private readonly path: string;

  constructor(private readonly s: SyncSettings) {
    this.client = s.client;
    this.mode = s.mode;
    this.columns = s.table.columns;
    this.labels = this.columns.map((c) => c.label);
    this.path = this.client.tablePath(s.tableName);
    this.pipeline = new Pipeline(s.concurrency);
  }

  async run(): Promise<void> {
    try {
      if (this.s.mode === 'append') {
        if (this.s.key) await this.appendKeyed(this.s.key);
        else await this.appendKeyless();
      } else if (this.s.key) {
        await this.syncKeyed(this.s.key, this.s.mode === 'replace' ? 'delete' : this.s.onMissing);
      } else {
        await this.replaceByContent();
      }
    } catch (error) {
      // Let the requests in flight finish before reporting this (first) failure.
      await this.pipeline.drain().catch(() => undefined);
      throw error;
    }
    await this.pipeline.drain();
  }

  detailLines(): string[] {
    return this.moreDetails > 0 ? [...this.details, `... and ${this.moreDetails} more`] : [...this.details];
  }

  // ---- modes ---------------------------------------------------------------------------

  /** upsert and keyed replace. */
  private async syncKeyed(key: number[], onMissing: OnMissing): Promise<void> {
    const rows = this.s.table.rows;
    const wanted = new Map<string, number>();
    rows.forEach((row, index) => {
      const k = this.rowKey(row, key);
      if (wanted.has(k)) this.refuse(`duplicate key ${this.keyText(row, key)} in the result`);
      wanted.set(k, index);
    });
    const seen = new Set<string>();
    const vanished: AirtableRecord[] = [];
    let duplicates = 0;
    let batch: { id: string; fields: Fields }[] = [];
    for await (const page of this.client.pages(this.s.tableName, {
      fields: this.labels,
      pageSize: this.s.pageSize,
    })) {
      for (const record of page) {
        const k = this.recordKey(record, key);
        const index = wanted.get(k);
        if (index === undefined || seen.has(k)) {
          if (index !== undefined) duplicates++;
          // A record with an empty key was never the tracker's: only replace removes it.
          const emptyKey = key.every(
            (i) => canonical(record.fields[this.labels[i]!], this.columns[i]!.type) === null,
          );
          if (onMissing === 'delete' && (!emptyKey || this.s.mode === 'replace' || index !== undefined)) {
            vanished.push(record);
          }
          continue;
        }
        seen.add(k);
        const row = rows[index]!;
        const changed: Fields = {};
        const changes: string[] = [];
        this.columns.forEach((column, i) => {
          const before = record.fields[column.label];
          const after = toAirtable(row[i] ?? null, column.type);
          if (canonical(before, column.type) !== canonical(after, column.type)) {
            changed[column.label] = after;
            changes.push(`${column.label} ${show(before)} -> ${show(after)}`);
          }
        });
        if (changes.length === 0) {
          this.unchanged++;
          continue;
        }
        this.updates++;
        this.detail(`update ${this.keyText(row, key)}: ${changes.join(', ')}`);
        batch.push({ id: record.id, fields: changed });
        if (batch.length === RECORDS_PER_REQUEST) {
          await this.emitUpdate(batch);
          batch = [];
        }
      }
    }
    if (batch.length > 0) await this.emitUpdate(batch);
    if (duplicates > 0) {
      this.s.ctx.log.warn('airtable: several records share a key; the first is kept in step', {
        destination: this.s.destination,
        duplicates,
        deleted: onMissing === 'delete',
      });
    }

    const missing = rows.filter((row) => !seen.has(this.rowKey(row, key)));
    await this.emitCreates(missing, key);
    await this.settle();
    await this.emitDeletes(vanished, key);
  }

  /** Keyless replace: records are matched with rows by their whole tracked content. */
  private async replaceByContent(): Promise<void> {
    const rows = this.s.table.rows;
    const waiting = new Map<string, number[]>();
    rows.forEach((row, index) => {
      const k = this.rowContent(row);
      const list = waiting.get(k);
      if (list) list.push(index);
      else waiting.set(k, [index]);
    });
    const extra: AirtableRecord[] = [];
    for await (const page of this.client.pages(this.s.tableName, {
      fields: this.labels,
      pageSize: this.s.pageSize,
    })) {
      for (const record of page) {
        const match = waiting.get(this.recordContent(record));
        if (match && match.length > 0) {
          match.shift();
          this.unchanged++;
        } else {
          extra.push(record);
        }
      }
    }
    const missing = [...waiting.values()]
      .flat()
      .sort((a, b) => a - b)
      .map((i) => rows[i]!);
    await this.emitCreates(missing, undefined);
    await this.settle();
    await this.emitDeletes(extra, undefined);
  }

  /** Keyed append: rows whose key the table already has are skipped; the rest are upserted on the key. */
  private async appendKeyed(key: number[]): Promise<void> {
    const rows = this.s.table.rows;
    const keys = new Set<string>();
    for (const row of rows) {
      const k = this.rowKey(row, key);
      if (keys.has(k)) this.refuse(`duplicate key ${this.keyText(row, key)} in the result`);
      keys.add(k);
    }
    const existing = new Set<string>();
    for await (const page of this.client.pages(this.s.tableName, {
      fields: key.map((i) => this.labels[i]!),
      pageSize: this.s.pageSize,
    })) {
      for (const record of page) existing.add(this.recordKey(record, key));
    }
    const fresh = rows.filter((row) => !existing.has(this.rowKey(row, key)));
    this.unchanged += rows.length - fresh.length;
    await this.emitCreates(fresh, key);
  }

  /**
   * Keyless append: every run appends the result's rows; a retried job (same runId) appends
   * only what its earlier attempts did not. Airtable records carry nothing that names a run,
   * so the run ledger (ctx.ledger: in Redis for workers) notes per run and batch of 10 rows
   * when the batch was sent and which records it created:
   *
   * - a batch an earlier attempt created is skipped;
   * - a batch sent without its outcome being learned (a lost response, a worker killed
   *   mid-request) is looked for among the records created since it was sent that no run
   *   claimed in the ledger: its rows, whole, among records sharing one creation second (one
   *   request's records do). Found, it is claimed and skipped; else it is sent again.
   *
   * Identical batches of one result are never in flight together, so the look never takes a
   * sibling batch for its own. It stays ambiguous only if another run wrote an identical
   * batch in the same minutes and lost its outcome too.
   */
  private async appendKeyless(): Promise<void> {
    const { ctx } = this.s;
    const ledger = ctx.ledger ?? localLedger;
    const batches = this.keylessBatches();
    const earlier = await ledger.read(ctx.runId, this.s.ledgerKey);
    const unknown = batches.filter((b) => earlier.has(b.index) && !earlier.get(b.index)!.records);
    const since = Math.min(...unknown.map((b) => earlier.get(b.index)!.sentAt));
    const landed = unknown.length > 0 ? await this.findLanded(unknown, since) : new Map<number, string[]>();
    for (const [index, records] of landed) {
      const { sentAt } = earlier.get(index)!;
      if (!this.s.dryRun)
        await ledger.write(ctx.runId, this.s.ledgerKey, index, { sentAt, records }, this.s.now());
    }
    const done = (b: KeylessBatch) => earlier.get(b.index)?.records !== undefined || landed.has(b.index);
    const skipped = batches.filter(done);
    if (skipped.length > 0) {
      ctx.log.info('airtable: batches an earlier attempt of this run created are skipped', {
        destination: this.s.destination,
        runId: ctx.runId,
        batches: skipped.length,
      });
    }

    let inFlight = new Set<string>();
    for (const batch of batches) {
      if (done(batch)) {
        this.unchanged += batch.rows.length;
        continue;
      }
      if (inFlight.has(batch.print)) {
        await this.settle();
        inFlight = new Set();
      }
      inFlight.add(batch.print);
      this.creates += batch.rows.length;
      for (const row of batch.rows) this.detail(`create ${this.rowText(row)}`);
      let sentAt = 0;
      let found: string[] | undefined;
      await this.emit({
        kind: 'create',
        records: batch.rows.length,
        description: `create ${batch.rows.length} records`,
        request: {
          method: 'POST',
          path: this.path,
          body: { records: batch.rows.map((row) => ({ fields: this.rowFields(row) })), typecast: true },
        },
        beforeSend: async () => {
          sentAt = this.s.now();
          await ledger.write(ctx.runId, this.s.ledgerKey, batch.index, { sentAt }, sentAt);
        },
        alreadyApplied: async () => {
          found = (await this.findLanded([batch], sentAt)).get(batch.index);
          return found !== undefined;
        },
        onApplied: (created) =>
          ledger.write(
            ctx.runId,
            this.s.ledgerKey,
            batch.index,
            { sentAt, records: created ?? found ?? [] },
            this.s.now(),
          ),
      });
    }
  }

  /** The result cut into requests: every attempt of a run cuts it the same way. */
  private keylessBatches(): KeylessBatch[] {
    const rows = this.s.table.rows;
    const batches: KeylessBatch[] = [];
    for (let i = 0; i < rows.length; i += RECORDS_PER_REQUEST) {
      const slice = rows.slice(i, i + RECORDS_PER_REQUEST);
      const content = counts(slice.map((row) => this.rowContent(row)));
      batches.push({
        index: batches.length,
        rows: slice,
        content,
        print: JSON.stringify([...content].sort()),
      });
    }
    return batches;
  }

  /**
   * Which of `batches` landed: the unclaimed records created since `since` (less the clock
   * skew between Strata and Airtable), by creation second, holding a batch's rows whole.
   * Returns the ids each found batch takes.
   */
  private async findLanded(batches: readonly KeylessBatch[], since: number): Promise<Map<number, string[]>> {
    const ledger = this.s.ctx.ledger ?? localLedger;
    const claimed = await ledger.claimed(this.s.ledgerKey, since - 2 * CLOCK_SKEW_MS);
    const after = new Date(since - CLOCK_SKEW_MS).toISOString();
    const groups = new Map<string, AirtableRecord[]>();
    for await (const page of this.client.pages(this.s.tableName, {
      fields: this.labels,
      filterByFormula: `IS_AFTER(CREATED_TIME(), DATETIME_PARSE('${after}'))`,
      pageSize: this.s.pageSize,
    })) {
      for (const record of page) {
        if (claimed.has(record.id)) continue;
        const second = (record.createdTime ?? '').slice(0, 19);
        groups.set(second, [...(groups.get(second) ?? []), record]);
      }
    }
    const landed = new Map<number, string[]>();
    for (const batch of batches) {
      for (const group of groups.values()) {
        const taken = this.take(group, batch.content);
        if (taken) {
          landed.set(batch.index, taken);
          break;
        }
      }
    }
    return landed;
  }

  /** Takes out of `group` records holding `content` whole, and returns their ids (none: not whole). */
  private take(group: AirtableRecord[], content: Counts): string[] | undefined {
    const picked: number[] = [];
    for (const [item, need] of content) {
      const matches = group
        .map((record, i) => (this.recordContent(record) === item ? i : -1))
        .filter((i) => i >= 0)
        .slice(0, need);
      if (matches.length < need) return undefined;
      picked.push(...matches);
    }
    const ids = picked.map((i) => group[i]!.id);
    for (const i of picked.sort((a, b) => b - a)) group.splice(i, 1);
    return ids;
  }

  // ---- write calls -----------------------------------------------------------------------

  private async emitUpdate(batch: { id: string; fields: Fields }[]): Promise<void> {
    await this.emit({
      kind: 'update',
      records: batch.length,
      description: `update ${batch.length} records`,
      request: { method: 'PATCH', path: this.path, body: { records: batch, typecast: true } },
    });
  }

  /** New rows: merged on the key when there is one (idempotent), else plain creates. */
  private async emitCreates(rows: readonly Cell[][], key: number[] | undefined): Promise<void> {
    for (let i = 0; i < rows.length; i += RECORDS_PER_REQUEST) {
      const batch = rows.slice(i, i + RECORDS_PER_REQUEST);
      this.creates += batch.length;
      for (const row of batch) this.detail(`create ${key ? this.keyText(row, key) : this.rowText(row)}`);
      const records = batch.map((row) => ({ fields: this.rowFields(row) }));
      // Airtable merges on at most 3 fields; a longer key creates with POST.
      await this.emit(
        key && key.length <= MAX_MERGE_FIELDS
          ? {
              kind: 'upsert',
              records: batch.length,
              description: `create ${batch.length} records (upsert on ${key.map((k) => this.labels[k]).join(', ')})`,
              request: {
                method: 'PATCH',
                path: this.path,
                body: {
                  performUpsert: { fieldsToMergeOn: key.map((k) => this.labels[k]!) },
                  records,
                  typecast: true,
                },
              },
            }
          : {
              kind: 'create',
              records: batch.length,
              description: `create ${batch.length} records`,
              request: { method: 'POST', path: this.path, body: { records, typecast: true } },
            },
      );
    }
  }

  private async emitDeletes(records: readonly AirtableRecord[], key: number[] | undefined): Promise<void> {
    for (let i = 0; i < records.length; i += RECORDS_PER_REQUEST) {
      const batch = records.slice(i, i + RECORDS_PER_REQUEST);
      this.deletes += batch.length;
      for (const record of batch) {
        const what = key
          ? key.map((k) => `${this.columns[k]!.name}=${show(record.fields[this.labels[k]!])}`).join(', ')
          : record.id;
        this.detail(`delete ${what}`);
      }
      const query = new URLSearchParams();
      for (const record of batch) query.append('records[]', record.id);
      await this.emit({
        kind: 'delete',
        records: batch.length,
        description: `delete ${batch.length} records`,
        request: { method: 'DELETE', path: this.path, query },
      });
    }
  }

  /**
   * Waits for the writes in flight before deleting: mid-way, readers see extra rows rather
   * than missing ones, and nothing is deleted when a create or update failed.
   */
  private async settle(): Promise<void> {
    if (!this.s.dryRun) await this.pipeline.drain();
  }

  private async emit(call: WriteCall): Promise<void> {
    if (this.s.dryRun) {
      this.plannedCalls.push({
        method: call.request.method,
        endpoint: call.request.path,
        description: call.description,
      });
      return;
    }
    await this.pipeline.submit(async () => {
      await call.beforeSend?.();
      const response = await this.client.write<RecordsResponse>(call.request, {
        alreadyApplied: call.alreadyApplied,
        notFoundMeansApplied: call.kind === 'delete',
      });
      await call.onApplied?.(response === ALREADY_APPLIED ? undefined : response.records?.map((r) => r.id));
      if (response === ALREADY_APPLIED) {
        if (call.kind === 'delete') this.deleted += call.records;
        else this.created += call.records;
        return;
      }
      const count = response.records?.length ?? 0;
      if (call.kind === 'update') this.updated += count;
      else if (call.kind === 'delete') this.deleted += count;
      else if (call.kind === 'create') this.created += count;
      else {
        this.created += response.createdRecords?.length ?? count;
        this.updated += response.updatedRecords?.length ?? 0;
      }
    });
  }

  // ---- helpers ---------------------------------------------------------------------------

  /** The fields of a new record: every tracked field that has a value. */
  private rowFields(row: readonly Cell[]): Fields {
    const fields: Fields = {};
    this.columns.forEach((column, i) => {
      const value = toAirtable(row[i] ?? null, column.type);
      if (value !== null) fields[column.label] = value;
    });
    return fields;
  }

  private rowKey(row: readonly Cell[], key: number[]): string {
    return JSON.stringify(
      key.map((i) => canonical(toAirtable(row[i] ?? null, this.columns[i]!.type), this.columns[i]!.type)),
    );
  }

  private recordKey(record: AirtableRecord, key: number[]): string {
    return JSON.stringify(key.map((i) => canonical(record.fields[this.labels[i]!], this.columns[i]!.type)));
  }

  private rowContent(row: readonly Cell[]): string {
    return JSON.stringify(
      this.columns.map((c, i): Canonical => canonical(toAirtable(row[i] ?? null, c.type), c.type)),
    );
  }

  private recordContent(record: AirtableRecord): string {
    return JSON.stringify(this.columns.map((c): Canonical => canonical(record.fields[c.label], c.type)));
  }

  private keyText(row: readonly Cell[], key: number[]): string {
    return key.map((i) => `${this.columns[i]!.name}=${show(row[i])}`).join(', ');
  }

  private rowText(row: readonly Cell[]): string {
    return this.columns
      .slice(0, 3)
      .map((c, i) => `${c.name}=${show(row[i])}`)
      .join(', ');
  }

  private detail(line: string): void {
    if (this.details.length < MAX_DETAILS) this.details.push(line);
    else this.moreDetails++;
  }

  private refuse(message: string): never {
    throw new DestinationError(this.s.destination, message);
  }
}

/** A multiset of record contents. */
type Counts = Map<string, number>;

function counts(items: readonly string[]): Counts {
  const map: Counts = new Map();
  for (const item of items) map.set(item, (map.get(item) ?? 0) + 1);
  return map;
}
