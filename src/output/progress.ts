/**
 * Progress of long commands (demo, compact, maintain, compile --all, sync) on one stderr line
 * that rewrites itself: only on a terminal, so pipes, CI logs and tests get none of it.
 */

export interface Progress {
  /** Shows what is being done now: `step(3, 8, 'studio.movie')` -> `demo: 3/8 studio.movie`. */
  step(done: number, total: number, what: string): void;
  /** Clears the line (the command then prints its own summary). */
  done(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const SILENT: Progress = { step: () => undefined, done: () => undefined };

export function progress(task: string, stream: ProgressStream = process.stderr): Progress {
  if (!stream.isTTY) return SILENT;
  const width = Math.max(20, (stream.columns ?? 80) - 1);
  let shown = false;
  return {
    step(done, total, what) {
      const line = `${task}: ${done}/${total} ${what}`;
      stream.write(`\r${line.length > width ? `${line.slice(0, width - 1)}…` : line.padEnd(width)}`);
      shown = true;
    },
    done() {
      if (shown) stream.write(`\r${' '.repeat(width)}\r`);
      shown = false;
    },
  };
}
