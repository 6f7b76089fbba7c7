// One pod under one policy: matched or not, and what it breaks. Shared by the pod reconciler (labels), the
// workload reconciler (remediation, reports) and the policy reconciler (status), so all of them always agree.
//
// Verdicts are remembered by object identity. Cached pods are frozen and pods of one workload share one
// interned spec and label map (src/k8s/slim.ts), so 50k pods of 5,000 Deployments need 5,000 evaluations, not
// 50k per status pass plus one per pod and per workload event: a pass over the cache costs a few map look-ups
// per pod. A remembered verdict is exactly what the engine would say now:
//   - the policy: keyed by its ResolvedPolicy, a new object for every generation (PolicySet);
//   - the spec, pod labels and namespace labels: keyed by the frozen objects themselves, so any change is a new
//     key (unfrozen input, which nothing caches, is evaluated every time);
//   - the clock: a verdict holds from when it was computed until the policy's next exemption expiry (the only
//     thing that makes the engine's answer depend on `now`), and never for a `now` before it was computed.
import type { Pod } from '../api/kube.js';
import { deepFreeze } from '../k8s/intern.js';
import { evaluatePod, findingKey, matchPod, msUntilNextExpiry, type Finding, type MatchResult, type ResolvedPolicy, type Skip } from '../policy/index.js';
import type { ActivePolicy } from './policy-set.js';

export type PodVerdict =
  | { matched: false; reason: string }
  | { readonly matched: true; readonly findings: Finding[]; readonly skips: Skip[]; readonly error?: string };

type Evaluated = Extract<PodVerdict, { matched: true }>;

/** A verdict and the span of time it holds for: [fromMs, untilMs). */
interface Held<T> {
  value: T;
  fromMs: number;
  untilMs: number;
}

/** Stands for "no labels" in identity-keyed maps. */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Evaluations and matches remembered per policy. WeakMaps throughout: an old policy generation, a spec no pod
 * uses any more or a namespace's replaced labels are collected with what they key.
 */
export class VerdictMemo {
  /** policy → spec → namespace → evaluation (exemptions are scoped by namespace, hence the last level). */
  private readonly evaluations = new WeakMap<ResolvedPolicy, WeakMap<object, Map<string, Held<Evaluated>>>>();
  /** policy → pod labels → namespace labels → namespace → match. */
  private readonly matches = new WeakMap<ResolvedPolicy, WeakMap<object, WeakMap<object, Map<string, MatchResult>>>>();

  assess(pod: Pod, policy: ResolvedPolicy, namespaceLabels: Record<string, string> | undefined, now: Date): PodVerdict {
    const namespace = pod.metadata.namespace ?? 'default';
    const match = this.match(policy, namespace, pod.metadata.labels, namespaceLabels);
    if (!match.matched) return { matched: false, reason: match.reason ?? 'not matched' };
    return this.evaluate(pod, policy, namespace, now);
  }

  private match(policy: ResolvedPolicy, namespace: string, labels: Record<string, string> | undefined,
    namespaceLabels: Record<string, string> | undefined): MatchResult {
    const compute = (): MatchResult => matchPod(policy, { namespace, labels }, namespaceLabels);
    const podKey = labels ?? NO_LABELS;
    const nsKey = namespaceLabels ?? NO_LABELS;
    if (!Object.isFrozen(podKey) || !Object.isFrozen(nsKey)) return compute();
    const byPodLabels = getOrSet(this.matches, policy, () => new WeakMap<object, WeakMap<object, Map<string, MatchResult>>>());
    const byNamespace = getOrSet(getOrSet(byPodLabels, podKey, () => new WeakMap<object, Map<string, MatchResult>>()), nsKey,
      () => new Map<string, MatchResult>());
    let result = byNamespace.get(namespace);
    if (result === undefined) byNamespace.set(namespace, result = compute());
    return result;
  }

  private evaluate(pod: Pod, policy: ResolvedPolicy, namespace: string, now: Date): Evaluated {
    const { spec } = pod;
    if (!Object.isFrozen(spec)) return evaluated(policy, pod, now);
    const nowMs = now.getTime();
    const bySpec = getOrSet(this.evaluations, policy, () => new WeakMap<object, Map<string, Held<Evaluated>>>());
    const byNamespace = getOrSet(bySpec, spec, () => new Map<string, Held<Evaluated>>());
    const held = byNamespace.get(namespace);
    if (held !== undefined && held.fromMs <= nowMs && nowMs < held.untilMs) return held.value;
    const value = deepFreeze(evaluated(policy, pod, now));
    const expiry = msUntilNextExpiry(policy, now);
    byNamespace.set(namespace, { value, fromMs: nowMs, untilMs: expiry === undefined ? Infinity : nowMs + expiry });
    return value;
  }
}

function evaluated(policy: ResolvedPolicy, pod: Pod, now: Date): Evaluated {
  const evaluation = evaluatePod(policy, pod, now);
  if (evaluation.outcome === 'error') return { matched: true, findings: [], skips: [], error: evaluation.error };
  return { matched: true, findings: evaluation.findings, skips: evaluation.skips };
}

function getOrSet<K extends object, V>(map: WeakMap<K, V>, key: K, make: () => V): V;
function getOrSet<K, V>(map: Map<K, V>, key: K, make: () => V): V;
function getOrSet<K extends object, V>(map: WeakMap<K, V> | Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, value = make());
  return value;
}

/** The process's memo: every controller reads the same cache, so they share it. */
const shared = new VerdictMemo();

export function assessPod(pod: Pod, policy: ActivePolicy, namespaceLabels: Record<string, string> | undefined, now: Date): PodVerdict {
  return shared.assess(pod, policy.resolved, namespaceLabels, now);
}

/** Keys of remembered (frozen, shared) findings lists, computed once per list. */
const keysOfFindings = new WeakMap<readonly Finding[], string[]>();

/** Sorted, de-duplicated `container:rule[:subject]` keys; do not modify the result (it may be shared). */
export function findingKeys(findings: readonly Finding[]): string[] {
  const known = keysOfFindings.get(findings);
  if (known !== undefined) return known;
  const keys = [...new Set(findings.map(findingKey))].sort();
  if (Object.isFrozen(findings)) keysOfFindings.set(findings, Object.freeze(keys) as string[]);
  return keys;
}
