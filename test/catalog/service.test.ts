/** GET /catalog of `strata serve` in real Chromium: behind the auth guard, as the caller's roles see it. */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogDocument } from '../../src/core/catalog.js';
import { generateApiKey, hashApiKey } from '../../src/service/auth/api-keys.js';
import { createService } from '../../src/service/create-service.js';
import { loadProject } from '../../src/project/load-project.js';
import { RunHistory } from '../../src/trackers/history.js';
import { historyLocation } from '../../src/trackers/locations.js';
import { REPO_ROOT } from '../support/example-project.js';
import { deleteKeys, REDIS_URL, silentLogger, uniquePrefix } from '../service/support.js';
import { launchChromium } from './browser.js';

const prefix = uniquePrefix('catalog');
const full = generateApiKey();
const guest = generateApiKey();
const dir = mkdtempSync(join(tmpdir(), 'strata-catalog-'));
let app: INestApplication;
let base: string;
let browser: Browser;

beforeAll(async () => {
  cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
  cpSync(join(REPO_ROOT, 'trackers'), join(dir, 'trackers'), { recursive: true });
  writeFileSync(
    join(dir, 'keys.yaml'),
    JSON.stringify({
      keys: [
        { id: 'lead', hash: hashApiKey(full), roles: ['studio', 'finance'] },
        // purchase_order admits studio and finance only; movie.budget_usd is for finance.
        { id: 'guest', hash: hashApiKey(guest), roles: ['guest'] },
      ],
    }),
  );
  writeFileSync(join(dir, 'strata.yaml'), JSON.stringify({ auth: { apiKeys: { file: 'keys.yaml' } } }));
  // One recorded run, for the tracker's last runs and freshness.
  const history = await RunHistory.open(historyLocation(dir, loadProject(dir).config));
  await history.record({
    id: 'run-1',
    tracker: 'movie-status',
    trigger: 'schedule',
    status: 'succeeded',
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    endedAt: new Date().toISOString(),
    rows: 42,
    destinations: [],
    apiCalls: 0,
    bytes: 0,
  });
  await history.close();
  app = await createService({
    projectDir: dir,
    port: 0,
    host: '127.0.0.1',
    redisUrl: REDIS_URL,
    prefix,
    logger: silentLogger(),
    watch: false,
    reloadIntervalMs: 0,
  });
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await deleteKeys(prefix);
  rmSync(dir, { recursive: true, force: true });
});

async function openCatalog(key: string | undefined, hash = '') {
  const context = await browser.newContext(key ? { extraHTTPHeaders: { 'X-Api-Key': key } } : {});
  const page = await context.newPage();
  const response = await page.goto(`${base}/catalog${hash}`);
  return { context, page, status: response?.status() };
}

describe('GET /catalog in Chromium', () => {
  it('refuses a request without a credential', async () => {
    const { context, status } = await openCatalog(undefined);
    expect(status).toBe(401);
    await context.close();
  });

  it('loads for a key; search finds a field; lineage shows the trackers', async () => {
    const { context, page, status } = await openCatalog(full);
    expect(status).toBe(200);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('[data-source="purchase_order"]').count()).toBe(1);
    await page.fill('#search', 'budget_usd');
    await expect.poll(() => page.locator('[data-result="field:movie.budget_usd"]').count()).toBe(1);
    await page.goto(`${base}/catalog#lineage/table/studio.movie`);
    const trackers = await page.locator('#lineage [data-lineage="trackers"] .tag').allTextContents();
    expect(trackers).toEqual(['movie-status', 'talent-roster']);
    await page.goto(`${base}/catalog#trackers/movie-status`);
    const card = (await page.locator('#tracker-movie-status').textContent()) ?? '';
    expect(card).toContain('schedule succeeded, 42 rows');
    expect(card).toContain('fresh:');
    await context.close();
  });

  it('does not show a denied source or field to a restricted key', async () => {
    const { context, page, status } = await openCatalog(guest);
    expect(status).toBe(200);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('[data-source="movie"]').count()).toBe(1);
    expect(await page.locator('[data-source="purchase_order"]').count()).toBe(0);
    expect(await page.locator('[data-member="movie.budget_usd"]').count()).toBe(0);
    await page.fill('#search', 'purchase');
    await expect.poll(() => page.locator('[data-result]').count()).toBe(0);
    const json = (await page.locator('#catalog-data').textContent()) ?? '';
    // Not in the embedded data either (production.budget_usd is a different, readable field).
    expect(json).not.toContain('purchase_order');
    const movie = (JSON.parse(json) as CatalogDocument).sources.find((s) => s.name === 'movie')!;
    expect([...movie.fields, ...movie.measures].map((m) => m.name)).not.toContain('budget_usd');
    expect(movie.measures.map((m) => m.name)).not.toContain('total_budget');
    await context.close();
  });
});
