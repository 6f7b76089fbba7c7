// One pod under one policy: matched or not, and what it breaks. Shared by the pod reconciler (labels) and
// the policy reconciler (status), so both always agree.
import type { Pod } from '../api/kube.js';
import { evaluatePod, findingKey, matchPod, type Finding, type Skip } from '../policy/index.js';
import type { ActivePolicy } from './policy-set.js';

export type PodVerdict =
  | { matched: false; reason: string }
  | { matched: true; findings: Finding[]; skips: Skip[]; error?: string };

export function assessPod(pod: Pod, policy: ActivePolicy, namespaceLabels: Record<string, string> | undefined, now: Date): PodVerdict {
  const namespace = pod.metadata.namespace ?? 'default';
  const match = matchPod(policy.resolved, { namespace, labels: pod.metadata.labels }, namespaceLabels);
  if (!match.matched) return { matched: false, reason: match.reason ?? 'not matched' };
  const evaluation = evaluatePod(policy.resolved, pod, now);
  if (evaluation.outcome === 'error') return { matched: true, findings: [], skips: [], error: evaluation.error };
  return { matched: true, findings: evaluation.findings, skips: evaluation.skips };
}

export function findingKeys(findings: readonly Finding[]): string[] {
  return [...new Set(findings.map(findingKey))].sort();
}
