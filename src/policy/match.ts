// Which pods a policy governs. All given match fields must hold (AND); the first that does not is reported
// as the reason, so a user asking "why is my pod not covered?" gets one concrete answer.
import type { ResolvedPolicy } from './defaults.js';
import type { MatchResult } from './types.js';
import { globMatchAny } from './glob.js';
import { labelSelectorMatches, labelSelectorProblem } from './selector.js';
import type { LabelSelector } from '../api/types.js';

export interface MatchTarget {
  namespace: string;
  labels?: Record<string, string>;
}

function isEmptySelector(selector: LabelSelector): boolean {
  return (selector.matchLabels === undefined || Object.keys(selector.matchLabels).length === 0) &&
    (selector.matchExpressions === undefined || selector.matchExpressions.length === 0);
}

/**
 * `namespaceLabels` is undefined when the caller does not know the namespace (not cached yet, or an offline
 * check without the Namespace object). A policy with a non-empty namespaceSelector then does not match:
 * governing a pod on a guess would label or patch workloads the user meant to leave alone.
 */
export function matchPod(
  policy: ResolvedPolicy,
  target: MatchTarget,
  namespaceLabels: Record<string, string> | undefined,
): MatchResult {
  const { namespace } = target;
  const { match } = policy;
  if (globMatchAny(match.excludedNamespaces, namespace)) {
    return { matched: false, reason: `namespace "${namespace}" is excluded by match.excludedNamespaces` };
  }
  if (match.namespaces.length > 0 && !globMatchAny(match.namespaces, namespace)) {
    return { matched: false, reason: `namespace "${namespace}" is not listed in match.namespaces` };
  }
  const { namespaceSelector, podSelector } = match;
  if (namespaceSelector !== undefined && !isEmptySelector(namespaceSelector)) {
    const problem = labelSelectorProblem(namespaceSelector);
    if (problem !== undefined) {
      return { matched: false, reason: `match.namespaceSelector is invalid (${problem})` };
    }
    if (namespaceLabels === undefined) {
      return {
        matched: false,
        reason: `labels of namespace "${namespace}" are unknown, so match.namespaceSelector cannot be evaluated`,
      };
    }
    if (!labelSelectorMatches(namespaceSelector, namespaceLabels)) {
      return { matched: false, reason: `namespace "${namespace}" does not match match.namespaceSelector` };
    }
  }
  if (podSelector !== undefined) {
    const problem = labelSelectorProblem(podSelector);
    if (problem !== undefined) return { matched: false, reason: `match.podSelector is invalid (${problem})` };
    if (!labelSelectorMatches(podSelector, target.labels)) {
      return { matched: false, reason: 'pod labels do not match match.podSelector' };
    }
  }
  return { matched: true };
}
