/**
 * The alert conditions (docs/alerts.md) read from what Strata records: the run history, the
 * trackers' freshness, the pipelines' state and audits. Each finding says whether its condition
 * holds now: true, false, or undefined when the records cannot tell yet (a lagging audit, fewer
 * failures than N): an undecided condition stays as it is.
 */
import type { TrackerAlertSettings } from '../core/alerts.js';
import type { PipelineModel, TrackerModel } from '../core/model/types.js';
import type { AuditRecord, PipelineStateStore } from '../pipelines/state.js';
import { trackerFreshness } from '../trackers/freshness.js';
import type { RunHistory, TrackerRun } from '../trackers/history.js';
import type { AlertSubject, ConditionName } from './event.js';

export interface Finding {
  about: AlertSubject;
  condition: ConditionName;
  holds: boolean | undefined;
  /** What a firing alert says. */
  headline: string;
  message: string;
  /** What a recovery notice says. */
  resolvedHeadline: string;
  resolvedMessage: string;
  runId?: string;
}

const failed = (run: TrackerRun) => run.status === 'failed' || run.status === 'partial';

/** How many runs past N are read to find the start of a streak (skipped runs are passed over). */
const RUNS_READ_BEYOND_N = 20;

export async function trackerFindings(
  tracker: TrackerModel,
  settings: TrackerAlertSettings,
  history: RunHistory,
  options: { now: Date; staleAfter?: number },
): Promise<Finding[]> {
  const about: AlertSubject = { kind: 'tracker', tracker: tracker.name };
  const limit = Math.max(settings.consecutiveFailures, 1) + RUNS_READ_BEYOND_N;
  // A skipped run (nothing changed since the last success) neither fails nor recovers.
  const runs = (await history.list({ tracker: tracker.name, limit })).filter((r) => r.status !== 'skipped');
  const findings: Finding[] = [];
  const latest = runs[0];
  if (latest && settings.failedRun) findings.push(failedRunFinding(about, tracker.name, latest));
  if (latest && settings.consecutiveFailures > 0)
    findings.push(streakFinding(about, tracker.name, runs, settings.consecutiveFailures));
  if (settings.stale) {
    const freshness = await trackerFreshness(tracker, history, {
      now: options.now,
      ...(options.staleAfter !== undefined ? { staleAfter: options.staleAfter } : {}),
    });
    findings.push({
      about,
      condition: 'stale',
      holds: freshness.state === 'stale',
      headline: `tracker ${tracker.name} is stale`,
      message: `Stale: ${freshness.reason}.`,
      resolvedHeadline:
        freshness.state === 'unscheduled'
          ? `tracker ${tracker.name} is no longer scheduled`
          : `tracker ${tracker.name} is fresh again`,
      resolvedMessage: `Now ${freshness.state}: ${freshness.reason}.`,
    });
  }
  return findings;
}

function describeRun(run: TrackerRun): string {
  return `run ${run.id} (${run.trigger}, started ${run.startedAt})`;
}

function failedRunFinding(about: AlertSubject, name: string, latest: TrackerRun): Finding {
  const what = latest.status === 'partial' ? 'partly failed' : latest.status;
  return {
    about,
    condition: 'failed_run',
    holds: failed(latest) ? true : latest.status === 'succeeded' ? false : undefined,
    headline: `tracker ${name}: run ${what}`,
    message: `The ${describeRun(latest)} ${what}: ${latest.error ?? 'no reason recorded'}`,
    resolvedHeadline: `tracker ${name}: runs succeed again`,
    resolvedMessage: `The ${describeRun(latest)} succeeded: ${latest.rows} rows.`,
    runId: latest.id,
  };
}

/** N failed runs in a row; over when a run succeeds. */
function streakFinding(about: AlertSubject, name: string, runs: TrackerRun[], n: number): Finding {
  const latest = runs[0]!;
  const streak = runs.findIndex((r) => !failed(r));
  const count = streak < 0 ? runs.length : streak;
  return {
    about,
    condition: 'consecutive_failures',
    holds: count >= n ? true : latest.status === 'succeeded' ? false : undefined,
    headline: `tracker ${name}: ${count} failed runs in a row`,
    message: `The last ${count} runs failed (alerting at ${n}). The latest, ${describeRun(latest)}: ${latest.error ?? 'no reason recorded'}`,
    resolvedHeadline: `tracker ${name}: succeeded again after failing runs in a row`,
    resolvedMessage: `The ${describeRun(latest)} succeeded: ${latest.rows} rows.`,
    runId: latest.id,
  };
}

/** Audits store whether they compared short of the source's position (then nothing is decided). */
type StoredAudit = AuditRecord & { lagging?: boolean };

const mismatched = (audit: StoredAudit) => !audit.lagging && audit.missing.length + audit.extra.length > 0;

export async function pipelineFindings(
  pipeline: PipelineModel,
  states: PipelineStateStore,
  options: { auditMismatches: number },
): Promise<Finding[]> {
  const name = pipeline.name;
  const findings: Finding[] = [];
  const state = await states.get(name);
  if (state)
    findings.push({
      about: { kind: 'pipeline', pipeline: name },
      condition: 'pipeline_paused',
      holds: state.status === 'paused',
      headline: `pipeline ${name} is paused`,
      message: `Paused${state.pausedAt ? ` at ${state.pausedAt}` : ''}: ${state.pausedReason ?? 'no reason given'}. Nothing flows into the warehouse until it is resumed (strata pipeline resume ${name}).`,
      resolvedHeadline: `pipeline ${name} is no longer paused`,
      resolvedMessage: `Now ${state.status}.`,
    });
  for (const table of pipeline.definition.source.tables) {
    const audits = (await states.audits(name, { table, limit: options.auditMismatches })) as StoredAudit[];
    const latest = audits[0];
    if (!latest) continue;
    const persistent = audits.length >= options.auditMismatches && audits.every(mismatched);
    findings.push({
      about: { kind: 'pipeline', pipeline: name, table },
      condition: 'audit_mismatch',
      holds: persistent ? true : !latest.lagging && !mismatched(latest) ? false : undefined,
      headline: `pipeline ${name}: ${table} differs from the warehouse`,
      message: `The last ${audits.length} audits of ${table} found differences. The latest (${latest.at}): ${latest.missing.length} keys missing from the warehouse, ${latest.extra.length} extra (source ${latest.sourceKeys} keys, warehouse ${latest.targetKeys}).`,
      resolvedHeadline: `pipeline ${name}: ${table} matches its source again`,
      resolvedMessage: `The audit at ${latest.at} found the same ${latest.sourceKeys} keys on both sides.`,
    });
  }
  return findings;
}
