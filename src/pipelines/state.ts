/**
 * What operators see of a pipeline (`strata pipeline status`): whether it runs or is paused
 * and why, where it is, its lag, its last commit and heartbeat, and its audits. Kept beside
 * the tracker run history (`.strata/runs.db`, or PostgreSQL with `runs.store: postgres`), so
 * every worker and the CLI see the same. The position here is a copy for display: the one
 * that counts is committed with the data in the warehouse.
 */
import type { Knex } from 'knex';
import { secrets } from '../engines/secrets.js';
import { createTableOnce, openHistoryDatabase, type HistoryLocation } from '../trackers/history.js';
import type { TableSchema } from './events.js';

/** `paused`: by an operator or a breaking schema change; a paused pipeline is not run until resumed. */
export type PipelineStatus = 'idle' | 'running' | 'paused' | 'failed';

export interface PipelineState {
  name: string;
  status: PipelineStatus;
  pausedReason?: string;
  pausedAt?: string;
  /** The last position committed, as the source prints it (an LSN, a stream sequence, a file offset). */
  position?: string;
  positionSeq?: string;
  lastCommitAt?: string;
  lastCommitEvents?: number;
  eventsTotal: number;
  lagEvents?: number;
  lagBytes?: number;
  lagSeconds?: number;
  lastHeartbeatAt?: string;
  /** From a heartbeat's emission upstream to its commit in the warehouse. */
  heartbeatLatencyMs?: number;
  deadLetters: number;
  /** The worker running it (`host:pid`). */
  worker?: string;
  error?: string;
  updatedAt: string;
  /** The upstream schemas last seen, by table (schema evolution compares with them). */
  schemas: Record<string, TableSchema>;
}

export interface AuditRecord {
  pipeline: string;
  table: string;
  at: string;
  sourceKeys: number;
  targetKeys: number;
  /** Keys in the source, not in the latest view (JSON-encoded keys). */
  missing: string[];
  /** Keys in the latest view, not in the source. */
  extra: string[];
  /** Mismatches also found by the audit before: what is reported. */
  confirmedMissing: string[];
  confirmedExtra: string[];
  /** The committed position the audit compared at. */
  position?: string;
}

const PIPELINES = 'strata_pipelines';
const AUDITS = 'strata_pipeline_audits';

type Patch = Partial<Omit<PipelineState, 'name' | 'updatedAt'>>;

export class PipelineStateStore {
  private constructor(private readonly db: Knex) {}

  static async open(location: HistoryLocation): Promise<PipelineStateStore> {
    const db = await openHistoryDatabase(location);
    const store = new PipelineStateStore(db);
    await store.ensureSchema();
    return store;
  }

  private async ensureSchema(): Promise<void> {
    await createTableOnce(this.db, PIPELINES, (t) => {
      t.string('name').primary();
      t.text('state').notNullable();
      t.string('updated_at').notNullable();
    });
    await createTableOnce(this.db, AUDITS, (t) => {
      t.increments('id');
      t.string('pipeline').notNullable().index();
      t.string('table_name').notNullable();
      t.string('at').notNullable();
      t.text('audit').notNullable();
    });
  }

  async get(name: string): Promise<PipelineState | undefined> {
    const row = (await this.db(PIPELINES).select('state').where({ name }).first()) as
      { state: string } | undefined;
    return row ? (JSON.parse(row.state) as PipelineState) : undefined;
  }

  async list(): Promise<PipelineState[]> {
    const rows = (await this.db(PIPELINES).select('state').orderBy('name')) as { state: string }[];
    return rows.map((r) => JSON.parse(r.state) as PipelineState);
  }

  /**
   * Merges `patch` into the pipeline's state (a key set to undefined is removed). Messages are
   * redacted: an error may quote a connection string.
   */
  async update(name: string, patch: Patch, options: { unlessPaused?: boolean } = {}): Promise<PipelineState> {
    return this.db.transaction(async (trx) => {
      const row = (await trx(PIPELINES).select('state').where({ name }).forUpdate().first()) as
        { state: string } | undefined;
      const current: PipelineState = row
        ? (JSON.parse(row.state) as PipelineState)
        : { name, status: 'idle', eventsTotal: 0, deadLetters: 0, schemas: {}, updatedAt: '' };
      // An operator's pause (or a schema change's) outlives what a stopping runner records.
      if (options.unlessPaused && current.status === 'paused') return current;
      const next = { ...current } as Record<string, unknown>;
      for (const [key, value] of Object.entries(secrets.redactDeep(patch))) {
        if (value === undefined) delete next[key];
        else next[key] = value;
      }
      next.updatedAt = new Date().toISOString();
      const state = JSON.stringify(next);
      await trx(PIPELINES).insert({ name, state, updated_at: next.updatedAt }).onConflict('name').merge();
      return next as unknown as PipelineState;
    });
  }

  async recordAudit(audit: AuditRecord): Promise<void> {
    await this.db(AUDITS).insert({
      pipeline: audit.pipeline,
      table_name: audit.table,
      at: audit.at,
      audit: JSON.stringify(audit),
    });
  }

  /** The latest audits of a pipeline, newest first. */
  async audits(pipeline: string, options: { table?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    let query = this.db(AUDITS)
      .select('audit')
      .where({ pipeline })
      .orderBy('id', 'desc')
      .limit(options.limit ?? 20);
    if (options.table) query = query.where({ table_name: options.table });
    return ((await query) as { audit: string }[]).map((r) => JSON.parse(r.audit) as AuditRecord);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
