/**
 * `npm run bench:freshness`: how far behind PostgreSQL a near-real-time tracker is. A row is
 * updated in the machine's PostgreSQL; the CDC pipeline commits it to the embedded Iceberg
 * warehouse; the commit queues the `refresh: on_change` tracker's run (debounced); the run
 * upserts the changed cell into a Google Sheets tab (the local emulator). Measured per change,
 * sequentially, p50 and p95 of:
 *  - commit -> Iceberg: the pipeline alone (the baseline, from the same changes), and
 *  - commit -> Sheets cell: what a stakeholder sees,
 * with Strata's defaults (commit interval 1 s, debounce 5 s) and with a fast setting.
 */
import { performance } from 'node:perf_hooks';
import { startRealtimeTracker, type RealtimeOptions } from '../test/support/realtime-tracker.js';

const SAMPLES = Number(process.env.BENCH_FRESHNESS_SAMPLES ?? 20);
const TIMEOUT_MS = 120_000;

interface Setting {
  name: string;
  options: RealtimeOptions;
}

const SETTINGS: Setting[] = [
  { name: 'defaults (commit interval 1s, debounce 5s)', options: {} },
  {
    name: 'fast (commit interval 200ms, debounce 500ms)',
    options: { commitInterval: '200ms', debounce: '500ms' },
  },
];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  const deadline = performance.now() + TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Sample {
  iceberg: number;
  sheets: number;
}

async function measure(setting: Setting): Promise<Sample[]> {
  const live = await startRealtimeTracker(setting.options);
  try {
    await until(() => (live.rows().length === 20 ? true : undefined), 'the initial snapshot in the tab');
    const samples: Sample[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const id = (i % 20) + 1;
      const qty = 10_000 + i;
      const before = (await live.store.get(live.upstream.pipeline))?.lastCommitAt;
      await live.upstream.query(`UPDATE $schema.item SET qty = $1 WHERE item_id = $2`, [qty, id]);
      const committed = performance.now();
      const wall = Date.now();
      const [icebergAt, sheetsAt] = await Promise.all([
        until(async () => {
          const state = await live.store.get(live.upstream.pipeline);
          const at = state?.lastCommitAt;
          return at && at !== before && Date.parse(at) >= wall - 5 ? performance.now() : undefined;
        }, 'the pipeline commit'),
        until(
          () => (live.rows().some((r) => r[0] === id && r[2] === qty) ? performance.now() : undefined),
          'the changed cell',
        ),
      ]);
      samples.push({ iceberg: icebergAt - committed, sheets: sheetsAt - committed });
      // Changes arrive at random moments, not in step with the debounce.
      await sleep(Math.random() * 1000);
    }
    return samples;
  } finally {
    await live.close();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  console.log(`node ${process.version}; ${SAMPLES} changes per setting, one at a time\n`);
  const rows: string[][] = [];
  for (const setting of SETTINGS) {
    const samples = await measure(setting);
    const iceberg = samples.map((s) => s.iceberg);
    const sheets = samples.map((s) => s.sheets);
    const [i50, i95, s50, s95] = [
      percentile(iceberg, 50),
      percentile(iceberg, 95),
      percentile(sheets, 50),
      percentile(sheets, 95),
    ];
    console.log(`${setting.name}:`);
    console.log(
      `  PostgreSQL commit -> Iceberg (the pipeline alone, baseline): p50 ${seconds(i50)}, p95 ${seconds(i95)}`,
    );
    console.log(
      `  PostgreSQL commit -> Sheets cell: p50 ${seconds(s50)}, p95 ${seconds(s95)} (${(s50 / i50).toFixed(1)}x / ${(s95 / i95).toFixed(1)}x the baseline)`,
    );
    rows.push([
      setting.name,
      seconds(i50),
      seconds(i95),
      seconds(s50),
      seconds(s95),
      `${(s95 / i95).toFixed(1)}x`,
    ]);
  }
  console.log(
    '\n| setting | commit -> Iceberg p50 | p95 | commit -> Sheets cell p50 | p95 | p95 vs baseline |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
