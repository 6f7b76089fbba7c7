import { childAbortController, raceAbort } from './abort.js';
import { ExponentialBackoff } from './backoff.js';
import type { Clock, Timer } from './clock.js';
import { MalformedStreamError, statusCodeOf } from './errors.js';
import {
  metadataKeyOf,
  resourceVersionOf,
  statusErrorFromEvent,
  type ListPage,
  type ListWatchSource,
  type WatchEvent,
} from './list-watch.js';
import { errorFields, noopLogger, type Logger } from './logger.js';
import type { Store } from './store.js';

export type RestartReason = 'error' | 'gone' | 'inactivity' | 'closed';

export interface ReflectorOptions<T> {
  /** Appears in logs, e.g. the resource path. */
  name: string;
  source: ListWatchSource<T>;
  store: Store<T>;
  /**
   * Slims a raw object before caching; returning `undefined` means "not wanted" (and removes a cached copy).
   * `cached` is the store's object of the same key, if any: a transform may reuse its equal parts, or return it
   * as it is when nothing it keeps changed (the store then has nothing to do).
   */
  transform?: (raw: unknown, cached: T | undefined) => T | undefined;
  /**
   * Store key of a raw object, used when `transform` drops an object or cannot be applied to a deletion.
   * Must agree with the store's `keyOf`. Default: `namespace/name` (or `name`) from metadata.
   */
  keyOfRaw?: (raw: unknown) => string | undefined;
  clock: Clock;
  logger?: Logger;
  /** LIST page size; default 500. */
  pageSize?: number;
  /** Abort one LIST page after this long; default 60 s. */
  pageTimeoutMs?: number;
  /** Server-side watch timeout; default 300 s, each watch jittered by ±20 %. */
  watchTimeoutSec?: number;
  /** No event or bookmark for this long → restart the watch; default 2 × watch timeout. */
  inactivityTimeoutMs?: number;
  /** Reconnect backoff; default 800 ms doubling to 30 s (client-go's reflector), half jittered. */
  backoff?: { initialMs: number; maxMs: number };
  /** A watch that lived this long counts as healthy and resets the backoff; default 60 s. */
  healthyAfterMs?: number;
  onRestart?(reason: RestartReason): void;
  random?: () => number;
}

/** Filled in by a watch as it runs, so that the loop can judge its health however it ended. */
interface WatchStats {
  events: number;
  durationMs: number;
}

/** Restarting a paginated list this many times because its continue token expired is treated as an error. */
const MAX_LIST_RESTARTS = 3;
/** A stream the server closes sooner than this without any event is treated like a failure (no hot loop). */
const MIN_QUIET_WATCH_MS = 1000;
/** Silent inactivity restarts double the next allowance at most this many times (8× the timeout). */
const MAX_SILENT_DOUBLINGS = 3;

/**
 * Keeps a `Store` equal to the server's collection: paginated LIST, then WATCH from the list's
 * resourceVersion with bookmarks, forever. Every way a watch can end leads to a logged restart:
 *  - normal end of the stream → watch again from the last resourceVersion;
 *  - 410 Gone (HTTP or an in-stream ERROR event) → relist, and the store emits deletes for what vanished;
 *  - any other error (network, 5xx, 403, malformed or truncated line) → reconnect after a jittered
 *    exponential backoff, relisting only if the server then says the resourceVersion is gone;
 *  - no event or bookmark for `inactivityTimeoutMs` → restart the watch; after restarts that saw nothing at
 *    all, the next watch waits twice as long (up to 8×), so a link slow enough that a new connection's
 *    handshake and first answer outlast the timeout still gets through instead of reconnecting forever.
 * Nothing escapes the loop; only aborting the signal given to `start` stops it, without leaving timers.
 */
export class Reflector<T> {
  private readonly opts: ReflectorOptions<T>;
  private readonly logger: Logger;
  private readonly keyOfRaw: (raw: unknown) => string | undefined;
  private readonly random: () => number;
  private rv = '';
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running: Promise<void> | undefined;

  constructor(opts: ReflectorOptions<T>) {
    this.opts = opts;
    this.logger = opts.logger ?? noopLogger;
    this.keyOfRaw = opts.keyOfRaw ?? metadataKeyOf;
    this.random = opts.random ?? Math.random;
  }

  get lastResourceVersion(): string {
    return this.rv;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first complete LIST has been stored; rejects if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    const waiter = new Promise<void>((resolve) => this.syncWaiters.push(resolve));
    return signal ? raceAbort(waiter, signal) : waiter;
  }

  /** Starts the loop in the background; it runs until `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.running) throw new Error(`reflector ${this.opts.name} already started`);
    this.running = this.run(signal).catch((err: unknown) => {
      // Unreachable by design (every iteration catches); logged rather than left as an unhandled rejection.
      this.logError('reflector loop crashed', err);
    });
  }

  /** Resolves once a started loop has fully stopped. */
  stopped(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.opts;
    const backoff = new ExponentialBackoff({
      initialMs: this.opts.backoff?.initialMs ?? 800,
      maxMs: this.opts.backoff?.maxMs ?? 30_000,
      jitter: 0.5,
      random: this.random,
    });
    const healthyAfterMs = this.opts.healthyAfterMs ?? 60_000;
    let needList = true;
    // 410s in a row without the watch making progress in between: the second and later ones back off so a
    // server that keeps answering Gone cannot drive a tight relist loop.
    let goneStreak = 0;
    // Inactivity restarts in a row that received nothing: each one doubles the next watch's allowance.
    let silentStreak = 0;

    while (!signal.aborted) {
      const stats: WatchStats = { events: 0, durationMs: 0 };
      let reason: RestartReason;
      let delay = 0;
      let failure: unknown;
      try {
        if (needList) {
          await this.listAll(signal);
          needList = false;
        }
        reason = await this.watchOnce(signal, stats, 2 ** Math.min(silentStreak, MAX_SILENT_DOUBLINGS));
      } catch (err) {
        failure = err;
        reason = statusCodeOf(err) === 410 ? 'gone' : 'error';
      }
      if (signal.aborted) break;

      // A watch that delivered something, or lived long enough, proves the connection healthy again.
      if (stats.events > 0 || stats.durationMs >= healthyAfterMs) {
        backoff.reset();
        goneStreak = 0;
      }
      silentStreak = reason === 'inactivity' && stats.events === 0 ? silentStreak + 1 : 0;
      switch (reason) {
        case 'gone':
          needList = true;
          goneStreak++;
          delay = goneStreak > 1 ? backoff.next() : 0;
          break;
        case 'error':
          delay = backoff.next();
          break;
        case 'closed':
          // A stream closed at once without a single event is a failure in disguise: do not hot-loop on it.
          delay = stats.events === 0 && stats.durationMs < MIN_QUIET_WATCH_MS ? backoff.next() : 0;
          break;
        case 'inactivity':
          break;
      }
      this.restart(reason, delay, failure);
      if (delay > 0) await clock.sleep(delay, signal);
    }
    this.logger.debug('reflector stopped', { reflector: this.opts.name });
  }

  private restart(reason: RestartReason, delayMs: number, err?: unknown): void {
    const fields = {
      reflector: this.opts.name,
      reason,
      delayMs,
      resourceVersion: this.rv,
      ...(err === undefined ? {} : errorFields(err)),
    };
    if (reason === 'error') this.logger.warn('restarting watch', fields);
    else this.logger.info('restarting watch', fields);
    try {
      this.opts.onRestart?.(reason);
    } catch (cbErr) {
      this.logError('onRestart callback failed', cbErr);
    }
  }

  /** LIST every page into the store. An expired continue token (410) restarts the list from the first page. */
  private async listAll(signal: AbortSignal): Promise<void> {
    const limit = this.opts.pageSize ?? 500;
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let continueToken: string | undefined;
      let resourceVersion = '';
      try {
        // The next page is asked for before this one is slimmed: the API server serves it while we work.
        let next: Promise<ListPage> | undefined = this.listPage(limit, undefined, signal);
        while (next !== undefined) {
          const page: ListPage = await next;
          continueToken = page.continueToken || undefined;
          next = continueToken === undefined ? undefined : this.listPage(limit, continueToken, signal);
          // A failing prefetch is seen by the `await` of the next turn; until then it must not count as unhandled.
          next?.catch(() => undefined);
          for (const raw of page.items) {
            const t = this.transformSafe(raw, true);
            if (t.ok && t.obj !== undefined) items.push(t.obj);
          }
          resourceVersion = page.resourceVersion;
        }
      } catch (err) {
        const midList = continueToken !== undefined;
        if (midList && statusCodeOf(err) === 410 && attempt + 1 < MAX_LIST_RESTARTS && !signal.aborted) {
          this.logger.info('list continue token expired, listing again from the start', {
            reflector: this.opts.name,
            ...errorFields(err),
          });
          continue;
        }
        throw err;
      }
      this.guardStore(() => this.opts.store.replace(items, resourceVersion));
      this.rv = resourceVersion;
      this.logger.debug('listed', { reflector: this.opts.name, items: items.length, resourceVersion });
      this.markSynced();
      return;
    }
  }

  private async listPage(limit: number, continueToken: string | undefined, signal: AbortSignal) {
    const { controller, dispose } = childAbortController(signal);
    const timeoutMs = this.opts.pageTimeoutMs ?? 60_000;
    const timer = this.opts.clock.setTimeout(() => controller.abort(), timeoutMs);
    try {
      const work = this.opts.source.list({
        limit,
        ...(continueToken === undefined ? {} : { continueToken }),
        signal: controller.signal,
      });
      return await raceAbort(work, controller.signal);
    } catch (err) {
      if (controller.signal.aborted && !signal.aborted) throw new Error(`list page timed out after ${timeoutMs} ms`);
      throw err;
    } finally {
      this.opts.clock.clearTimeout(timer);
      dispose();
    }
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  /** One WATCH request. Resolves when it ended normally or went quiet; throws what made it fail. */
  private async watchOnce(signal: AbortSignal, stats: WatchStats, inactivityScale: number): Promise<'closed' | 'inactivity'> {
    const { clock } = this.opts;
    const baseTimeoutSec = this.opts.watchTimeoutSec ?? 300;
    const timeoutSeconds = Math.max(1, Math.round(baseTimeoutSec * (0.8 + 0.4 * this.random())));
    const inactivityMs = (this.opts.inactivityTimeoutMs ?? 2 * baseTimeoutSec * 1000) * inactivityScale;
    const { controller, dispose } = childAbortController(signal);
    const started = clock.now();
    let failure: { err: unknown } | undefined;
    let inactive = false;
    let timer: Timer | undefined;

    // One timer per watch, not one per event: an event only notes the time, and the timer, when it fires,
    // waits again for what is left of the allowance since the last one (a backlog brings hundreds a second).
    let lastEventAt = started;
    const armInactivity = (ms: number): void => {
      timer = clock.setTimeout(() => {
        const quietMs = clock.now() - lastEventAt;
        if (quietMs < inactivityMs) return armInactivity(inactivityMs - quietMs);
        inactive = true;
        controller.abort();
      }, ms);
    };
    const onEvent = (ev: WatchEvent): void => {
      if (controller.signal.aborted) return;
      try {
        this.applyEvent(ev);
        stats.events++;
        lastEventAt = clock.now();
      } catch (err) {
        failure ??= { err };
        controller.abort();
      }
    };

    armInactivity(inactivityMs);
    try {
      const work = this.opts.source.watch(
        { resourceVersion: this.rv, timeoutSeconds, allowBookmarks: true, signal: controller.signal },
        onEvent,
      );
      await raceAbort(work, controller.signal);
    } catch (err) {
      // Our own aborts (inactivity, a failing event, shutdown) surface here as abort errors; only a failure
      // the source reported by itself is kept.
      if (!controller.signal.aborted) failure ??= { err };
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      dispose();
      stats.durationMs = clock.now() - started;
    }
    if (failure) throw failure.err;
    return inactive ? 'inactivity' : 'closed';
  }

  private applyEvent(ev: WatchEvent): void {
    const { store } = this.opts;
    const raw = ev.object;
    switch (ev.type) {
      case 'ERROR':
        throw statusErrorFromEvent(raw);
      case 'BOOKMARK':
        break;
      case 'ADDED':
      case 'MODIFIED': {
        const t = this.transformSafe(raw, true);
        if (!t.ok) break;
        const obj = t.obj;
        if (obj !== undefined) {
          this.guardStore(() => store.upsert(obj));
        } else {
          const key = this.keyOfRaw(raw);
          if (key !== undefined) this.guardStore(() => store.delete(key));
        }
        break;
      }
      case 'DELETED': {
        const t = this.transformSafe(raw, false);
        const key = t.ok && t.obj !== undefined ? store.keyOf(t.obj) : this.keyOfRaw(raw);
        if (key !== undefined) this.guardStore(() => store.delete(key));
        break;
      }
      default:
        throw new MalformedStreamError(`unknown watch event type ${String((ev as { type: unknown }).type)}`);
    }
    this.rv = resourceVersionOf(raw) ?? this.rv;
  }

  /**
   * A transform that throws skips that one event (logged, cache untouched) instead of breaking the stream for
   * every object; `ok: true, obj: undefined` is a deliberate drop.
   */
  private transformSafe(raw: unknown, withCached: boolean): { ok: true; obj: T | undefined } | { ok: false } {
    const { transform, store } = this.opts;
    if (!transform) return { ok: true, obj: raw as T };
    try {
      const key = withCached ? this.keyOfRaw(raw) : undefined;
      return { ok: true, obj: transform(raw, key === undefined ? undefined : store.get(key)) };
    } catch (err) {
      this.logError('transform failed; object skipped', err, { key: this.keyOfRaw(raw) });
      return { ok: false };
    }
  }

  /**
   * Store listeners only turn changes into keys; if one throws, the cache is still correct, so the failure is
   * logged and the watch goes on rather than restarting and replaying the same events forever.
   */
  private guardStore(mutate: () => void): void {
    try {
      mutate();
    } catch (err) {
      this.logError('store listener failed', err);
    }
  }

  private logError(msg: string, err: unknown, extra: Record<string, unknown> = {}): void {
    const fields = { reflector: this.opts.name, ...extra, ...errorFields(err) };
    if (this.logger.error) this.logger.error(msg, fields);
    else this.logger.warn(msg, fields);
  }
}
