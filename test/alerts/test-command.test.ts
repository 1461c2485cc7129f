/**
 * `strata alerts test`: a test notification to every channel (or one), one line per channel,
 * exit 1 when any delivery failed, bad usage (exit 2) for an unknown channel, with a suggestion.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertsTestCommand } from '../../src/cli/alerts-commands.js';
import { UsageError } from '../../src/engines/open-engine.js';
import { startSmtp, startWebhook, type SmtpReceiver, type WebhookReceiver } from './receivers.js';

let dir: string;
let hook: WebhookReceiver;
let smtp: SmtpReceiver;
const saved = { ...process.env };
let out = '';
const write = process.stdout.write.bind(process.stdout);

function config(channels: Record<string, unknown>): void {
  writeFileSync(
    join(dir, 'strata.yaml'),
    JSON.stringify({ alerts: { channels, delivery: { attempts: 1 } } }),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-alerts-test-'));
  [hook, smtp] = await Promise.all([startWebhook(), startSmtp()]);
  process.env.T_HOOK = hook.url;
  process.env.T_SMTP = smtp.url;
});

beforeEach(() => {
  out = '';
  process.stdout.write = (chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  };
  hook.bodies.length = 0;
  smtp.mails.length = 0;
});

afterAll(async () => {
  process.stdout.write = write;
  process.env = saved;
  await Promise.all([hook?.close(), smtp?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const CHANNELS = {
  'team-slack': { type: 'webhook', url: 'env:T_HOOK', format: 'slack' },
  'ops-mail': { type: 'email', smtp: 'env:T_SMTP', from: 'strata@example.com', to: ['oncall@example.com'] },
};

describe('strata alerts test', () => {
  it('sends a test notification to every channel and prints each outcome', async () => {
    config(CHANNELS);
    const code = await alertsTestCommand(dir, {});
    process.stdout.write = write;
    expect(code).toBe(0);
    expect(out).toBe('team-slack (webhook, slack): sent\nops-mail (email): sent to 1 recipient\n');
    expect(hook.bodies).toEqual([
      expect.objectContaining({ text: expect.stringMatching(/^\[Strata test\] test notification: /) }),
    ]);
    expect(smtp.mails.map((m) => [m.subject, m.to])).toEqual([
      ['[Strata test] test notification', ['oncall@example.com']],
    ]);
  });

  it('sends to one channel, and email to the addresses given', async () => {
    config(CHANNELS);
    expect(await alertsTestCommand(dir, { channel: 'ops-mail', to: ['me@example.com'] })).toBe(0);
    process.stdout.write = write;
    expect(out).toBe('ops-mail (email): sent to 1 recipient\n');
    expect(hook.bodies).toHaveLength(0);
    expect(smtp.mails.map((m) => m.to)).toEqual([['me@example.com']]);
  });

  it('exits 1 when a channel fails, naming why', async () => {
    config({ ...CHANNELS, broken: { type: 'webhook', url: 'env:T_UNSET_HOOK' } });
    expect(await alertsTestCommand(dir, {})).toBe(1);
    process.stdout.write = write;
    expect(out.split('\n')).toContain(
      'broken (webhook, generic): failed: needs T_UNSET_HOOK in the environment',
    );
  });

  it('an unknown channel is bad usage, with a suggestion', async () => {
    config(CHANNELS);
    await expect(alertsTestCommand(dir, { channel: 'team-slak' })).rejects.toThrow(
      new UsageError(
        "unknown alert channel 'team-slak' (did you mean team-slack? channels: team-slack, ops-mail)",
      ),
    );
  });
});
