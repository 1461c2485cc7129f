/** `strata init`: a skeleton that validates and runs at once, and never clobbers a folder. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initCommand, SAMPLE_INPUT } from '../../src/cli/init-commands.js';
import { runCommand, validateCommand } from '../../src/cli/commands.js';
import { UsageError } from '../../src/engines/open-engine.js';
import { loadProject } from '../../src/project/load-project.js';
import { strata } from '../support/cli.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-init-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs a command body in process, with what it prints to stdout. */
async function captured(body: () => number | Promise<number>): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await body(), stdout };
  } finally {
    write.mockRestore();
    stderr.mockRestore();
  }
}

describe('strata init', () => {
  it('creates a project that validates and whose sample input runs on the embedded engine', async () => {
    const dir = join(root, 'shop');
    const init = await captured(() => initCommand(dir, {}));
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`strata run ${SAMPLE_INPUT} --project ${dir}`);
    for (const path of [
      'strata.yaml',
      '.gitignore',
      'definitions/sources/sample_order.yaml',
      `definitions/inputs/${SAMPLE_INPUT}.yaml`,
      'definitions/pipelines',
      'trackers',
      '.vscode/settings.json',
      'schemas/source.schema.json',
      'schemas/config.schema.json',
    ])
      expect(existsSync(join(dir, path)), path).toBe(true);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toContain('.strata/');

    expect((await captured(() => validateCommand(dir))).code).toBe(0);
    const run = await captured(() => runCommand(dir, SAMPLE_INPUT, { format: 'json' }));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { status: 'shipped', order_count: 2, total_amount: 122.25 },
      { status: 'open', order_count: 1, total_amount: 120.5 },
    ]);
  });

  it('binds every kind of file to its schema in the editor settings', async () => {
    const dir = join(root, 'editor');
    await captured(() => initCommand(dir, {}));
    const settings = JSON.parse(readFileSync(join(dir, '.vscode/settings.json'), 'utf8')) as {
      'yaml.schemas': Record<string, string[]>;
    };
    expect(settings['yaml.schemas']['./schemas/source.schema.json']).toContain('definitions/sources/*.yaml');
    expect(settings['yaml.schemas']['./schemas/config.schema.json']).toEqual(['strata.yaml']);
    for (const schema of Object.keys(settings['yaml.schemas']))
      expect(existsSync(join(dir, schema)), schema).toBe(true);
  });

  it('accepts sources added later beside the sample', async () => {
    const dir = join(root, 'later');
    await captured(() => initCommand(dir, {}));
    writeFileSync(
      join(dir, 'definitions/sources/customer.yaml'),
      'name: customer\ntable: app.customer\nfields:\n  - { name: id, type: integer }\n',
    );
    expect(loadProject(dir).model.sources.has('customer')).toBe(true);
    expect((await captured(() => validateCommand(dir))).code).toBe(0);
  });

  it('refuses a folder that is not empty unless --force, and then keeps existing files', async () => {
    const dir = join(root, 'busy');
    await captured(() => initCommand(dir, {}));
    writeFileSync(join(dir, 'strata.yaml'), 'engine: duckdb\n');
    await expect(initCommand(dir, {})).rejects.toThrow(UsageError);
    await expect(initCommand(dir, {})).rejects.toThrow(/not empty: use --force/);
    const forced = await captured(() => initCommand(dir, { force: true }));
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('strata.yaml (exists, kept)');
    expect(readFileSync(join(dir, 'strata.yaml'), 'utf8')).toBe('engine: duckdb\n');
  });

  it('--force in a fresh clone (no .strata/) recreates the warehouse catalog and keeps narrowed schemas', async () => {
    const dir = join(root, 'clone');
    await captured(() => initCommand(dir, {}));
    writeFileSync(join(dir, 'schemas/input.schema.json'), '{"narrowed": true}\n');
    rmSync(join(dir, '.strata'), { recursive: true, force: true });
    await captured(() => initCommand(dir, { force: true }));
    expect(readFileSync(join(dir, 'schemas/input.schema.json'), 'utf8')).toBe('{"narrowed": true}\n');
    const run = await captured(() => runCommand(dir, SAMPLE_INPUT, { format: 'json' }));
    expect(run.code).toBe(0);
  });

  it('exits 2 with one clear line on a folder that is not empty (the built CLI)', () => {
    const dir = join(root, 'occupied');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    const r = strata(['init', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `error: ${dir} is not empty: use --force to add the skeleton anyway (existing files are kept)\n`,
    );
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine\n');
  });
});
