/**
 * The small HTTP server of `strata worker --metrics-port N`: `GET /metrics` only (a worker has
 * no other HTTP surface). Listens on 127.0.0.1 unless told otherwise; see access.ts for the
 * optional bearer token.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authorizedScrape } from './access.js';
import type { StrataMetrics } from './metrics.js';

export const DEFAULT_METRICS_HOST = '127.0.0.1';

export interface MetricsServerOptions {
  port: number;
  host?: string;
  /** Scrapers must send `Authorization: Bearer <token>` when set. */
  token?: string;
}

export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  metrics: StrataMetrics,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const server = createServer((req, res) => void answer(metrics, options.token, req, res));
  const host = options.host ?? DEFAULT_METRICS_HOST;
  await listen(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/metrics`,
    port,
    close: () => close(server),
  };
}

async function answer(
  metrics: StrataMetrics,
  token: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') return reply(res, 404, 'not found: this server answers GET /metrics only\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
  if (!authorizedScrape(req.headers.authorization, token)) {
    res.setHeader('WWW-Authenticate', 'Bearer');
    return reply(res, 401, 'a bearer token is required (strata.yaml metrics.token)\n');
  }
  try {
    const body = await metrics.scrape();
    res.writeHead(200, { 'Content-Type': metrics.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (e) {
    reply(res, 500, `cannot collect the metrics: ${(e as Error).message}\n`);
  }
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Closes, ending idle keep-alive connections (a scraper's) so the close does not wait for them. */
function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
