/** The catalog document: what it holds, what a caller may not see, and runtime facts passed in. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { projectCatalog } from '../../src/catalog/catalog.js';
import { Compiler } from '../../src/core/compile.js';
import { buildCatalog, fullView } from '../../src/core/catalog.js';
import { Visibility } from '../../src/graphql/visibility.js';
import { exampleProject } from '../support/example-project.js';

const { project, compiler } = exampleProject();
const { model } = project;
const now = new Date('2026-12-01T00:00:00Z');

describe('buildCatalog', () => {
  const doc = buildCatalog(compiler, {
    view: fullView(model),
    dialect: 'duckdb',
    now,
    runtime: {
      runs: new Map([
        [
          'movie-status',
          [{ id: 'r1', status: 'succeeded', trigger: 'schedule', startedAt: now.toISOString() }],
        ],
      ]),
      freshness: new Map([['movie-status', { state: 'fresh', reason: 'ok' }]]),
      pipelines: new Map([['studio', { status: 'running', lagSeconds: 3 }]]),
    },
  });

  it('holds sources with fields, measures, owners and joins', () => {
    const movie = doc.sources.find((s) => s.name === 'movie')!;
    expect(movie.owner).toBe('studio-data@example.com');
    expect(movie.tables).toEqual(['studio.movie']);
    expect(movie.fields.map((f) => f.name)).toContain('title_initial');
    expect(movie.fields.find((f) => f.name === 'title_initial')!.sql).toBe('upper(title[1])');
    expect(movie.measures.find((m) => m.name === 'active_movie_count')!.filter).toBe("status = 'active'");
    expect(movie.joins.map((j) => j.to)).toEqual(expect.arrayContaining(['production', 'movie_talent']));
  });

  it('compiles every input in the dialect asked for', () => {
    expect(doc.inputs).toHaveLength(model.inputs.size);
    expect(doc.inputs.every((i) => i.sql && !i.error)).toBe(true);
  });

  it('shows trackers with destinations but no credentials, and the runtime facts given', () => {
    const tracker = doc.trackers.find((t) => t.name === 'movie-status')!;
    expect(tracker.runs.map((r) => r.id)).toEqual(['r1']);
    expect(tracker.freshness?.state).toBe('fresh');
    expect(JSON.stringify(doc.trackers)).not.toMatch(/env:|connection|token/i);
    expect(doc.pipelines.find((p) => p.name === 'studio')!.state?.lagSeconds).toBe(3);
  });

  it('gives field lineage equal to strata impact', () => {
    const movieId = doc.sources.find((s) => s.name === 'movie')!.fields.find((f) => f.name === 'movie_id')!;
    expect(movieId.usedBy.inputs).toContain('movie_cast');
  });

  it('leaves out for a caller what its roles may not read', () => {
    const caller = { roles: ['guest'], attributes: {} };
    const guest = buildCatalog(compiler, {
      view: new Visibility(model, caller.roles),
      dialect: 'duckdb',
      caller,
      now,
    });
    expect(guest.sources.map((s) => s.name)).not.toContain('purchase_order');
    const shown = new Set(guest.sources.map((s) => s.name));
    expect(guest.inputs.every((i) => i.sources.every((s) => shown.has(s)))).toBe(true);
    expect(guest.inputs.map((i) => i.name)).not.toContain('large_purchase_orders');
    expect(guest.tables.map((t) => t.table)).not.toContain('studio.purchase_order');
    const inputs = new Set(guest.inputs.map((i) => i.name));
    expect(guest.trackers.every((t) => inputs.has(t.input))).toBe(true);
  });
});

describe('projectCatalog (the service and strata docs)', () => {
  it('compiles each input once per loaded project, dialect and caller', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-catalog-memo-'));
    try {
      const fresh = new Compiler(model);
      const compile = vi.spyOn(fresh, 'compile');
      const request = { projectDir: dir, project, compiler: fresh, dialect: 'duckdb' as const };
      const studio = { roles: ['studio'], attributes: {} };
      const first = await projectCatalog({ ...request, caller: studio });
      const compiled = compile.mock.calls.length;
      expect(compiled).toBe(model.inputs.size);
      const again = await projectCatalog({ ...request, caller: { roles: ['studio'], attributes: {} } });
      expect(compile.mock.calls.length).toBe(compiled);
      expect(again.inputs).toEqual(first.inputs);
      // Another caller (or dialect) is compiled for, and sees its own SQL.
      const vendor = await projectCatalog({
        ...request,
        caller: { roles: ['vendor'], attributes: { vendor_id: 'VND-054' } },
      });
      expect(compile.mock.calls.length).toBeGreaterThan(compiled);
      expect(vendor.inputs).not.toEqual(first.inputs);
      await projectCatalog({ ...request, dialect: 'postgres', caller: studio });
      expect(compile.mock.calls.length).toBe(compiled * 2 + model.inputs.size);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
