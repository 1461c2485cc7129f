/** Local files of the warehouse: `file://` locations, write-once files, quiet deletes, listing. */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';

/**
 * Iceberg stores locations as URIs with a scheme. Paths are kept verbatim after `file://`
 * (not percent-encoded), as Hadoop-based engines and pyiceberg do for local files.
 */
export function toUri(path: string): string {
  if (!isAbsolute(path)) throw new Error(`not an absolute path: ${path}`);
  return `file://${path}`;
}

/** `file:///a/b`, `file:/a/b` (Hadoop's form) or `/a/b` -> `/a/b`. */
export function fromUri(location: string): string {
  if (location.startsWith('file://')) {
    const rest = location.slice('file://'.length);
    if (rest.startsWith('/')) return rest;
    if (rest.startsWith('localhost/')) return rest.slice('localhost'.length);
    throw new Error(`unsupported file location (remote host): ${location}`);
  }
  if (location.startsWith('file:/')) return location.slice('file:'.length);
  if (location.startsWith('/')) return location;
  throw new Error(`unsupported location ${location}: only local files (file://) are supported`);
}

/** Writes a new file, failing if it exists: every file of a table is written exactly once. */
export async function writeNewFile(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data, { flag: 'wx' });
}

/** Best-effort deletes of files known to be unreferenced (their absence is not an error). */
export async function removeQuietly(paths: Iterable<string>): Promise<void> {
  await Promise.all([...paths].map((p) => rm(p, { force: true }).catch(() => undefined)));
}

export interface ListedFile {
  path: string;
  mtimeMs: number;
}

/** All regular files under `dir` (recursively); an absent directory has none. */
export async function listFiles(dir: string): Promise<ListedFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const listed = await Promise.all(
    names.map(async (name): Promise<ListedFile[]> => {
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info) return [];
      if (info.isDirectory()) return listFiles(path);
      return info.isFile() ? [{ path, mtimeMs: info.mtimeMs }] : [];
    }),
  );
  return listed.flat();
}
