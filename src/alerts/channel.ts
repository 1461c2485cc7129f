/** What every alert channel is: something that sends one event to its recipients. */
import type { AlertEvent } from './event.js';

export interface SendOptions {
  /** Email: who receives it (the channel's `to`, the owner); webhooks ignore it. */
  to?: readonly string[];
  /** One attempt's deadline. */
  timeoutMs: number;
}

export interface AlertChannelSender {
  readonly name: string;
  /** Throws DeliveryError (or any error: then retried) when the event did not get through. */
  send(event: AlertEvent, options: SendOptions): Promise<void>;
}

/**
 * A failed delivery; `retryable` is false when trying again cannot help (a webhook answering
 * 404, an SMTP server refusing the recipient for good).
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
