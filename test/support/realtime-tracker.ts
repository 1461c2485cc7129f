/**
 * A near-real-time tracker end to end, as a team would run it: a table in the machine's
 * PostgreSQL, a CDC pipeline (logical replication) into the embedded Iceberg warehouse, a
 * source over its latest view, and a `refresh: on_change` tracker without a schedule writing
 * to a Google Sheets tab (the local emulator), all under one real `strata worker` on Redis.
 * Used by the change-trigger test and `npm run bench:freshness`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { PipelineStateStore } from '../../src/pipelines/state.js';
import { historyLocation } from '../../src/trackers/locations.js';
import { startWorker, type StrataWorker } from '../../src/trackers/worker.js';
import { PG_URL, Upstream } from '../pipelines/pg-support.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../service/support.js';
import { FakeSheets } from './fake-sheets.js';

const TOKEN = 'realtime-sheets-token';
export const SPREADSHEET = 'realtime-sheet';
export const TAB = 'Items';

export interface RealtimeOptions {
  /** strata.yaml `freshness.debounce` (default: none, Strata's default). */
  debounce?: string;
  /** The pipeline's `commitInterval` (default: none, Strata's default). */
  commitInterval?: string;
}

export interface RealtimeTracker {
  upstream: Upstream;
  sheets: FakeSheets;
  worker: StrataWorker;
  store: PipelineStateStore;
  dir: string;
  /** The tab's rows below the header, as the emulator holds them. */
  rows(): unknown[][];
  close(): Promise<void>;
}

export async function startRealtimeTracker(options: RealtimeOptions = {}): Promise<RealtimeTracker> {
  const upstream = await Upstream.create();
  await upstream.query(
    `CREATE TABLE $schema.item (item_id integer PRIMARY KEY, name text NOT NULL, qty integer)`,
  );
  await upstream.query(`INSERT INTO $schema.item SELECT g, 'item ' || g, g FROM generate_series(1, 20) g`);
  const dir = mkdtempSync(join(tmpdir(), 'strata-realtime-'));
  writeProject(dir, upstream, options);
  const sheets = await new FakeSheets({ tokens: [TOKEN], writeQuotaPerMinute: Infinity }).start();
  sheets.addSpreadsheet(SPREADSHEET, [{ title: 'Readme' }]);
  const prefix = uniquePrefix('realtime');
  const worker = await startWorker({
    projectDir: dir,
    redis: REDIS_URL,
    prefix,
    name: 'realtime',
    logger: pino({ level: 'silent' }),
    env: {
      ...process.env,
      STUDIO_DB_URL: PG_URL,
      STRATA_GOOGLE_ACCESS_TOKEN: TOKEN,
      STRATA_SHEETS_ROOT_URL: sheets.url,
    },
    pipelineOptions: { scanIntervalMs: 200, audits: false },
  });
  const store = await PipelineStateStore.open(historyLocation(dir, {}));
  return {
    upstream,
    sheets,
    worker,
    store,
    dir,
    rows: () => {
      try {
        return sheets.values(SPREADSHEET, TAB).slice(1);
      } catch {
        return []; // the tab does not exist before the first run
      }
    },
    close: async () => {
      await worker.close();
      await store.close();
      await sheets.close();
      await upstream.dispose();
      await deleteKeys(prefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function writeProject(dir: string, upstream: Upstream, options: RealtimeOptions): void {
  for (const folder of ['definitions/sources', 'definitions/inputs', 'definitions/pipelines', 'trackers'])
    mkdirSync(join(dir, folder), { recursive: true });
  const write = (path: string, text: string) => writeFileSync(join(dir, path), text);
  write('strata.yaml', options.debounce ? `freshness: { debounce: ${options.debounce} }\n` : '');
  write(
    'definitions/pipelines/items.yaml',
    `name: ${upstream.pipeline}
source:
  type: postgres
  connection: env:STUDIO_DB_URL
  tables: [${upstream.schema}.item]
sink:
  type: iceberg
  namespace: raw
  tables: { ${upstream.schema}.item: item }
${options.commitInterval ? `  commitInterval: ${options.commitInterval}\n` : ''}`,
  );
  write(
    'definitions/sources/item.yaml',
    `name: item
table: raw.item
primaryKey: item_id
cdc: { orderBy: [_op_ts, _seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: item_id, type: integer, label: Item }
  - { name: name, type: string, label: Name }
  - { name: qty, type: integer, label: Quantity }
`,
  );
  write(
    'definitions/inputs/items.yaml',
    'name: items\nfrom: item\nfields: [item.item_id, item.name, item.qty]\n',
  );
  write(
    'trackers/items.yaml',
    `name: items
input: items
refresh: on_change
destinations:
  - { type: google_sheets, spreadsheetId: ${SPREADSHEET}, sheet: ${TAB}, mode: upsert, key: [item_id], onMissing: delete }
`,
  );
}
