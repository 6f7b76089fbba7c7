// A bounded FIFO between a producer that must never wait (an HTTP handler answering a sender) and work done
// later: items are processed a slice at a time on later turns of the event loop, so that a burst neither runs
// in the producer's call stack nor holds the loop for its whole length — the next requests, lease renewals and
// reconciles get their turns in between. When the producer outpaces the work, the queue fills up to its
// capacity and the producer learns that an item did not fit (to drop it and count it, or to answer 503), or
// a producer that can hold back waits for room.

export interface SlicedQueueOptions<T> {
  /** Items waiting before `offer` refuses. */
  capacity: number;
  /** Items processed per turn of the event loop. */
  slice: number;
  process(item: T): void;
  /** Schedules the next slice; default setImmediate (after the I/O callbacks of this turn). Tests pass their own. */
  schedule?: (fn: () => void) => void;
}

export class SlicedQueue<T> {
  private items: T[] = [];
  private head = 0;
  private scheduled = false;
  private closed = false;
  private waiters: (() => void)[] = [];
  private readonly schedule: (fn: () => void) => void;

  constructor(private readonly opts: SlicedQueueOptions<T>) {
    this.schedule = opts.schedule ?? ((fn) => setImmediate(fn));
  }

  /** Items waiting. */
  get depth(): number {
    return this.items.length - this.head;
  }

  /**
   * Queues `item`; false (and nothing queued) when the queue is full or closed. With `overCapacity` it is queued
   * even when full: for a producer that waited for `room()` and hands over what it read since (a bounded read).
   */
  offer(item: T, overCapacity = false): boolean {
    if (this.closed || (!overCapacity && this.depth >= this.opts.capacity)) return false;
    this.items.push(item);
    this.wake();
    return true;
  }

  /** Queues all of `items`, or none of them when they do not all fit. */
  offerAll(items: readonly T[]): boolean {
    if (this.closed || this.depth + items.length > this.opts.capacity) return false;
    for (const item of items) this.items.push(item);
    if (items.length > 0) this.wake();
    return true;
  }

  /** Resolves once the queue is below its capacity (at once when it is, or when it is closed). */
  room(): Promise<void> {
    if (this.closed || this.depth < this.opts.capacity) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Processes everything queued, synchronously, and refuses new items from then on. */
  close(): void {
    this.closed = true;
    while (this.depth > 0) this.processSlice();
    this.releaseWaiters();
  }

  private wake(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.processSlice();
      if (this.depth > 0) this.wake();
    });
  }

  private processSlice(): void {
    const end = Math.min(this.items.length, this.head + this.opts.slice);
    // Advance before processing, so that an item whose processing throws is not processed again.
    while (this.head < end) this.opts.process(this.items[this.head++] as T);
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      // Compact now and then instead of shifting per item: O(1) per item either way.
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.depth < this.opts.capacity) this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
