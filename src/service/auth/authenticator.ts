/**
 * Who is calling: the one credential of a request, checked against the API keys and the JWT
 * settings of strata.yaml `auth:`. Framework-free: the Nest guard and the tests call it alike.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { resolve } from 'node:path';
import type { AuthConfig } from '../../core/definitions/schema.js';
import { ApiKeyStore, parseApiKeys, readApiKeyFile, type ApiKeyEntry } from './api-keys.js';
import { readCredential } from './credentials.js';
import { failure } from './failures.js';
import { createJwtVerifier, type JwtFailure, type JwtVerifier } from './jwt.js';
import type { Principal } from './principal.js';

/** A path to an API key file; wins over strata.yaml `auth.apiKeys.file`. */
export const API_KEYS_FILE_VARIABLE = 'STRATA_API_KEYS_FILE';
/** API key entries themselves (YAML or JSON, the file's format); read when the service starts. */
export const API_KEYS_VARIABLE = 'STRATA_API_KEYS';

/**
 * The API keys of a service: the key file's entries (re-read by `reload`) and those of
 * STRATA_API_KEYS (fixed for the process's life, as its environment is).
 */
export class ApiKeySources {
  readonly store = new ApiKeyStore();
  private readonly fixed: readonly ApiKeyEntry[];
  private readonly fixedProblems: readonly string[];

  constructor(
    /** Absolute path of the key file, if any. */
    readonly file: string | undefined,
    variableText: string | undefined,
  ) {
    const parsed =
      variableText === undefined ? { entries: [] } : parseApiKeys(variableText, API_KEYS_VARIABLE);
    this.fixed = 'entries' in parsed ? parsed.entries : [];
    this.fixedProblems = 'problems' in parsed ? parsed.problems : [];
    this.reload();
  }

  /**
   * Re-reads the key file and returns what is wrong. A missing or invalid file admits none of
   * its keys until it is fixed: a broken edit must never bring back a key it meant to revoke.
   */
  reload(): string[] {
    const problems = [...this.fixedProblems];
    let fromFile: ApiKeyEntry[] = [];
    if (this.file) {
      const read = readApiKeyFile(this.file);
      if ('entries' in read) fromFile = read.entries;
      else problems.push(...read.problems);
    }
    this.store.replace([...fromFile, ...this.fixed]);
    return problems;
  }
}

export class Authenticator {
  constructor(
    readonly apiKeys: ApiKeySources | undefined,
    readonly jwt: JwtVerifier | undefined,
  ) {}

  /** Without API keys and JWT settings nobody can be authenticated: every request is refused. */
  get configured(): boolean {
    return this.apiKeys !== undefined || this.jwt !== undefined;
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<Principal | JwtFailure> {
    if (!this.configured) return failure('auth_not_configured');
    const credential = readCredential(headers);
    if ('ok' in credential) return credential;
    if (credential.kind === 'jwt')
      return this.jwt ? this.jwt.verify(credential.value) : failure('jwt_not_accepted');
    return this.apiKeys ? this.apiKeys.store.verify(credential.value) : failure('api_keys_not_accepted');
  }
}

/**
 * The authenticator strata.yaml `auth:` and the environment describe. Throws AuthConfigError
 * when a secret it names is missing or too weak.
 */
export function createAuthenticator(
  auth: AuthConfig | undefined,
  projectDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Authenticator {
  const file = env[API_KEYS_FILE_VARIABLE] || auth?.apiKeys?.file;
  const variable = env[API_KEYS_VARIABLE] || undefined;
  const apiKeys =
    file || variable !== undefined
      ? new ApiKeySources(file ? resolve(projectDir, file) : undefined, variable)
      : undefined;
  const jwt = auth?.jwt ? createJwtVerifier(auth.jwt, env) : undefined;
  return new Authenticator(apiKeys, jwt);
}
