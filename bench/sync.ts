/**
 * `npm run bench:sync`: what trackers cost the APIs they write to, against the local
 * emulators under test/support (the real client code, the APIs' request shapes).
 *  1. a 10,000-row tracker with 1% of rows changed: API calls and bytes of an upsert,
 *     against the baseline of writing the whole result (a full replace) in the same run;
 *  2. Airtable throughput against its ceiling of 50 records/s (5 requests/s x 10 records).
 */
import { performance } from 'node:perf_hooks';
import type { Cell } from '../src/core/values/cell.js';
import { AirtableDestination } from '../src/destinations/airtable.js';
import type { DestinationContext, SyncTable, WriteResult } from '../src/destinations/destination.js';
import { GoogleSheetsDestination } from '../src/destinations/google-sheets.js';
import { DEFAULT_RETRY } from '../src/destinations/http.js';
import { InMemoryRateLimiter } from '../src/destinations/limiter.js';
import { FakeClock, startFakeAirtable } from '../test/support/fake-airtable.js';
import { FakeSheets } from '../test/support/fake-sheets.js';

const ROWS = 10_000;
const CHANGED = ROWS / 100;
const THROUGHPUT_RECORDS = Number(process.env.BENCH_AIRTABLE_RECORDS ?? 1000);

const table = (changed: boolean): SyncTable => ({
  columns: [
    { name: 'movie_id', label: 'Movie ID', type: 'string' },
    { name: 'title', label: 'Title', type: 'string' },
    { name: 'status', label: 'Status', type: 'string' },
    { name: 'country', label: 'Country', type: 'string' },
    { name: 'budget', label: 'Budget', type: 'decimal', format: '$#,##0' },
    { name: 'runtime', label: 'Runtime', type: 'integer' },
    { name: 'score', label: 'Score', type: 'number' },
    { name: 'released', label: 'Released', type: 'boolean' },
    { name: 'launch', label: 'Launch', type: 'date' },
    { name: 'updated_at', label: 'Updated At', type: 'timestamp' },
  ],
  rows: Array.from({ length: ROWS }, (_, i): Cell[] => [
    `m${String(i).padStart(5, '0')}`,
    `Title ${i}`,
    changed && i % 100 === 7 ? 'wrapped' : ['active', 'development', 'released'][i % 3]!,
    ['US', 'ES', 'GB', 'FR'][i % 4]!,
    1_000_000 + i * 17.5,
    90 + (i % 60),
    (i % 97) / 10,
    i % 2 === 0,
    `2026-${String(1 + (i % 12)).padStart(2, '0')}-15`,
    '2026-11-26T10:00:00.000Z',
  ]),
});

const quiet = { info: () => undefined, warn: () => undefined };
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(2)}%`;
const line = (label: string, r: WriteResult) =>
  `${label}: ${r.apiCalls} API calls, ${(r.bytes / 1024).toFixed(1)} KiB`;

async function sheets() {
  const token = 'bench-token';
  const fake = await new FakeSheets({ tokens: [token], writeQuotaPerMinute: Infinity }).start();
  fake.addSpreadsheet('bench', [{ title: 'Sheet1' }]);
  const ctx: DestinationContext = {
    limiter: new InMemoryRateLimiter(),
    retry: DEFAULT_RETRY,
    runId: 'r1',
    tracker: 'bench',
    env: { STRATA_GOOGLE_ACCESS_TOKEN: token },
    log: quiet,
  };
  const make = (mode: 'replace' | 'upsert') =>
    new GoogleSheetsDestination(
      {
        type: 'google_sheets',
        spreadsheetId: 'bench',
        sheet: 'Movies',
        mode,
        ...(mode === 'upsert' ? { key: ['movie_id'], onMissing: 'delete' as const } : {}),
      },
      { rootUrl: fake.url },
    );
  const writes = () => fake.requests.filter((r) => r.endpoint === 'batchUpdate').length;
  const replace = await make('replace').write(table(false), ctx);
  const replaceWrites = writes();
  const upsert = await make('upsert').write(table(true), { ...ctx, runId: 'r2' });
  const upsertWrites = writes() - replaceWrites;
  await fake.close();
  return { replace, upsert, replaceWrites, upsertWrites };
}

async function airtableCost() {
  const clock = new FakeClock();
  const server = await startFakeAirtable({ clock });
  const labels = table(false).columns.map((c) => c.label);
  server.createTable('appBench', 'Movies', labels);
  const ctx: DestinationContext = {
    limiter: new InMemoryRateLimiter(clock.now, clock.sleep),
    retry: { ...DEFAULT_RETRY, sleep: clock.sleep },
    runId: 'r1',
    tracker: 'bench',
    env: { STRATA_AIRTABLE_TOKEN: server.token, STRATA_AIRTABLE_ENDPOINT_URL: server.url },
    log: quiet,
  };
  const make = () =>
    new AirtableDestination(
      { type: 'airtable', baseId: 'appBench', table: 'Movies', mode: 'upsert', key: ['movie_id'] },
      { fetch: clock.fetch(), now: clock.now },
    );
  const full = await make().write(table(false), ctx);
  const fullWrites = server.writes().length;
  const upsert = await make().write(table(true), { ...ctx, runId: 'r2' });
  const upsertWrites = server.writes().length - fullWrites;
  await server.close();
  return { full, upsert, fullWrites, upsertWrites };
}

async function airtableThroughput() {
  const server = await startFakeAirtable({ latencyMs: 60 });
  const rows = table(false).rows.slice(0, THROUGHPUT_RECORDS);
  const columns = table(false).columns;
  server.createTable(
    'appSpeed',
    'Movies',
    columns.map((c) => c.label),
  );
  const ctx: DestinationContext = {
    limiter: new InMemoryRateLimiter(),
    retry: DEFAULT_RETRY,
    runId: 'r1',
    tracker: 'bench',
    env: { STRATA_AIRTABLE_TOKEN: server.token, STRATA_AIRTABLE_ENDPOINT_URL: server.url },
    log: quiet,
  };
  const start = performance.now();
  const result = await new AirtableDestination({
    type: 'airtable',
    baseId: 'appSpeed',
    table: 'Movies',
    mode: 'upsert',
    key: ['movie_id'],
  }).write({ columns, rows }, ctx);
  const seconds = (performance.now() - start) / 1000;
  const rateLimited = server.requests.filter((r) => r.status === 429).length;
  await server.close();
  return { records: result.created, seconds, rateLimited };
}

console.log(
  `node ${process.version}; ${ROWS.toLocaleString('en')} rows x 10 columns, ${CHANGED} rows changed (one cell each)\n`,
);
const s = await sheets();
console.log('Google Sheets');
console.log(`  baseline, ${line('full replace', s.replace)}, ${s.replaceWrites} of them batchUpdate writes`);
console.log(
  `  ${line('upsert, 1% changed', s.upsert)}, ${s.upsertWrites} of them batchUpdate writes: ` +
    `${pct(s.upsert.bytes, s.replace.bytes)} of the bytes, ${pct(s.upsertWrites, s.replaceWrites)} of the write calls (${s.upsert.updated} rows updated)`,
);
const a = await airtableCost();
console.log('Airtable');
console.log(`  baseline, ${line('sending every record', a.full)}, ${a.fullWrites} of them writes`);
console.log(
  `  ${line('upsert, 1% changed', a.upsert)}, ${a.upsertWrites} of them writes: ${pct(a.upsert.bytes, a.full.bytes)} of the bytes, ` +
    `${pct(a.upsertWrites, a.fullWrites)} of the write calls, ${pct(a.upsert.apiCalls, a.full.apiCalls)} of all calls (${a.upsert.updated} records updated)`,
);
const t = await airtableThroughput();
const rate = t.records / t.seconds;
console.log(
  `  throughput: ${t.records} records in ${t.seconds.toFixed(1)} s = ${rate.toFixed(1)} records/s, ${pct(rate, 50)} of the 50 records/s ceiling (60 ms per request round trip; ${t.rateLimited} answers were 429)`,
);
