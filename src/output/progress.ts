/**
 * Progress of long commands (demo, compact, maintain, compile --all, sync) on one stderr line
 * that rewrites itself: only on a terminal, so pipes, CI logs and tests get none of it.
 */

export interface Progress {
  /** Shows what is being done now: `step(3, 8, 'studio.movie')` -> `demo: 3/8 studio.movie`. */
  step(done: number, total: number, what: string): void;
  /** Shows how far one long step is: `percent(42, 'orders.csv')` -> `import: 42% orders.csv`. */
  percent(value: number, what: string): void;
  /** Clears the line (the command then prints its own summary). */
  done(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const SILENT: Progress = { step: () => undefined, percent: () => undefined, done: () => undefined };

export function progress(task: string, stream: ProgressStream = process.stderr): Progress {
  if (!stream.isTTY) return SILENT;
  const width = Math.max(20, (stream.columns ?? 80) - 1);
  let shown = false;
  const show = (line: string) => {
    stream.write(`\r${line.length > width ? `${line.slice(0, width - 1)}…` : line.padEnd(width)}`);
    shown = true;
  };
  return {
    step: (done, total, what) => show(`${task}: ${done}/${total} ${what}`),
    percent: (value, what) => show(`${task}: ${Math.round(value)}% ${what}`),
    done() {
      if (shown) stream.write(`\r${' '.repeat(width)}\r`);
      shown = false;
    },
  };
}
