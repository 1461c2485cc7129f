/**
 * `strata demo --source postgres`: the studio's talent table as an operational PostgreSQL
 * table (`studio.talent`, the current row of each person in the demo's change log), for the
 * `studio` pipeline to replicate into the raw table the talent source reads. Existing rows
 * are left as they are, so running the demo again keeps what was changed by hand.
 */
import pg from 'pg';
import { generateStudioData, type DemoTable } from './studio-data.js';

export const STUDIO_SCHEMA = 'studio';

const CREATE = `
CREATE SCHEMA IF NOT EXISTS ${STUDIO_SCHEMA};
CREATE TABLE IF NOT EXISTS ${STUDIO_SCHEMA}.talent (
  talent_id    text PRIMARY KEY,
  full_name    text NOT NULL,
  agency       text,
  country      text,
  day_rate_usd numeric(18, 2),
  is_active    boolean NOT NULL DEFAULT true
)`;

/** The latest row per talent_id of the demo's change log, deleted people left out. */
export function currentTalent(tables: readonly DemoTable[]): unknown[][] {
  const log = tables.find((t) => t.schema === 'studio_raw' && t.name === 'talent_changes');
  if (!log) throw new Error('the demo data has no talent change log');
  const at = (name: string) => log.columns.findIndex((c) => c.name === name);
  const [op, seq] = [at('_op'), at('_seq')];
  const latest = new Map<string, unknown[]>();
  for (const row of [...log.rows].sort((a, b) => Number(a[seq]) - Number(b[seq])))
    latest.set(String(row[0]), row);
  const keep = ['talent_id', 'full_name', 'agency', 'country', 'day_rate_usd', 'is_active'].map(at);
  return [...latest.values()].filter((row) => row[op] !== 'd').map((row) => keep.map((i) => row[i]));
}

/** Creates `studio.talent` when missing and adds the demo's people it does not hold. */
export async function seedStudioUpstream(connectionString: string): Promise<{ rows: number; added: number }> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(CREATE);
    const rows = currentTalent(generateStudioData());
    let added = 0;
    await client.query('BEGIN');
    for (const row of rows) {
      const result = await client.query(
        `INSERT INTO ${STUDIO_SCHEMA}.talent VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (talent_id) DO NOTHING`,
        row,
      );
      added += result.rowCount ?? 0;
    }
    await client.query('COMMIT');
    const count = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${STUDIO_SCHEMA}.talent`,
    );
    return { rows: Number(count.rows[0]!.n), added };
  } finally {
    await client.end();
  }
}
