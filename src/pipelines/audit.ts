/**
 * Audits (spec §9): the primary keys of an upstream table and of its raw table's latest view,
 * compared (symmetric difference). The source reads its keys at a position; the raw table is
 * read as of that same position (rows with a greater `_seq` ignored), so changes in flight
 * after it are not mismatches. When the pipeline has not committed that far yet, the audit
 * waits for it a while, then compares as of what is committed and marks itself `lagging`.
 * A mismatch is reported (`confirmed`) only when the audit before found it too: a race at
 * the edge of one audit does not raise an alarm, a lost or phantom row does.
 */
import { rawTableOf } from '../core/pipelines.js';
import type { PipelineDefinition } from '../core/definitions/schema.js';
import type { ChangeSource } from './events.js';
import type { RawTableReader } from './raw-reader.js';
import type { IcebergSink } from './sink.js';
import type { AuditRecord, PipelineStateStore } from './state.js';

export interface AuditOptions {
  pipeline: PipelineDefinition;
  source: ChangeSource;
  sink: IcebergSink;
  reader: RawTableReader;
  store: PipelineStateStore;
  /** How long to wait for the pipeline to commit past the source's position (default 60 s). */
  catchUpMs?: number;
  clock?: () => number;
}

export interface TableAudit extends AuditRecord {
  lagging: boolean;
}

/** Mismatches listed in a record are capped; the counts are not. */
const MAX_LISTED = 1000;

export async function auditPipeline(options: AuditOptions): Promise<TableAudit[]> {
  const { pipeline, source, store } = options;
  if (!source.snapshotKeys)
    throw new Error(
      `pipeline ${pipeline.name}: a ${pipeline.source.type} source cannot be queried for its keys, so it cannot be audited`,
    );
  const state = await store.get(pipeline.name);
  const audits: TableAudit[] = [];
  for (const table of pipeline.source.tables) {
    const primaryKey = state?.schemas[table]?.primaryKey ?? [];
    if (primaryKey.length === 0)
      throw new Error(
        `pipeline ${pipeline.name}: the key of ${table} is not known yet (run the pipeline first)`,
      );
    audits.push(await auditTable(options, table, primaryKey));
  }
  return audits;
}

async function auditTable(options: AuditOptions, table: string, primaryKey: string[]): Promise<TableAudit> {
  const { pipeline, source, sink, reader, store } = options;
  const clock = options.clock ?? Date.now;
  const upstream = await source.snapshotKeys!(table, primaryKey, (await sink.committed()).position?.resume);
  // An idle source sends nothing past that position: a heartbeat carries the pipeline over it.
  await source.emitHeartbeat?.();
  const committed = await waitForCommit(sink, upstream.seq, options.catchUpMs ?? 60_000, clock);
  const lagging = committed === undefined || committed < upstream.seq;
  const at = lagging ? committed : upstream.seq;
  const target = at === undefined ? [] : await reader.liveKeys(rawTableOf(pipeline, table), primaryKey, at);
  const sourceKeys = new Set(upstream.keys);
  const targetKeys = new Set(target);
  const missing = [...sourceKeys].filter((k) => !targetKeys.has(k)).sort();
  const extra = [...targetKeys].filter((k) => !sourceKeys.has(k)).sort();
  const previous = (await store.audits(pipeline.name, { table, limit: 1 }))[0];
  const before = (list: string[] | undefined) => new Set(list ?? []);
  const record: TableAudit = {
    pipeline: pipeline.name,
    table,
    at: new Date(clock()).toISOString(),
    sourceKeys: sourceKeys.size,
    targetKeys: targetKeys.size,
    missing: missing.slice(0, MAX_LISTED),
    extra: extra.slice(0, MAX_LISTED),
    // Compared short of the source's position, a difference may only be in flight: never confirmed.
    confirmedMissing: lagging
      ? []
      : missing.filter((k) => before(previous?.missing).has(k)).slice(0, MAX_LISTED),
    confirmedExtra: lagging ? [] : extra.filter((k) => before(previous?.extra).has(k)).slice(0, MAX_LISTED),
    ...(at !== undefined ? { position: at.toString() } : {}),
    lagging,
  };
  await store.recordAudit(record);
  return record;
}

async function waitForCommit(
  sink: IcebergSink,
  seq: bigint,
  timeoutMs: number,
  clock: () => number,
): Promise<bigint | undefined> {
  const deadline = clock() + timeoutMs;
  for (;;) {
    const committed = (await sink.committed()).position?.seq;
    if ((committed !== undefined && committed >= seq) || clock() >= deadline) return committed;
    await new Promise((done) => setTimeout(done, 250));
  }
}
