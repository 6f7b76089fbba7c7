import { deepEqual } from './json.js';
/**
 * An in-memory cache of objects keyed by `keyOf`, fed by a reflector and read by reconcilers. Listeners get
 * one event per effective change; a relist (`replace`) is diffed against what was cached so that consumers
 * learn about objects deleted while the watch was down.
 */

export type StoreEventType = 'added' | 'updated' | 'deleted';

export interface StoreEvent<T> {
  type: StoreEventType;
  key: string;
  obj: T;
  old?: T;
}

export type StoreListener<T> = (ev: StoreEvent<T>) => void;

export interface StoreOptions<T> {
  /**
   * Whether a new version of an object differs from the cached one. Unchanged objects are stored silently,
   * so a relist of 50k objects does not re-trigger 50k reconciles. Default: structural equality.
   */
  equals?: (a: T, b: T) => boolean;
  /**
   * Called when a listener throws. Default: rethrow the first error after every listener has run (the store
   * itself is already consistent by then).
   */
  onListenerError?: (err: unknown, ev: StoreEvent<T>) => void;
}

export class Store<T> {
  private readonly items = new Map<string, T>();
  private readonly listeners = new Set<StoreListener<T>>();
  private readonly indexers = new Map<string, (obj: T) => string[]>();
  /** index name → index value → keys */
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly equals: (a: T, b: T) => boolean;
  private readonly onListenerError: ((err: unknown, ev: StoreEvent<T>) => void) | undefined;
  private rv = '';

  constructor(
    readonly keyOf: (obj: T) => string,
    opts: StoreOptions<T> = {},
  ) {
    this.equals = opts.equals ?? deepEqual;
    this.onListenerError = opts.onListenerError;
  }

  get size(): number {
    return this.items.size;
  }

  /** resourceVersion of the last full `replace`. */
  get resourceVersion(): string {
    return this.rv;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  /** Registers a listener; returns a function that unregisters it. */
  onChange(listener: StoreListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Secondary index: `fn` returns the values under which an object is found by `byIndex(name, value)`.
   * Existing objects are indexed immediately.
   */
  addIndex(name: string, fn: (obj: T) => string[]): void {
    if (this.indexers.has(name)) throw new Error(`store index "${name}" already exists`);
    this.indexers.set(name, fn);
    this.indexes.set(name, new Map());
    for (const [key, obj] of this.items) this.indexOne(name, fn, key, obj);
  }

  byIndex(name: string, value: string): T[] {
    return this.keysByIndex(name, value).flatMap((k) => {
      const obj = this.items.get(k);
      return obj === undefined ? [] : [obj];
    });
  }

  keysByIndex(name: string, value: string): string[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`store index "${name}" does not exist`);
    return [...(index.get(value) ?? [])];
  }

  /** Inserts or updates one object; emits `added` or `updated` (nothing when unchanged). */
  upsert(obj: T): void {
    const key = this.keyOf(obj);
    const old = this.items.get(key);
    if (old !== undefined && this.equals(old, obj)) {
      this.put(key, obj, old); // keep the newest copy without telling anyone
      return;
    }
    this.put(key, obj, old);
    this.emit([old === undefined ? { type: 'added', key, obj } : { type: 'updated', key, obj, old }]);
  }

  /** Removes one object; emits `deleted` if it was cached. */
  delete(key: string): void {
    const old = this.items.get(key);
    if (old === undefined) return;
    this.unindex(key, old);
    this.items.delete(key);
    this.emit([{ type: 'deleted', key, obj: old }]);
  }

  /**
   * Replaces the whole content with a fresh list: emits `deleted` for keys that disappeared, then `added` /
   * `updated` for new or changed objects, so level-triggered consumers see the truth after a relist.
   */
  replace(objs: T[], resourceVersion: string): void {
    const next = new Map<string, T>();
    for (const obj of objs) next.set(this.keyOf(obj), obj);
    const events: StoreEvent<T>[] = [];
    for (const [key, old] of this.items) {
      if (!next.has(key)) {
        this.unindex(key, old);
        this.items.delete(key);
        events.push({ type: 'deleted', key, obj: old });
      }
    }
    for (const [key, obj] of next) {
      const old = this.items.get(key);
      const changed = old === undefined || !this.equals(old, obj);
      this.put(key, obj, old);
      if (!changed) continue;
      events.push(old === undefined ? { type: 'added', key, obj } : { type: 'updated', key, obj, old });
    }
    this.rv = resourceVersion;
    this.emit(events);
  }

  private put(key: string, obj: T, old: T | undefined): void {
    if (old !== undefined) this.unindex(key, old);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) this.indexOne(name, fn, key, obj);
  }

  private indexOne(name: string, fn: (obj: T) => string[], key: string, obj: T): void {
    const index = this.indexes.get(name);
    if (!index) return;
    for (const value of new Set(fn(obj))) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indexes.get(name);
      if (!index) continue;
      for (const value of new Set(fn(obj))) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
    }
  }

  /**
   * Delivers every event to every listener even if some throw; then rethrows the first failure. An array, not
   * rest parameters: a relist of 100k+ objects spread into one call would overflow the stack.
   */
  private emit(events: readonly StoreEvent<T>[]): void {
    let first: { err: unknown } | undefined;
    for (const ev of events) {
      for (const listener of [...this.listeners]) {
        try {
          listener(ev);
        } catch (err) {
          if (this.onListenerError) this.onListenerError(err, ev);
          else first ??= { err };
        }
      }
    }
    if (first) throw first.err;
  }
}
