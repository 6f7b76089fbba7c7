import { abortError } from '../../../src/runtime/abort.js';
import type { ListPage, ListWatchSource, WatchEvent } from '../../../src/runtime/list-watch.js';

export interface ListCall {
  limit: number;
  continueToken?: string;
  resourceVersion?: string;
}

export interface WatchCall {
  resourceVersion: string;
  timeoutSeconds: number;
  allowBookmarks: boolean;
  at: number;
}

/** One open watch stream the test drives by hand. */
export class LiveWatch {
  ended = false;
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  readonly done: Promise<void>;

  constructor(
    private readonly onEvent: (ev: WatchEvent) => void,
    readonly signal: AbortSignal,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    signal.addEventListener('abort', () => this.fail(abortError(signal)), { once: true });
  }

  emit(type: WatchEvent['type'], object: unknown): void {
    if (!this.ended) this.onEvent({ type, object });
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.resolve();
  }

  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.reject(err);
  }
}

type ListStep = ListPage | Error;
type WatchScript = (w: LiveWatch) => void;

/**
 * A ListWatchSource driven by a script: LIST answers come from `lists` in order (an empty script leaves the
 * call pending until aborted); each WATCH opens a `LiveWatch` and runs the next `watchScripts` entry on it,
 * if any (otherwise it stays open for the test to drive).
 */
export class ScriptedSource implements ListWatchSource {
  readonly lists: ListStep[] = [];
  readonly watchScripts: WatchScript[] = [];
  readonly listCalls: ListCall[] = [];
  readonly watchCalls: WatchCall[] = [];
  readonly watches: LiveWatch[] = [];

  constructor(private readonly now: () => number) {}

  get lastWatch(): LiveWatch {
    const w = this.watches[this.watches.length - 1];
    if (!w) throw new Error('no watch opened yet');
    return w;
  }

  list(opts: { limit: number; continueToken?: string; resourceVersion?: string; signal: AbortSignal }): Promise<ListPage> {
    const { signal, ...call } = opts;
    this.listCalls.push(call);
    const step = this.lists.shift();
    if (step === undefined) {
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(abortError(signal)), { once: true }));
    }
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  }

  watch(
    opts: { resourceVersion: string; timeoutSeconds: number; allowBookmarks: boolean; signal: AbortSignal },
    onEvent: (ev: WatchEvent) => void,
  ): Promise<void> {
    const { signal, ...call } = opts;
    this.watchCalls.push({ ...call, at: this.now() });
    const live = new LiveWatch(onEvent, signal);
    this.watches.push(live);
    this.watchScripts.shift()?.(live);
    return live.done;
  }
}

export interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export function obj(name: string, rv: string, extra: Partial<Obj> = {}): Obj {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv }, ...extra };
}

export function page(items: Obj[], resourceVersion: string, continueToken?: string): ListPage {
  return { items, resourceVersion, ...(continueToken ? { continueToken } : {}) };
}
