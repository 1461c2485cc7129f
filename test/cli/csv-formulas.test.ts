/**
 * Issue 7 §6: `strata run --format csv` escapes text cells that a spreadsheet would run as a
 * formula (= + - @), never typed numbers; `--no-escape-formulas` writes them as they are.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { strataInProcess } from '../support/in-process-cli.js';
import { createProject, type TestProject } from '../service/support.js';

let project: TestProject;

beforeAll(async () => {
  project = await createProject();
  const instance = await DuckDBInstance.create(project.database);
  const connection = await instance.connect();
  await connection.run(`CREATE TABLE shop.note AS SELECT * FROM (VALUES
    (1, '=HYPERLINK(''http://evil.example'')', -5),
    (2, '+33 1 23 45', 7),
    (3, '-dash', -1),
    (4, '@mention', 0),
    (5, 'plain', 2)) v(note_id, body, delta)`);
  connection.closeSync();
  instance.closeSync();
  writeFileSync(
    join(project.dir, 'definitions', 'sources', 'note.yaml'),
    'name: note\ntable: shop.note\nprimaryKey: note_id\nfields:\n  - { name: note_id, type: integer }\n  - { name: body, type: string }\n  - { name: delta, type: integer }\n',
  );
  writeFileSync(
    join(project.dir, 'definitions', 'inputs', 'notes.yaml'),
    'name: notes\nfrom: note\nfields: [note.note_id, note.body, note.delta]\nsort: [{ field: note.note_id }]\n',
  );
});

afterAll(() => project?.cleanup());

test('csv output escapes formula-like text cells by default, and not with --no-escape-formulas', async () => {
  const escaped = await strataInProcess(['run', 'notes', '--format', 'csv', '--project', project.dir]);
  expect(escaped.stderr).toBe('');
  expect(escaped.stdout).toBe(
    [
      'note_id,body,delta',
      `1,'=HYPERLINK('http://evil.example'),-5`,
      `2,'+33 1 23 45,7`,
      `3,'-dash,-1`,
      `4,'@mention,0`,
      '5,plain,2',
      '',
    ].join('\n'),
  );
  const raw = await strataInProcess([
    'run',
    'notes',
    '--format',
    'csv',
    '--no-escape-formulas',
    '--project',
    project.dir,
  ]);
  expect(raw.stdout.split('\n').slice(1, 5)).toEqual([
    `1,=HYPERLINK('http://evil.example'),-5`,
    '2,+33 1 23 45,7',
    '3,-dash,-1',
    '4,@mention,0',
  ]);
  // Only csv: json keeps values as they are.
  const json = await strataInProcess(['run', 'notes', '--format', 'json', '--project', project.dir]);
  expect(JSON.parse(json.stdout)[1]).toEqual({ note_id: 2, body: '+33 1 23 45', delta: 7 });
});
