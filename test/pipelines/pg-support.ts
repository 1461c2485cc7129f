/**
 * A scratch schema in the machine's PostgreSQL for a pipeline test, with its publication and
 * slot dropped afterwards, and a pipeline run in the background that can be stopped.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DefinitionFile } from '../../src/core/model/build.js';
import { runPipeline, type PipelineRunOptions, type RunOutcome } from '../../src/pipelines/runner.js';
import { openSource } from '../../src/pipelines/sources/index.js';
import { projectOf, type PipelineEnvironment, type Project } from './support.js';

export const PG_URL = process.env.STRATA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export class Upstream {
  readonly schema = `strata_pg_${randomUUID().slice(0, 8)}`;
  readonly client: pg.Client;

  private constructor(client: pg.Client) {
    this.client = client;
  }

  static async create(): Promise<Upstream> {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    const upstream = new Upstream(client);
    await client.query(`CREATE SCHEMA ${upstream.schema}`);
    return upstream;
  }

  get pipeline(): string {
    return this.schema;
  }

  async query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, values: unknown[] = []) {
    return (await this.client.query<T>(sql.replaceAll('$schema', this.schema), values)).rows;
  }

  /** Drops the slot (waiting for its walsender to let go), the publication and the schema. */
  async dispose(): Promise<void> {
    const slot = `strata_${this.pipeline}`;
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await this.client.query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
          [slot],
        );
        break;
      } catch {
        await new Promise((done) => setTimeout(done, 200));
      }
    }
    await this.client.query(`DROP PUBLICATION IF EXISTS strata_${this.pipeline}`);
    await this.client.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
    await this.client.end();
  }
}

/** A project with one postgres pipeline over `tables` (names without the schema). */
export function pgProject(
  upstream: Upstream,
  tables: string[],
  extra: DefinitionFile[] = [],
  yaml = '',
): Project {
  const pipeline = `name: ${upstream.pipeline}
source:
  type: postgres
  connection: env:STUDIO_DB_URL
  tables: [${tables.map((t) => `${upstream.schema}.${t}`).join(', ')}]
sink:
  type: iceberg
  namespace: raw
  commitEvents: 2000
  commitInterval: 100ms
heartbeat: 1s
${yaml}`;
  return projectOf([{ path: 'pipelines/p.yaml', kind: 'pipeline', text: pipeline }, ...extra]);
}

export interface Running {
  outcome: Promise<RunOutcome>;
  readonly stopped: boolean;
  stop(): Promise<RunOutcome>;
}

/** Runs the pipeline with its real source until stopped. */
export function startRun(
  env: PipelineEnvironment,
  project: Project,
  extra: Partial<PipelineRunOptions> = {},
): Running {
  const controller = new AbortController();
  const outcome = (async () => {
    const source = await openSource({
      pipeline: project.pipeline.definition,
      projectDir: env.dir,
      env: { STUDIO_DB_URL: PG_URL },
      logger: { info: () => {}, warn: () => {} },
    });
    try {
      return await runPipeline({
        pipeline: project.pipeline,
        compiler: project.compiler,
        warehouse: env.warehouse,
        duckdb: env.duckdb,
        source,
        store: env.store,
        signal: controller.signal,
        ...extra,
      });
    } finally {
      await source.close();
    }
  })();
  outcome.catch(() => undefined);
  return {
    outcome,
    get stopped() {
      return controller.signal.aborted;
    },
    stop: async () => {
      controller.abort();
      return outcome;
    },
  };
}

/** Polls `check` until it returns true (or throws its last failure at the deadline). */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
  what = 'the condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}
