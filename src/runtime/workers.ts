import { systemClock, type Clock } from './clock.js';
import { TerminalError } from './errors.js';
import type { WorkQueue } from './workqueue.js';

/** What a reconciler may ask for besides success: come back later even though nothing failed. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export type ReconcileOutcome = 'success' | 'requeue' | 'error' | 'dropped';

export interface RunWorkersOptions<K extends string> {
  /** Maximum keys reconciled at the same time. */
  concurrency: number;
  reconcile: (key: K, signal: AbortSignal) => Promise<ReconcileResult | void>;
  /** Retries of a failing key (rate-limited) before it is dropped. */
  maxRetries: number;
  /** A reconcile failed; `retries` is how many times the key had already been retried. */
  onError?(key: K, err: unknown, retries: number): void;
  /** A key failed `maxRetries` times in a row and will not be retried until it is added again. */
  onDrop?(key: K, err: unknown): void;
  onResult?(key: K, durationMs: number, outcome: ReconcileOutcome): void;
  /** Aborting shuts the queue down; in-flight reconciles see the same signal and are awaited. */
  signal: AbortSignal;
  clock?: Clock;
}

/**
 * Runs `concurrency` workers over `queue` until `signal` aborts (or the queue is shut down), and resolves once
 * every in-flight reconcile has finished. This is the one place that turns outcomes into retries:
 *  - success → the key's failure history is forgotten;
 *  - `{ requeueAfterMs }` → forgotten, then re-added after that delay;
 *  - `TerminalError` → reported through `onError`, forgotten, not retried;
 *  - any other error → re-added rate-limited until `maxRetries`, then dropped (`onDrop`).
 *
 * Workers pull from the queue only when idle. (An rxjs `mergeMap` with a concurrency cap over a stream of
 * keys would buffer keys it cannot start yet, taking them out of the queue early: they would stop
 * de-duplicating and vanish from the depth metric. Pull-based workers keep the queue the single source of
 * truth.)
 */
export async function runWorkers<K extends string>(queue: WorkQueue<K>, opts: RunWorkersOptions<K>): Promise<void> {
  const clock = opts.clock ?? systemClock;
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const { signal } = opts;

  const stop = (): void => queue.shutDown();
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });

  const safely = (fn: () => void): void => {
    try {
      fn();
    } catch {
      // A faulty metrics/log callback must not kill a worker and silently stop reconciliation.
    }
  };

  const processOne = async (key: K): Promise<void> => {
    const started = clock.now();
    let outcome: ReconcileOutcome;
    try {
      const result = await opts.reconcile(key, signal);
      queue.forget(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined && after >= 0) {
        queue.addAfter(key, after);
        outcome = 'requeue';
      } else {
        outcome = 'success';
      }
    } catch (err) {
      if (signal.aborted) return; // shutting down: the failure is the cancellation, not the key's fault
      const retries = queue.numRequeues(key);
      if (err instanceof TerminalError) {
        queue.forget(key);
        safely(() => opts.onError?.(key, err, retries));
        outcome = 'error';
      } else if (retries < opts.maxRetries) {
        queue.addRateLimited(key);
        safely(() => opts.onError?.(key, err, retries));
        outcome = 'error';
      } else {
        queue.forget(key);
        safely(() => opts.onDrop?.(key, err));
        outcome = 'dropped';
      }
    }
    const duration = clock.now() - started;
    safely(() => opts.onResult?.(key, duration, outcome));
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await processOne(key);
      } finally {
        queue.done(key);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
