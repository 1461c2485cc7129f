/**
 * Alert configuration: strata.yaml `alerts:` and a tracker's `alerts:` are validated like every
 * other definition (each error at file:line:col), and resolve into one routing per tracker.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { trackerAlertSettings } from '../../src/core/alerts.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { loadProject } from '../../src/project/load-project.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function project(strataYaml: string, tracker: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-alerts-config-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'definitions', 'sources'), { recursive: true });
  mkdirSync(join(dir, 'definitions', 'inputs'), { recursive: true });
  mkdirSync(join(dir, 'trackers'));
  writeFileSync(
    join(dir, 'definitions', 'sources', 'item.yaml'),
    'name: item\ntable: shop.item\nfields:\n  - { name: id, type: integer }\n',
  );
  writeFileSync(
    join(dir, 'definitions', 'inputs', 'items.yaml'),
    'name: items\nfrom: item\nfields: [item.id]\n',
  );
  writeFileSync(join(dir, 'strata.yaml'), strataYaml);
  writeFileSync(join(dir, 'trackers', 't.yaml'), tracker);
  return dir;
}

const TRACKER = `name: t
owner: lead@example.com
input: items
destinations:
  - { type: file, path: out.json }
`;

const CHANNELS = `alerts:
  channels:
    team-slack: { type: webhook, url: env:SLACK_URL, format: slack }
    ops-mail:
      type: email
      smtp: env:SMTP_URL
      from: strata@example.com
      to: [oncall@example.com]
`;

const errorsOf = (dir: string) =>
  loadProject(dir)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => formatDiagnostic(d).replace(dir, '<dir>'));

describe('alert configuration', () => {
  it('accepts channels, defaults and a tracker of its own', () => {
    const dir = project(
      `${CHANNELS}  notify: [team-slack]\n  owners: ops-mail\n  consecutiveFailures: 5\n  evaluateEvery: 30s\n  delivery: { attempts: 2, timeout: 5s }\n`,
      `${TRACKER}alerts: { channels: [ops-mail], consecutiveFailures: 2, stale: false }\n`,
    );
    expect(errorsOf(dir)).toEqual([]);
    const loaded = loadProject(dir);
    const settings = trackerAlertSettings(loaded.config.alerts, loaded.model.trackers.get('t')!.definition);
    expect(settings).toEqual({
      enabled: true,
      routing: { channels: ['ops-mail'], owner: { address: 'lead@example.com', channel: 'ops-mail' } },
      failedRun: true,
      consecutiveFailures: 2,
      stale: false,
    });
  });

  it('defaults: every channel, N = 3, the first email channel for owners', () => {
    const dir = project(CHANNELS, TRACKER);
    const loaded = loadProject(dir);
    expect(trackerAlertSettings(loaded.config.alerts, loaded.model.trackers.get('t')!.definition)).toEqual({
      enabled: true,
      routing: {
        channels: ['team-slack', 'ops-mail'],
        owner: { address: 'lead@example.com', channel: 'ops-mail' },
      },
      failedRun: true,
      consecutiveFailures: 3,
      stale: true,
    });
  });

  it('an owner that is not an email address is not emailed; owners: false emails nobody', () => {
    const dir = project(`${CHANNELS}  owners: false\n`, TRACKER.replace('lead@example.com', 'studio tech'));
    const loaded = loadProject(dir);
    expect(
      trackerAlertSettings(loaded.config.alerts, loaded.model.trackers.get('t')!.definition).routing,
    ).toEqual({ channels: ['team-slack', 'ops-mail'] });
  });

  it('points at each mistake in strata.yaml', () => {
    const dir = project(
      `alerts:
  channels:
    hook: { type: webhook, url: https://hooks.slack.com/services/T/B/X }
    mail: { type: email, smtp: env:SMTP, from: not-an-address }
    pager: { type: pager }
  notify: [hook, hooks]
  owners: hook
`,
      TRACKER,
    );
    expect(errorsOf(dir)).toEqual([
      '<dir>/strata.yaml:3:33: error: credentials come from the environment: write env:NAME (the variable holding it) at alerts.channels.hook.url',
      '<dir>/strata.yaml:4:48: error: an email address such as strata@example.com at alerts.channels.mail.from',
      '<dir>/strata.yaml:5:20: error: invalid value at alerts.channels.pager.type',
    ]);
    const second = project(
      `alerts:
  channels:
    hook: { type: webhook, url: env:HOOK }
  notify: [hook, hooks]
  owners: hook
`,
      TRACKER,
    );
    expect(errorsOf(second)).toEqual([
      "<dir>/strata.yaml:4:18: error: unknown alert channel 'hooks' (channels: hook) at alerts.notify[1]",
      "<dir>/strata.yaml:5:11: error: 'hook' is a webhook channel: owners are emailed through an email channel at alerts.owners",
    ]);
  });

  it("points at a tracker's unknown channel, with a suggestion", () => {
    const dir = project(CHANNELS, `${TRACKER}alerts:\n  channels: [team-slak]\n  enabled: yes\n`);
    expect(errorsOf(dir)).toEqual([
      '<dir>/trackers/t.yaml:8:12: error: expected boolean at alerts.enabled, found a string',
    ]);
    const fixed = project(CHANNELS, `${TRACKER}alerts:\n  channels: [team-slak]\n`);
    expect(errorsOf(fixed)).toEqual([
      "<dir>/trackers/t.yaml:7:14: error: unknown alert channel 'team-slak' (channels: team-slack, ops-mail) (did you mean team-slack?)",
    ]);
  });
});
