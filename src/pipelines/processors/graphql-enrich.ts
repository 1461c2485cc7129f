/**
 * `graphql_enrich` (spec §9): looks more columns up from a GraphQL service for each change,
 * its variables taken from the row's columns and its outputs mapped from paths in the
 * response. A batch asks once per distinct key (the variables' values), a few requests at a
 * time, and remembers answers for `cacheTtl`. A failed lookup is retried with exponential
 * backoff; when the retries run out the event is parked as a dead letter (committed with the
 * batch, listed by `strata pipeline dead-letters`), never dropped. Deletes are not looked up.
 */
import { durationMs, type ProcessorDefinition } from '../../core/definitions/schema.js';
import { redact, resolveSecret } from '../../engines/secrets.js';
import type { ChangeEvent, ColumnSchema, ColumnType, RowValues, TableSchema } from '../events.js';
import type { DeadLetter, Processor, ProcessorOutput } from './processor.js';
import { coerceValue } from '../values.js';

type Definition = Extract<ProcessorDefinition, { type: 'graphql_enrich' }>;
type Outputs = Record<string, RowValues[string]>;

interface Output {
  column: string;
  path: string[];
  type: ColumnType;
}

export interface EnrichOptions {
  env?: NodeJS.ProcessEnv;
  /** Waits between attempts (tests shorten it). Default: 200 ms doubling, with jitter. */
  backoffMs?: (attempt: number) => number;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  clock?: () => number;
  fetch?: typeof fetch;
}

const DEFAULT_TTL = '5m';
const DEFAULT_RETRIES = 3;
const DEFAULT_TIMEOUT = '10s';
const MAX_CACHED_KEYS = 100_000;

function defaultBackoff(attempt: number): number {
  const ceiling = 200 * 2 ** attempt;
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

class LookupError extends Error {}

export class GraphqlEnrichProcessor implements Processor {
  readonly reads: readonly string[];
  private readonly outputs: Output[];
  private readonly cache = new Map<string, { outputs: Outputs; until: number }>();
  private readonly ttlMs: number;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private readonly clock: () => number;
  private readonly backoff: (attempt: number) => number;
  private readonly concurrency: number;
  private readonly fetch: typeof fetch;
  private resolved: { endpoint: string; headers: Record<string, string> } | undefined;

  constructor(
    readonly label: string,
    private readonly definition: Definition,
    private readonly options: EnrichOptions = {},
  ) {
    this.reads = [...new Set(Object.values(definition.variables))];
    this.outputs = Object.entries(definition.outputs).map(([column, output]) =>
      typeof output === 'string'
        ? { column, path: output.split('.'), type: 'string' }
        : { column, path: output.path.split('.'), type: output.type },
    );
    this.ttlMs = durationMs(definition.cacheTtl ?? DEFAULT_TTL);
    this.retries = definition.retries ?? DEFAULT_RETRIES;
    this.timeoutMs = durationMs(definition.timeout ?? DEFAULT_TIMEOUT);
    this.clock = options.clock ?? Date.now;
    this.backoff = options.backoffMs ?? defaultBackoff;
    this.concurrency = options.concurrency ?? 8;
    this.fetch = options.fetch ?? fetch;
  }

  outputSchema(input: TableSchema): TableSchema {
    const added = new Set(this.outputs.map((o) => o.column));
    const columns: ColumnSchema[] = [
      ...input.columns.filter((c) => !added.has(c.name)),
      ...this.outputs.map((o) => ({ name: o.column, type: o.type })),
    ];
    return { ...input, columns };
  }

  async process(events: ChangeEvent[]): Promise<ProcessorOutput> {
    // A missing endpoint variable is the pipeline's configuration, not one event's failure.
    this.endpoint();
    // This batch's answers, each key read from the cache once: an entry that expires while the
    // batch waits for other lookups (a short cacheTtl, 0s above all) is still this batch's answer.
    const answers = new Map<string, Outputs>();
    const keys = new Map<string, Record<string, RowValues[string]>>();
    for (const event of events) {
      if (event.op === 'd') continue;
      const variables = this.variablesOf(event.row);
      const key = JSON.stringify(variables);
      if (answers.has(key) || keys.has(key)) continue;
      const cached = this.cached(key);
      if (cached) answers.set(key, cached);
      else keys.set(key, variables);
    }
    const failures = await this.lookUp(keys, answers);
    const out: ChangeEvent[] = [];
    const deadLetters: DeadLetter[] = [];
    for (const event of events) {
      if (event.op === 'd') {
        out.push(event);
        continue;
      }
      const key = JSON.stringify(this.variablesOf(event.row));
      const outputs = answers.get(key);
      if (outputs) out.push({ ...event, row: { ...event.row, ...outputs } });
      else {
        const failure = failures.get(key);
        deadLetters.push({
          event,
          processor: this.label,
          error: failure?.message ?? 'no answer',
          attempts: failure?.attempts ?? 0,
          failedAt: new Date(this.clock()).toISOString(),
        });
      }
    }
    return { events: out, deadLetters };
  }

  private variablesOf(row: RowValues): Record<string, RowValues[string]> {
    return Object.fromEntries(
      Object.entries(this.definition.variables).map(([variable, column]) => [variable, row[column] ?? null]),
    );
  }

  private cached(key: string): Outputs | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    if (entry.until < this.clock()) {
      this.cache.delete(key);
      return undefined;
    }
    return entry.outputs;
  }

  private remember(key: string, outputs: Outputs): void {
    if (this.ttlMs <= 0) return; // not kept across batches
    if (this.cache.size >= MAX_CACHED_KEYS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { outputs, until: this.clock() + this.ttlMs });
  }

  /**
   * Looks every key up, `concurrency` at a time, into `answers` (and the cache); returns the
   * keys whose lookups failed for good.
   */
  private async lookUp(
    keys: Map<string, Record<string, RowValues[string]>>,
    answers: Map<string, Outputs>,
  ): Promise<Map<string, { message: string; attempts: number }>> {
    const failures = new Map<string, { message: string; attempts: number }>();
    const queue = [...keys];
    const work = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [key, variables] = next;
        const outcome = await this.withRetries(variables);
        if ('outputs' in outcome) {
          answers.set(key, outcome.outputs);
          this.remember(key, outcome.outputs);
        } else failures.set(key, outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, work));
    return failures;
  }

  private async withRetries(
    variables: Record<string, RowValues[string]>,
  ): Promise<{ outputs: Outputs } | { message: string; attempts: number }> {
    let message = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.backoff(attempt - 1));
      try {
        return { outputs: await this.request(variables) };
      } catch (e) {
        message = redact(e instanceof Error ? e.message : String(e));
      }
    }
    return { message, attempts: this.retries + 1 };
  }

  private async request(variables: Record<string, RowValues[string]>): Promise<Outputs> {
    const { endpoint, headers } = this.endpoint();
    let response: Response;
    try {
      response = await this.fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ query: this.definition.query, variables }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new LookupError(`request failed: ${(e as Error).message}`);
    }
    const text = await response.text();
    let body: { data?: unknown; errors?: { message?: string }[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Masked before it is cut: a credential the page echoes across the cut would leak a part.
      throw new LookupError(
        `HTTP ${response.status}: the answer is not JSON (${redact(text).slice(0, 120)})`,
      );
    }
    if (body.errors?.length)
      throw new LookupError(`GraphQL errors: ${body.errors.map((e) => e.message ?? '?').join('; ')}`);
    if (!response.ok) throw new LookupError(`HTTP ${response.status}`);
    return Object.fromEntries(
      this.outputs.map((o) => {
        const value = o.path.reduce<unknown>(step, body.data);
        try {
          return [o.column, coerceValue(value, o.type)];
        } catch (e) {
          throw new LookupError(`output ${o.column} (${o.path.join('.')}): ${(e as Error).message}`);
        }
      }),
    );
  }

  private endpoint(): { endpoint: string; headers: Record<string, string> } {
    const env = this.options.env ?? process.env;
    this.resolved ??= {
      endpoint: resolveSecret(this.definition.endpoint, env),
      headers: Object.fromEntries(
        Object.entries(this.definition.headers ?? {}).map(([name, value]) => [
          name,
          resolveSecret(value, env),
        ]),
      ),
    };
    return this.resolved;
  }
}

/**
 * One step down a response path. A list (a lookup by key through an API whose queries return
 * lists, like Strata's own) is entered at its first element.
 */
function step(at: unknown, name: string): unknown {
  const node = Array.isArray(at) ? at[0] : at;
  return node && typeof node === 'object' ? (node as Record<string, unknown>)[name] : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
