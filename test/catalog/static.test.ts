/** The static catalog (`strata docs --out`) in real Chromium over file://. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docsCommand } from '../../src/cli/docs-commands.js';
import type { CatalogDocument } from '../../src/core/catalog.js';
import { usagesOf } from '../../src/core/impact.js';
import { exampleProject, REPO_ROOT } from '../support/example-project.js';
import { launchChromium } from './browser.js';

const out = mkdtempSync(join(tmpdir(), 'strata-docs-'));
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // In process: the CLI itself is not what is tested here, the page is.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = () => true;
  try {
    await docsCommand(REPO_ROOT, { out });
  } finally {
    process.stdout.write = write;
  }
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(pathToFileURL(join(out, 'index.html')).href);
  await page.waitForSelector('body[data-ready="true"]');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  rmSync(out, { recursive: true, force: true });
});

describe('strata docs --out, in Chromium', () => {
  it('writes catalog.json and a page that loads with every source', async () => {
    const doc = JSON.parse(readFileSync(join(out, 'catalog.json'), 'utf8')) as CatalogDocument;
    expect(doc.sources.map((s) => s.name)).toContain('purchase_order');
    expect(await page.title()).toBe('Strata catalog');
    expect(await page.locator('[data-source]').count()).toBe(doc.sources.length);
  });

  it('search finds a field', async () => {
    await page.fill('#search', 'runtime_min');
    await expect.poll(() => page.locator('[data-result="field:movie.runtime_minutes"]').count()).toBe(1);
    await page.fill('#search', '');
  });

  it("a table's lineage shows the trackers strata impact finds", async () => {
    await page.goto(pathToFileURL(join(out, 'index.html')).href + '#lineage/table/studio.movie');
    const trackers = await page.locator('#lineage [data-lineage="trackers"] .tag').allTextContents();
    expect(trackers).toEqual(['movie-status', 'talent-roster']);
    // A field used only as a join key: the same answer as strata impact.
    await page.goto(pathToFileURL(join(out, 'index.html')).href + '#lineage/field/movie.movie_id');
    const fieldTrackers = await page.locator('#lineage [data-lineage="trackers"] .tag').allTextContents();
    expect(fieldTrackers).toEqual(usagesOf(exampleProject().project.model, 'movie.movie_id').trackers);
  });

  it('draws the join graph', async () => {
    await page.goto(pathToFileURL(join(out, 'index.html')).href + '#graph');
    expect(await page.locator('#join-graph [data-node]').count()).toBe(8);
    expect(await page.locator('#join-graph line').count()).toBeGreaterThan(0);
  });
});
