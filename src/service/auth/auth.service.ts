/**
 * The service's authenticator, kept in step with strata.yaml `auth:` and the API key file.
 *
 * - The settings follow strata.yaml whenever it is valid (a reload of the definitions), even
 *   while other definitions are broken: who may call the service does not wait for a tracker
 *   to be fixed. Settings that cannot be used (a missing secret) keep the last usable ones;
 *   with none, every request is answered 503 and the log says why.
 * - The key file is re-read when it changes and on every reload of the definitions (so at
 *   least every `reloadIntervalMs`): revoking a key takes effect without a restart.
 * - Refusals are logged with their reason, method and path: never the credential, nor the
 *   query string (a client may have put a key there).
 */
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';
import type { AuthConfig, ProjectConfig } from '../../core/definitions/schema.js';
import { readConfig } from '../../project/load-project.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';
import { ProjectService, type ReloadOutcome } from '../project/project.service.js';
import { Authenticator, createAuthenticator } from './authenticator.js';
import { failure, FAILURES } from './failures.js';
import { AuthConfigError, type JwtFailure } from './jwt.js';
import type { Principal } from './principal.js';
import { watchFile, type FileWatch } from './watch-file.js';

/** What the service needs of a request to authenticate it (an Express request is one). */
export type AuthRequest = Pick<IncomingMessage, 'headers' | 'method' | 'url'>;

const UNCONFIGURED = new Authenticator(undefined, undefined);

@Injectable()
export class AuthService implements OnModuleInit, OnApplicationShutdown {
  private authenticator = UNCONFIGURED;
  /** Settings that could not be used, and no usable ones before them: refuse everyone (503). */
  private misconfigured = false;
  /** The `auth:` block the authenticator was built from (JSON), to rebuild only on a change. */
  private settings: string | undefined;
  private keyWatch: FileWatch | undefined;
  private loggedKeyProblems = '';
  private stopFollowing: (() => void) | undefined;
  private readonly log: PinoLogger;

  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(ProjectService) private readonly project: ProjectService,
  ) {
    this.log = options.logger.child({ component: 'auth' });
  }

  onModuleInit(): void {
    this.stopFollowing = this.project.onReload((outcome) => this.follow(outcome));
    // The project may have loaded before this listener was added.
    const current = this.project.current;
    this.follow(current ? { status: 'loaded', state: current } : undefined);
  }

  onApplicationShutdown(): void {
    this.stopFollowing?.();
    this.keyWatch?.close();
  }

  /** Who sent `request`, or why it is refused (logged here; the guard answers the client). */
  async authenticate(request: AuthRequest): Promise<Principal | JwtFailure> {
    const outcome = this.misconfigured
      ? failure('auth_misconfigured')
      : await this.authenticator.authenticate(request.headers);
    if ('ok' in outcome) this.logRefusal(request, outcome);
    else this.log.debug({ method: outcome.method, subject: outcome.subject }, 'authenticated');
    return outcome;
  }

  /** Re-reads the API key file now (also done when it changes and on every definitions reload). */
  reloadKeys(): void {
    const problems = this.authenticator.apiKeys?.reload() ?? [];
    const text = problems.join('\n');
    if (text === this.loggedKeyProblems) return;
    for (const problem of problems)
      this.log.error(`API keys: ${problem} (its keys are refused until it is fixed)`);
    if (!text)
      this.log.info({ keys: this.authenticator.apiKeys?.store.size ?? 0 }, 'API keys are valid again');
    this.loggedKeyProblems = text;
  }

  private follow(outcome: ReloadOutcome | undefined): void {
    const config = this.configOf(outcome);
    if (config) this.configure(config.auth);
    this.reloadKeys();
  }

  /** strata.yaml as the reload read it, or read now; undefined while it is invalid. */
  private configOf(outcome: ReloadOutcome | undefined): ProjectConfig | undefined {
    if (outcome?.status === 'loaded') return outcome.state.project.config;
    const { config, diagnostics } = readConfig(this.options.projectDir);
    return diagnostics.length === 0 ? config : undefined;
  }

  private configure(auth: AuthConfig | undefined): void {
    const settings = JSON.stringify(auth ?? null);
    if (settings === this.settings) return;
    this.settings = settings;
    let next: Authenticator;
    try {
      next = createAuthenticator(auth, this.options.projectDir);
    } catch (e) {
      if (!(e instanceof AuthConfigError)) throw e;
      const never = this.authenticator === UNCONFIGURED;
      this.misconfigured = never;
      this.log.error(
        `${e.message}: ${never ? 'every request is refused (503)' : 'keeping the previous settings'}`,
      );
      return;
    }
    this.install(next);
  }

  private install(next: Authenticator): void {
    this.keyWatch?.close();
    this.keyWatch = undefined;
    this.authenticator = next;
    this.misconfigured = false;
    this.loggedKeyProblems = '';
    this.describe(next);
    const file = next.apiKeys?.file;
    if (file && (this.options.watch ?? true)) {
      try {
        this.keyWatch = watchFile(file, () => this.reloadKeys(), this.options.debounceMs ?? 300);
      } catch (e) {
        this.log.warn(
          { file, error: (e as Error).message },
          'cannot watch the API key file; it is re-read with the definitions only',
        );
      }
    }
  }

  private describe(authenticator: Authenticator): void {
    if (!authenticator.configured) {
      this.log.warn(FAILURES.auth_not_configured.message);
      return;
    }
    const { apiKeys, jwt } = authenticator;
    this.log.info(
      {
        apiKeys: apiKeys ? { file: apiKeys.file ?? null, keys: apiKeys.store.size } : false,
        jwt: jwt !== undefined,
      },
      'authentication configured',
    );
  }

  private logRefusal(request: AuthRequest, refusal: JwtFailure): void {
    const fields = {
      reason: refusal.reason,
      method: request.method,
      path: (request.url ?? '').split('?')[0],
    };
    if (FAILURES[refusal.reason].status === 503)
      this.log.warn({ ...fields, ...(refusal.detail ? { error: refusal.detail } : {}) }, 'request refused');
    else this.log.info(fields, 'request refused');
  }
}
