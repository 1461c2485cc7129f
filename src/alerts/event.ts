/**
 * What an alert says (docs/alerts.md): one event per condition opening (`firing`) or closing
 * (`resolved`), rendered by each channel. Events carry no links and no configuration: only the
 * condition, its subject and a message, redacted before any channel sees them.
 */
import { secrets } from '../engines/secrets.js';

export const CONDITIONS = [
  'failed_run',
  'consecutive_failures',
  'stale',
  'pipeline_paused',
  'audit_mismatch',
  'test',
] as const;
export type ConditionName = (typeof CONDITIONS)[number];

export type AlertState = 'firing' | 'resolved';

/** What the alert is about. */
export type AlertSubject =
  | { kind: 'tracker'; tracker: string }
  | { kind: 'pipeline'; pipeline: string; table?: string }
  | { kind: 'test' };

export interface AlertEvent {
  /** The condition's identity, e.g. `tracker:movie-status:failed_run` (see conditionKey). */
  key: string;
  condition: ConditionName;
  state: AlertState;
  about: AlertSubject;
  /** One line: what happened (the email subject, Slack's header). */
  headline: string;
  /** What a person needs to act: the run's error, the pause reason, the audit's counts. */
  message: string;
  runId?: string;
  owner?: string;
  /** When the condition opened (for a resolved event: how long it lasted). */
  since?: string;
  /** When this event was raised. */
  time: string;
}

/** The key of a condition: `tracker:<name>:<condition>`, `pipeline:<name>:<condition>[:<table>]`. */
export function conditionKey(about: AlertSubject, condition: ConditionName): string {
  switch (about.kind) {
    case 'tracker':
      return `tracker:${about.tracker}:${condition}`;
    case 'pipeline':
      return `pipeline:${about.pipeline}:${condition}${about.table ? `:${about.table}` : ''}`;
    case 'test':
      return 'test';
  }
}

/** The event with every known secret masked: messages quote run errors, which quote servers. */
export function redactEvent(event: AlertEvent): AlertEvent {
  return secrets.redactDeep(event);
}

/** The one-line subject of an email, and the text of a Slack message. */
export function subjectLine(event: AlertEvent): string {
  const label = event.condition === 'test' ? 'test' : event.state === 'firing' ? 'ALERT' : 'RESOLVED';
  return `[Strata ${label}] ${event.headline}`;
}

/**
 * The generic webhook body (documented in docs/alerts.md; `version` changes only when a field
 * changes meaning or goes away).
 */
export interface GenericBody {
  version: 1;
  kind: AlertSubject['kind'];
  key: string;
  condition: ConditionName;
  state: AlertState;
  subject: string;
  message: string;
  tracker?: string;
  pipeline?: string;
  table?: string;
  runId?: string;
  owner?: string;
  since?: string;
  time: string;
}

export function genericBody(event: AlertEvent): GenericBody {
  const about = event.about;
  return {
    version: 1,
    kind: about.kind,
    key: event.key,
    condition: event.condition,
    state: event.state,
    subject: subjectLine(event),
    message: event.message,
    ...(about.kind === 'tracker' ? { tracker: about.tracker } : {}),
    ...(about.kind === 'pipeline' ? { pipeline: about.pipeline } : {}),
    ...(about.kind === 'pipeline' && about.table ? { table: about.table } : {}),
    ...(event.runId ? { runId: event.runId } : {}),
    ...(event.owner ? { owner: event.owner } : {}),
    ...(event.since ? { since: event.since } : {}),
    time: event.time,
  };
}

/** Slack caps a header at 150 characters and a section at 3000. */
const SLACK_HEADER_MAX = 150;
const SLACK_SECTION_MAX = 3000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export interface SlackBody {
  text: string;
  blocks: (
    | { type: 'header'; text: { type: 'plain_text'; text: string } }
    | { type: 'section'; text: { type: 'plain_text'; text: string } }
    | { type: 'context'; elements: { type: 'plain_text'; text: string }[] }
  )[];
}

/**
 * Slack's incoming-webhook JSON: `text` (notifications and old clients) and blocks. Plain text
 * only: a run error is never read as Slack markup (no mentions or links smuggled in).
 */
export function slackBody(event: AlertEvent): SlackBody {
  const context = [
    event.key,
    event.runId ? `run ${event.runId}` : '',
    event.since ? `since ${event.since}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return {
    text: clip(`${subjectLine(event)}: ${event.message}`, SLACK_SECTION_MAX),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(subjectLine(event), SLACK_HEADER_MAX) } },
      { type: 'section', text: { type: 'plain_text', text: clip(event.message, SLACK_SECTION_MAX) } },
      { type: 'context', elements: [{ type: 'plain_text', text: clip(`${context} · ${event.time}`, 2000) }] },
    ],
  };
}

/** The plain-text body of an alert email. */
export function emailText(event: AlertEvent): string {
  const about = event.about;
  const lines = [
    event.message,
    '',
    `condition: ${event.condition} (${event.state})`,
    `key: ${event.key}`,
    ...(about.kind === 'tracker' ? [`tracker: ${about.tracker}`] : []),
    ...(about.kind === 'pipeline' ? [`pipeline: ${about.pipeline}`] : []),
    ...(about.kind === 'pipeline' && about.table ? [`table: ${about.table}`] : []),
    ...(event.runId ? [`run: ${event.runId}`] : []),
    ...(event.owner ? [`owner: ${event.owner}`] : []),
    ...(event.since ? [`since: ${event.since}`] : []),
    `time: ${event.time}`,
  ];
  return `${lines.join('\n')}\n`;
}
