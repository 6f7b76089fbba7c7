// Gives the memory of a drained backlog back to the system. During a burst of work (the initial sync of 50k
// pods, 25k label writes) V8 grows its old space with short-lived state that the young generation promoted;
// after the burst most of that space is free but scattered over pages that still hold a few live objects, so
// V8 keeps them. Its own memory reducer gets to them only some seconds after the last garbage collection,
// and only in part (owned-50000: 104 MiB of old space committed for ~65 MiB live, settled RSS 180-190 MiB
// in three runs of five, 118-126 MiB in the two where the reducer had run; docs/benchmarks.md).
//
// So, once the work queues have drained after a burst, the operator asks V8 for a few compacting collections
// itself: at most once per burst, never while keys wait or are being processed, and each round on its own
// turn of the event loop so that a watch event or a Lease renewal waits for at most one collection.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';

/** What the work queues report: keys ready or being processed, and reconciles finished so far. */
export interface WorkActivity {
  pending: number;
  reconciled: number;
}

export interface ReclaimTriggerOptions {
  /** Reconciles since the last reclaim that make a burst. */
  minBurst: number;
  /** How long the queues must stay empty, with no reconcile finishing, before a reclaim. */
  quietMs: number;
  /** Growth of V8's committed heap since the last reclaim that makes one worth its pause. */
  minGrowthBytes: number;
}

const MiB = 1024 * 1024;

export const RECLAIM_TRIGGER_DEFAULTS: ReclaimTriggerOptions = { minBurst: 1_000, quietMs: 3_000, minGrowthBytes: 16 * MiB };

/**
 * When to reclaim: pure, fed one observation at a time. A reclaim is due once the queues have been quiet for
 * `quietMs` after at least `minBurst` reconciles, and the committed heap has grown by `minGrowthBytes` since
 * the last one. After a reclaim both counts start again from there, so one burst earns one reclaim, and a
 * reclaim that freed nothing is not repeated until the heap grows again.
 */
export class ReclaimTrigger {
  private baseline?: { reconciled: number; committedBytes: number };
  private lastReconciled = Number.NaN;
  private lastActiveAtMs = Number.NaN;

  constructor(private readonly opts: ReclaimTriggerOptions = RECLAIM_TRIGGER_DEFAULTS) {}

  /** True when a reclaim is due now. */
  observe(atMs: number, activity: WorkActivity, committedBytes: number): boolean {
    this.baseline ??= { reconciled: activity.reconciled, committedBytes };
    if (activity.pending > 0 || activity.reconciled !== this.lastReconciled || Number.isNaN(this.lastActiveAtMs)) {
      this.lastReconciled = activity.reconciled;
      this.lastActiveAtMs = atMs;
      return false;
    }
    const due = atMs - this.lastActiveAtMs >= this.opts.quietMs
      && activity.reconciled - this.baseline.reconciled >= this.opts.minBurst
      && committedBytes - this.baseline.committedBytes >= this.opts.minGrowthBytes;
    // Once per burst, even if the reclaim never reports back.
    if (due) this.baseline = { reconciled: activity.reconciled, committedBytes };
    return due;
  }

  /** A reclaim ended (or stopped for new work): the next burst and the next growth count from here. */
  reclaimed(activity: WorkActivity, committedBytes: number): void {
    this.baseline = { reconciled: activity.reconciled, committedBytes };
  }
}

/** The heap as the reclaimer sees it; `v8Heap()` in the operator, a fake in tests. */
export interface ReclaimableHeap {
  committedBytes(): number;
  /** One full, compacting collection. */
  collect(): void;
}

/**
 * V8's heap, collected the way its memory reducer would. Node 20 has no API for that, so:
 *  - the collector is V8's `gc` extension, taken from a context created while --expose-gc is briefly on (the
 *    operator's own global scope never gets a `gc`, and no flag has to be shipped);
 *  - each collection runs with --optimize-for-size set for its duration: V8 then compacts every page at least
 *    20 % free, up to 6 MB of live objects per collection. A plain `gc()` compacts only pages at least 70 %
 *    free, 4 MB at most: old space whose pages are half free stays as it is (the unit test shows both). --compact-on-every-full-gc moves every live object at
 *    once, which holds the old and the new copies together: RSS would jump by the live heap (~65 MiB at 50k
 *    pods) under a 256 Mi limit. Node 20's `gc({ type: 'major', ... })` options are no help either: V8 11.3
 *    reads only `type: 'minor'` and `execution: 'async'`, and any other object runs a young-generation
 *    collection.
 * Undefined where the extension cannot be had (another runtime): the operator then leaves memory to V8.
 */
export function v8Heap(): ReclaimableHeap | undefined {
  let gc = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc');
    } catch {
      return undefined;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  if (typeof gc !== 'function') return undefined;
  const collect = gc as () => void;
  // A user who runs the whole process optimised for size keeps it that way.
  const sizeOptimised = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /optimize[-_]for[-_]size/.test(a));
  return {
    committedBytes: () => getHeapStatistics().total_heap_size,
    collect: () => {
      if (sizeOptimised) return collect();
      setFlagsFromString('--optimize-for-size');
      try {
        collect();
      } finally {
        setFlagsFromString('--no-optimize-for-size');
      }
    },
  };
}

export interface HeapReclaimerOptions {
  activity: () => WorkActivity;
  heap: ReclaimableHeap;
  clock: Clock;
  logger: Logger;
  /** Called after each reclaim with the committed heap it gave back (a metric). */
  onReclaimed?: (freedBytes: number) => void;
  trigger?: ReclaimTriggerOptions;
  /** How often the queues are looked at. Default 1 s. */
  intervalMs?: number;
  /** Collections per reclaim at most; it stops earlier once one frees less than `minRoundBytes`. Default 6. */
  maxRounds?: number;
  minRoundBytes?: number;
  /** The process's resident set, for the log line (its fall follows the collections by up to a second). */
  rssBytes?: () => number;
}

/** Starts watching the queues; returns the function that stops it. */
export function startHeapReclaimer(opts: HeapReclaimerOptions): () => void {
  const { clock, heap, logger } = opts;
  const trigger = new ReclaimTrigger(opts.trigger);
  const intervalMs = opts.intervalMs ?? 1_000;
  const maxRounds = opts.maxRounds ?? 6;
  const minRoundBytes = opts.minRoundBytes ?? 2 * MiB;
  const rss = opts.rssBytes ?? ((): number => process.memoryUsage.rss());
  const stop = new AbortController();

  void (async () => {
    while (!stop.signal.aborted) {
      await clock.sleep(intervalMs, stop.signal);
      if (stop.signal.aborted) return;
      const activity = opts.activity();
      if (trigger.observe(clock.now(), activity, heap.committedBytes())) await reclaim(activity);
    }
  })();

  async function reclaim(start: WorkActivity): Promise<void> {
    const startedAt = clock.now();
    const before = { committed: heap.committedBytes(), rss: rss() };
    let rounds = 0;
    let gcMs = 0;
    let stoppedFor: 'work' | 'done' | 'rounds' = 'rounds';
    for (let last = before.committed; rounds < maxRounds; rounds++) {
      const now = opts.activity();
      if (stop.signal.aborted || now.pending > 0 || now.reconciled !== start.reconciled) {
        stoppedFor = 'work';
        break;
      }
      const t0 = performance.now();
      heap.collect();
      gcMs += performance.now() - t0;
      const committed = heap.committedBytes();
      const freed = last - committed;
      last = committed;
      if (freed < minRoundBytes) {
        rounds++;
        stoppedFor = 'done';
        break;
      }
      // Its own turn of the event loop: what arrived meanwhile runs before the next collection.
      await clock.sleep(0, stop.signal);
    }
    const after = heap.committedBytes();
    trigger.reclaimed(opts.activity(), after);
    opts.onReclaimed?.(Math.max(0, before.committed - after));
    // V8 hands the freed pages back on a background thread: the resident set is read once that is done.
    await clock.sleep(1_000, stop.signal);
    logger.debug('heap reclaimed after a drained backlog', {
      rounds, stoppedFor, gcMs: Math.round(gcMs), tookMs: clock.now() - startedAt,
      heapCommittedMiB: { before: mib(before.committed), after: mib(after) },
      rssMiB: { before: mib(before.rss), after: mib(rss()) },
    });
  }

  return () => stop.abort();
}

const mib = (bytes: number): number => Math.round(bytes / MiB * 10) / 10;
