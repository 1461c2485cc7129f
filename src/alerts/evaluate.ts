/**
 * Evaluation: findings become transitions of the shared alert state, and each transition one
 * event. A condition that opens sends an alert; while it stays open nothing more is sent
 * (whichever process sees it again: serve, a worker, the CLI); when it closes, one recovery
 * notice. Used after every tracker run and periodically by `strata serve`.
 */
import {
  DEFAULT_AUDIT_MISMATCHES,
  pipelineAlertRouting,
  reachesAnyone,
  trackerAlertSettings,
  type AlertRouting,
} from '../core/alerts.js';
import type { ProjectConfig } from '../core/definitions/schema.js';
import type { PipelineModel, SemanticModel, TrackerModel } from '../core/model/types.js';
import type { PipelineStateStore } from '../pipelines/state.js';
import type { RunHistory } from '../trackers/history.js';
import { pipelineFindings, trackerFindings, type Finding } from './conditions.js';
import { conditionKey, type AlertEvent, type AlertSubject } from './event.js';
import type { AlertLog, Notifier } from './notifier.js';
import type { AlertStore } from './store.js';

export interface EvaluationContext {
  store: AlertStore;
  notifier: Notifier;
  now: Date;
}

function subjectName(about: AlertSubject): string {
  return about.kind === 'tracker'
    ? `tracker:${about.tracker}`
    : about.kind === 'pipeline'
      ? `pipeline:${about.pipeline}`
      : 'test';
}

/** Applies findings to the shared state; returns the events this call raised (and sent). */
export async function applyFindings(
  findings: readonly Finding[],
  routing: AlertRouting,
  ctx: EvaluationContext,
): Promise<AlertEvent[]> {
  const events: AlertEvent[] = [];
  for (const finding of findings) {
    const event = await transition(finding, ctx);
    if (!event) continue;
    events.push(event);
    await ctx.notifier.notify(event, routing);
  }
  return events;
}

async function transition(finding: Finding, ctx: EvaluationContext): Promise<AlertEvent | undefined> {
  const key = conditionKey(finding.about, finding.condition);
  const time = ctx.now.toISOString();
  const base = {
    key,
    condition: finding.condition,
    about: finding.about,
    time,
    ...(finding.runId ? { runId: finding.runId } : {}),
  };
  if (finding.holds === true) {
    const opened = await ctx.store.raise(
      key,
      { condition: finding.condition, subject: subjectName(finding.about), message: finding.message },
      ctx.now,
    );
    return opened
      ? { ...base, state: 'firing', headline: finding.headline, message: finding.message, since: time }
      : undefined;
  }
  if (finding.holds === false) {
    const closed = await ctx.store.resolve(key, ctx.now);
    return closed
      ? {
          ...base,
          state: 'resolved',
          headline: finding.resolvedHeadline,
          message: finding.resolvedMessage,
          since: closed.openedAt,
        }
      : undefined;
  }
  return undefined;
}

/** A tracker's conditions (failed run, N in a row, stale), applied. */
export async function evaluateTracker(
  tracker: TrackerModel,
  config: ProjectConfig,
  history: RunHistory,
  ctx: EvaluationContext,
): Promise<AlertEvent[]> {
  const settings = trackerAlertSettings(config.alerts, tracker.definition);
  if (!settings.enabled || !reachesAnyone(settings.routing)) return [];
  const findings = await trackerFindings(tracker, settings, history, {
    now: ctx.now,
    ...(config.freshness?.staleAfter !== undefined ? { staleAfter: config.freshness.staleAfter } : {}),
  });
  return applyFindings(findings, settings.routing, ctx);
}

/** A pipeline's conditions (paused, persistent audit mismatch per table), applied. */
export async function evaluatePipeline(
  pipeline: PipelineModel,
  config: ProjectConfig,
  states: PipelineStateStore,
  ctx: EvaluationContext,
): Promise<AlertEvent[]> {
  const routing = pipelineAlertRouting(config.alerts, pipeline.definition);
  if (!reachesAnyone(routing)) return [];
  const findings = await pipelineFindings(pipeline, states, {
    auditMismatches: config.alerts?.auditMismatches ?? DEFAULT_AUDIT_MISMATCHES,
  });
  return applyFindings(findings, routing, ctx);
}

export interface ProjectEvaluation extends EvaluationContext {
  config: ProjectConfig;
  model: SemanticModel;
  history: RunHistory;
  states: PipelineStateStore;
  log: AlertLog;
}

/**
 * Every tracker and pipeline of a project (the periodic check of `strata serve`). One that
 * cannot be evaluated is logged and the others still are.
 */
export async function evaluateProject(evaluation: ProjectEvaluation): Promise<AlertEvent[]> {
  const { config, model, history, states, log } = evaluation;
  const events: AlertEvent[] = [];
  const guarded = async (subject: string, evaluate: () => Promise<AlertEvent[]>) => {
    try {
      events.push(...(await evaluate()));
    } catch (e) {
      log.warn({ subject, error: (e as Error).message }, 'could not evaluate alerts');
    }
  };
  for (const tracker of model.trackers.values())
    await guarded(`tracker:${tracker.name}`, () => evaluateTracker(tracker, config, history, evaluation));
  for (const pipeline of model.pipelines.values())
    await guarded(`pipeline:${pipeline.name}`, () => evaluatePipeline(pipeline, config, states, evaluation));
  return events;
}
