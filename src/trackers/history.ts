/**
 * Run history (spec §7: every run is recorded): one row per tracker run with its trigger,
 * times, rows, per-destination outcome, API calls, bytes and error. knex over SQLite by
 * default (`.strata/runs.db`), PostgreSQL when configured.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import type { WriteResult } from '../destinations/destination.js';
import { QUIET_KNEX_LOG } from '../destinations/knex-log.js';
import { secrets } from '../engines/secrets.js';

export type RunTrigger = 'schedule' | 'manual' | 'change';
/** `queued` and `dry_run` are never recorded: the API answers them for a run still waiting, or only planned. */
export type RunStatus = 'succeeded' | 'partial' | 'failed' | 'skipped' | 'queued' | 'dry_run';

/** What one destination of a run did (a destination's WriteResult, or why it wrote nothing). */
export interface DestinationOutcome extends WriteResult {
  status: 'succeeded' | 'failed' | 'skipped';
  error?: string;
}

export interface TrackerRun {
  id: string;
  tracker: string;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  endedAt: string;
  rows: number;
  destinations: DestinationOutcome[];
  apiCalls: number;
  bytes: number;
  /** Everything that determines the result when it ran: `refresh: on_change` compares with the last success. */
  fingerprint?: string;
  /** `refresh: on_change`: what the fingerprint covers, or why the run could not be skipped. */
  changeCheck?: string;
  /** When the newest data the run read arrived (its tables' newest commit), when the engine tells. */
  dataChangedAt?: string;
  error?: string;
}

export type HistoryLocation = (
  { client: 'sqlite'; filename: string } | { client: 'postgres'; connection: string }
) & {
  /** Runs older than this (ms) are deleted as new ones are recorded. */
  retentionMs?: number;
};

const TABLE = 'strata_tracker_runs';
/** When each tracker was first seen: the freshness clock of one that never succeeded. */
const SEEN_TABLE = 'strata_trackers_seen';

/**
 * The database of the run history (a SQLite file, or PostgreSQL): tracker runs, and what lives
 * beside them (the pipelines' state).
 */
export async function openHistoryDatabase(location: HistoryLocation): Promise<Knex> {
  if (location.client === 'sqlite') mkdirSync(dirname(location.filename), { recursive: true });
  const db =
    location.client === 'sqlite'
      ? knex({
          client: 'better-sqlite3',
          connection: { filename: location.filename },
          useNullAsDefault: true,
          log: QUIET_KNEX_LOG,
        })
      : knex({
          client: 'pg',
          connection: location.connection,
          pool: { min: 0, max: 2 },
          log: QUIET_KNEX_LOG,
        });
  // Several processes (serve, workers, the CLI) write the same file: wait for a lock, not fail.
  if (location.client === 'sqlite') await db.raw('PRAGMA busy_timeout = 5000');
  return db;
}

/** Creates a table unless it exists; another process creating it at the same moment is fine. */
export async function createTableOnce(
  db: Knex,
  name: string,
  build: (table: Knex.CreateTableBuilder) => void,
): Promise<void> {
  if (await db.schema.hasTable(name)) return;
  try {
    await db.schema.createTable(name, build);
  } catch (e) {
    if (!(await db.schema.hasTable(name))) throw e;
  }
}

/**
 * Adds the columns a table made by an older Strata lacks (a history outlives upgrades);
 * another process adding one at the same moment is fine.
 */
export async function addMissingColumns(
  db: Knex,
  name: string,
  columns: Record<string, (table: Knex.AlterTableBuilder) => void>,
): Promise<void> {
  for (const [column, add] of Object.entries(columns)) {
    if (await db.schema.hasColumn(name, column)) continue;
    try {
      await db.schema.alterTable(name, add);
    } catch (e) {
      if (!(await db.schema.hasColumn(name, column))) throw e;
    }
  }
}

/** How long runs are kept unless strata.yaml `runs.retention` says otherwise. */
export const DEFAULT_RUN_RETENTION_MS = 90 * 86_400_000;

export class RunHistory {
  private constructor(
    private readonly db: Knex,
    private readonly retentionMs: number,
  ) {}

  static async open(location: HistoryLocation): Promise<RunHistory> {
    const db = await openHistoryDatabase(location);
    const history = new RunHistory(db, location.retentionMs ?? DEFAULT_RUN_RETENTION_MS);
    await history.ensureSchema();
    return history;
  }

  private async ensureSchema(): Promise<void> {
    await createTableOnce(this.db, TABLE, (t) => {
      t.string('id').primary();
      t.string('tracker').notNullable().index();
      t.string('trigger').notNullable();
      t.string('status').notNullable();
      t.string('started_at').notNullable().index();
      t.string('ended_at').notNullable();
      t.integer('rows').notNullable();
      t.integer('api_calls').notNullable();
      t.bigInteger('bytes').notNullable();
      t.text('destinations').notNullable();
      t.text('fingerprint');
      t.text('error');
    });
    await createTableOnce(this.db, SEEN_TABLE, (t) => {
      t.string('tracker').primary();
      t.string('first_seen').notNullable();
    });
    await addMissingColumns(this.db, TABLE, {
      change_check: (t) => t.text('change_check'),
      data_changed_at: (t) => t.string('data_changed_at'),
    });
  }

  /**
   * Inserts or replaces a run (a retried job updates its own row, never adds one). Its
   * messages are redacted: they may quote a server that echoed a credential.
   */
  async record(recorded: TrackerRun): Promise<void> {
    const run = secrets.redactDeep(recorded);
    const row = {
      id: run.id,
      tracker: run.tracker,
      trigger: run.trigger,
      status: run.status,
      started_at: run.startedAt,
      ended_at: run.endedAt,
      rows: run.rows,
      api_calls: run.apiCalls,
      bytes: run.bytes,
      destinations: JSON.stringify(run.destinations),
      fingerprint: run.fingerprint ?? null,
      change_check: run.changeCheck ?? null,
      data_changed_at: run.dataChangedAt ?? null,
      error: run.error ?? null,
    };
    await this.db(TABLE).insert(row).onConflict('id').merge();
    await this.deleteOlderThan(Date.parse(run.startedAt) - this.retentionMs);
  }

  /** Retention: runs that started before `cutoff` (ms since the epoch) are deleted. */
  private async deleteOlderThan(cutoff: number): Promise<void> {
    if (!Number.isFinite(cutoff)) return;
    await this.db(TABLE).where('started_at', '<', new Date(cutoff).toISOString()).delete();
  }

  async list(options: { tracker?: string; limit?: number } = {}): Promise<TrackerRun[]> {
    let query = this.db(TABLE)
      .select('*')
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 50);
    if (options.tracker) query = query.where({ tracker: options.tracker });
    return (await query).map(fromRow);
  }

  async get(id: string): Promise<TrackerRun | undefined> {
    const row = await this.db(TABLE).select('*').where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  async lastSuccess(tracker: string): Promise<TrackerRun | undefined> {
    const row = await this.db(TABLE)
      .select('*')
      .where({ tracker })
      .whereIn('status', ['succeeded'])
      .orderBy('started_at', 'desc')
      .first();
    return row ? fromRow(row) : undefined;
  }

  /**
   * When the tracker was first seen (`now` the first time it is asked, or its oldest recorded
   * run if older): a scheduled tracker that never runs turns stale from there.
   */
  async firstSeen(tracker: string, now: Date): Promise<Date> {
    const oldest = await this.db(TABLE).min({ at: 'started_at' }).where({ tracker }).first();
    const candidate = [now.toISOString(), ...(oldest?.at ? [String(oldest.at)] : [])].sort()[0]!;
    await this.db(SEEN_TABLE).insert({ tracker, first_seen: candidate }).onConflict('tracker').ignore();
    const row = await this.db(SEEN_TABLE).select('first_seen').where({ tracker }).first();
    return new Date(String(row?.first_seen ?? candidate));
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

interface RunRow {
  id: string;
  tracker: string;
  trigger: RunTrigger;
  status: RunStatus;
  started_at: string;
  ended_at: string;
  rows: number;
  api_calls: number;
  bytes: number | string;
  destinations: string;
  fingerprint: string | null;
  change_check?: string | null;
  data_changed_at?: string | null;
  error: string | null;
}

function fromRow(row: RunRow): TrackerRun {
  return {
    id: row.id,
    tracker: row.tracker,
    trigger: row.trigger,
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    rows: Number(row.rows),
    apiCalls: Number(row.api_calls),
    bytes: Number(row.bytes),
    destinations: JSON.parse(row.destinations) as DestinationOutcome[],
    ...(row.fingerprint ? { fingerprint: row.fingerprint } : {}),
    ...(row.change_check ? { changeCheck: row.change_check } : {}),
    ...(row.data_changed_at ? { dataChangedAt: row.data_changed_at } : {}),
    ...(row.error ? { error: row.error } : {}),
  };
}
