import type { Clock } from './clock.js';

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
    const base = Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, this.attempt));
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
    return Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, failures));
  }

  failures(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  forget(key: string): void {
    this.counts.delete(key);
  }
}

export interface TokenBucketOptions {
  ratePerSec: number;
  burst: number;
  clock: Clock;
}

/**
 * Global rate limit shared by all keys: `burst` tokens, refilled at `ratePerSec`. `reserve()` always takes a
 * token — possibly borrowing from the future — and says how long the caller must wait before using it, so
 * concurrent callers queue up fairly instead of all retrying at once.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly ratePerSec: number;
  private readonly burst: number;
  private readonly clock: Clock;

  constructor(opts: TokenBucketOptions) {
    if (!(opts.ratePerSec > 0)) throw new RangeError('TokenBucket ratePerSec must be > 0');
    this.ratePerSec = opts.ratePerSec;
    this.burst = Math.max(1, opts.burst);
    this.clock = opts.clock;
    this.tokens = this.burst;
    this.last = opts.clock.now();
  }

  /** Milliseconds to wait before the reserved token may be used; 0 when one is available now. */
  reserve(): number {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSec);
  }
}
