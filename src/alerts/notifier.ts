/**
 * Delivers alert events to the channels of strata.yaml `alerts:`. Every delivery is retried
 * with exponential backoff (bounded attempts), each failure is logged, and nothing here ever
 * throws: an alert that cannot be delivered must never fail a run or crash a worker.
 */
import { durationMs, type AlertChannel, type ProjectAlerts } from '../core/definitions/schema.js';
import type { AlertRouting } from '../core/alerts.js';
import { redact, resolveSecret, secrets } from '../engines/secrets.js';
import { DeliveryError, type AlertChannelSender } from './channel.js';
import { EmailSender } from './email.js';
import { redactEvent, type AlertEvent } from './event.js';
import { WebhookSender } from './webhook.js';

/** What a logger must offer (pino's fits). Fields never hold a URL or an address book. */
export interface AlertLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentAlertLog: AlertLog = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export interface RetryPolicy {
  /** Attempts per delivery, the first included (default 4). */
  attempts: number;
  /** The wait before the second attempt; doubled before each next one, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_DELIVERY_ATTEMPTS = 4;
export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  log?: AlertLog;
  /** Overrides of the retry policy (tests wait less). */
  retry?: Partial<RetryPolicy>;
}

/** One channel's outcome for one event. */
export interface DeliveryOutcome {
  channel: string;
  status: 'sent' | 'failed';
  attempts: number;
  error?: string;
  /** Email: how many recipients. */
  recipients?: number;
}

/** One send: a channel, and for email whom it goes to. */
interface Delivery {
  channel: string;
  to?: string[];
}

export class Notifier {
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: AlertLog;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;

  constructor(
    private readonly alerts: ProjectAlerts | undefined,
    options: NotifierOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.log = options.log ?? silentAlertLog;
    this.retry = {
      attempts: alerts?.delivery?.attempts ?? DEFAULT_DELIVERY_ATTEMPTS,
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      sleep,
      ...options.retry,
    };
    this.timeoutMs = alerts?.delivery?.timeout
      ? durationMs(alerts.delivery.timeout)
      : DEFAULT_DELIVERY_TIMEOUT_MS;
    registerChannelSecrets(alerts, this.env);
  }

  /** Sends an event where its routing says; resolves with each channel's outcome, never rejects. */
  async notify(event: AlertEvent, routing: AlertRouting): Promise<DeliveryOutcome[]> {
    const owner = routing.owner?.address;
    const safe = redactEvent(owner && !event.owner ? { ...event, owner } : event);
    return Promise.all(this.deliveries(routing).map((d) => this.deliver(safe, d)));
  }

  /** Sends a test event to one channel (email: to `to`, else its own recipients). */
  async test(channel: string, event: AlertEvent, to?: string[]): Promise<DeliveryOutcome> {
    const definition = this.alerts?.channels?.[channel];
    const recipients =
      to && to.length > 0 ? to : definition?.type === 'email' ? (definition.to ?? []) : undefined;
    return this.deliver(redactEvent(event), { channel, ...(recipients ? { to: recipients } : {}) });
  }

  /**
   * The sends of a routing: each channel once, its `to` plus the owner on the owners' channel;
   * the owners' channel alone to the owner when the routing does not list it.
   */
  private deliveries(routing: AlertRouting): Delivery[] {
    const owner = routing.owner;
    const deliveries: Delivery[] = [];
    for (const name of new Set(routing.channels)) {
      const channel = this.alerts?.channels?.[name];
      if (!channel) continue;
      if (channel.type !== 'email') {
        deliveries.push({ channel: name });
        continue;
      }
      const to = [...(channel.to ?? []), ...(owner?.channel === name ? [owner.address] : [])];
      if (to.length > 0) deliveries.push({ channel: name, to: [...new Set(to)] });
    }
    if (owner && !routing.channels.includes(owner.channel))
      deliveries.push({ channel: owner.channel, to: [owner.address] });
    return deliveries;
  }

  private async deliver(event: AlertEvent, delivery: Delivery): Promise<DeliveryOutcome> {
    const fields = { channel: delivery.channel, key: event.key, state: event.state };
    const recipients = delivery.to ? { recipients: delivery.to.length } : {};
    let sender: AlertChannelSender;
    try {
      sender = this.sender(delivery.channel);
    } catch (e) {
      const error = redact((e as Error).message);
      this.log.error({ ...fields, error }, 'alert not delivered');
      return { channel: delivery.channel, status: 'failed', attempts: 0, error, ...recipients };
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await sender.send(event, { ...(delivery.to ? { to: delivery.to } : {}), timeoutMs: this.timeoutMs });
        this.log.info({ ...fields, attempt }, 'alert delivered');
        return { channel: delivery.channel, status: 'sent', attempts: attempt, ...recipients };
      } catch (e) {
        const error = redact(e instanceof Error ? e.message : String(e));
        const retryable = !(e instanceof DeliveryError) || e.retryable;
        if (!retryable || attempt >= this.retry.attempts) {
          this.log.error({ ...fields, attempt, error }, 'alert not delivered');
          return { channel: delivery.channel, status: 'failed', attempts: attempt, error, ...recipients };
        }
        const wait = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        this.log.warn({ ...fields, attempt, error, retryInMs: wait }, 'alert delivery failed; retrying');
        await this.retry.sleep(wait);
      }
    }
  }

  /** The sender of a channel, its credential read from the environment now (it may have been fixed since). */
  private sender(name: string): AlertChannelSender {
    const channel = this.alerts?.channels?.[name];
    if (!channel) throw new Error(`unknown alert channel '${name}'`);
    return senderOf(name, channel, this.env);
  }
}

function senderOf(name: string, channel: AlertChannel, env: NodeJS.ProcessEnv): AlertChannelSender {
  const reference = channel.type === 'webhook' ? channel.url : channel.smtp;
  const value = env[reference.slice('env:'.length)];
  if (!value) throw new Error(`needs ${reference.slice('env:'.length)} in the environment`);
  if (channel.type === 'webhook') {
    secrets.addWhole(value);
    return new WebhookSender(name, channel, value);
  }
  return new EmailSender(name, channel, resolveSecret(reference, env));
}

/**
 * Webhook URLs are credentials as a whole (resolveSecret masks only a URL's password); SMTP
 * URLs are masked as connection URLs (the password, and the AUTH PLAIN forms of it).
 */
export function registerChannelSecrets(alerts: ProjectAlerts | undefined, env: NodeJS.ProcessEnv): void {
  for (const channel of Object.values(alerts?.channels ?? {})) {
    const value = env[(channel.type === 'webhook' ? channel.url : channel.smtp).slice('env:'.length)];
    if (channel.type === 'webhook') secrets.addWhole(value);
    else secrets.add(value);
  }
}
