// Sharing of equal values between cache entries. Pods of one workload carry the same spec, labels and owner
// references; the API server sends each as its own copy and JSON.parse makes each its own object. An
// interner hands out one frozen copy per distinct value instead, so 50k pods of 5,000 Deployments hold
// 5,000 specs, not 50k (docs/benchmarks.md: ~1.5 KiB per cached pod before, the target is ≤ 1 KiB).
//
// Bounded: the most recently seen distinct values are remembered (LRU). Values that are unique to one pod
// (a StatefulSet's pod-name label) pass through without growing it; one evicted while still in use costs only
// the sharing, never correctness, since interned values are frozen and equal to what they stand for.
import { LRUCache } from 'lru-cache';

/** Freezes a JSON-like value and everything in it: cached objects are shared and must never be edited. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class Interner {
  private readonly values: LRUCache<string, object>;
  private readonly strings: LRUCache<string, string>;

  constructor(max = 4096) {
    this.values = new LRUCache({ max });
    this.strings = new LRUCache({ max });
  }

  /**
   * The shared, frozen copy of a JSON-like value equal to `value` (`value` itself, frozen, the first time).
   * Equality is by JSON text, so key order matters: values built by the same code compare equal.
   */
  value<T extends object>(value: T): T {
    const key = JSON.stringify(value);
    const known = this.values.get(key);
    if (known !== undefined) return known as T;
    this.values.set(key, deepFreeze(value));
    return value;
  }

  /** One copy of a string that many entries repeat (a namespace, an image). */
  string(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    this.strings.set(value, value);
    return value;
  }
}
