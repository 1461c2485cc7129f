/** `strata sync` and `strata runs`. */
import { Compiler } from '../core/compile.js';
import { StrataError } from '../core/diagnostics.js';
import { checkTracker } from '../core/trackers.js';
import type { TrackerModel } from '../core/model/types.js';
import { openEngine, UsageError, type EngineChoice } from '../engines/open-engine.js';
import { redact } from '../engines/secrets.js';
import { RunHistory, type TrackerRun } from '../trackers/history.js';
import { describeMs, trackerFreshness, type TrackerFreshness } from '../trackers/freshness.js';
import { historyLocation } from '../trackers/locations.js';
import { sharedLimits } from '../trackers/shared-limits.js';
import { planTracker, syncTracker, type SyncDependencies, type SyncStep } from '../trackers/sync.js';
import { progress, type Progress } from '../output/progress.js';
import type { LoadedProject } from '../project/load-project.js';
import { alertAfterSync } from './alerts-commands.js';
import { loadValidProject, reportFormat } from './context.js';
import { closest } from '../core/suggest.js';

/** Run reports quote destinations' errors, which may quote a server that echoed a credential. */
function print(text: string): void {
  process.stdout.write(redact(text));
}

function findTracker(project: LoadedProject, name: string): TrackerModel {
  const tracker = project.model.trackers.get(name);
  if (tracker) return tracker;
  const suggestion = closest(name, project.model.trackers.keys());
  throw new UsageError(`unknown tracker '${name}'${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
}

export interface SyncFlags extends EngineChoice {
  dryRun?: boolean;
}

export async function syncCommand(projectDir: string, name: string, flags: SyncFlags): Promise<number> {
  const project = loadValidProject(projectDir);
  const tracker = findTracker(project, name);
  const compiler = new Compiler(project.model);
  const problems = checkTracker(tracker, compiler);
  if (problems.length > 0) throw new StrataError(problems);
  const deps = { compiler, projectDir, openEngine: () => openEngine(projectDir, flags, project.config) };
  if (flags.dryRun) {
    const { rows, plans } = await planTracker(tracker, deps);
    print(`${tracker.name}: ${rows} rows (dry run: no write API is called)\n`);
    for (const plan of plans) {
      if ('status' in plan) {
        print(`  ${plan.destination}: ${plan.status}: ${plan.reason}\n`);
        continue;
      }
      print(
        `  ${plan.destination}: ${plan.creates} to create, ${plan.updates} to update, ${plan.deletes} to delete, ${plan.unchanged} unchanged (${plan.reads} reads)\n`,
      );
      for (const call of plan.apiCalls)
        print(`    ${call.method} ${call.endpoint}${call.description ? `: ${call.description}` : ''}\n`);
      for (const line of plan.details) print(`    ${line}\n`);
    }
    return plans.some((p) => 'status' in p && p.status === 'failed') ? 1 : 0;
  }
  const location = historyLocation(projectDir, project.config);
  const history = await RunHistory.open(location);
  const limits = await sharedLimits(project.config);
  const shown = progress(`sync ${tracker.name}`);
  try {
    const run = await syncTracker(
      tracker,
      { ...deps, history, limiter: limits.limiter, ...syncProgress(shown, tracker) },
      { trigger: 'manual' },
    );
    shown.done();
    printRun(run);
    await alertAfterSync(project, tracker, history, location);
    return run.status === 'failed' || run.status === 'partial' ? 1 : 0;
  } finally {
    shown.done();
    await limits.close();
    await history.close();
  }
}

/** The progress line of a sync: the destination being written and the API calls so far. */
function syncProgress(shown: Progress, tracker: TrackerModel): Pick<SyncDependencies, 'onStep' | 'observer'> {
  let step: SyncStep = { stage: 'query' };
  let calls = 0;
  const total = tracker.definition.destinations.length;
  const show = () => {
    if (step.stage === 'query') shown.step(0, total, 'querying');
    else shown.step(step.index + 1, step.total, `${step.destination}, ${calls} API calls`);
  };
  const quiet = () => undefined;
  return {
    onStep: (next) => {
      step = next;
      show();
    },
    observer: {
      apiCall: () => {
        calls += 1;
        show();
      },
      compiled: quiet,
      queried: quiet,
      rateLimited: quiet,
      retried: quiet,
    },
  };
}

function printRun(run: TrackerRun): void {
  print(`${run.tracker}: ${run.status}, ${run.rows} rows, ${run.apiCalls} API calls (run ${run.id})\n`);
  for (const d of run.destinations) {
    const counts = `${d.created} created, ${d.updated} updated, ${d.deleted} deleted, ${d.unchanged} unchanged`;
    print(
      `  ${d.destination}: ${d.status}${d.status === 'succeeded' ? `, ${counts}` : d.error ? `: ${d.error}` : ''}\n`,
    );
  }
  // A run that failed before reaching its destinations (or skipped them all) says why here.
  if (run.error && run.destinations.every((d) => !d.error)) print(`  ${run.error}\n`);
  if (run.changeCheck) print(`  on_change: ${run.changeCheck}\n`);
}

export async function runsCommand(
  projectDir: string,
  name: string | undefined,
  flags: { limit?: string; format?: string },
): Promise<number> {
  const format = reportFormat(flags.format, 'runs');
  const project = loadValidProject(projectDir);
  if (name) findTracker(project, name);
  const history = await RunHistory.open(historyLocation(projectDir, project.config));
  try {
    const runs = await history.list({
      ...(name ? { tracker: name } : {}),
      limit: flags.limit ? Number(flags.limit) : 20,
    });
    if (format === 'json') {
      // Every recorded field: per-destination counts, calls, bytes and errors included.
      print(`${JSON.stringify(runs, null, 2)}\n`);
      return 0;
    }
    if (runs.length === 0) {
      print('no runs recorded yet\n');
      return 0;
    }
    const header = ['started', 'tracker', 'trigger', 'status', 'rows', 'seconds', 'calls', 'destinations'];
    const lines = runs.map((r) => [
      shortTime(r.startedAt),
      r.tracker,
      r.trigger,
      r.status,
      String(r.rows),
      ((Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1),
      String(r.apiCalls),
      r.destinations.map((d) => `${d.destination} ${d.status}`).join('; ') +
        (r.error && r.status !== 'succeeded' ? ` (${r.error})` : ''),
    ]);
    printTable(header, lines);
    return 0;
  } finally {
    await history.close();
  }
}

/** `strata freshness [tracker]`: each tracker's freshness from the run history. */
export async function freshnessCommand(
  projectDir: string,
  name: string | undefined,
  flags: { format?: string; check?: boolean },
): Promise<number> {
  const format = reportFormat(flags.format, 'freshness');
  const project = loadValidProject(projectDir);
  const trackers = name ? [findTracker(project, name)] : [...project.model.trackers.values()];
  const history = await RunHistory.open(historyLocation(projectDir, project.config));
  try {
    const now = new Date();
    const staleAfter = project.config.freshness?.staleAfter;
    const all: TrackerFreshness[] = [];
    for (const tracker of trackers)
      all.push(await trackerFreshness(tracker, history, { now, ...(staleAfter ? { staleAfter } : {}) }));
    if (format === 'json') print(`${JSON.stringify(all, null, 2)}\n`);
    else
      printTable(
        ['tracker', 'state', 'last success', 'data age', 'stale at', 'why'],
        all.map((f) => [
          f.tracker,
          f.state,
          f.lastSuccessAt ? shortTime(f.lastSuccessAt) : '-',
          f.dataAgeSeconds !== undefined ? describeMs(f.dataAgeSeconds * 1000) : '-',
          f.staleAt ? shortTime(f.staleAt) : '-',
          f.reason,
        ]),
      );
    return flags.check && all.some((f) => f.state === 'stale') ? 1 : 0;
  } finally {
    await history.close();
  }
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').slice(0, 19);
}

/** Columns padded to their widest value; the last one left as it is. */
function printTable(header: string[], lines: string[][]): void {
  if (lines.length === 0) {
    print('no trackers\n');
    return;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  for (const line of [header, ...lines])
    print(`${line.map((v, i) => (i === line.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')}\n`);
}
