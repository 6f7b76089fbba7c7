// The one token bucket of the operator, on an injected clock: `burst` tokens, refilled at `ratePerSec`.
// The work queue reserves (always takes a token, possibly borrowed from the future, and waits), eviction
// budgets and Event writes try (take one only if there is one, and give it back if the action did not happen).
import type { Clock } from './clock.js';

export interface TokenBucketOptions {
  ratePerSec: number;
  burst: number;
  clock: Pick<Clock, 'now'>;
}

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private ratePerSecValue: number;
  private burstValue: number;
  private readonly clock: Pick<Clock, 'now'>;

  constructor(opts: TokenBucketOptions) {
    this.clock = opts.clock;
    this.ratePerSecValue = TokenBucket.checkedRate(opts.ratePerSec);
    this.burstValue = Math.max(1, opts.burst);
    this.tokens = this.burstValue;
    this.refilledAt = opts.clock.now();
  }

  /** `perMinute` tokens per minute, holding at most one minute's worth (an eviction budget). */
  static perMinute(perMinute: number, clock: Pick<Clock, 'now'>): TokenBucket {
    return new TokenBucket({ ratePerSec: perMinute / 60, burst: perMinute, clock });
  }

  get ratePerSec(): number {
    return this.ratePerSecValue;
  }

  get burst(): number {
    return this.burstValue;
  }

  /** Changes the rate and capacity (a policy edit); tokens above the new capacity are dropped. */
  setRate(ratePerSec: number, burst: number): void {
    this.refill();
    this.ratePerSecValue = TokenBucket.checkedRate(ratePerSec);
    this.burstValue = Math.max(1, burst);
    this.tokens = Math.min(this.tokens, this.burstValue);
  }

  /**
   * Takes a token, borrowing from the future when none is left, and returns the milliseconds the caller must
   * wait before using it: concurrent callers queue up fairly instead of all retrying at once.
   */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecValue);
  }

  /** Takes a token if one is available now. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Returns a token taken for an action that did not happen (a refused eviction is no disruption). */
  refund(): void {
    this.refill();
    this.tokens = Math.min(this.burstValue, this.tokens + 1);
  }

  /** Milliseconds until a token is available (0 when one is). */
  msUntilToken(): number {
    this.refill();
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecValue);
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(this.burstValue, this.tokens + (elapsed * this.ratePerSecValue) / 1000);
    this.refilledAt = now;
  }

  private static checkedRate(ratePerSec: number): number {
    if (!(ratePerSec > 0)) throw new RangeError('TokenBucket ratePerSec must be > 0');
    return ratePerSec;
  }
}
