/** docs/reference/*.md render every kind's keys, and every link on a page leads to a section of it. */
import { describe, expect, it } from 'vitest';
import { SCHEMA_KINDS } from '../../src/core/definitions/json-schema.js';
import { referencePage } from '../../src/core/definitions/reference-doc.js';

/** GitHub's anchor of a heading, computed apart from the generator's. */
const anchorOf = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

describe('reference pages', () => {
  it.each(SCHEMA_KINDS)('%s: every in-page link names a heading', (kind) => {
    const page = referencePage(kind);
    const headings = new Set([...page.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
    const links = [...page.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(headings, `#${link}`).toContain(link);
  });

  it('renders nested objects, union variants and recursive definitions as their own sections', () => {
    const sections = (kind: (typeof SCHEMA_KINDS)[number]) =>
      [...referencePage(kind).matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections('source')).toEqual(
      expect.arrayContaining(['`fields[]`', '`measures[]`', '`joins[]`', '`cdc`', '`access.rowFilters[]`']),
    );
    expect(sections('tracker')).toEqual(
      expect.arrayContaining([
        '`destinations[]` with `type: google_sheets`',
        '`destinations[]` with `type: airtable`',
        '`destinations[]` with `type: table`',
        '`destinations[]` with `type: file`',
      ]),
    );
    expect(sections('input')).toEqual(expect.arrayContaining(['`Filter`', '`Filter` with `any`']));
    expect(sections('config')).toEqual(
      expect.arrayContaining([
        '`postgres`',
        '`trino`',
        '`warehouse`',
        '`alerts.channels.*` with `type: webhook`',
        '`alerts.channels.*` with `type: email`',
      ]),
    );
  });

  it('shows types, requiredness, descriptions and examples in one row per key', () => {
    const page = referencePage('source');
    expect(page).toContain(
      '| `relationship` | one of `many_to_one` \\| `one_to_one` \\| `one_to_many` | yes      |',
    );
    expect(page).toMatch(
      /\| `primaryKey` +\| `name` or non-empty list of `name` +\| +\| A field or a list of fields; required with measures and cdc\. Example: `\[movie_id\]`\./,
    );
    expect(referencePage('input')).toMatch(/\| `limit` +\| `integer` ≥ 1 +\|/);
  });
});
