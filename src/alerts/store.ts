/**
 * Which alert conditions are open, shared by every process (serve, workers, the CLI) in the
 * run history's database. Opening and closing are single conditional UPDATEs: of several
 * processes seeing the same failure at once, exactly one opens the condition (and sends the
 * alert); of several seeing it end, exactly one closes it (and sends the recovery notice).
 */
import type { Knex } from 'knex';
import { secrets } from '../engines/secrets.js';
import { createTableOnce, openHistoryDatabase, type HistoryLocation } from '../trackers/history.js';
import type { ConditionName } from './event.js';

const TABLE = 'strata_alerts';

export interface AlertRecord {
  key: string;
  condition: ConditionName;
  /** `tracker:<name>` or `pipeline:<name>`. */
  subject: string;
  state: 'open' | 'closed';
  openedAt?: string;
  closedAt?: string;
  /** The message of the last opening. */
  message?: string;
  /** How many times the condition opened. */
  episodes: number;
}

interface AlertRow {
  key: string;
  condition: string;
  subject: string;
  state: string;
  opened_at: string | null;
  closed_at: string | null;
  message: string | null;
  episodes: number | string;
}

export class AlertStore {
  private constructor(private readonly db: Knex) {}

  static async open(location: HistoryLocation): Promise<AlertStore> {
    const db = await openHistoryDatabase(location);
    const store = new AlertStore(db);
    await createTableOnce(db, TABLE, (t) => {
      t.string('key').primary();
      t.string('condition').notNullable();
      t.string('subject').notNullable().index();
      t.string('state').notNullable();
      t.string('opened_at');
      t.string('closed_at');
      t.text('message');
      t.integer('episodes').notNullable().defaultTo(0);
    });
    return store;
  }

  /**
   * Opens the condition unless it is open: true when this call opened it (its caller sends
   * the alert), false when it already was (whoever opened it sent it).
   */
  async raise(
    key: string,
    facts: { condition: ConditionName; subject: string; message: string },
    now: Date,
  ): Promise<boolean> {
    await this.db(TABLE)
      .insert({ key, condition: facts.condition, subject: facts.subject, state: 'closed', episodes: 0 })
      .onConflict('key')
      .ignore();
    const changed = await this.db(TABLE)
      .where({ key, state: 'closed' })
      .update({
        state: 'open',
        opened_at: now.toISOString(),
        closed_at: null,
        message: secrets.redact(facts.message),
        episodes: this.db.raw('episodes + 1'),
      });
    return changed === 1;
  }

  /**
   * Closes the condition if it is open: its opening time when this call closed it (its caller
   * sends the recovery notice), undefined when it was not open.
   */
  async resolve(key: string, now: Date): Promise<{ openedAt: string } | undefined> {
    const row = (await this.db(TABLE).select('opened_at').where({ key, state: 'open' }).first()) as
      Pick<AlertRow, 'opened_at'> | undefined;
    if (!row) return undefined;
    const changed = await this.db(TABLE)
      .where({ key, state: 'open', opened_at: row.opened_at })
      .update({ state: 'closed', closed_at: now.toISOString() });
    return changed === 1 ? { openedAt: row.opened_at ?? now.toISOString() } : undefined;
  }

  async get(key: string): Promise<AlertRecord | undefined> {
    const row = (await this.db(TABLE).select('*').where({ key }).first()) as AlertRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function fromRow(row: AlertRow): AlertRecord {
  return {
    key: row.key,
    condition: row.condition as ConditionName,
    subject: row.subject,
    state: row.state === 'open' ? 'open' : 'closed',
    ...(row.opened_at ? { openedAt: row.opened_at } : {}),
    ...(row.closed_at ? { closedAt: row.closed_at } : {}),
    ...(row.message ? { message: row.message } : {}),
    episodes: Number(row.episodes),
  };
}
