/**
 * A webhook channel: POSTs the event as JSON, Slack's incoming-webhook format or Strata's
 * generic body. The URL is the credential: it is registered as a secret as a whole, and
 * neither it nor a redirect target ever appears in a message.
 */
import type { WebhookChannel } from '../core/definitions/schema.js';
import { redact } from '../engines/secrets.js';
import { DeliveryError, type AlertChannelSender, type SendOptions } from './channel.js';
import { genericBody, slackBody, type AlertEvent } from './event.js';

/** How much of a refusing receiver's answer is quoted (Slack says `invalid_payload`, `no_service`). */
const QUOTED_BODY_MAX = 200;

export class WebhookSender implements AlertChannelSender {
  constructor(
    readonly name: string,
    private readonly definition: WebhookChannel,
    private readonly url: string,
  ) {}

  async send(event: AlertEvent, options: SendOptions): Promise<void> {
    const body = this.definition.format === 'slack' ? slackBody(event) : genericBody(event);
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'strata-alerts' },
        body: JSON.stringify(body),
        // A redirect would send the alert somewhere nobody configured.
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (e) {
      throw new DeliveryError(`cannot reach the webhook: ${networkReason(e)}`, true);
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    const text = (await response.text().catch(() => '')).trim().slice(0, QUOTED_BODY_MAX);
    const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
    throw new DeliveryError(
      redact(`the webhook answered HTTP ${response.status}${text ? `: ${text}` : ''}`),
      retryable,
    );
  }
}

/** fetch says "fetch failed" and keeps the reason (ECONNREFUSED, a timeout) in its cause. */
function networkReason(e: unknown): string {
  if (e instanceof Error && e.name === 'TimeoutError') return 'no answer in time';
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  const reason = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
  return redact(reason);
}
