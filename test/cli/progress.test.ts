/** Progress lines appear on a terminal only, fit its width, and are cleared when done. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importProgress } from '../../src/cli/import-command.js';
import { progress } from '../../src/output/progress.js';

function stream(isTTY: boolean, columns = 40) {
  const written: string[] = [];
  return { isTTY, columns, written, write: (text: string) => written.push(text) };
}

describe('progress', () => {
  it('rewrites one line on a terminal and clears it', () => {
    const tty = stream(true);
    const shown = progress('demo', tty);
    shown.step(1, 8, 'studio.movie');
    shown.step(2, 8, 'studio.production_with_a_very_long_name_indeed');
    shown.done();
    expect(tty.written[0]).toBe(`\r${'demo: 1/8 studio.movie'.padEnd(39)}`);
    expect(tty.written[1]).toHaveLength(40);
    expect(tty.written[1]!.endsWith('…')).toBe(true);
    expect(tty.written[2]).toBe(`\r${' '.repeat(39)}\r`);
  });

  it('writes nothing to a pipe, a file or a log', () => {
    const pipe = stream(false);
    const shown = progress('compact', pipe);
    shown.step(1, 2, 'talent');
    shown.done();
    expect(pipe.written).toEqual([]);
  });
});

describe('import progress', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-import-progress-'));
  const file = join(dir, 'orders.csv');
  writeFileSync(file, 'order_id,amount\n1,2.5\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the percentage staged and the file on a terminal, for inputs over the threshold', () => {
    const tty = stream(true);
    const shown = importProgress([file], tty, 10);
    shown.onProgress?.(42.4);
    shown.onProgress?.(100);
    shown.done();
    expect(tty.written.map((w) => w.trimEnd())).toEqual([
      '\rimport: 42% orders.csv',
      '\rimport: 100% orders.csv',
      '',
    ]);
    expect(importProgress([file, file], stream(true), 10).onProgress).toBeDefined();
  });

  it('stays quiet for small inputs and off a terminal', () => {
    expect(importProgress([file], stream(true)).onProgress).toBeUndefined();
    expect(importProgress([file], stream(false), 0).onProgress).toBeUndefined();
  });
});
