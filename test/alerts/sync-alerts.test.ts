/**
 * Issue 11 §4 through `strata sync` (the command's function, in this process): a tracker whose
 * credentials are removed fails with exit 1 and raises exactly one alert at a real webhook
 * (generic and Slack formats) and one email at a real SMTP server, to the project's list and
 * the tracker's owner; failing again sends nothing; fixing it sends one recovery notice. N
 * failures in a row raise their own alert. No secret reaches a receiver.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { syncCommand } from '../../src/cli/tracker-commands.js';
import { startFakeAirtable, type FakeAirtable } from '../support/fake-airtable.js';
import { createProject, type TestProject } from '../service/support.js';
import { startSmtp, startWebhook, type SmtpReceiver, type WebhookReceiver } from './receivers.js';

let project: TestProject;
let airtable: FakeAirtable;
let hook: WebhookReceiver;
let slack: WebhookReceiver;
let smtp: SmtpReceiver;
const saved = { ...process.env };

function writeConfig(dir: string, database: string): void {
  const config = {
    duckdb: { database },
    alerts: {
      channels: {
        hook: { type: 'webhook', url: 'env:TEST_ALERT_HOOK_URL', format: 'generic' },
        slack: { type: 'webhook', url: 'env:TEST_ALERT_SLACK_URL', format: 'slack' },
        mail: {
          type: 'email',
          smtp: 'env:TEST_ALERT_SMTP_URL',
          from: 'strata@example.com',
          to: ['oncall@example.com'],
        },
      },
    },
  };
  writeFileSync(join(dir, 'strata.yaml'), JSON.stringify(config, null, 1));
}

function airtableTracker(name: string, extra: Record<string, unknown> = {}) {
  project.writeTracker(name, {
    owner: 'owner@example.com',
    destinations: [{ type: 'airtable', baseId: 'appAlerts', table: name, mode: 'upsert', key: ['item_id'] }],
    ...extra,
  });
  airtable.createTable('appAlerts', name, ['Item Id', 'Name', 'Qty']);
}

/** `strata sync <name>`; its report goes to stdout, which the test does not need. */
async function sync(name: string): Promise<number> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = () => true;
  try {
    return await syncCommand(project.dir, name, {});
  } finally {
    process.stdout.write = write;
  }
}

beforeAll(async () => {
  [project, airtable, hook, slack, smtp] = await Promise.all([
    createProject(),
    startFakeAirtable({ rateLimit: false }),
    startWebhook(),
    startWebhook('/services/T111/B111/slack-secret-9876543210'),
    startSmtp(),
  ]);
  writeConfig(project.dir, project.database);
  airtableTracker('roster');
  airtableTracker('flaky', { alerts: { channels: ['hook'], consecutiveFailures: 3, owner: false } });
  airtableTracker('echoed', { alerts: { channels: ['hook', 'mail'] } });
  process.env.STRATA_AIRTABLE_ENDPOINT_URL = airtable.url;
  process.env.TEST_ALERT_HOOK_URL = hook.url;
  process.env.TEST_ALERT_SLACK_URL = slack.url;
  process.env.TEST_ALERT_SMTP_URL = smtp.url;
});

beforeEach(() => {
  hook.bodies.length = 0;
  slack.bodies.length = 0;
  smtp.mails.length = 0;
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([airtable?.close(), hook?.close(), slack?.close(), smtp?.close()]);
  project?.cleanup();
});

describe('a tracker whose credentials are removed', () => {
  it('fails, exits 1, and alerts the webhooks and by email exactly once; fixing it sends one recovery', async () => {
    delete process.env.STRATA_AIRTABLE_TOKEN;
    expect(await sync('roster')).toBe(1);

    expect(hook.bodies).toEqual([
      expect.objectContaining({
        version: 1,
        kind: 'tracker',
        key: 'tracker:roster:failed_run',
        condition: 'failed_run',
        state: 'firing',
        tracker: 'roster',
        owner: 'owner@example.com',
        runId: expect.any(String),
        subject: '[Strata ALERT] tracker roster: run failed',
        message: expect.stringContaining(
          'missing credentials: needs STRATA_AIRTABLE_TOKEN in the environment',
        ),
      }),
    ]);
    const [slackBody] = slack.bodies as { text: string; blocks: { type: string }[] }[];
    expect(slack.bodies).toHaveLength(1);
    expect(slackBody!.text).toMatch(/^\[Strata ALERT\] tracker roster: run failed: The run .* failed: /);
    expect(slackBody!.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    // One email, to the project's list and the owner (the mail channel emails owners too).
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.to.sort()).toEqual(['oncall@example.com', 'owner@example.com']);
    expect(smtp.mails[0]!.from).toBe('strata@example.com');
    expect(smtp.mails[0]!.subject).toBe('[Strata ALERT] tracker roster: run failed');
    expect(smtp.mails[0]!.text).toContain('missing credentials: needs STRATA_AIRTABLE_TOKEN');

    // Still failing: the condition is open, nothing new is sent.
    expect(await sync('roster')).toBe(1);
    expect(hook.bodies).toHaveLength(1);
    expect(slack.bodies).toHaveLength(1);
    expect(smtp.mails).toHaveLength(1);

    process.env.STRATA_AIRTABLE_TOKEN = airtable.token;
    expect(await sync('roster')).toBe(0);
    expect(hook.bodies).toHaveLength(2);
    expect(hook.bodies[1]).toEqual(
      expect.objectContaining({
        key: 'tracker:roster:failed_run',
        state: 'resolved',
        subject: '[Strata RESOLVED] tracker roster: runs succeed again',
        since: hook.bodies[0]!.since,
      }),
    );
    expect(slack.bodies).toHaveLength(2);
    expect(smtp.mails).toHaveLength(2);
    expect(smtp.mails[1]!.subject).toBe('[Strata RESOLVED] tracker roster: runs succeed again');

    // Fine again: nothing more.
    expect(await sync('roster')).toBe(0);
    expect(hook.bodies).toHaveLength(2);
  });
});

describe('N failed runs in a row', () => {
  it('raise their own alert at the Nth, and both conditions recover on the next success', async () => {
    delete process.env.STRATA_AIRTABLE_TOKEN;
    const conditions = () => hook.bodies.map((b) => `${String(b.condition)}:${String(b.state)}`);
    expect(await sync('flaky')).toBe(1);
    expect(conditions()).toEqual(['failed_run:firing']);
    expect(await sync('flaky')).toBe(1);
    expect(conditions()).toEqual(['failed_run:firing']);
    expect(await sync('flaky')).toBe(1);
    expect(conditions()).toEqual(['failed_run:firing', 'consecutive_failures:firing']);
    expect(hook.bodies[1]!.subject).toBe('[Strata ALERT] tracker flaky: 3 failed runs in a row');
    expect(await sync('flaky')).toBe(1);
    expect(hook.bodies).toHaveLength(2);

    process.env.STRATA_AIRTABLE_TOKEN = airtable.token;
    expect(await sync('flaky')).toBe(0);
    expect(conditions().slice(2).sort()).toEqual(['consecutive_failures:resolved', 'failed_run:resolved']);
    // Its own channels only: no Slack, and `owner: false` with no mail channel listed.
    expect(slack.bodies).toHaveLength(0);
    expect(smtp.mails).toHaveLength(0);
  });
});

describe('secrets', () => {
  it('never reach a receiver: not an echoed token, not a webhook URL, not the SMTP password', async () => {
    process.env.STRATA_AIRTABLE_TOKEN = airtable.token;
    airtable.fail({
      status: 401,
      body: { error: { type: 'AUTHENTICATION_REQUIRED', message: `invalid token ${airtable.token}` } },
      times: 100,
    });
    expect(await sync('echoed')).toBe(1);
    expect(hook.bodies).toHaveLength(1);
    expect(smtp.mails).toHaveLength(1);
    const everything = [...hook.raw, ...smtp.mails.map((m) => `${m.data}\n${m.text}`)].join('\n');
    expect(everything).toContain('[redacted]');
    for (const secret of [airtable.token, hook.url, slack.url, smtp.password, 'hook-secret-0123456789'])
      expect(everything).not.toContain(secret);
  });
});
