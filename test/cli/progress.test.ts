/** Progress lines appear on a terminal only, fit its width, and are cleared when done. */
import { describe, expect, it } from 'vitest';
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
