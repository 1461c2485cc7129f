/**
 * Credentials (spec §7): they come from the environment (`env:NAME`, or files it names), never
 * from definition files, and never appear in logs or errors. A server may echo the credential
 * it received in its error body (proxies do), so every message Strata prints, logs or stores
 * first goes through `redact`, which masks every secret value this process knows of, in the
 * forms a server may echo it: as is, URL-encoded, JSON-escaped, base64 (a Basic auth header).
 *
 * Known secrets: every value `resolveSecret` returned, and what `registerSecrets` was given
 * (see `configuredSecrets`: the `env:` references of strata.yaml, the trackers and the pipelines, the
 * credential variables Strata reads, the passwords inside connection URLs, the private key
 * of the Google service-account file).
 */
import { readFileSync } from 'node:fs';

export const REDACTED = '[redacted]';
/**
 * Shorter values are not masked: masking every "abc" in every message would garble output
 * and protect next to nothing (a secret that short is guessed anyway).
 */
export const MIN_SECRET_LENGTH = 4;

/** Variables that hold a credential (or a URL with one) whenever they are set. */
export const CREDENTIAL_VARIABLES = [
  'STRATA_AIRTABLE_TOKEN',
  'STRATA_GOOGLE_ACCESS_TOKEN',
  'STRATA_TRINO_PASSWORD',
  'STRATA_RUNS_DATABASE_URL',
  'STRATA_CATALOG_URL',
  'DATABASE_URL',
  'MYSQL_URL',
  'REDIS_URL',
  'PGPASSWORD',
] as const;

/** A set of secret values, and the text masking them. */
export class Redactor {
  private readonly forms = new Set<string>();
  private pattern: RegExp | null | undefined;

  /**
   * Adds a secret. Of a connection URL only the password is secret (and the Basic auth header
   * made from it): the server and database stay readable in messages.
   */
  add(secret: string | undefined): void {
    if (!secret) return;
    const url = connectionUrl(secret);
    if (!url) {
      if (secret.length >= MIN_SECRET_LENGTH) for (const form of encodings(secret)) this.addForm(form);
    } else if (url.password) {
      this.add(url.password);
      this.addBasicAuth(url.username, url.password);
    }
  }

  /**
   * Adds a value that is secret as a whole, even a URL: a webhook's URL is its credential
   * (whoever knows it can post), not only a password inside it.
   */
  addWhole(secret: string | undefined): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return;
    for (const form of encodings(secret)) this.addForm(form);
  }

  /** `Authorization: Basic base64(user:password)`, as sent to Trino or echoed by a proxy. */
  addBasicAuth(user: string, password: string): void {
    if (password.length < MIN_SECRET_LENGTH) return;
    this.addForm(Buffer.from(`${user}:${password}`).toString('base64'));
  }

  /** Every known secret in `text`, masked. */
  redact(text: string): string {
    const pattern = this.compiled();
    return pattern ? text.replace(pattern, REDACTED) : text;
  }

  /** Strings anywhere in `value` (objects, arrays, errors) redacted; other values as they are. */
  redactDeep<T>(value: T): T {
    if (!this.compiled()) return value;
    return this.deep(value) as T;
  }

  private deep(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.deep(v));
    if (value instanceof Error) {
      const copy = new Error(this.redact(value.message));
      copy.name = value.name;
      copy.stack = value.stack === undefined ? undefined : this.redact(value.stack);
      return copy;
    }
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.deep(v)]));
    }
    return value;
  }

  /**
   * The forms known so far, to put back with `restore`: what runs commands one after another in
   * one process (the in-process CLI of the tests) gives each the empty set a new process has.
   */
  snapshot(): string[] {
    return [...this.forms];
  }

  restore(forms: Iterable<string>): void {
    this.forms.clear();
    this.pattern = undefined;
    for (const form of forms) this.addForm(form);
  }

  private addForm(form: string): void {
    if (form.length < MIN_SECRET_LENGTH || this.forms.has(form)) return;
    this.forms.add(form);
    this.pattern = undefined;
  }

  /** One alternation, longest first: an escaped form wins over the raw one it contains. */
  private compiled(): RegExp | null {
    if (this.pattern === undefined) {
      const alternatives = [...this.forms]
        .sort((a, b) => b.length - a.length)
        .map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      this.pattern = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'g') : null;
    }
    return this.pattern;
  }
}

/** The ways a server may write a value back: as is, URL-encoded, inside JSON, base64. */
function encodings(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString('base64'),
  ];
}

/** A `scheme://` URL's user and password (empty when it has none); undefined for other values. */
function connectionUrl(value: string): { username: string; password: string } | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  try {
    const url = new URL(value);
    return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  } catch {
    return undefined;
  }
}

/** The secrets of this process: whatever prints, logs or stores a message masks these. */
export const secrets = new Redactor();

/** `env:NAME` references: credentials live in the environment, never in definition files. */
export function resolveSecret(reference: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!reference.startsWith('env:')) return reference;
  const name = reference.slice(4);
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set`);
  // Whatever is read through env: may end up in a request, and so in an echo of it.
  secrets.add(value);
  return value;
}

/** Masks every secret this process knows of in `text`. */
export function redact(text: string): string {
  return secrets.redact(text);
}

/** Adds secrets to the process's set (values shorter than MIN_SECRET_LENGTH are ignored). */
export function registerSecrets(values: Iterable<string>): void {
  for (const value of values) secrets.add(value);
}

/** What a project declares that may name a secret (a LoadedProject's config and trackers fit). */
export interface SecretSources {
  /** strata.yaml, as parsed. */
  config?: object;
  /** Tracker definitions (their destinations' `env:` references). */
  trackers?: Iterable<{ definition: object }>;
  /**
   * Pipeline definitions: a source's connection, a NATS url, an enrichment's endpoint and
   * headers. A pipeline's errors quote them (a driver echoing its connection string).
   */
  pipelines?: Iterable<{ definition: object }>;
}

/**
 * The secret values a project and an environment configure: the value of every `env:NAME`
 * reference in strata.yaml, the trackers and the pipelines, the credential variables Strata reads
 * (CREDENTIAL_VARIABLES), and the private key in the STRATA_GOOGLE_CREDENTIALS file.
 */
export function configuredSecrets(sources: SecretSources, env: NodeJS.ProcessEnv = process.env): string[] {
  const names = new Set<string>(CREDENTIAL_VARIABLES);
  const collect = (value: unknown): void => {
    if (typeof value === 'string' && value.startsWith('env:')) names.add(value.slice(4));
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(sources.config);
  for (const tracker of sources.trackers ?? []) collect(tracker.definition);
  for (const pipeline of sources.pipelines ?? []) collect(pipeline.definition);
  const values = [...names].map((name) => env[name]).filter((v): v is string => !!v);
  const privateKey = googlePrivateKey(env.STRATA_GOOGLE_CREDENTIALS);
  if (privateKey) values.push(privateKey);
  return values;
}

/** Registers `configuredSecrets`, and the Basic auth header Trino is sent. */
export function registerConfiguredSecrets(
  sources: SecretSources,
  env: NodeJS.ProcessEnv = process.env,
): void {
  registerSecrets(configuredSecrets(sources, env));
  const trino = (sources.config as { trino?: { user?: string; password?: string } } | undefined)?.trino;
  const user = env.STRATA_TRINO_USER || valueOf(trino?.user, env);
  const password = env.STRATA_TRINO_PASSWORD || valueOf(trino?.password, env);
  if (user && password) secrets.addBasicAuth(user, password);
}

function valueOf(configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (!configured) return undefined;
  return configured.startsWith('env:') ? env[configured.slice(4)] : configured;
}

function googlePrivateKey(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    const key = JSON.parse(readFileSync(path, 'utf8')) as { private_key?: unknown };
    return typeof key.private_key === 'string' ? key.private_key : undefined;
  } catch {
    // The Sheets destination reports an unreadable key file when it needs it.
    return undefined;
  }
}
