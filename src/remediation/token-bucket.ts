// A token bucket on an injected clock: `ratePerMinute` tokens per minute, holding at most that many, so a
// policy's evictions never exceed its budget over any minute-long window by more than one burst.
import type { Clock } from '../runtime/clock.js';

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(private readonly clock: Pick<Clock, 'now'>, private ratePerMinute: number) {
    this.tokens = ratePerMinute;
    this.refilledAt = clock.now();
  }

  get rate(): number {
    return this.ratePerMinute;
  }

  /** Changes the rate (a policy edit); tokens above the new capacity are dropped. */
  setRate(ratePerMinute: number): void {
    this.refill();
    this.ratePerMinute = ratePerMinute;
    this.tokens = Math.min(this.tokens, ratePerMinute);
  }

  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Returns a token taken for an action that did not happen (a refused eviction is no disruption). */
  refund(): void {
    this.refill();
    this.tokens = Math.min(this.ratePerMinute, this.tokens + 1);
  }

  /** Milliseconds until a token is available (0 when one is). */
  msUntilToken(): number {
    this.refill();
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) * 60_000) / this.ratePerMinute);
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(this.ratePerMinute, this.tokens + (elapsed * this.ratePerMinute) / 60_000);
    this.refilledAt = now;
  }
}
