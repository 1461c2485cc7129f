/**
 * Who hears of a tracker's or a pipeline's trouble (docs/alerts.md): strata.yaml `alerts:`
 * and a tracker's own `alerts:` resolved into one routing, and the checks that tie a tracker's
 * channel names to strata.yaml. Pure: nothing is sent from here.
 */
import { error, type Diagnostic } from './diagnostics.js';
import {
  unknownChannel,
  type AlertChannel,
  type PipelineDefinition,
  type ProjectAlerts,
  type TrackerDefinition,
} from './definitions/schema.js';
import type { TrackerModel } from './model/types.js';
import { closest } from './suggest.js';

export const DEFAULT_CONSECUTIVE_FAILURES = 3;
export const DEFAULT_AUDIT_MISMATCHES = 2;
export const DEFAULT_EVALUATE_EVERY = '60s';

/** What a subject's alerts go to: channel names, and the owner emailed through an email channel. */
export interface AlertRouting {
  channels: string[];
  /** The owner's address and the email channel that emails it (when both exist). */
  owner?: { address: string; channel: string };
}

export interface TrackerAlertSettings {
  enabled: boolean;
  routing: AlertRouting;
  failedRun: boolean;
  /** 0: the consecutive-failures alert is off. */
  consecutiveFailures: number;
  stale: boolean;
}

/** A plain address (`a@b.c`): an owner written as a team name or a Slack handle is not emailed. */
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

export function isEmailAddress(value: string | undefined): value is string {
  return value !== undefined && EMAIL.test(value.trim());
}

/** The channels strata.yaml declares, in declaration order. */
export function alertChannels(alerts: ProjectAlerts | undefined): [string, AlertChannel][] {
  return Object.entries(alerts?.channels ?? {});
}

/** The email channel owners are emailed through: `owners`, else the first email channel. */
function ownersChannel(alerts: ProjectAlerts | undefined): string | undefined {
  if (alerts?.owners === false) return undefined;
  if (typeof alerts?.owners === 'string') return alerts.owners;
  return alertChannels(alerts).find(([, c]) => c.type === 'email')?.[0];
}

function routing(
  alerts: ProjectAlerts | undefined,
  channels: string[] | undefined,
  owner: string | undefined,
  emailOwner: boolean,
): AlertRouting {
  const names = channels ?? alerts?.notify ?? alertChannels(alerts).map(([name]) => name);
  const via = emailOwner && isEmailAddress(owner) ? ownersChannel(alerts) : undefined;
  return { channels: names, ...(via ? { owner: { address: owner!.trim(), channel: via } } : {}) };
}

export function trackerAlertSettings(
  alerts: ProjectAlerts | undefined,
  tracker: TrackerDefinition,
): TrackerAlertSettings {
  const own = tracker.alerts ?? {};
  return {
    enabled: own.enabled ?? true,
    routing: routing(alerts, own.channels, tracker.owner, own.owner ?? true),
    failedRun: own.failedRun ?? true,
    consecutiveFailures:
      own.consecutiveFailures ?? alerts?.consecutiveFailures ?? DEFAULT_CONSECUTIVE_FAILURES,
    stale: own.stale ?? true,
  };
}

/** A pipeline alerts strata.yaml's `notify` channels and its owner. */
export function pipelineAlertRouting(
  alerts: ProjectAlerts | undefined,
  pipeline: PipelineDefinition,
): AlertRouting {
  return routing(alerts, undefined, pipeline.owner, true);
}

/** Whether a routing reaches anyone at all (no channel and no owner: nothing to evaluate). */
export function reachesAnyone(route: AlertRouting): boolean {
  return route.channels.length > 0 || route.owner !== undefined;
}

/** A tracker's `alerts.channels` must name channels of strata.yaml. */
export function checkTrackerAlerts(tracker: TrackerModel, alerts: ProjectAlerts | undefined): Diagnostic[] {
  const known = alertChannels(alerts).map(([name]) => name);
  return (tracker.definition.alerts?.channels ?? []).flatMap((name, i) => {
    if (known.includes(name)) return [];
    const suggestion = closest(name, known);
    return [
      error(
        'unknown_alert_channel',
        unknownChannel(name, known),
        tracker.locate(['alerts', 'channels', i]),
        suggestion ? `did you mean ${suggestion}?` : 'declare it under alerts.channels in strata.yaml',
      ),
    ];
  });
}
