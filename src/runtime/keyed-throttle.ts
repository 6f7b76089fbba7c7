// Leading-and-trailing throttle per key: the first hit of a key fires at once, later hits within `intervalMs`
// are folded into one trailing fire at the end of the window, and a key with no hits in a window is
// forgotten. Memory holds only the keys hit within the last interval.
import type { Clock, Timer } from './clock.js';

export class KeyedThrottle<K> {
  /** Keys inside their window, with whether a trailing fire is due. */
  private readonly windows = new Map<K, { timer: Timer; due: boolean }>();

  constructor(private readonly clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>, private readonly intervalMs: number, private readonly fire: (key: K) => void) {}

  hit(key: K): void {
    const window = this.windows.get(key);
    if (window) {
      window.due = true;
      return;
    }
    this.fire(key);
    this.open(key);
  }

  /** Keys currently inside a window. */
  get size(): number {
    return this.windows.size;
  }

  /** Drops pending trailing fires. */
  stop(): void {
    for (const w of this.windows.values()) this.clock.clearTimeout(w.timer);
    this.windows.clear();
  }

  private open(key: K): void {
    const timer = this.clock.setTimeout(() => {
      const due = this.windows.get(key)?.due ?? false;
      this.windows.delete(key);
      if (!due) return;
      this.fire(key);
      this.open(key);
    }, this.intervalMs);
    this.windows.set(key, { timer, due: false });
  }
}
