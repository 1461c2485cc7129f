/**
 * Delivery: a receiver answering 500 is retried until it takes the alert, one answering 404 is
 * not retried, one that is down costs bounded attempts and never throws, and a secret inside an
 * event never leaves the process. Backoff waits are recorded, not slept.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProjectAlerts } from '../../src/core/definitions/schema.js';
import type { AlertEvent } from '../../src/alerts/event.js';
import { Notifier, type AlertLog } from '../../src/alerts/notifier.js';
import { registerSecrets } from '../../src/engines/secrets.js';
import { startSmtp, startWebhook, type SmtpReceiver, type WebhookReceiver } from './receivers.js';

let hook: WebhookReceiver;
let smtp: SmtpReceiver;
let env: NodeJS.ProcessEnv;
const waits: number[] = [];
const logged: { level: string; fields: object; message: string }[] = [];
const log: AlertLog = {
  info: (fields, message) => logged.push({ level: 'info', fields, message }),
  warn: (fields, message) => logged.push({ level: 'warn', fields, message }),
  error: (fields, message) => logged.push({ level: 'error', fields, message }),
};

const alerts: ProjectAlerts = {
  channels: {
    hook: { type: 'webhook', url: 'env:HOOK_URL' },
    down: { type: 'webhook', url: 'env:DOWN_URL', format: 'slack' },
    mail: { type: 'email', smtp: 'env:SMTP_URL', from: 'strata@example.com', to: ['oncall@example.com'] },
    nowhere: { type: 'webhook', url: 'env:UNSET_HOOK_URL' },
  },
};

const notifier = () =>
  new Notifier(alerts, { env, log, retry: { sleep: async (ms) => void waits.push(ms) } });

function event(message: string): AlertEvent {
  return {
    key: 'tracker:t:failed_run',
    condition: 'failed_run',
    state: 'firing',
    about: { kind: 'tracker', tracker: 't' },
    headline: 'tracker t: run failed',
    message,
    time: '2026-12-06T10:00:00.000Z',
  };
}

/** A port nothing listens on (any more): connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

beforeAll(async () => {
  [hook, smtp] = await Promise.all([startWebhook(), startSmtp()]);
  env = {
    HOOK_URL: hook.url,
    DOWN_URL: `http://127.0.0.1:${await closedPort()}/services/T/B/down-secret-555`,
    SMTP_URL: smtp.url,
  };
});

beforeEach(() => {
  hook.bodies.length = 0;
  hook.raw.length = 0;
  hook.requests = 0;
  smtp.mails.length = 0;
  waits.length = 0;
  logged.length = 0;
});

afterAll(async () => {
  await Promise.all([hook?.close(), smtp?.close()]);
});

describe('delivery', () => {
  it('retries a webhook answering 500 with growing waits until it takes the alert', async () => {
    hook.answer(500, 503);
    const outcomes = await notifier().notify(event('boom'), { channels: ['hook'] });
    expect(outcomes).toEqual([{ channel: 'hook', status: 'sent', attempts: 3 }]);
    expect(hook.requests).toBe(3);
    expect(hook.bodies).toHaveLength(1);
    expect(waits).toEqual([1000, 2000]);
    expect(logged.map((l) => l.level)).toEqual(['warn', 'warn', 'info']);
  });

  it('does not retry a webhook that refuses the request (404)', async () => {
    hook.answer(404);
    const [outcome] = await notifier().notify(event('boom'), { channels: ['hook'] });
    expect(outcome).toEqual({
      channel: 'hook',
      status: 'failed',
      attempts: 1,
      error: 'the webhook answered HTTP 404: no',
    });
    expect(hook.requests).toBe(1);
  });

  it('gives up on a receiver that is down after the bounded attempts, without throwing, logging no URL', async () => {
    const [outcome] = await notifier().notify(event('boom'), { channels: ['down'] });
    expect(outcome).toEqual({
      channel: 'down',
      status: 'failed',
      attempts: 4,
      error: 'cannot reach the webhook: ECONNREFUSED',
    });
    expect(waits).toEqual([1000, 2000, 4000]);
    expect(logged.at(-1)).toEqual(
      expect.objectContaining({ level: 'error', message: 'alert not delivered' }),
    );
    expect(JSON.stringify(logged)).not.toContain('down-secret-555');
  });

  it('fails a channel whose variable is unset, naming the variable, and still delivers the others', async () => {
    const outcomes = await notifier().notify(event('boom'), { channels: ['nowhere', 'hook', 'mail'] });
    expect(outcomes).toEqual([
      { channel: 'nowhere', status: 'failed', attempts: 0, error: 'needs UNSET_HOOK_URL in the environment' },
      { channel: 'hook', status: 'sent', attempts: 1 },
      { channel: 'mail', status: 'sent', attempts: 1, recipients: 1 },
    ]);
  });

  it('emails the owner through the owners channel even when the routing does not list it', async () => {
    const outcomes = await notifier().notify(event('boom'), {
      channels: ['hook'],
      owner: { address: 'lead@example.com', channel: 'mail' },
    });
    expect(outcomes.map((o) => o.status)).toEqual(['sent', 'sent']);
    expect(smtp.mails.map((m) => m.to)).toEqual([['lead@example.com']]);
    expect(hook.bodies[0]).toEqual(expect.objectContaining({ owner: 'lead@example.com' }));
  });

  it('masks every known secret in what it sends', async () => {
    const secret = 'sk_live_abcdef0123456789';
    registerSecrets([secret]);
    await notifier().notify(event(`the server said: bad key ${secret}`), { channels: ['hook', 'mail'] });
    const sent = [...hook.raw, ...smtp.mails.map((m) => `${m.data}\n${m.text}`)].join('\n');
    expect(hook.bodies[0]!.message).toBe('the server said: bad key [redacted]');
    expect(smtp.mails[0]!.text).toContain('bad key [redacted]');
    expect(sent).not.toContain(secret);
    expect(sent).not.toContain(Buffer.from(secret).toString('base64'));
  });
});
