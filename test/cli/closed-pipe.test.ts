/**
 * Issue 7 §6: `strata run … | head -1` in every format. The reader closes the pipe after the
 * first line while strata is still writing; strata ends quietly (exit 0, nothing on stderr)
 * instead of crashing on EPIPE with a stack trace.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CLI } from '../support/cli.js';
import { createProject, type TestProject } from '../service/support.js';

/** Far more output than a pipe holds (64 KB), so strata is still writing when the reader leaves. */
const ROWS = 50_000;
let project: TestProject;

beforeAll(async () => {
  project = await createProject();
  const instance = await DuckDBInstance.create(project.database);
  const connection = await instance.connect();
  await connection.run(
    `CREATE TABLE shop.line AS SELECT i AS line_id, 'line number ' || i AS text FROM range(${ROWS}) t(i)`,
  );
  connection.closeSync();
  instance.closeSync();
  writeFileSync(
    join(project.dir, 'definitions', 'sources', 'line.yaml'),
    'name: line\ntable: shop.line\nprimaryKey: line_id\nfields:\n  - { name: line_id, type: integer }\n  - { name: text, type: string }\n',
  );
  writeFileSync(
    join(project.dir, 'definitions', 'inputs', 'lines.yaml'),
    'name: lines\nfrom: line\nfields: [line.line_id, line.text]\n',
  );
});

afterAll(() => project?.cleanup());

/** Runs `strata run lines --format <format>`, reads its first line, closes the pipe; resolves at exit. */
function runUntilFirstLine(format: string): Promise<{ code: number | null; first: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
      CLI,
      'run',
      'lines',
      '--format',
      format,
      '--project',
      project.dir,
    ]);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('\n')) child.stdout.destroy();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, first: stdout.split('\n')[0]!, stderr }));
  });
}

test.each(['table', 'csv', 'json', 'ndjson'])(
  '--format %s ends quietly when the reader stops',
  async (format) => {
    const { code, first, stderr } = await runUntilFirstLine(format);
    expect(first.length).toBeGreaterThan(0);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  },
);
