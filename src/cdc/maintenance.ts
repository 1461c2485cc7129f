/**
 * Warehouse maintenance (spec §8, §10 `strata maintain`): for each CDC table, compaction,
 * manifest rewriting, snapshot expiry and orphan-file removal, in that order, with the
 * project's settings (strata.yaml `maintenance:`). The tables are the raw tables of CDC
 * sources and every table a pipeline writes (raw tables, heartbeats, dead letters: their
 * snapshot history grows with every commit). Only tables a CDC source reads are compacted:
 * compaction needs the source's key and order.
 *
 * Answers never change: compaction keeps the latest view, manifest rewriting keeps the data
 * files, expiry keeps the current snapshot (and pinned and position-bearing ones), and orphan
 * removal deletes only files nothing references.
 */
import { durationMs, type MaintenanceConfig, type ProjectConfig } from '../core/definitions/schema.js';
import { cdcSources } from '../core/cdc.js';
import type { SemanticModel, SourceModel } from '../core/model/types.js';
import { tablesWrittenBy } from '../core/pipelines.js';
import { formatIdentifier, type TableIdentifier } from '../warehouse/catalog.js';
import type { Warehouse } from '../warehouse/table.js';
import {
  compactSource,
  DEFAULT_TOMBSTONE_RETENTION_MS,
  tableOf,
  type CompactionResult,
} from './compaction.js';

export const DEFAULT_MAINTENANCE_SCHEDULE = '0 3 * * *';
export const DEFAULT_MAINTENANCE_TIMEZONE = 'UTC';
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;

/** A table maintenance looks after. */
export interface MaintenanceTarget {
  id: TableIdentifier;
  /** `namespace.table`. */
  table: string;
  /** The CDC source reading it (then it is compacted). */
  source?: SourceModel;
  /** The pipeline writing it. */
  pipeline?: string;
}

/** The settings in force for one table. */
export interface TableSettings {
  /** A cron, or `off`. */
  schedule: string;
  timezone: string;
  retentionMs: number;
  tombstoneRetentionMs: number;
}

/** What maintenance did to one table. */
export interface TableMaintenance {
  table: string;
  /** Absent for tables no CDC source reads (they are not compacted), and for skipped tables. */
  compaction?: CompactionResult;
  expiredSnapshots: number;
  /** Files deleted: those only expired snapshots reached, old metadata files, orphans. */
  removedFiles: string[];
  /** Manifests merged into fewer by a `replace` snapshot (0 when none was committed). */
  rewrittenManifests: number;
  /**
   * Whether a new snapshot was committed (a compaction or a manifest rewrite). The latest view
   * reads the same either way; expiry and orphan removal commit no snapshot.
   */
  newSnapshot: boolean;
  /** Why nothing was done (the table does not exist yet). */
  skipped?: string;
}

/** A table named to `strata maintain` that is not one maintenance looks after. */
export class UnknownMaintenanceTableError extends Error {
  constructor(
    readonly table: string,
    readonly known: readonly string[],
  ) {
    super(
      `'${table}' is not a CDC table (the raw table of a CDC source, or a table a pipeline writes): ` +
        (known.length > 0 ? known.join(', ') : 'the project has none'),
    );
    this.name = 'UnknownMaintenanceTableError';
  }
}

const keyOf = (id: TableIdentifier): string => formatIdentifier(id).toLowerCase();

/** Every table maintenance looks after, sorted by name. */
export function maintenanceTargets(model: SemanticModel): MaintenanceTarget[] {
  const byTable = new Map<string, MaintenanceTarget>();
  for (const source of cdcSources(model)) {
    if (source.relation.kind !== 'table' || source.relation.path.length < 2) continue;
    const id = tableOf(source);
    // Two sources over one raw table compact it the same way (the first by name wins).
    if (!byTable.has(keyOf(id))) byTable.set(keyOf(id), { id, table: formatIdentifier(id), source });
  }
  for (const pipeline of model.pipelines.values()) {
    for (const written of tablesWrittenBy(pipeline.definition)) {
      const id = { namespace: written.namespace, name: written.name };
      const existing = byTable.get(keyOf(id));
      byTable.set(keyOf(id), {
        ...(existing ?? { id, table: formatIdentifier(id) }),
        pipeline: pipeline.name,
      });
    }
  }
  return [...byTable.values()].sort((a, b) => a.table.localeCompare(b.table));
}

/** The targets named (by `namespace.table` or by CDC source name), or all of them. */
export function selectTargets(
  all: readonly MaintenanceTarget[],
  names: readonly string[],
): MaintenanceTarget[] {
  if (names.length === 0) return [...all];
  return names.map((name) => {
    const found = all.find((t) => t.table.toLowerCase() === name.toLowerCase() || t.source?.name === name);
    if (!found)
      throw new UnknownMaintenanceTableError(
        name,
        all.map((t) => t.table),
      );
    return found;
  });
}

/** The settings for a table: its entry in `maintenance.tables` (by table or source name), else the project's, else the defaults. */
export function settingsFor(target: MaintenanceTarget, config: ProjectConfig): TableSettings {
  const maintenance: MaintenanceConfig = config.maintenance ?? {};
  const own = tableEntry(target, maintenance);
  const retention = own?.retention ?? maintenance.retention;
  const tombstones = own?.tombstoneRetention ?? maintenance.tombstoneRetention;
  return {
    schedule: own?.schedule ?? maintenance.schedule ?? DEFAULT_MAINTENANCE_SCHEDULE,
    timezone: maintenance.timezone ?? DEFAULT_MAINTENANCE_TIMEZONE,
    retentionMs: retention === undefined ? DEFAULT_RETENTION_MS : durationMs(retention),
    tombstoneRetentionMs: tombstones === undefined ? DEFAULT_TOMBSTONE_RETENTION_MS : durationMs(tombstones),
  };
}

function tableEntry(target: MaintenanceTarget, maintenance: MaintenanceConfig) {
  const tables = maintenance.tables ?? {};
  const byTable = Object.entries(tables).find(([name]) => name.toLowerCase() === target.table.toLowerCase());
  return byTable?.[1] ?? (target.source ? tables[target.source.name] : undefined);
}

/** `maintenance.tables` entries that name no maintained table: said as warnings, never fatal. */
export function unknownTableSettings(model: SemanticModel, config: ProjectConfig): string[] {
  const targets = maintenanceTargets(model);
  return Object.keys(config.maintenance?.tables ?? {}).filter(
    (name) => !targets.some((t) => t.table.toLowerCase() === name.toLowerCase() || t.source?.name === name),
  );
}

export interface MaintainOptions {
  /** The clock cutoffs are taken from (default Date.now). */
  now?: () => number;
}

/**
 * Maintains one table: compaction (CDC sources only), manifest rewriting, snapshot expiry and
 * orphan-file removal, with `settings`' retentions. Compaction comes first so that the
 * superseded files are what a later expiry (once past the retention) deletes.
 */
export async function maintainTable(
  warehouse: Warehouse,
  target: MaintenanceTarget,
  settings: Pick<TableSettings, 'retentionMs' | 'tombstoneRetentionMs'>,
  options: MaintainOptions = {},
): Promise<TableMaintenance> {
  const now = options.now ?? Date.now;
  const result: TableMaintenance = {
    table: target.table,
    expiredSnapshots: 0,
    removedFiles: [],
    rewrittenManifests: 0,
    newSnapshot: false,
  };
  if (!(await warehouse.exists(target.id))) return { ...result, skipped: 'the table does not exist yet' };
  if (target.source) {
    result.compaction = await compactSource(warehouse, target.source, {
      tombstoneRetentionMs: settings.tombstoneRetentionMs,
      now,
    });
  }
  const rewrite = await warehouse.rewriteManifests(target.id);
  result.rewrittenManifests = rewrite.replaced;
  const cutoff = now() - settings.retentionMs;
  const expiry = await warehouse.expireSnapshots(target.id, { olderThanMs: cutoff });
  const orphans = await warehouse.removeOrphanFiles(target.id, { olderThanMs: cutoff });
  result.expiredSnapshots = expiry.expired;
  result.removedFiles = [...expiry.removedFiles, ...orphans.removed].sort();
  result.newSnapshot = (result.compaction?.committed ?? false) || rewrite.snapshot !== undefined;
  return result;
}
