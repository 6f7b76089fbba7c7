// Pure helpers of the benchmark: percentiles of latency samples, rates, the machine's load.
import { loadavg } from 'node:os';

export interface Percentiles { count: number; p50: number; p90: number; p99: number; max: number }

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;

export function round(p: Percentiles): Percentiles {
  return { count: p.count, p50: round1(p.p50), p90: round1(p.p90), p99: round1(p.p99), max: round1(p.max) };
}

/**
 * Events per second over the span in which they happened (first to last), not from an arbitrary start: the
 * rate at which the writer actually went once it was going.
 */
export function spanRate(times: readonly number[]): number | null {
  if (times.length < 2) return null;
  let first = Infinity;
  let last = -Infinity;
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return last > first ? Math.round(((times.length - 1) * 1000) / (last - first)) : null;
}

/** A pool of writers sharing one queue: when each write was answered, in order, and the moment the first
 * writer found no work left (the queue ran dry, or the pool's time window closed). */
export interface PoolRun {
  concurrency: number;
  startMs: number;
  answeredAtMs: readonly number[];
  firstIdleMs: number;
}

/**
 * Writes per second while every writer of the pool had work, at both ends of the span: from the answer of
 * the pool's first `concurrency` writes (sent together at its start, their answers come bunched) to the moment
 * the first writer found no work left, counting the writes answered in between. With as many writes in flight
 * at both ends, the work done but not yet answered at the start and at the end of the span is alike. After it
 * fewer writes are in flight until the last answer: the pool's drain, not a rate of the server's.
 */
export function fullPoolRate(run: PoolRun): { seconds: number; writes: number; ratePerSec: number | null } {
  const from = run.answeredAtMs[run.concurrency - 1];
  if (from === undefined || run.firstIdleMs <= from) return { seconds: 0, writes: 0, ratePerSec: null };
  let writes = 0;
  for (const t of run.answeredAtMs) if (t > from && t <= run.firstIdleMs) writes++;
  const spanMs = run.firstIdleMs - from;
  return { seconds: Math.round(spanMs) / 1000, writes, ratePerSec: writes > 0 ? Math.round((writes * 1000) / spanMs) : null };
}

/** Answers per whole second since `startMs`: the shape of a run (its start, its drain) in a few numbers. */
export function perSecond(startMs: number, times: readonly number[]): number[] {
  const counts: number[] = [];
  for (const t of times) {
    const i = Math.max(0, Math.floor((t - startMs) / 1000));
    while (counts.length <= i) counts.push(0);
    counts[i]!++;
  }
  return counts;
}

/** `uptime`'s 1, 5 and 15 minute load averages: written beside every figure (the box is shared). */
export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg();
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return [r2(a), r2(b), r2(c)];
}
