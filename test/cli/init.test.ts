/** `strata init`: a skeleton that validates and runs at once, and never clobbers a folder. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCommand, SAMPLE_INPUT } from '../../src/cli/init-commands.js';
import { UsageError } from '../../src/engines/open-engine.js';
import { loadProject } from '../../src/project/load-project.js';
import { strata } from '../support/cli.js';
import { strataInProcess } from '../support/in-process-cli.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-init-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A command run in process: its exit code and what it printed on stdout. */
async function captured(args: string[]): Promise<{ code: number; stdout: string }> {
  const r = await strataInProcess(args);
  return { code: Number(r.status), stdout: r.stdout };
}

const init = (dir: string, ...flags: string[]) => captured(['init', dir, ...flags]);
const validate = (dir: string) => captured(['validate', '--project', dir]);
const runSample = (dir: string) => captured(['run', SAMPLE_INPUT, '--project', dir, '--format', 'json']);

describe('strata init', () => {
  it('creates a project that validates and whose sample input runs on the embedded engine', async () => {
    const dir = join(root, 'shop');
    const made = await init(dir);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain(`strata run ${SAMPLE_INPUT} --project ${dir}`);
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

    expect((await validate(dir)).code).toBe(0);
    const run = await runSample(dir);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { status: 'shipped', order_count: 2, total_amount: 122.25 },
      { status: 'open', order_count: 1, total_amount: 120.5 },
    ]);
  });

  it('binds every kind of file to its schema in the editor settings', async () => {
    const dir = join(root, 'editor');
    await init(dir);
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
    await init(dir);
    writeFileSync(
      join(dir, 'definitions/sources/customer.yaml'),
      'name: customer\ntable: app.customer\nfields:\n  - { name: id, type: integer }\n',
    );
    expect(loadProject(dir).model.sources.has('customer')).toBe(true);
    expect((await validate(dir)).code).toBe(0);
  });

  it('refuses a folder that is not empty unless --force, and then keeps existing files', async () => {
    const dir = join(root, 'busy');
    await init(dir);
    writeFileSync(join(dir, 'strata.yaml'), 'engine: duckdb\n');
    await expect(initCommand(dir, {})).rejects.toThrow(UsageError);
    await expect(initCommand(dir, {})).rejects.toThrow(/not empty: use --force/);
    const forced = await init(dir, '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('strata.yaml (exists, kept)');
    expect(readFileSync(join(dir, 'strata.yaml'), 'utf8')).toBe('engine: duckdb\n');
  });

  it('--force in a fresh clone (no .strata/) recreates the warehouse catalog and keeps narrowed schemas', async () => {
    const dir = join(root, 'clone');
    await init(dir);
    writeFileSync(join(dir, 'schemas/input.schema.json'), '{"narrowed": true}\n');
    rmSync(join(dir, '.strata'), { recursive: true, force: true });
    await init(dir, '--force');
    expect(readFileSync(join(dir, 'schemas/input.schema.json'), 'utf8')).toBe('{"narrowed": true}\n');
    const run = await runSample(dir);
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
