/**
 * The JSON Schemas in a real editor engine: yaml-language-server 1.25 (nobody here wrote it),
 * configured exactly as `strata init` configures VS Code, completes keys and the project's
 * names and flags wrong keys at their line.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initCommand } from '../../src/cli/init-commands.js';
import { schemaCommand } from '../../src/cli/schema-commands.js';
import { schemaFileName, type SchemaKind } from '../../src/core/definitions/json-schema.js';
import { REPO_ROOT } from '../support/example-project.js';
import { YamlLanguageServer } from '../support/yaml-language-server.js';

let dir: string;
let server: YamlLanguageServer;

beforeAll(async () => {
  dir = join(mkdtempSync(join(tmpdir(), 'strata-yaml-ls-')), 'shop');
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  await initCommand(dir, {});
  // The project's own schema: its field, source and input names become enums.
  schemaCommand(dir, undefined, { projectNames: true, out: join(dir, 'schemas') });
  vi.restoreAllMocks();
  const settings = JSON.parse(readFileSync(join(dir, '.vscode/settings.json'), 'utf8')) as {
    'yaml.schemas': Record<string, string[]>;
  };
  server = await YamlLanguageServer.start(dir, { schemas: settings['yaml.schemas'] });
}, 30_000);

afterAll(async () => {
  await server?.stop();
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

const labels = (items: { label: string }[]) => items.map((i) => i.label);

describe('source schema', () => {
  const path = () => join(dir, 'definitions/sources/orders.yaml');

  it('flags a wrong key at its line', async () => {
    const diagnostics = await server.open(
      path(),
      'name: orders\ntable: app.orders\nprimaryKy: order_id\nfields:\n  - name: order_id\n    type: integer\n\n',
    );
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.message).toBe('Property primaryKy is not allowed.');
    expect(diagnostics[0]!.range.start).toEqual({ line: 2, character: 0 });
  });

  it('completes the keys a source may still take', async () => {
    const items = labels(await server.complete(path(), 6, 0));
    expect(items).toEqual(expect.arrayContaining(['primaryKey', 'measures', 'joins', 'description']));
    expect(items).not.toContain('fields');
  });

  it('shows what a key means on hover', async () => {
    const file = join(dir, 'definitions/sources/hover.yaml');
    await server.open(
      file,
      'name: hover\ntable: app.hover\nprimaryKey: id\nfields:\n  - { name: id, type: integer }\n',
    );
    expect(await server.hover(file, 2, 3)).toContain('required with measures and cdc');
  });

  it('completes the keys of a field and the values of its type', async () => {
    const file = join(dir, 'definitions/sources/customer.yaml');
    await server.open(file, 'name: customer\ntable: app.customer\nfields:\n  - name: id\n    type: \n');
    expect(labels(await server.complete(file, 4, 10))).toEqual(
      expect.arrayContaining(['string', 'integer', 'date', 'timestamp']),
    );
  });
});

describe('project input schema', () => {
  const path = () => join(dir, 'definitions/inputs/open_orders.yaml');

  it("completes the project's sources and fields", async () => {
    await server.open(path(), 'name: open_orders\nfrom: \nfields:\n  - sample_order.status\n  - \n');
    expect(labels(await server.complete(path(), 1, 6))).toContain('sample_order');
    expect(labels(await server.complete(path(), 4, 4))).toEqual(
      expect.arrayContaining([
        'sample_order.customer',
        'sample_order.total_amount',
        'sample_order.order_count',
      ]),
    );
  });

  it('flags a field the project does not have, in a filter, at its line', async () => {
    const file = join(dir, 'definitions/inputs/bad_filter.yaml');
    const diagnostics = await server.open(
      file,
      [
        'name: bad_filter',
        'from: sample_order',
        'fields: [sample_order.status]',
        'filters:',
        '  - { field: sample_order.status, op: equals, value: open }',
        '  - any:',
        '      - { field: sample_order.stats, op: equals, value: open }',
        '',
      ].join('\n'),
    );
    expect(diagnostics.map((d) => d.range.start.line)).toEqual([6]);
    expect(diagnostics[0]!.message).toMatch(/Value is not accepted/);
  });
});

describe('tracker and strata.yaml schemas', () => {
  it("complete the project's inputs in a tracker", async () => {
    const file = join(dir, 'trackers/orders.yaml');
    await server.open(file, 'name: orders\ninput: \ndestinations:\n  - type: file\n    path: out.csv\n');
    expect(labels(await server.complete(file, 1, 7))).toEqual(['sample_orders_by_status']);
  });

  it('flag a wrong engine in strata.yaml', async () => {
    const diagnostics = await server.open(join(dir, 'strata.yaml'), 'engine: duckdb\ndialect: sqlite\n');
    expect(diagnostics.map((d) => d.range.start.line)).toEqual([1]);
  });
});

describe('modelines', () => {
  it("bind a file outside the project's folders to a schema", async () => {
    mkdirSync(join(dir, 'drafts'), { recursive: true });
    const diagnostics = await server.open(
      join(dir, 'drafts/draft.yaml'),
      '# yaml-language-server: $schema=../schemas/source.schema.json\nname: draft\ntable: t\nfields: []\ncolour: red\n',
    );
    expect(diagnostics.map((d) => d.range.start.line).sort()).toEqual([3, 4]);
  });
});

describe('the generic schemas', () => {
  /** The repository's example project, each file bound by a modeline to the shipped schema. */
  const examples: [string, SchemaKind][] = [
    ['definitions/sources', 'source'],
    ['definitions/inputs', 'input'],
    ['definitions/pipelines', 'pipeline'],
    ['trackers', 'tracker'],
  ];

  it('accept every definition of the example project', async () => {
    // Opened together: the server debounces validation per document, so waits overlap.
    const checks = examples.flatMap(([folder, kind]) =>
      readdirSync(join(REPO_ROOT, folder))
        .filter((f) => f.endsWith('.yaml'))
        .map(async (file) => {
          const schema = pathToFileURL(join(REPO_ROOT, 'schemas', schemaFileName(kind))).href;
          const text = `# yaml-language-server: $schema=${schema}\n${readFileSync(join(REPO_ROOT, folder, file), 'utf8')}`;
          return {
            file: `${folder}/${file}`,
            diagnostics: await server.open(join(dir, 'examples', kind, file), text),
          };
        }),
    );
    const results = await Promise.all(checks);
    expect(results.length).toBeGreaterThan(30);
    expect(results.filter((r) => r.diagnostics.length > 0)).toEqual([]);
  }, 30_000);
});
