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
  private snapshot: readonly StoreListener<T>[] | undefined;
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
    this.snapshot = undefined;
    return () => {
      this.snapshot = undefined;
      return this.listeners.delete(listener);
    };
  }

  /** The listeners as an array that registering or unregistering one replaces rather than edits. */
  private listenerList(): readonly StoreListener<T>[] {
    return (this.snapshot ??= [...this.listeners]);
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
    if (old === obj) return; // the cached object itself (a transform that found nothing changed)
    if (old !== undefined && this.equals(old, obj)) {
      this.put(key, obj, old); // keep the newest copy without telling anyone
      return;
    }
    this.put(key, obj, old);
    this.emitOne(old === undefined ? { type: 'added', key, obj } : { type: 'updated', key, obj, old });
  }

  /** Removes one object; emits `deleted` if it was cached. */
  delete(key: string): void {
    const old = this.items.get(key);
    if (old === undefined) return;
    this.unindex(key, old);
    this.items.delete(key);
    this.emitOne({ type: 'deleted', key, obj: old });
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
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) {
      // Most updates (a label, a status) keep an object's index values: then its index entries stay as they are.
      const values = fn(obj);
      if (old !== undefined) {
        const before = fn(old);
        if (sameValues(before, values)) continue;
        this.unindexValues(name, key, before);
      }
      this.indexValues(name, key, values);
    }
  }

  private indexOne(name: string, fn: (obj: T) => string[], key: string, obj: T): void {
    this.indexValues(name, key, fn(obj));
  }

  private indexValues(name: string, key: string, values: readonly string[]): void {
    const index = this.indexes.get(name);
    if (!index) return;
    for (const value of values) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) this.unindexValues(name, key, fn(obj));
  }

  private unindexValues(name: string, key: string, values: readonly string[]): void {
    const index = this.indexes.get(name);
    if (!index) return;
    for (const value of values) {
      const keys = index.get(value);
      keys?.delete(key);
      if (keys?.size === 0) index.delete(value);
    }
  }

  /**
   * Delivers every event to every listener even if some throw; then rethrows the first failure. An array, not
   * rest parameters: a relist of 100k+ objects spread into one call would overflow the stack.
   */
  private emit(events: readonly StoreEvent<T>[]): void {
    let first: { err: unknown } | undefined;
    for (const ev of events) first = this.deliver(ev, first);
    if (first) throw first.err;
  }

  /** `emit` of one event, without an array: what every watch event of a changed object costs. */
  private emitOne(ev: StoreEvent<T>): void {
    const first = this.deliver(ev, undefined);
    if (first) throw first.err;
  }

  private deliver(ev: StoreEvent<T>, first: { err: unknown } | undefined): { err: unknown } | undefined {
    // A listener may unsubscribe (itself or another) while the event is delivered: iterate over a snapshot.
    for (const listener of this.listenerList()) {
      try {
        listener(ev);
      } catch (err) {
        if (this.onListenerError) this.onListenerError(err, ev);
        else first ??= { err };
      }
    }
    return first;
  }
}

/** Whether two lists of index values are the same, in the same order (an index function is deterministic). */
function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
