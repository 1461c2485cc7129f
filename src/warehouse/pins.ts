/**
 * Snapshot pins: how a running query tells maintenance, in any process, which snapshots it
 * reads, so that snapshot expiry and orphan-file removal leave their files alone.
 *
 * The warehouse is local (or shared) disk, and every process that reads or maintains it sees
 * the same directory; so a pin is a small JSON file under `<warehouse root>/.pins/`, one per
 * running query, naming the tables, snapshot ids and manifest lists it reads. A pin is a lease:
 * it holds until `expiresAtMs`, and its holder rewrites it every third of the TTL while the
 * query runs, so the pin of a process that died lapses on its own. Expired pin files are
 * ignored and removed by maintenance.
 *
 * The protocol that makes this race-free, together with `Warehouse.expireSnapshots`:
 * - a reader writes its pin first, then checks that each snapshot it pinned is still in its
 *   table's current metadata (otherwise it pins again, on the new current version);
 * - expiry removes snapshots from the metadata (sparing pinned ones), commits, and reads the
 *   pins again before deleting any file, sparing the files of snapshots pinned meanwhile.
 * Whichever comes first, a pinned snapshot's files are never deleted while the pin holds.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The directory of the pins, under the warehouse root (no table namespace starts with a dot). */
export const PINS_DIRECTORY = '.pins';
/** A pin lapses this long after its last refresh (its holder refreshes every third of it). */
export const DEFAULT_PIN_TTL_MS = 10 * 60_000;

export interface PinnedSnapshot {
  /** `namespace.table`. */
  table: string;
  /** The snapshot id as a decimal string (ids may exceed 2^53). */
  snapshotId: string;
  /** Its manifest list, so the files it reaches are known even once it left the metadata. */
  manifestList: string;
}

interface PinFile {
  holder: string;
  expiresAtMs: number;
  snapshots: PinnedSnapshot[];
}

export interface PinOptions {
  ttlMs?: number;
  clock?: () => number;
}

/** A held pin: `release()` removes it (idempotent). */
export interface PinHandle {
  readonly path: string;
  release(): Promise<void>;
}

export function pinsDirectory(root: string): string {
  return join(root, PINS_DIRECTORY);
}

/**
 * Pins `snapshots` until released (or until the process dies and the lease lapses). The file
 * is written to a temporary name and renamed, so a reader never sees half a pin.
 */
export async function pinSnapshots(
  root: string,
  snapshots: readonly PinnedSnapshot[],
  options: PinOptions = {},
): Promise<PinHandle> {
  const ttlMs = options.ttlMs ?? DEFAULT_PIN_TTL_MS;
  const clock = options.clock ?? Date.now;
  const dir = pinsDirectory(root);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${randomUUID()}.json`);
  const holder = `${hostname()}:${process.pid}`;
  const write = async (): Promise<void> => {
    const pin: PinFile = { holder, expiresAtMs: clock() + ttlMs, snapshots: [...snapshots] };
    const temporary = `${path}.${randomUUID()}.tmp`;
    await writeFile(temporary, JSON.stringify(pin));
    await rename(temporary, path);
  };
  await write();
  let released = false;
  const timer = setInterval(() => {
    if (!released) write().catch(() => undefined);
  }, ttlMs / 3);
  // A pin must not keep a process alive that has nothing else to do.
  timer.unref();
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      await rm(path, { force: true });
    },
  };
}

/** The snapshots pinned now (by live pins), per `namespace.table`; expired pin files are removed. */
export async function activePins(
  root: string,
  nowMs: number = Date.now(),
): Promise<Map<string, PinnedSnapshot[]>> {
  const dir = pinsDirectory(root);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const byTable = new Map<string, PinnedSnapshot[]>();
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const pin = await readPin(join(dir, name));
    if (!pin) continue;
    if (pin.expiresAtMs < nowMs) {
      await rm(join(dir, name), { force: true });
      continue;
    }
    for (const snapshot of pin.snapshots) {
      const list = byTable.get(snapshot.table) ?? [];
      list.push(snapshot);
      byTable.set(snapshot.table, list);
    }
  }
  return byTable;
}

/** A pin file, or undefined when it vanished meanwhile (released) or cannot be parsed. */
async function readPin(path: string): Promise<PinFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<PinFile>;
    if (typeof parsed.expiresAtMs !== 'number' || !Array.isArray(parsed.snapshots)) return undefined;
    return { holder: String(parsed.holder), expiresAtMs: parsed.expiresAtMs, snapshots: parsed.snapshots };
  } catch {
    // Pins are renamed into place whole; an unparsable one is foreign: ignore it rather than fail maintenance.
    return undefined;
  }
}
