/**
 * Who may read /metrics. Open by default, as Prometheus exporters are, because `serve` and the
 * workers' metrics servers listen on 127.0.0.1 unless told otherwise; strata.yaml
 * `metrics: { token: env:NAME }` makes both ask for `Authorization: Bearer <token>` (what
 * Prometheus sends with `authorization: { credentials_file: ... }`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { resolveSecret } from '../engines/secrets.js';

/** The token scrapers must send, or undefined when /metrics is open. Throws when the variable is unset. */
export function metricsToken(
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const reference = config.metrics?.token;
  return reference ? resolveSecret(reference, env) : undefined;
}

/** Whether an Authorization header carries `token` (compared in constant time). */
export function authorizedScrape(header: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  // Hashing first gives equal lengths, which timingSafeEqual needs.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]!.trim()), digest(token));
}
