/**
 * Golden SQL: every example input compiled for every dialect, compared with the reviewed
 * file under test/golden/<dialect>/. `UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts`
 * rewrites them, so a compiler change shows up as a readable diff in review.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'node-sql-parser';
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../src/core/definitions/schema.js';
import { exampleProject, REPO_ROOT } from './support/example-project.js';

const { project, compiler } = exampleProject();
const update = process.env.UPDATE_GOLDEN === '1';

describe.each(DIALECTS)('golden SQL for %s', (dialect) => {
  const dir = join(REPO_ROOT, 'test', 'golden', dialect);
  it.each([...project.model.inputs.keys()])('%s', (name) => {
    const sql = `${compiler.compile(name, { dialect }).sql}\n`;
    const file = join(dir, `${name}.sql`);
    if (update || !existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, sql);
    }
    expect(sql).toBe(readFileSync(file, 'utf8'));
  });
});

describe('generated Trino SQL parses with an independent Trino grammar', () => {
  const parser = new Parser();
  it.each([...project.model.inputs.keys()])('%s', (name) => {
    const sql = compiler.compile(name, { dialect: 'trino' }).sql;
    expect(() => parser.astify(sql, { database: 'trino' })).not.toThrow();
  });
});

describe('determinism', () => {
  it.each([...project.model.inputs.keys()])('%s compiles to the same SQL twice', (name) => {
    for (const dialect of DIALECTS)
      expect(compiler.compile(name, { dialect }).sql).toBe(compiler.compile(name, { dialect }).sql);
  });
});
