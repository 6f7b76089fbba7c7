// The one exponential backoff of the operator: `exponentialDelay` is the curve; ExponentialBackoff walks it
// for one operation (watch reconnects, lease renewals), PerKeyBackoff for many keys (the work queue).

export interface ExponentialBackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /**
   * Fraction of each delay that is randomised, 0..1 (default 0). A delay `d` becomes a value in
   * `[d × (1 − jitter), d]`, so jitter spreads retries without ever exceeding `maxMs` — clients that hit the
   * cap at the same moment still spread out instead of retrying in lockstep.
   */
  jitter?: number;
  random?: () => number;
}

/** The delay after `failures` earlier failures: initial × factor^failures, capped at max. */
export function exponentialDelay(failures: number, opts: { initialMs: number; maxMs: number; factor?: number }): number {
  return Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor ?? 2, Math.max(0, failures)));
}

/** Delays for successive retries of one operation: initial, initial×factor, … capped at max. */
export class ExponentialBackoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(opts: ExponentialBackoffOptions) {
    this.initialMs = Math.max(0, opts.initialMs);
    this.maxMs = Math.max(this.initialMs, opts.maxMs);
    this.factor = opts.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0));
    this.random = opts.random ?? Math.random;
  }

  /** The delay to wait before the next attempt; each call counts one more failure. */
  next(): number {
    const base = exponentialDelay(this.attempt, { initialMs: this.initialMs, maxMs: this.maxMs, factor: this.factor });
    // Stop growing the exponent once capped so it cannot overflow after very long outages.
    if (base < this.maxMs) this.attempt++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  /** Number of delays handed out since the last reset (saturates once the cap is reached). */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

export interface PerKeyBackoffOptions {
  /** Delay after the first failure; default 5 ms (client-go's item limiter). */
  initialMs?: number;
  /** Cap; default 1000 s. */
  maxMs?: number;
  factor?: number;
}

/**
 * Per-key failure counts with exponential delays: `delay(key)` records one more failure and returns how long
 * to wait before retrying that key; `forget(key)` is called once the key succeeds.
 */
export class PerKeyBackoff {
  private readonly counts = new Map<string, number>();
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;

  constructor(opts: PerKeyBackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 5;
    this.maxMs = opts.maxMs ?? 1_000_000;
    this.factor = opts.factor ?? 2;
  }

  delay(key: string): number {
    const failures = this.counts.get(key) ?? 0;
    this.counts.set(key, failures + 1);
    return exponentialDelay(failures, { initialMs: this.initialMs, maxMs: this.maxMs, factor: this.factor });
  }

  failures(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  forget(key: string): void {
    this.counts.delete(key);
  }
}
