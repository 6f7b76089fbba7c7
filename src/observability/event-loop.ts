// Says so in the log when the event loop was held up: every timer, answer and Lease renewal of the operator
// waits behind a long synchronous job or a garbage-collection pause, and a leader that stopped renewing for
// that reason must be told apart from one whose API server did not answer. The same figures are metrics
// (prom-client's nodejs_eventloop_lag_* and nodejs_gc_duration_seconds); this is the line that explains an
// incident after the fact.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { Logger } from '../runtime/logger.js';

export interface EventLoopWatchOptions {
  logger: Logger;
  /** How often the delay is judged (and the window the log line covers). Default 10 s. */
  windowMs?: number;
  /** A window whose longest delay reaches this is logged. Default 1 s. */
  blockedMs?: number;
}

/** Starts watching; returns the function that stops it. */
export function watchEventLoop(opts: EventLoopWatchOptions): () => void {
  const windowMs = opts.windowMs ?? 10_000;
  const blockedMs = opts.blockedMs ?? 1_000;
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let gcMs = 0;
  let longestGcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      longestGcMs = Math.max(longestGcMs, entry.duration);
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  const timer = setInterval(() => {
    const maxMs = delay.max / 1e6;
    if (maxMs >= blockedMs) {
      opts.logger.warn('event loop was blocked', {
        windowMs, maxDelayMs: Math.round(maxMs), p99DelayMs: Math.round(delay.percentile(99) / 1e6),
        gcMs: Math.round(gcMs), longestGcMs: Math.round(longestGcMs),
        heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
      });
    }
    delay.reset();
    gcMs = 0;
    longestGcMs = 0;
  }, windowMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    gc.disconnect();
    delay.disable();
  };
}
