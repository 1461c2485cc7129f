/**
 * Malformed projects (issue 7 §2): each is a real project folder on disk, validated the way
 * `strata validate` does it. Every problem must come back as a positioned diagnostic, and
 * must not stop the rest of the validation: each project also holds an unrelated mistake
 * (the sentinel) that has to be reported too.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareDiagnostics } from '../src/core/diagnostics.js';
import { validateModel } from '../src/core/validate.js';
import { loadProject, MAX_DEFINITION_BYTES, MAX_PROJECT_BYTES } from '../src/project/load-project.js';

const ROOT = mkdtempSync(join(tmpdir(), 'strata-malformed-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

const MOVIE = `name: movie
table: studio.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
  - { name: title, type: string }
  - { name: launch_date, type: date }
measures:
  - { name: movie_count, aggregate: count }
`;
/** An unrelated mistake: its error proves validation went on after the case's own problem. */
const SENTINEL = [
  'definitions/inputs/zz_sentinel.yaml',
  'name: zz_sentinel\nfrom: movie\nfields: [movie.titel]\n',
];
const SENTINEL_ERROR = 'definitions/inputs/zz_sentinel.yaml:3:10: unknown_field';

type Entry = string | { symlink: string } | { directory: true };

let counter = 0;
function project(files: Record<string, Entry>): string {
  const dir = join(ROOT, `p${counter++}`);
  const all: Record<string, Entry> = {
    'definitions/sources/movie.yaml': MOVIE,
    [SENTINEL[0]!]: SENTINEL[1]!,
    ...files,
  };
  for (const [path, entry] of Object.entries(all)) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    if (typeof entry === 'string') writeFileSync(target, entry);
    else if ('symlink' in entry) symlinkSync(entry.symlink, target);
    else mkdirSync(target);
  }
  return dir;
}

/** `file:line:col: code` of every error, as `strata validate` would list them (paths relative). */
function validate(dir: string): string[] {
  const loaded = loadProject(dir);
  return [...loaded.diagnostics, ...validateModel(loaded.model)]
    .filter((d) => d.severity === 'error')
    .sort(compareDiagnostics)
    .map(
      (d) => `${d.location?.file.slice(dir.length + 1)}:${d.location?.line}:${d.location?.col}: ${d.code}`,
    );
}

function expectErrors(files: Record<string, Entry>, expected: string[]): void {
  expect(validate(project(files))).toEqual([...expected, SENTINEL_ERROR].sort());
}

const usesSource = (source: string) => ({
  'definitions/inputs/uses.yaml': `name: uses\nfrom: ${source}\nfields: [${source}.id, ${source}.n]\n`,
  'trackers/uses.yaml': `name: uses\ninput: uses\ndestinations:\n  - { type: file, path: out/uses.csv }\n`,
});

describe('a project that validation once crashed on or misplaced', () => {
  it('measures without a primaryKey: one error, and inputs and trackers using the source stay quiet', () => {
    expectErrors(
      {
        'definitions/sources/a.yaml': `name: a\ntable: s.a\nfields:\n  - { name: id, type: string }\nmeasures:\n  - { name: n, aggregate: count }\n`,
        ...usesSource('a'),
      },
      ['definitions/sources/a.yaml:5:1: missing_primary_key'],
    );
  });

  it('a primaryKey naming a missing field', () => {
    expectErrors(
      {
        'definitions/sources/a.yaml': `name: a\ntable: s.a\nprimaryKey: [id, nope]\nfields:\n  - { name: id, type: string }\nmeasures:\n  - { name: n, aggregate: count }\n`,
        ...usesSource('a'),
      },
      ['definitions/sources/a.yaml:3:18: unknown_field'],
    );
  });

  it('a YAML alias bomb', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const [name, previous] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    expectErrors({ 'definitions/inputs/bomb.yaml': `${lines.join('\n')}\n` }, [
      'definitions/inputs/bomb.yaml:2:8: yaml_aliases',
    ]);
  });

  it('an alias to no anchor', () => {
    expectErrors({ 'definitions/inputs/alias.yaml': 'name: *nope\nfrom: movie\nfields: [movie.title]\n' }, [
      'definitions/inputs/alias.yaml:1:7: yaml_aliases',
    ]);
  });

  it('2,000 levels of nesting', () => {
    const deep = `${'{any: ['.repeat(2000)}{field: movie.title, op: is_null}${']}'.repeat(2000)}`;
    expectErrors(
      {
        'definitions/inputs/deep.yaml': `name: deep\nfrom: movie\nfields: [movie.title]\nfilters:\n  - ${deep}\n`,
      },
      ['definitions/inputs/deep.yaml:5:223: too_deep'],
    );
  });

  it('a directory named like a definition', () => {
    expectErrors({ 'definitions/inputs/folder.yaml': { directory: true } }, [
      'definitions/inputs/folder.yaml:1:1: unreadable_file',
    ]);
  });

  it('a link to nothing', () => {
    expectErrors({ 'definitions/inputs/dangling.yaml': { symlink: join(ROOT, 'does-not-exist') } }, [
      'definitions/inputs/dangling.yaml:1:1: unreadable_file',
    ]);
  });

  it('a link to /dev/zero is not read', () => {
    expectErrors({ 'definitions/sources/zero.yaml': { symlink: '/dev/zero' } }, [
      'definitions/sources/zero.yaml:1:1: unreadable_file',
    ]);
  });

  it('a file over the size limit is not read', () => {
    const padding = `# ${'x'.repeat(1000)}\n`.repeat(Math.ceil(MAX_DEFINITION_BYTES / 1000));
    expectErrors({ 'definitions/sources/huge.yaml': `${padding}name: huge\n` }, [
      'definitions/sources/huge.yaml:1:1: file_too_large',
    ]);
  });

  it('a project over the total size limit stops reading at the limit', () => {
    const files: Record<string, string> = {};
    const each = Math.floor(MAX_DEFINITION_BYTES * 0.9);
    const count = Math.ceil(MAX_PROJECT_BYTES / each) + 1;
    for (let i = 0; i < count; i++)
      files[`definitions/inputs/pad_${String(i).padStart(2, '0')}.yaml`] =
        `# ${'x'.repeat(each)}\nname: pad_${i}\nfrom: movie\nfields: [movie.title]\n`;
    const errors = validate(project(files));
    expect(errors).toContain(`definitions/inputs/pad_0${count - 2}.yaml:1:1: project_too_large`);
    expect(errors.filter((e) => e.endsWith('project_too_large'))).toHaveLength(1);
  });

  it('a NUL character in a description, at its column', () => {
    expectErrors(
      {
        'definitions/inputs/nul.yaml':
          'name: nul\ndescription: "bad \\0 here"\nfrom: movie\nfields: [movie.title]\n',
      },
      ['definitions/inputs/nul.yaml:2:19: control_character'],
    );
  });

  it('a derived measure with an unclosed {', () => {
    expectErrors(
      {
        'definitions/sources/a.yaml': `name: a\ntable: s.a\nprimaryKey: id\nfields:\n  - { name: id, type: string }\nmeasures:\n  - { name: n, aggregate: count }\n  - { name: d, expression: "{n} / NULLIF({n, 0)" }\n`,
      },
      ['definitions/sources/a.yaml:8:42: sql_syntax'],
    );
  });

  it('a key that names a column twice', () => {
    expectErrors(
      {
        'trackers/keys.yaml': `name: keys\ninput: titles\ndestinations:\n  - { type: google_sheets, spreadsheetId: x, sheet: S, mode: upsert, key: [title, title] }\n`,
        'definitions/inputs/titles.yaml': 'name: titles\nfrom: movie\nfields: [movie.title]\n',
      },
      ['trackers/keys.yaml:4:83: duplicate_key_column'],
    );
  });

  it('a file destination whose format cannot be told', () => {
    expectErrors(
      {
        'trackers/xlsx.yaml': `name: xlsx\ninput: titles\ndestinations:\n  - { type: file, path: out/titles.xlsx }\n`,
        'definitions/inputs/titles.yaml': 'name: titles\nfrom: movie\nfields: [movie.title]\n',
      },
      ['trackers/xlsx.yaml:4:25: unknown_file_format'],
    );
  });

  it('an in_last span too large for any engine', () => {
    expectErrors(
      {
        'definitions/inputs/span.yaml':
          'name: span\nfrom: movie\nfields: [movie.title]\nfilters:\n  - { field: movie.launch_date, op: in_last, value: 99999999999999999999 days }\n',
      },
      ['definitions/inputs/span.yaml:5:53: invalid_value'],
    );
  });

  it('a password written in strata.yaml', () => {
    expectErrors(
      {
        'strata.yaml':
          'engine: postgres\npostgres:\n  connection: postgres://strata:hunter2@db/app\ntrino:\n  server: https://user:pw@trino:8443\n  password: hunter2\n',
      },
      [
        'strata.yaml:3:15: invalid_value',
        'strata.yaml:5:11: invalid_value',
        'strata.yaml:6:13: invalid_value',
      ],
    );
  });

  it('bytes that are not text', () => {
    expectErrors({ 'definitions/inputs/binary.yaml': '\u0000\u0001\u0002\u00ff' }, [
      'definitions/inputs/binary.yaml:1:1: control_character',
    ]);
  });
});
