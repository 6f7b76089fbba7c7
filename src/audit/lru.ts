// A bounded map that forgets the least recently used entry when full: memory stays flat however many keys
// an unbounded stream (audit IDs, pod names) brings. Map iteration order is insertion order, so
// re-inserting on access is all the bookkeeping needed.
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** The value, marking the key as recently used. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  /** The value without touching recency (for hot read paths that must not reorder). */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /** Records `key` and tells whether it was new (true) or already present (false). */
  addIfAbsent(key: K, value: V): boolean {
    if (this.map.has(key)) {
      this.get(key);
      return false;
    }
    this.set(key, value);
    return true;
  }
}
