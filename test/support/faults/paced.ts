// Offering load at a set rate for a set time, as a flood or churn does: calls are started on schedule, at most
// `inflight` at a time, and none after the deadline. A receiver that cannot keep up holds the schedule back
// (the calls in flight fill up), so what was achieved is measured, not assumed.

export interface Pace {
  /** Calls started per second. */
  rate: number;
  seconds: number;
  /** Calls in flight at most. */
  inflight: number;
}

export interface Paced {
  /** Calls started (each has finished when `paced` resolves). */
  calls: number;
  /** From the first call's start to the last one's end. */
  seconds: number;
}

/** Runs `call(i)` for i = 0, 1, ... at `rate` per second until `seconds` have passed; waits for the last. */
export async function paced(pace: Pace, call: (i: number) => Promise<void>): Promise<Paced> {
  const started = performance.now();
  const deadline = started + pace.seconds * 1000;
  const inflight = new Set<Promise<void>>();
  let calls = 0;
  while (performance.now() < deadline) {
    const due = started + (calls * 1000) / pace.rate;
    if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
    while (inflight.size >= pace.inflight) await Promise.race(inflight);
    if (performance.now() >= deadline) break;
    const p: Promise<void> = call(calls).finally(() => inflight.delete(p));
    inflight.add(p);
    calls++;
  }
  await Promise.all(inflight);
  return { calls, seconds: (performance.now() - started) / 1000 };
}
