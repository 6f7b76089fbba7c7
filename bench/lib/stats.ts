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

/** `uptime`'s 1, 5 and 15 minute load averages: written beside every figure (the box is shared). */
export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg();
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return [r2(a), r2(b), r2(c)];
}
