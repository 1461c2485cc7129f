/** `strata schema`: generic and project-specific JSON Schemas (in process). */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { schemaCommand } from '../../src/cli/schema-commands.js';
import { jsonSchemaOf } from '../../src/core/definitions/json-schema.js';
import { UsageError } from '../../src/engines/open-engine.js';
import { REPO_ROOT } from '../support/example-project.js';

afterEach(() => vi.restoreAllMocks());

function printed(kind: string, project: boolean): Record<string, unknown> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  expect(schemaCommand(REPO_ROOT, kind, { projectNames: project })).toBe(0);
  vi.restoreAllMocks();
  return JSON.parse(out) as Record<string, unknown>;
}

describe('strata schema', () => {
  it('prints the generic schema of a kind', () => {
    expect(printed('input', false)).toEqual(jsonSchemaOf('input'));
  });

  it("with --project, makes field, source and input references enums of the project's names", () => {
    const input = JSON.stringify(printed('input', true));
    expect(input).toContain('"movie.title"');
    expect(input).toContain('"production.production_count"');
    const tracker = printed('tracker', true) as { properties: { input: { enum: string[] } } };
    expect(tracker.properties.input.enum).toContain('movies_in_production');
    const source = printed('source', true) as {
      properties: { joins: { items: { properties: { to: { enum: string[] } } } } };
    };
    expect(source.properties.joins.items.properties.to.enum).toEqual(
      expect.arrayContaining(['movie', 'production', 'vendor']),
    );
  });

  it('writes every kind with --out', () => {
    const out = mkdtempSync(join(tmpdir(), 'strata-schema-'));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(schemaCommand(REPO_ROOT, undefined, { out })).toBe(0);
      expect(readdirSync(out).sort()).toEqual([
        'config.schema.json',
        'input.schema.json',
        'pipeline.schema.json',
        'source.schema.json',
        'tracker.schema.json',
      ]);
      expect(JSON.parse(readFileSync(join(out, 'source.schema.json'), 'utf8'))).toEqual(
        jsonSchemaOf('source'),
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('is a usage error without a kind, with an unknown kind, or with a kind and --out', () => {
    expect(() => schemaCommand(REPO_ROOT, undefined, {})).toThrow(UsageError);
    expect(() => schemaCommand(REPO_ROOT, 'sorce', {})).toThrow(/unknown schema kind 'sorce'/);
    expect(() => schemaCommand(REPO_ROOT, 'source', { out: 'x' })).toThrow(UsageError);
  });
});
