// Go garbage collections of a control-plane process, read from its GODEBUG=gctrace=1 output, laid over request
// latencies: do slow requests coincide with a collection more often than fast ones? Pure: the caller reads the
// log and the process start time.
import { percentiles } from './stats.js';

/** One collection: when it started and how long it ran, in ms on the caller's clock. */
export interface GcCycle { startMs: number; wallMs: number; heapBeforeMb: number }

// `gc 12 @3.456s 2%: 0.018+1.2+0.003 ms clock, 0.036+0.4/1.1/2.0+0.006 ms cpu, 27->28->14 MB, 29 MB goal, …`
const GC_LINE = /^gc \d+ @([\d.]+)s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, [^,]+, (\d+)->\d+->\d+ MB/;

/**
 * Collections in a gctrace log. `@` is seconds since the Go runtime started; `runtimeStartMs` puts it on the
 * caller's clock (the process start time: within ~10 ms, the resolution of /proc's start time).
 */
export function parseGcTrace(log: string, runtimeStartMs: number): GcCycle[] {
  const cycles: GcCycle[] = [];
  for (const line of log.split('\n')) {
    const m = GC_LINE.exec(line);
    if (!m) continue;
    const [, at, sweepTerm, mark, markTerm, heapBefore] = m;
    cycles.push({
      startMs: runtimeStartMs + Number(at) * 1000,
      wallMs: Number(sweepTerm) + Number(mark) + Number(markTerm),
      heapBeforeMb: Number(heapBefore),
    });
  }
  return cycles;
}

export interface Sample { startMs: number; latencyMs: number }

/** Whether the request overlapped a collection, allowing `slackMs` for the clocks' alignment. */
export function overlapsGc(sample: Sample, cycles: readonly GcCycle[], slackMs: number): boolean {
  const end = sample.startMs + sample.latencyMs;
  return cycles.some((c) => c.startMs - slackMs < end && c.startMs + c.wallMs + slackMs > sample.startMs);
}

export interface GcCorrelation {
  /** Collections that started while the phase's requests ran, per 1,000 requests. */
  cyclesPer1000Requests: number;
  /** Their wall time (concurrent mark included), summed, per request. */
  gcWallMsPerRequest: number;
  /** Share of the phase's slowest 1 % that overlapped a collection... */
  slowestPercentOverlapping: number;
  /** ...against the share of its faster half: the chance of overlapping one at all. */
  fasterHalfOverlapping: number;
  /** Requests that overlapped no collection: their share, and their 99th percentile latency. */
  outsideGcShare: number;
  outsideGcP99Ms: number;
}

export function correlate(samples: readonly Sample[], cycles: readonly GcCycle[], slackMs: number): GcCorrelation {
  if (samples.length === 0) {
    return { cyclesPer1000Requests: 0, gcWallMsPerRequest: 0, slowestPercentOverlapping: 0, fasterHalfOverlapping: 0, outsideGcShare: 0, outsideGcP99Ms: NaN };
  }
  const inPhase = cycles.filter((c) => samples.some((s) => c.startMs >= s.startMs - slackMs && c.startMs <= s.startMs + s.latencyMs + slackMs));
  const byLatency = [...samples].sort((a, b) => a.latencyMs - b.latencyMs);
  const slowest = byLatency.slice(Math.floor(byLatency.length * 0.99));
  const fasterHalf = byLatency.slice(0, Math.floor(byLatency.length / 2));
  const share = (list: readonly Sample[]): number =>
    list.length === 0 ? 0 : list.filter((s) => overlapsGc(s, cycles, slackMs)).length / list.length;
  const outside = samples.filter((s) => !overlapsGc(s, cycles, slackMs));
  return {
    cyclesPer1000Requests: (inPhase.length * 1000) / samples.length,
    gcWallMsPerRequest: inPhase.reduce((sum, c) => sum + c.wallMs, 0) / samples.length,
    slowestPercentOverlapping: share(slowest),
    fasterHalfOverlapping: share(fasterHalf),
    outsideGcShare: outside.length / samples.length,
    outsideGcP99Ms: percentiles(outside.map((s) => s.latencyMs)).p99,
  };
}
