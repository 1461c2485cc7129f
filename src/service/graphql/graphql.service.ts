/**
 * POST /graphql, minus HTTP: a request from an authenticated caller is rate-limited per
 * credential (Redis, shared by every service), parsed, validated against the schema of the
 * caller's roles (built from the definitions the service holds, rebuilt when they reload)
 * with depth and statement limits, and executed under a deadline. The schema is built with
 * graphql-js rather than @nestjs/graphql's decorators: it is generated from the definitions,
 * changes without a restart and differs per caller, which a schema fixed at start-up cannot do.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import {
  execute,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import type { Caller } from '../../core/access/policy.js';
import { durationMs, type ProjectConfig } from '../../core/definitions/schema.js';
import { RedisRateLimiter } from '../../destinations/redis-limiter.js';
import { engineName, openEngine, type EngineChoice } from '../../engines/open-engine.js';
import { redact } from '../../engines/secrets.js';
import type { ApiContext, ApiLimits } from '../../graphql/context.js';
import { depthLimit, statementLimit } from '../../graphql/limits.js';
import { CompileCache } from '../../graphql/compile-cache.js';
import { buildApiSchema } from '../../graphql/schema.js';
import { Visibility } from '../../graphql/visibility.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';
import { ProjectService, type ProjectState } from '../project/project.service.js';
import { RedisService } from '../redis.service.js';
import { TrackerRuns } from './tracker-runs.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { EnginePool, QueryRunner, QueryTimeoutError, ResultCache } from './query-runner.js';

/** Who is asking: the caller for access policies, and the credential that is rate-limited. */
export interface RequestPrincipal {
  caller: Caller;
  /** The API key id or the token's subject. */
  subject: string;
}

export interface GraphqlResponse {
  status: number;
  body: ExecutionResult | { errors: { message: string; extensions?: Record<string, unknown> }[] };
  headers?: Record<string, string>;
}

const DEFAULTS = {
  maxDepth: 10,
  maxStatements: 20,
  maxRows: 10_000,
  timeout: '30s',
  engines: 2,
  cacheEntries: 1000,
  rateLimit: { requests: 600, per: '1m' },
} as const;

/** Documents larger than this many tokens are refused before they are parsed any further. */
const MAX_TOKENS = 20_000;

type Settings = Required<NonNullable<ProjectConfig['graphql']>>;

function settingsOf(config: ProjectConfig): Settings {
  return { ...DEFAULTS, ...config.graphql } as Settings;
}

/** A role set's schema, and the documents already checked against it (by query text). */
interface RoleSchema {
  schema: GraphQLSchema;
  documents: Map<string, Checked>;
}

type Checked = { document: DocumentNode } | { status: 400; errors: GraphqlError[] };

type GraphqlError = { message: string; extensions?: Record<string, unknown> };

/** The resources of one state of the definitions: schemas per role set, and compiled queries. */
interface Serving {
  state: ProjectState;
  schemas: Map<string, RoleSchema>;
  compiler: CompileCache;
}

/** Checked documents kept per role set: repeated queries skip parsing and validation. */
const DOCUMENTS_PER_SCHEMA = 500;

@Injectable()
export class GraphqlService implements OnApplicationShutdown {
  private serving: Serving | undefined;
  private runner: { key: string; runner: QueryRunner } | undefined;
  private readonly limiter: RedisRateLimiter;
  private readonly runs: TrackerRuns;

  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(ProjectService) private readonly project: ProjectService,
    @Inject(RedisService) private readonly redis: RedisService,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {
    this.limiter = new RedisRateLimiter(redis.client, { prefix: `${options.prefix}:api-limit:` });
    this.runs = new TrackerRuns(options);
  }

  /** The result cache of the current engines (for health and tests). */
  get cache(): ResultCache | undefined {
    return this.runner?.runner.cache;
  }

  async handle(body: unknown, principal: RequestPrincipal): Promise<GraphqlResponse> {
    const state = this.project.current;
    if (!state) return failure(503, 'UNAVAILABLE', 'no valid definitions are loaded yet');
    const settings = settingsOf(state.project.config);
    const request = requestOf(body);
    if ('error' in request) return failure(400, 'BAD_REQUEST', request.error);
    const retryAfterMs = await this.rateLimited(principal.subject, settings);
    if (retryAfterMs > 0)
      return {
        ...failure(
          429,
          'RATE_LIMITED',
          `too many requests for this credential; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
        ),
        headers: { 'Retry-After': String(Math.ceil(retryAfterMs / 1000)) },
      };
    const serving = this.servingFor(state);
    const { schema, documents } = this.schemaFor(serving, principal.caller.roles);
    const checked = checkedDocument(documents, schema, request.query, settings);
    if ('errors' in checked) return { status: checked.status, body: { errors: checked.errors } };
    const result = await this.execute(schema, checked.document, request, principal.caller, serving, settings);
    return { status: statusOf(result), body: masked(result, this.options) };
  }

  private async execute(
    schema: GraphQLSchema,
    document: DocumentNode,
    request: ParsedRequest,
    caller: Caller,
    serving: Serving,
    settings: Settings,
  ): Promise<ExecutionResult> {
    const timeoutMs = durationMs(settings.timeout);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    try {
      const context = this.contextFor(caller, serving, settings, deadline.signal, timeoutMs);
      return await execute({
        schema,
        document,
        contextValue: context,
        variableValues: request.variables,
        operationName: request.operationName,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private contextFor(
    caller: Caller,
    serving: Serving,
    settings: Settings,
    signal: AbortSignal,
    timeoutMs: number,
  ): ApiContext {
    const { state } = serving;
    const limits: ApiLimits = { maxRows: settings.maxRows };
    const runner = this.runnerFor(state, settings);
    const engine = engineName(this.options.engine ?? {}, state.project.config);
    return {
      caller,
      model: state.project.model,
      compiler: serving.compiler,
      engine,
      limits,
      signal,
      run: async (compiled) => {
        const outcome = await runner.run(compiled, { signal, timeoutMs });
        if (!outcome.cached) this.metrics.metrics.observeQuery('api', engine, outcome.durationMs / 1000);
        return outcome;
      },
      trackerRuns: (tracker, limit) => this.runs.recent(state, tracker, limit),
      trackerFreshness: (tracker) => this.runs.freshness(state, tracker),
      syncTracker: (name, dryRun) => this.runs.sync(state, name, dryRun, timeoutMs),
    };
  }

  /** New definitions: new schemas, compiled queries and checked documents. */
  private servingFor(state: ProjectState): Serving {
    if (this.serving?.state !== state)
      this.serving = {
        state,
        schemas: new Map(),
        compiler: new CompileCache(state.compiler, undefined, (seconds) =>
          this.metrics.metrics.observeCompile('api', seconds),
        ),
      };
    return this.serving;
  }

  private schemaFor(serving: Serving, roles: readonly string[]): RoleSchema {
    const key = Visibility.key(roles);
    let built = serving.schemas.get(key);
    if (!built) {
      built = { schema: buildApiSchema(serving.state.project.model, roles), documents: new Map() };
      serving.schemas.set(key, built);
    }
    return built;
  }

  /** One runner per engine configuration: a reload that leaves it alone keeps the engines (and cache). */
  private runnerFor(state: ProjectState, settings: Settings): QueryRunner {
    const config = state.project.config;
    const choice: EngineChoice = this.options.engine ?? {};
    const key = JSON.stringify([
      choice,
      config.engine,
      config.duckdb,
      config.postgres,
      config.trino,
      config.warehouse,
      settings.engines,
      settings.cacheEntries,
    ]);
    if (this.runner?.key !== key) {
      const previous = this.runner?.runner;
      const pool = new EnginePool(settings.engines, () =>
        openEngine(this.options.projectDir, choice, config),
      );
      this.runner = { key, runner: new QueryRunner(pool, new ResultCache(settings.cacheEntries)) };
      // Queries still running on the old engines finish within a request's deadline.
      if (previous) setTimeout(() => void previous.close(), durationMs(settings.timeout)).unref();
    }
    return this.runner.runner;
  }

  /** 0 when the request may go on, else ms until it may; Redis down means no limit rather than no service. */
  private async rateLimited(subject: string, settings: Settings): Promise<number> {
    if (this.redis.client.status !== 'ready') return 0;
    try {
      return await this.limiter.tryAcquire({
        key: `graphql:${subject}`,
        limit: settings.rateLimit.requests,
        windowMs: durationMs(settings.rateLimit.per),
      });
    } catch {
      return 0;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner?.runner.close();
    await this.runs.close();
  }
}

interface ParsedRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

/** The GraphQL-over-HTTP request body: `{ query, variables?, operationName? }`. */
function requestOf(body: unknown): ParsedRequest | { error: string } {
  if (!body || typeof body !== 'object') return { error: 'the body must be JSON: { "query": "..." }' };
  const { query, variables, operationName } = body as Record<string, unknown>;
  if (typeof query !== 'string' || query.trim() === '')
    return { error: '"query" must be a GraphQL document' };
  if (
    variables !== undefined &&
    variables !== null &&
    (typeof variables !== 'object' || Array.isArray(variables))
  )
    return { error: '"variables" must be an object' };
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return { error: '"operationName" must be a string' };
  return {
    query,
    ...(variables ? { variables: variables as Record<string, unknown> } : {}),
    ...(typeof operationName === 'string' ? { operationName } : {}),
  };
}

/** The query parsed and validated against the schema (limits included), once per query text. */
function checkedDocument(
  documents: Map<string, Checked>,
  schema: GraphQLSchema,
  query: string,
  settings: Settings,
): Checked {
  const known = documents.get(query);
  if (known) return known;
  const checked = check(schema, query, settings);
  documents.set(query, checked);
  if (documents.size > DOCUMENTS_PER_SCHEMA) documents.delete(documents.keys().next().value!);
  return checked;
}

function check(schema: GraphQLSchema, query: string, settings: Settings): Checked {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: MAX_TOKENS });
  } catch (e) {
    return { status: 400, errors: [asGraphqlError(e, 'GRAPHQL_PARSE_FAILED').toJSON()] };
  }
  const invalid = validate(schema, document, [
    ...specifiedRules,
    depthLimit(settings.maxDepth),
    statementLimit(settings.maxStatements),
  ]);
  if (invalid.length > 0) return { status: 400, errors: invalid.map(withCode('GRAPHQL_VALIDATION_FAILED')) };
  return { document };
}

function failure(status: number, code: string, message: string): GraphqlResponse {
  return { status, body: { errors: [{ message, extensions: { code } }] } };
}

function asGraphqlError(e: unknown, code: string): GraphQLError {
  const error = e instanceof GraphQLError ? e : new GraphQLError((e as Error).message);
  return new GraphQLError(error.message, { ...error, extensions: { ...error.extensions, code } });
}

function withCode(code: string) {
  return (error: GraphQLError) => ({
    ...error.toJSON(),
    extensions: { code, ...error.extensions },
  });
}

/** 403 when every error is an access denial and nothing came back; 200 otherwise (GraphQL's partial results). */
function statusOf(result: ExecutionResult): number {
  const errors = result.errors ?? [];
  const denied = errors.length > 0 && errors.every((e) => e.extensions.code === 'FORBIDDEN');
  return denied && (result.data === null || result.data === undefined) ? 403 : 200;
}

/**
 * Errors a client may see: the compiler's and the API's own (they carry a code), timeouts,
 * and engine errors with every configured secret redacted; anything else is an internal
 * error, logged and not shown.
 */
function masked(result: ExecutionResult, options: ResolvedServiceOptions): ExecutionResult {
  if (!result.errors) return result;
  const errors = result.errors.map((error) => {
    const original = error.originalError;
    if (original instanceof QueryTimeoutError)
      return new GraphQLError(original.message, { ...error, extensions: { code: 'TIMEOUT' } });
    if (error.extensions.code || !original || original instanceof GraphQLError) return error;
    if (original.name === 'QueryError')
      return new GraphQLError(redact(original.message), { ...error, extensions: { code: 'QUERY_FAILED' } });
    options.logger.error(
      { component: 'graphql', error: redact(original.stack ?? original.message) },
      'internal error',
    );
    return new GraphQLError('internal error', { ...error, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });
  return { ...result, errors };
}
