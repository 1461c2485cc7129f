/** Calls back when one file changes, debounced. */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

/**
 * Watches the file's folder rather than the file: editors and `mv` replace a file with a new
 * one, which a watch on the old file would never report. Throws when the folder cannot be
 * watched (the caller then relies on its periodic reloads).
 */
export function watchFile(path: string, onChange: () => void, debounceMs: number): FileWatch {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, (_event, file) => {
    // Some platforms do not say which file changed: then it may have been this one.
    if (file !== null && String(file) !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  watcher.on('error', () => watcher.close());
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
