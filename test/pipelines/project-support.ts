/**
 * Helpers for tests of how pipelines are operated (the supervisor, audits, the CLI): a
 * project on disk whose pipelines the test writes and rewrites, scripted sources opened
 * through a factory (counting how many are open at once, per pipeline), and the raw tables
 * read back through the project's warehouse.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ChangeEvent, ChangeSource, TableSchema } from '../../src/pipelines/events.js';
import type { SourceFactory } from '../../src/pipelines/resources.js';
import type { SourceContext } from '../../src/pipelines/sources/index.js';
import { PipelineStateStore, type PipelineState } from '../../src/pipelines/state.js';
import { openWritableWarehouse } from '../../src/engines/warehouse-location.js';
import { historyLocation } from '../../src/trackers/locations.js';
import { readParquetSql } from '../../src/warehouse/index.js';
import { EventScript, ScriptedSource } from './support.js';

export const ITEM_SCHEMA: TableSchema = {
  table: 'public.item',
  columns: [
    { name: 'item_id', type: 'integer' },
    { name: 'name', type: 'string' },
    { name: 'qty', type: 'integer' },
  ],
  primaryKey: ['item_id'],
};

/** A pipeline over public.item, landing in raw.<name>_item. */
export function pipelineYaml(name: string, extra = ''): string {
  return `name: ${name}
source:
  type: postgres
  connection: env:OPS_DB_URL
  tables: [public.item]
sink:
  type: iceberg
  namespace: raw
  tables: { public.item: ${name}_item }
  commitEvents: 100
  commitInterval: 50ms
${extra}`;
}

export class OpsProject {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'strata-ops-'));
    mkdirSync(join(this.dir, 'definitions', 'pipelines'), { recursive: true });
  }

  writePipeline(name: string, extra = ''): void {
    this.writeFile(`definitions/pipelines/${name}.yaml`, pipelineYaml(name, extra));
  }

  writeFile(path: string, text: string): void {
    writeFileSync(join(this.dir, path), text);
  }

  removePipeline(name: string): void {
    rmSync(join(this.dir, 'definitions', 'pipelines', `${name}.yaml`), { force: true });
  }

  openStore(): Promise<PipelineStateStore> {
    return PipelineStateStore.open(historyLocation(this.dir, {}));
  }

  /** Every row of a raw table, by `_seq`. */
  async rows(table: string): Promise<Record<string, unknown>[]> {
    const opened = await openWritableWarehouse(this.dir, {});
    try {
      const state = await opened.warehouse.load({ namespace: 'raw', name: table });
      const { files, schema } = await opened.warehouse.planFiles(state);
      const reader = await opened.duckdb.runAndReadAll(
        `SELECT * FROM (${readParquetSql(files, schema)}) ORDER BY _seq`,
      );
      return reader
        .getRowObjectsJS()
        .map((row) =>
          Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
        );
    } finally {
      await opened.close();
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One pipeline's upstream: a script of events every source opened for it replays from where
 * it is asked to, and events pushed later reach the open ones. Counts the sources open at once
 * (more than one means the pipeline ran in two places).
 */
export class Feed {
  readonly script = new EventScript().schema(ITEM_SCHEMA);
  private readonly open = new Set<ScriptedSource>();
  opened = 0;
  maxOpenAtOnce = 0;
  /** What each source was opened with. */
  readonly contexts: SourceContext[] = [];
  /** Set to make the next opens fail. */
  failWith: Error | undefined;
  /** Gives sources a snapshotKeys (the feed's live keys), for audits. */
  auditable = false;
  /** Keys snapshotKeys reports beside the real ones (a row the pipeline never saw). */
  readonly phantomKeys: string[] = [];

  get openNow(): number {
    return this.open.size;
  }

  /** The last event's seq. */
  get lastSeq(): number {
    return Number(this.script.events.at(-1)!.position.seq);
  }

  change(op: ChangeEvent['op'], row: ChangeEvent['row']): this {
    this.script.change('public.item', op, row, new Date().toISOString());
    const event = this.script.events.at(-1)!;
    for (const source of this.open) source.push(event);
    return this;
  }

  /** A source over this feed, as the factory opens it. */
  source(context: SourceContext): ChangeSource {
    if (this.failWith) throw this.failWith;
    this.contexts.push(context);
    this.opened++;
    const source = new ScriptedSource(this.script.events, { follow: true });
    this.open.add(source);
    this.maxOpenAtOnce = Math.max(this.maxOpenAtOnce, this.open.size);
    const close = source.close.bind(source);
    source.close = async () => {
      this.open.delete(source);
      await close();
    };
    if (this.auditable)
      Object.assign(source, {
        snapshotKeys: async (): Promise<{ keys: string[]; seq: bigint }> => ({
          keys: [...this.liveKeys(), ...this.phantomKeys],
          seq: BigInt(this.lastSeq),
        }),
      });
    return source;
  }

  /** The keys upstream holds now (JSON arrays of the key's text, as audits compare them). */
  liveKeys(): string[] {
    const live = new Set<string>();
    for (const event of this.script.events) {
      if (event.kind !== 'change') continue;
      const key = JSON.stringify([String(event.row.item_id)]);
      if (event.op === 'd') live.delete(key);
      else live.add(key);
    }
    return [...live];
  }
}

/** A source factory over feeds by pipeline name. */
export function feedFactory(feeds: Map<string, Feed>): SourceFactory {
  return async (context) => {
    const feed = feeds.get(context.pipeline.name);
    if (!feed) throw new Error(`no feed for ${context.pipeline.name}`);
    return feed.source(context);
  };
}

export const silent = () => pino({ level: 'silent' });

/** A logger whose lines the test can read. */
export function capturing() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Polls `check` until it returns true (or a value), or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | undefined | null>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** True when the state records `seq` as committed. */
export function committedThrough(state: PipelineState | undefined, seq: number): boolean {
  return state?.positionSeq !== undefined && Number(state.positionSeq) >= seq;
}
