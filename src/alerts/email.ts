/**
 * An email channel: one plain-text message per event over SMTP (nodemailer), to the channel's
 * `to` and, when the event concerns them, the owner. The SMTP URL may hold a password: it comes
 * from the environment and is masked wherever a message could quote it.
 */
import nodemailer from 'nodemailer';
import type { EmailChannel } from '../core/definitions/schema.js';
import { redact } from '../engines/secrets.js';
import { DeliveryError, type AlertChannelSender, type SendOptions } from './channel.js';
import { emailText, subjectLine, type AlertEvent } from './event.js';

export class EmailSender implements AlertChannelSender {
  constructor(
    readonly name: string,
    private readonly definition: EmailChannel,
    private readonly smtpUrl: string,
  ) {}

  async send(event: AlertEvent, options: SendOptions): Promise<void> {
    const to = [...new Set(options.to ?? this.definition.to ?? [])];
    if (to.length === 0) throw new DeliveryError('no recipients: the channel has no `to`', false);
    // A transport per message: alerts are rare, and nothing stays connected between them.
    const transport = nodemailer.createTransport({
      url: this.smtpUrl,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    });
    try {
      await transport.sendMail({
        from: this.definition.from,
        to,
        subject: subjectLine(event),
        text: emailText(event),
        headers: { 'X-Strata-Alert': event.key },
      });
    } catch (e) {
      throw smtpFailure(e);
    } finally {
      transport.close();
    }
  }
}

/** An SMTP 5xx answer is permanent (a refused recipient or sender); anything else may pass later. */
function smtpFailure(e: unknown): DeliveryError {
  const error = e as { responseCode?: number; code?: string; message?: string };
  const permanent = typeof error.responseCode === 'number' && error.responseCode >= 500;
  const reason = error.message ?? String(e);
  return new DeliveryError(redact(`SMTP: ${reason}`), !permanent);
}
