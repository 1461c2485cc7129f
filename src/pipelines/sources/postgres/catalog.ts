/**
 * What the PostgreSQL source asks the upstream catalog: a table's columns and key, whether
 * everything logical replication needs is in place (all problems reported at once, each with
 * what to do), and the publication and slot, created when missing.
 */
import type { Client } from 'pg';
import type { TableSchema } from '../../events.js';
import { columnTypeOf, type TypedColumn } from './types.js';

export interface UpstreamTable extends TableSchema {
  columns: (TypedColumn & { typeOid: number })[];
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
}

/** `schema.table` as a quoted SQL name. */
export function qualified(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const IDENTITY = { d: 'default', n: 'nothing', f: 'full', i: 'index' } as const;

/** A table's columns (in order), its primary key (else its replica identity index) and identity. */
export async function describeTable(client: Client, table: string): Promise<UpstreamTable | undefined> {
  const rel = await client.query<{ oid: number; relreplident: keyof typeof IDENTITY }>(
    `SELECT c.oid::int AS oid, c.relreplident FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [qualified(table)],
  );
  const found = rel.rows[0];
  if (!found) return undefined;
  const columns = await client.query<{ name: string; type_oid: number }>(
    `SELECT attname AS name, atttypid::int AS type_oid FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [found.oid],
  );
  const key = await client.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1
        AND i.indexrelid = (SELECT indexrelid FROM pg_index WHERE indrelid = $1 AND (indisprimary OR indisreplident)
                            ORDER BY indisprimary DESC LIMIT 1)
      ORDER BY k.ord`,
    [found.oid],
  );
  return {
    table,
    columns: columns.rows.map((c) => ({ name: c.name, type: columnTypeOf(c.type_oid), typeOid: c.type_oid })),
    primaryKey: key.rows.map((r) => r.name),
    replicaIdentity: IDENTITY[found.relreplident],
  };
}

export interface ReplicationSetup {
  publication: string;
  slot: string;
  tables: readonly string[];
}

/** Raised with every unmet requirement at once. */
export class ReplicationSetupError extends Error {
  constructor(pipeline: string, problems: readonly string[]) {
    super(
      `pipeline ${pipeline}: PostgreSQL is not ready for logical replication:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        'See docs/pipelines.md (PostgreSQL sources) for the settings and grants a pipeline needs.',
    );
    this.name = 'ReplicationSetupError';
  }
}

/** The requirements that can be checked before touching anything; an empty list when all hold. */
export async function replicationProblems(client: Client, setup: ReplicationSetup): Promise<string[]> {
  const problems: string[] = [];
  const wal = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]!.wal_level;
  if (wal !== 'logical')
    problems.push(
      `wal_level is '${wal}', logical replication needs 'logical': ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL`,
    );
  const role = (
    await client.query<{ name: string; replication: boolean; superuser: boolean }>(
      'SELECT rolname AS name, rolreplication AS replication, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user',
    )
  ).rows[0]!;
  if (!role.replication && !role.superuser)
    problems.push(
      `role ${role.name} lacks the REPLICATION attribute: ALTER ROLE ${quoteIdent(role.name)} REPLICATION`,
    );
  const slots = (
    await client.query<{ exists: boolean; free: number }>(
      `SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS exists,
              current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)::int AS free`,
      [setup.slot],
    )
  ).rows[0]!;
  if (!slots.exists && slots.free <= 0)
    problems.push(
      'no replication slot is free: raise max_replication_slots (and restart), or drop an unused slot',
    );
  for (const table of setup.tables) problems.push(...(await tableProblems(client, table)));
  return problems;
}

async function tableProblems(client: Client, table: string): Promise<string[]> {
  const described = await describeTable(client, table);
  if (!described) return [`table ${table} does not exist (or is not visible to this role)`];
  const problems: string[] = [];
  const select = (
    await client.query<{ ok: boolean }>(`SELECT has_table_privilege($1, 'SELECT') AS ok`, [qualified(table)])
  ).rows[0]!.ok;
  if (!select) problems.push(`this role cannot read ${table}: GRANT SELECT ON ${qualified(table)} TO <role>`);
  if (described.primaryKey.length === 0)
    problems.push(
      `${table} has no primary key (nor a replica identity index): add one; without it the raw table has no key, and publishing its updates and deletes would make them fail upstream`,
    );
  else if (described.replicaIdentity === 'nothing')
    problems.push(
      `${table} has REPLICA IDENTITY NOTHING: its updates and deletes would fail once published; ALTER TABLE ${qualified(table)} REPLICA IDENTITY DEFAULT`,
    );
  return problems;
}

/** Creates the publication, or adds the tables it misses. */
export async function ensurePublication(client: Client, setup: ReplicationSetup): Promise<string[]> {
  const existing = await client.query<{ table: string }>(
    `SELECT schemaname || '.' || tablename AS table FROM pg_publication_tables WHERE pubname = $1`,
    [setup.publication],
  );
  const exists =
    (await client.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [setup.publication])).rowCount! >
    0;
  const have = new Set(existing.rows.map((r) => r.table));
  const missing = setup.tables.filter((t) => !have.has(t));
  try {
    if (!exists)
      await client.query(
        `CREATE PUBLICATION ${quoteIdent(setup.publication)} FOR TABLE ${setup.tables.map(qualified).join(', ')}`,
      );
    else if (missing.length > 0)
      await client.query(
        `ALTER PUBLICATION ${quoteIdent(setup.publication)} ADD TABLE ${missing.map(qualified).join(', ')}`,
      );
  } catch (e) {
    if ((e as { code?: string }).code === '42501')
      return [
        `${exists ? 'adding tables to' : 'creating'} publication ${setup.publication} needs CREATE on the database and ownership of ${(exists ? missing : setup.tables).join(', ')} (${(e as Error).message}); or have an owner run: ${exists ? `ALTER PUBLICATION ${quoteIdent(setup.publication)} ADD TABLE ${missing.map(qualified).join(', ')}` : `CREATE PUBLICATION ${quoteIdent(setup.publication)} FOR TABLE ${setup.tables.map(qualified).join(', ')}`}`,
      ];
    throw e;
  }
  return [];
}

/** The slot's confirmed position, creating the slot when missing. */
export async function ensureSlot(
  client: Client,
  slot: string,
): Promise<{ created: boolean; confirmed: string }> {
  const found = await client.query<{ confirmed: string | null; plugin: string }>(
    `SELECT confirmed_flush_lsn::text AS confirmed, plugin FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = found.rows[0];
  if (row) {
    if (row.plugin !== 'pgoutput')
      throw new Error(
        `replication slot ${slot} uses the ${row.plugin} plugin, not pgoutput: drop it or name another slot`,
      );
    return { created: false, confirmed: row.confirmed ?? '0/0' };
  }
  const created = await client.query<{ lsn: string }>(
    `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
    [slot],
  );
  return { created: true, confirmed: created.rows[0]!.lsn };
}
