// One workload's outcome while the steps of a pass add to it (the rollout judged, the template patched, pods
// evicted), folded into a single status entry at the end. Pure.
import type { WorkloadAction } from '../api/types.js';
import type { WorkloadOutcome } from '../policy/status.js';
import { worstProblem, type Problem } from './outcome.js';
import type { WorkloadResult } from './policy-state.js';
import { MAX_MESSAGE_CHARS, MAX_PATCH_CHARS, truncateText } from './status-text.js';

/** The earlier of two optional delays. */
export function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

export class WorkloadDraft {
  /** Set by the step that acted; otherwise the caller's fallback applies. */
  action?: WorkloadAction;
  readonly messages: string[] = [];
  patch?: string;
  readonly problems: Problem[] = [];
  /** Said in the message too; announced as a Warning Event when they change. */
  readonly warnings: string[] = [];
  requeueAfterMs?: number;
  /** False while something is in flight (a rollout, an eviction) that the next pass must look at. */
  settled = true;
  /** An API write that failed: the runner retries the workload with backoff once its outcome is recorded. */
  failure?: Error;

  fail(err: unknown): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
    this.settled = false;
  }

  /** Asks to come back within `ms`; the most urgent step wins. */
  requeueWithin(ms: number): void {
    this.requeueAfterMs = minDefined(this.requeueAfterMs, ms);
  }

  /** A problem is both said in the workload's message and, in Enforce, a candidate for Degraded. */
  addProblem(problem: Problem): void {
    this.messages.push(problem.message);
    this.problems.push(problem);
  }

  /** A risk of the planned change that is not a failure (nothing was refused). */
  addWarning(warning: string): void {
    this.messages.push(`warning: ${warning}`);
    this.warnings.push(warning);
  }

  /** The workload's status entry. In Audit every entry is Planned; in Enforce any problem makes it Blocked. */
  result(enforce: boolean, fallback: WorkloadAction): WorkloadResult {
    const blocked = this.problems.length > 0;
    const action: WorkloadAction = !enforce ? 'Planned' : blocked ? 'Blocked' : this.action ?? fallback;
    const outcome: WorkloadOutcome = { action };
    const message = this.messages.filter(Boolean).join('; ');
    if (message) outcome.message = truncateText(message, MAX_MESSAGE_CHARS);
    if (this.patch) outcome.patch = truncateText(this.patch, MAX_PATCH_CHARS);
    const result: WorkloadResult = { outcome, settled: this.settled && this.requeueAfterMs === undefined };
    const problem = enforce ? worstProblem(this.problems) : undefined;
    if (problem) result.problem = problem;
    if (this.warnings.length > 0) result.warning = this.warnings.join('; ');
    if (this.requeueAfterMs !== undefined) result.requeueAfterMs = this.requeueAfterMs;
    if (this.failure !== undefined) result.failure = this.failure;
    return result;
  }
}
