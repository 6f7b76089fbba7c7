// What the remediator remembers about one policy between reconciles. Nothing here is needed for
// correctness after a restart — the workloads' annotations and the cluster carry that — it only keeps
// counters for status, paces evictions, and avoids re-reading settled workloads every second.
import type { ActionCounts } from '../api/types.js';
import type { WorkloadRef } from '../k8s/owners.js';
import type { WorkloadOutcome } from '../policy/status.js';
import type { Clock } from '../runtime/clock.js';
import type { ApplyTarget } from './fragment.js';
import type { Problem } from './outcome.js';
import { TokenBucket } from '../runtime/token-bucket.js';
import type { PatchRecord } from './workload-record.js';

export interface WorkloadResult {
  outcome?: WorkloadOutcome;
  problem?: Problem;
  /** Audit: why the planned patch may break the workload (a known image's paths left unmounted). */
  warning?: string;
  requeueAfterMs?: number;
  /** Nothing is in flight: the same pods may reuse this result for a while without reading the workload. */
  settled: boolean;
  /** The API write that failed, for the queue runner to retry (the outcome above already says so). */
  failure?: Error;
}

export interface RolloutWatch {
  ref: WorkloadRef;
  target: ApplyTarget;
  record: PatchRecord;
  startedAt: number;
  /** The outcome reported while the rollout runs (the patch we applied). */
  outcome: WorkloadOutcome;
}

export interface EvictionRetry {
  attempts: number;
  nextAt: number;
  problem: Problem;
}

const EVICTED_MEMORY_MS = 10 * 60_000;

export type WorkloadActionCounts = Omit<ActionCounts, 'labeled'>;

export class PolicyState {
  generation: number;
  /**
   * The actions each workload records for this policy's current generation (its immutability.dev/actions
   * annotation, as loaded when this replica started leading and as our own applies left it since).
   */
  readonly recorded = new Map<string, WorkloadActionCounts>();
  /** Evictions with no workload to record them on (bare pods): counted here, seeded from status. */
  unrecordedEvictions = 0;
  readonly results = new Map<string, { fingerprint: string; at: number; result: WorkloadResult }>();
  readonly rollouts = new Map<string, RolloutWatch>();
  /** Outcome of a patch we applied, reported until the workload's old pods are gone. */
  readonly patched = new Map<string, WorkloadOutcome>();
  readonly evictionRetries = new Map<string, EvictionRetry>();
  private readonly evicted = new Map<string, number>();
  private bucket?: TokenBucket;

  /**
   * `recorded`: the workloads' records for this generation. `statusEvicted`: the evictions the status counted
   * for this generation; those beyond the workloads' records were of bare pods.
   */
  constructor(
    generation: number, recorded: ReadonlyMap<string, WorkloadActionCounts>, statusEvicted: number, private readonly clock: Pick<Clock, 'now'>,
  ) {
    this.generation = generation;
    for (const [key, counts] of recorded) this.recorded.set(key, { ...counts });
    this.unrecordedEvictions = Math.max(0, statusEvicted - this.counts.evicted);
  }

  /** The policy's action counts: the workloads' records and the bare pods' evictions. */
  get counts(): WorkloadActionCounts {
    const sum: WorkloadActionCounts = { patched: 0, evicted: this.unrecordedEvictions, rolledBack: 0 };
    for (const c of this.recorded.values()) {
      sum.patched += c.patched;
      sum.evicted += c.evicted;
      sum.rolledBack += c.rolledBack;
    }
    return sum;
  }

  /** A new generation of the spec: counts start over ("counts for the observed generation"). */
  startGeneration(generation: number): void {
    this.generation = generation;
    this.recorded.clear();
    this.unrecordedEvictions = 0;
    this.results.clear();
  }

  evictionBucket(perMinute: number): TokenBucket {
    if (!this.bucket) this.bucket = TokenBucket.perMinute(perMinute, this.clock);
    else if (this.bucket.burst !== perMinute) this.bucket.setRate(perMinute / 60, perMinute);
    return this.bucket;
  }

  markEvicted(uid: string): void {
    this.evicted.set(uid, this.clock.now());
  }

  /** Evicted recently: the cache may still show the pod for a moment; never evict it twice. */
  wasEvicted(uid: string): boolean {
    const now = this.clock.now();
    for (const [k, at] of this.evicted) if (now - at > EVICTED_MEMORY_MS) this.evicted.delete(k);
    return this.evicted.has(uid);
  }

  /** Drops memory of workloads no longer reported (and not being watched). */
  prune(current: ReadonlySet<string>): void {
    for (const key of this.results.keys()) if (!current.has(key)) this.results.delete(key);
    for (const key of this.patched.keys()) if (!current.has(key) && !this.rollouts.has(key)) this.patched.delete(key);
  }
}
