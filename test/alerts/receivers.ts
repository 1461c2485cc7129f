/** Real receivers for alert tests: an HTTP webhook (node:http) and an SMTP server (smtp-server). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface WebhookReceiver {
  /** Includes a secret-looking path, as Slack's URLs do. */
  url: string;
  /** Parsed JSON bodies of the requests answered 2xx, in order. */
  bodies: Record<string, unknown>[];
  /** Every request received, answered or not. */
  requests: number;
  /** Raw texts of every request, for "this never appears" checks. */
  raw: string[];
  /** Statuses to answer the next requests with (then 200). */
  answer(...statuses: number[]): void;
  close(): Promise<void>;
}

export async function startWebhook(
  secretPath = '/services/T000/B000/hook-secret-0123456789',
): Promise<WebhookReceiver> {
  const queue: number[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    bodies: [],
    requests: 0,
    raw: [],
    answer: (...statuses) => queue.push(...statuses),
    close: () => new Promise((done) => server.close(() => done())),
  };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      receiver.requests++;
      receiver.raw.push(text);
      const status = req.url === secretPath ? (queue.shift() ?? 200) : 404;
      if (status < 300) receiver.bodies.push(JSON.parse(text) as Record<string, unknown>);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${secretPath}`;
  return receiver;
}

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw message (headers and body). */
  data: string;
  subject: string;
  /** The body, quoted-printable decoded. */
  text: string;
}

/** The body of a single-part message, decoded when nodemailer wrote it quoted-printable. */
function bodyText(data: string): string {
  const split = data.search(/\r?\n\r?\n/);
  const headers = data.slice(0, split);
  const body = data.slice(split).replace(/^\r?\n\r?\n/, '');
  if (!/Content-Transfer-Encoding: quoted-printable/i.test(headers)) return body;
  return Buffer.from(
    body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

export interface SmtpReceiver {
  /** smtp://user:password@127.0.0.1:port */
  url: string;
  password: string;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

/** Accepts mail for any recipient after AUTH with the given credentials (plain text: loopback only). */
export async function startSmtp(user = 'alerts', password = 'smtp-Pa55word-xyz'): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) callback(null, { user });
      else callback(new Error('invalid credentials'));
    },
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (d: Buffer) => (data += d.toString()));
      stream.on('end', () => {
        const subject =
          /^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(data)?.[1]?.replace(/\r?\n[ \t]/g, ' ') ?? '';
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
          subject,
          text: bodyText(data),
        });
        callback();
      });
    },
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://${user}:${password}@127.0.0.1:${port}`,
    password,
    mails,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
