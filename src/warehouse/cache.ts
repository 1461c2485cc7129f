/** A size-bounded cache for the table's immutable files. */

const CACHE_LIMIT = 512;

/** A size-bounded map for immutable files (metadata, manifest lists, manifests never change). */
export class FileCache<V> {
  private readonly entries = new Map<string, V>();

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit !== undefined) return hit;
    const value = await load();
    this.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    if (this.entries.size >= CACHE_LIMIT) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, value);
  }
}
