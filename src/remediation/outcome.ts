// What went wrong for a workload (a Problem), and folding those into the policy's Degraded condition. Pure.
import { Reasons } from '../api/types.js';
import { isForbidden, messageOf } from '../k8s/errors.js';
import type { DegradedState } from '../policy/status.js';
import { listSome, truncateText, MAX_MESSAGE_CHARS } from './status-text.js';

/** Most severe first: what an admin must fix before anything else. */
export const DEGRADED_PRIORITY: readonly string[] = [
  Reasons.Forbidden,
  Reasons.RolloutFailed,
  Reasons.PatchFailed,
  Reasons.EvictionBlocked,
  Reasons.GitOpsManaged,
  Reasons.RateLimited,
];

export interface Problem {
  reason: string;
  message: string;
  /** Reason of the Warning Event to emit when this problem first appears (when no action emitted one). */
  event?: string;
}

function rank(reason: string): number {
  const i = DEGRADED_PRIORITY.indexOf(reason);
  return i < 0 ? DEGRADED_PRIORITY.length : i;
}

/** What a write of ours (`what`) that the API server refused means for Degraded. */
export function apiProblem(err: unknown, what: 'patch' | 'rollback'): Problem {
  if (isForbidden(err)) return { reason: Reasons.Forbidden, message: `${what} forbidden: ${messageOf(err)}` };
  return { reason: Reasons.PatchFailed, message: truncateText(`${what} failed: ${messageOf(err)}`, MAX_MESSAGE_CHARS) };
}

export function worstProblem(problems: readonly Problem[]): Problem | undefined {
  let worst: Problem | undefined;
  for (const p of problems) if (!worst || rank(p.reason) < rank(worst.reason)) worst = p;
  return worst;
}

/**
 * One Degraded condition for the whole policy: the most severe reason, naming the workloads it affects, plus
 * a count of the others. Stable for unchanged input, so an unchanged situation does not rewrite status.
 */
export function degradedState(problems: ReadonlyMap<string, Problem>): DegradedState | undefined {
  const worst = worstProblem([...problems.values()]);
  if (!worst) return undefined;
  const keys = [...problems.keys()].sort();
  const affected = keys.filter((k) => problems.get(k)?.reason === worst.reason);
  const first = affected[0];
  const detail = affected.length === 1 && first !== undefined ? `${first}: ${problems.get(first)?.message ?? ''}` : listSome(affected);
  const others = [...new Set(keys.filter((k) => problems.get(k)?.reason !== worst.reason).map((k) => problems.get(k)?.reason ?? ''))].sort();
  const message = `${worst.reason} for ${affected.length} workload(s): ${detail}` +
    (others.length > 0 ? `; also ${others.join(', ')}` : '');
  return { reason: worst.reason, message: truncateText(message, MAX_MESSAGE_CHARS) };
}
