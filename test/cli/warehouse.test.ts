/**
 * Issue 3's acceptance, end to end through the CLI's commands (run in-process: the binary itself
 * is covered by test/cli/cli.test.ts): `strata demo` builds Iceberg
 * tables; every example input gives the same rows on them as on the same data in a plain
 * DuckDB file; `strata compact` changes no answer and reduces the data files; icebird
 * reads every demo table with the rows our reader sees.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { collect } from '../../src/engines/engine.js';
import { openEngine } from '../../src/engines/open-engine.js';
import { loadProject } from '../../src/project/load-project.js';
import { SqliteCatalog } from '../../src/warehouse/catalog.js';
import { Warehouse } from '../../src/warehouse/table.js';
import { REPO_ROOT } from '../support/example-project.js';
import { strataInProcess } from '../support/in-process-cli.js';
import { readWithDuckDb, readWithIcebird, serveFileUrls } from '../warehouse/support.js';
import { exampleProject } from '../support/example-project.js';

const inputs = [...exampleProject().project.model.inputs.keys()];
let dir: string;
let project: string;
let plainFile: string;

/** An input's rows as sorted JSON lines (inputs without a total order may list ties in any order). */
async function rows(args: string[]): Promise<string[]> {
  const r = await strataInProcess(['run', ...args, '--format', 'ndjson']);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').filter(Boolean).sort();
}

/** Every example input's rows, as sorted JSON lines, read through the engine `strata run` opens. */
async function answers(projectDir: string): Promise<Record<string, string[]>> {
  const loaded = loadProject(projectDir);
  const compiler = new Compiler(loaded.model);
  const engine = await openEngine(projectDir, {}, loaded.config);
  try {
    const result: Record<string, string[]> = {};
    for (const input of inputs) {
      const { sql } = compiler.compile(input, { dialect: 'duckdb' });
      result[input] = (await collect(engine.stream(sql))).map((row) => JSON.stringify(row)).sort();
    }
    return result;
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-wh-'));
  project = join(dir, 'project');
  cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
  plainFile = join(dir, 'plain.duckdb');
  expect((await strataInProcess(['demo', '--project', project])).status).toBe(0);
  expect((await strataInProcess(['demo', '--project', project, '--database', plainFile])).status).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the demo warehouse', () => {
  it.each(inputs)('%s gives the same rows on Iceberg as on the plain DuckDB file', async (input) => {
    const iceberg = await rows([input, '--project', project]);
    expect(iceberg).toEqual(await rows([input, '--project', project, '--database', plainFile]));
  });

  it('strata compact changes no answer and reduces the data files', async () => {
    // The answers are read straight from the engine (the CLI's own `run` is covered above).
    const before = await answers(project);
    const r = await strataInProcess(['compact', '--project', project]);
    expect(r.status, r.stderr).toBe(0);
    const [, filesBefore, filesAfter] = /: (\d+) files?, \d+ rows? -> (\d+) files?/.exec(r.stdout) ?? [];
    expect(Number(filesAfter)).toBeLessThan(Number(filesBefore));
    expect(await answers(project)).toEqual(before);
    expect((await strataInProcess(['compact', '--project', project])).stdout).toMatch(/already compact/);
  });

  it('strata maintain changes no answer and says what it did per table', async () => {
    const before = await answers(project);
    const r = await strataInProcess(['maintain', '--project', project]);
    expect(r.status, r.stderr).toBe(0);
    // The CDC source's raw table, and the tables the studio pipeline writes (not created yet).
    expect(r.stdout).toMatch(
      /^studio_raw\.talent_changes: (compacted|already compact).*snapshots? expired; \d+ files? removed$/m,
    );
    expect(r.stdout).toMatch(/^studio_raw\.studio__heartbeats: skipped \(the table does not exist yet\)$/m);
    expect(await answers(project)).toEqual(before);
  });

  it('strata maintain --json, and its usage errors', async () => {
    const json = await strataInProcess(['maintain', 'talent', '--json', '--project', project]);
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ table: 'studio_raw.talent_changes', newSnapshot: false });

    const unknown = await strataInProcess(['maintain', 'studio.movie', '--project', project]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/'studio\.movie' is not a CDC table/);
    const short = await strataInProcess(['maintain', '--retention', '10m', '--project', project]);
    expect(short.status).toBe(2);
    expect(short.stderr).toMatch(/--retention must be at least 1h/);
  });

  it('icebird reads every demo table with the rows our reader sees', async () => {
    const restore = serveFileUrls();
    const duckdb = await DuckDbEngine.open({ path: ':memory:' });
    const catalog = SqliteCatalog.open(join(project, '.strata', 'catalog.db'));
    try {
      const warehouse = new Warehouse({
        root: join(project, '.strata', 'warehouse'),
        catalog,
        duckdb: duckdb.rawConnection,
      });
      const tables = await catalog.listTables();
      expect(tables.map((t) => `${t.namespace}.${t.name}`).sort()).toEqual([
        'studio.location',
        'studio.movie',
        'studio.movie_talent',
        'studio.production',
        'studio.purchase_order',
        'studio.shoot_day',
        'studio.vendor',
        'studio_raw.talent_changes',
      ]);
      for (const id of tables) {
        const state = await warehouse.load(id);
        const ours = await readWithDuckDb(warehouse, duckdb.rawConnection, state);
        expect(ours.length).toBeGreaterThan(0);
        expect(await readWithIcebird(state), `${id.namespace}.${id.name}`).toEqual(ours);
      }
    } finally {
      await catalog.close();
      await duckdb.close();
      restore();
    }
  });
});
