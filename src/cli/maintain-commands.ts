/** `strata maintain [table ...]`: warehouse maintenance by hand (docs/warehouse.md#maintenance). */
import { progress } from '../output/progress.js';
import { DURATION_PATTERN, durationMs, MIN_MAINTENANCE_RETENTION_MS } from '../core/definitions/schema.js';
import {
  maintainTable,
  maintenanceTargets,
  selectTargets,
  settingsFor,
  UnknownMaintenanceTableError,
  type MaintenanceTarget,
  type TableMaintenance,
  type TableSettings,
} from '../cdc/maintenance.js';
import { UsageError } from '../engines/open-engine.js';
import { warehouseExists, warehouseLocation, withWarehouse } from '../engines/warehouse-location.js';
import { loadValidProject } from './context.js';

export interface MaintainFlags {
  /** Overrides every table's snapshot and orphan-file retention. */
  retention?: string;
  /** Overrides every table's tombstone retention. */
  tombstoneRetention?: string;
  json?: boolean;
}

/** A `--retention`-like flag in milliseconds, or undefined when not given; bad usage otherwise. */
function durationFlag(flag: string, value: string | undefined, minimumMs = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!DURATION_PATTERN.test(value))
    throw new UsageError(`${flag} must be a duration such as 12h or 7d, not '${value}'`);
  const ms = durationMs(value);
  if (ms < minimumMs)
    throw new UsageError(
      `${flag} must be at least 1h: a shorter one could delete files a commit in progress is about to reference`,
    );
  return ms;
}

function selected(targets: readonly MaintenanceTarget[], names: readonly string[]): MaintenanceTarget[] {
  try {
    return selectTargets(targets, names);
  } catch (e) {
    if (e instanceof UnknownMaintenanceTableError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Maintains the named CDC tables (all when none named), one after the other; a table that
 * fails is reported and the others still run. Exit 1 when any failed.
 */
export async function maintainCommand(
  projectDir: string,
  tables: string[],
  flags: MaintainFlags,
): Promise<number> {
  const project = loadValidProject(projectDir);
  const retentionMs = durationFlag('--retention', flags.retention, MIN_MAINTENANCE_RETENTION_MS);
  const tombstoneRetentionMs = durationFlag('--tombstone-retention', flags.tombstoneRetention);
  const targets = selected(maintenanceTargets(project.model), tables);
  if (targets.length === 0) {
    process.stderr.write('no CDC tables to maintain (no CDC source reads a table, no pipeline writes one)\n');
    return 0;
  }
  if (!warehouseExists(warehouseLocation(projectDir, project.config)))
    throw new UsageError('no warehouse yet: nothing to maintain (build the demo with `strata demo`)');
  const settings = (target: MaintenanceTarget): TableSettings => {
    const own = settingsFor(target, project.config);
    return {
      ...own,
      ...(retentionMs !== undefined ? { retentionMs } : {}),
      ...(tombstoneRetentionMs !== undefined ? { tombstoneRetentionMs } : {}),
    };
  };
  const outcomes = await withWarehouse(projectDir, project.config, async (warehouse) => {
    const done: ({ ok: true; result: TableMaintenance } | { ok: false; table: string; error: string })[] = [];
    const shown = progress('maintain');
    for (const [i, target] of targets.entries()) {
      shown.step(i + 1, targets.length, target.table);
      try {
        done.push({ ok: true, result: await maintainTable(warehouse, target, settings(target)) });
      } catch (e) {
        done.push({ ok: false, table: target.table, error: (e as Error).message });
      }
    }
    shown.done();
    return done;
  });
  for (const outcome of outcomes) {
    if (!outcome.ok) process.stderr.write(`${outcome.table}: error: ${outcome.error}\n`);
    else if (flags.json) process.stdout.write(`${JSON.stringify(outcome.result)}\n`);
    else process.stdout.write(`${describe(outcome.result)}\n`);
  }
  // Compacted tables changed: the on_change trackers reading them run (when Redis is configured).
  const compacted = outcomes.flatMap((o) => (o.ok && o.result.compaction?.committed ? [o.result.table] : []));
  const { announceTableChanges } = await import('../trackers/change-trigger.js');
  await announceTableChanges(projectDir, project.config, compacted);
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

/** One line per table: what each step did. */
export function describe(result: TableMaintenance): string {
  if (result.skipped) return `${result.table}: skipped (${result.skipped})`;
  const parts: string[] = [];
  const c = result.compaction;
  if (c)
    parts.push(
      c.committed
        ? `compacted ${plural(c.filesBefore, 'file')}, ${plural(c.rowsBefore, 'row')} -> ${plural(c.filesAfter, 'file')}, ${plural(c.rowsAfter, 'row')}`
        : 'already compact',
    );
  parts.push(
    result.rewrittenManifests > 0
      ? `${plural(result.rewrittenManifests, 'manifest')} rewritten`
      : 'manifests fine',
  );
  parts.push(`${plural(result.expiredSnapshots, 'snapshot')} expired`);
  parts.push(`${plural(result.removedFiles.length, 'file')} removed`);
  return `${result.table}: ${parts.join('; ')}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
