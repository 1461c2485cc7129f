/** `strata alerts test`, and the alerts `strata sync` sends after its run (docs/alerts.md). */
import { alertChannels } from '../core/alerts.js';
import { error as diagnostic, StrataError } from '../core/diagnostics.js';
import type { TrackerModel } from '../core/model/types.js';
import { closest } from '../core/suggest.js';
import { UsageError } from '../engines/open-engine.js';
import { redact, registerConfiguredSecrets } from '../engines/secrets.js';
import type { AlertEvent } from '../alerts/event.js';
import { Notifier, type AlertLog, type DeliveryOutcome } from '../alerts/notifier.js';
import { RunAlerts } from '../alerts/run-alerts.js';
import { readConfig, type LoadedProject } from '../project/load-project.js';
import type { HistoryLocation, RunHistory } from '../trackers/history.js';

/** Delivery trouble, one line each on stderr: the run's own output (stdout) stays as it is. */
const cliAlertLog: AlertLog = {
  info: () => undefined,
  warn: (fields, message) => process.stderr.write(`${redact(describe(message, fields))}\n`),
  error: (fields, message) => process.stderr.write(`${redact(describe(message, fields))}\n`),
};

function describe(message: string, fields: object): string {
  const f = fields as { channel?: string; tracker?: string; error?: string };
  const who = f.channel ? ` to ${f.channel}` : f.tracker ? ` for ${f.tracker}` : '';
  return `warning: ${message.replace(/^alert/, `alert${who}`)}${f.error ? `: ${f.error}` : ''}`;
}

/** After `strata sync` recorded its run: the tracker's alerts, sent before the command ends. */
export async function alertAfterSync(
  project: LoadedProject,
  tracker: TrackerModel,
  history: RunHistory,
  location: HistoryLocation,
): Promise<void> {
  const alerts = new RunAlerts({ log: cliAlertLog });
  try {
    await alerts.afterRun({ config: project.config, tracker, history, location });
  } finally {
    await alerts.close();
  }
}

export interface AlertsTestFlags {
  channel?: string;
  /** Email channels: send to these addresses instead of the channel's `to`. */
  to?: string[];
}

export function testEvent(now: Date): AlertEvent {
  return {
    key: 'test',
    condition: 'test',
    state: 'firing',
    about: { kind: 'test' },
    headline: 'test notification',
    message: `A test notification from \`strata alerts test\` (${now.toISOString()}): this project's alerts reach this channel.`,
    time: now.toISOString(),
  };
}

export async function alertsTestCommand(projectDir: string, flags: AlertsTestFlags): Promise<number> {
  const { config, diagnostics } = readConfig(projectDir);
  if (diagnostics.length > 0) throw new StrataError(diagnostics);
  registerConfiguredSecrets({ config });
  const channels = alertChannels(config.alerts);
  if (channels.length === 0)
    throw new StrataError([
      diagnostic(
        'no_alert_channels',
        'strata.yaml declares no alerts.channels: nothing to test',
        undefined,
        'see docs/alerts.md',
      ),
    ]);
  const names = channels.map(([name]) => name);
  if (flags.channel !== undefined && !names.includes(flags.channel)) {
    const suggestion = closest(flags.channel, names);
    throw new UsageError(
      `unknown alert channel '${flags.channel}' (${suggestion ? `did you mean ${suggestion}? ` : ''}channels: ${names.join(', ')})`,
    );
  }
  const notifier = new Notifier(config.alerts, { log: { ...cliAlertLog, error: () => undefined } });
  const event = testEvent(new Date());
  let failures = 0;
  for (const [name, channel] of channels) {
    if (flags.channel !== undefined && name !== flags.channel) continue;
    const outcome = await notifier.test(name, event, flags.to);
    const kind = channel.type === 'webhook' ? `webhook, ${channel.format ?? 'generic'}` : 'email';
    process.stdout.write(`${redact(`${name} (${kind}): ${outcomeText(outcome)}`)}\n`);
    if (outcome.status === 'failed') failures++;
  }
  return failures > 0 ? 1 : 0;
}

function outcomeText(outcome: DeliveryOutcome): string {
  const to =
    outcome.recipients !== undefined
      ? ` to ${outcome.recipients} recipient${outcome.recipients === 1 ? '' : 's'}`
      : '';
  if (outcome.status === 'sent') return `sent${to}`;
  const tries = outcome.attempts > 1 ? ` after ${outcome.attempts} attempts` : '';
  return `failed${tries}: ${outcome.error ?? 'unknown error'}`;
}
