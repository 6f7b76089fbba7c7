// Pod reconciler: makes a pod's immutability.dev/ labels and annotations say what the governing Enforce
// policies with `remediation.label` found, and nothing when they found nothing. Level-triggered: it reads the
// pod from the cache and computes the whole desired metadata each time, whatever event brought it here.
import type { Pod } from '../api/kube.js';
import { ANNOTATION_DRIFT, ANNOTATION_VIOLATIONS, FINALIZER, LABEL_DRIFT, LABEL_VIOLATION } from '../api/types.js';
import type { KubeApi, PodMetadataIntent } from '../k8s/api.js';
import { isGoneOrReplaced, isNotFound, isUnprocessable, messageOf } from '../k8s/errors.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { assessPod, findingKeys } from './assess.js';
import type { Caches } from './caches.js';
import type { DriftSource } from './drift-source.js';
import { podChangedOnlyIn } from './pod-changes.js';
import type { ActivePolicy, PolicySet } from './policy-set.js';
import { msUntilNextExpiry } from '../policy/index.js';
import type { ReconcileResult } from '../runtime/workers.js';

export interface PodReconcilerDeps {
  caches: Caches;
  policies: PolicySet;
  api: KubeApi;
  events: EventRecorder;
  metrics: Metrics;
  logger: Logger;
  drift: DriftSource;
  now: () => Date;
}

/** Our metadata keys on a pod; anything else on the pod belongs to someone else. */
export const OWNED_POD_KEYS = { labels: [LABEL_VIOLATION, LABEL_DRIFT], annotations: [ANNOTATION_VIOLATIONS, ANNOTATION_DRIFT] } as const;

export function desiredPodMetadata(deps: Pick<PodReconcilerDeps, 'caches' | 'policies' | 'drift' | 'now'>, pod: Pod):
  { intent: PodMetadataIntent; labelingPolicies: string[] } {
  const namespace = pod.metadata.namespace ?? 'default';
  const nsLabels = deps.caches.namespaces.get(namespace)?.metadata.labels;
  const now = deps.now();
  const keys = new Set<string>();
  const labelingPolicies: string[] = [];
  const governing = deps.policies.governing();
  for (const policy of governing) {
    if (policy.resolved.mode !== 'Enforce' || !policy.resolved.remediation.label) continue;
    // Label only once the policy carries our finalizer (the policy reconciler adds it first): deleted
    // before that, it would go at once and leave its labels behind (fault scenario 13). Adding the
    // finalizer is a policy change, which brings its pods back here.
    if (!(policy.object.metadata.finalizers ?? []).includes(FINALIZER)) continue;
    const verdict = assessPod(pod, policy, nsLabels, now);
    if (!verdict.matched || verdict.findings.length === 0) continue;
    labelingPolicies.push(policy.resolved.name);
    for (const k of findingKeys(verdict.findings)) keys.add(k);
  }
  const intent: PodMetadataIntent = { labels: {}, annotations: {} };
  if (keys.size > 0) {
    intent.labels[LABEL_VIOLATION] = 'true';
    intent.annotations[ANNOTATION_VIOLATIONS] = [...keys].sort().join(',');
  }
  const drift = deps.drift.podMetadata(pod, governing, nsLabels);
  Object.assign(intent.labels, drift.labels);
  Object.assign(intent.annotations, drift.annotations);
  return { intent, labelingPolicies };
}

function currentOwnedMetadata(pod: Pod, intent: PodMetadataIntent): PodMetadataIntent {
  const pickOwned = (from: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const k of keys) if (from?.[k] !== undefined) out[k] = from[k];
    return out;
  };
  return {
    labels: pickOwned(pod.metadata.labels, [...OWNED_POD_KEYS.labels, ...Object.keys(intent.labels)]),
    annotations: pickOwned(pod.metadata.annotations, [...OWNED_POD_KEYS.annotations, ...Object.keys(intent.annotations)]),
  };
}

function sameMetadata(a: PodMetadataIntent, b: PodMetadataIntent): boolean {
  const eq = (x: Record<string, string>, y: Record<string, string>): boolean =>
    Object.keys(x).length === Object.keys(y).length && Object.entries(x).every(([k, v]) => y[k] === v);
  return eq(a.labels, b.labels) && eq(a.annotations, b.annotations);
}

/**
 * How long our own metadata write may take to come back through the watch. Until then a pod that the cache
 * still shows without it (an event that left the API server before our write, such as a status update) is
 * not written again: the same write twice is load on a throttled or slow API server, and under 429s it
 * multiplied (docs/reliability.md, scenarios 10 and 11). Past this, the write is repeated.
 */
export const OWN_WRITE_EXPECTATION_MS = 30_000;

/** Whether the pod carries exactly the metadata of ours that the governing policies want. */
export function podMetadataSettled(deps: Pick<PodReconcilerDeps, 'caches' | 'policies' | 'drift' | 'now'>, pod: Pod): boolean {
  const { intent } = desiredPodMetadata(deps, pod);
  return sameMetadata(currentOwnedMetadata(pod, intent), intent);
}

/**
 * Whether the update `old` → `obj` is our metadata write `intent` arriving and nothing else: `obj` carries exactly
 * `intent` in our keys, and spec, status, uid, owners, deletion and every other label are as in `old`. Then
 * nothing the desired metadata is computed from changed (the write was computed from the same pod), and the
 * pod needs no reconcile.
 */
export function onlyOwnWriteArrived(old: Pod, obj: Pod, intent: PodMetadataIntent): boolean {
  const current = currentOwnedMetadata(obj, intent);
  return sameMetadata(current, intent) && podChangedOnlyIn(old, obj, ownedKeys(OWNED_POD_KEYS.labels, intent.labels),
    ownedKeys(OWNED_POD_KEYS.annotations, intent.annotations));
}

/** Our keys of one kind: the fixed ones and any the intent has besides (every key we write is ours). */
function ownedKeys(fixed: readonly string[], intended: Record<string, string>): readonly string[] {
  let keys: string[] | undefined;
  for (const k in intended) if (!fixed.includes(k)) (keys ??= [...fixed]).push(k);
  return keys ?? fixed;
}

/** Milliseconds until the next exemption of a labelling policy expires (a label may then be due). */
function msUntilLabelsMayChange(policies: readonly ActivePolicy[], now: Date): number | undefined {
  let next: number | undefined;
  for (const policy of policies) {
    if (policy.resolved.mode !== 'Enforce' || !policy.resolved.remediation.label) continue;
    const ms = msUntilNextExpiry(policy.resolved, now);
    if (ms !== undefined) next = next === undefined ? ms : Math.min(next, ms);
  }
  return next;
}

/** Bytes of a pod's labels and annotations: whether someone else's metadata changed since a write was refused. */
function metadataBytes(pod: Pod): number {
  let n = 0;
  for (const map of [pod.metadata.labels, pod.metadata.annotations]) for (const [k, v] of Object.entries(map ?? {})) n += k.length + v.length;
  return n;
}

/** One metadata write of ours: to which pod (its uid) and what, as sent and as `JSON.stringify`d for comparison. */
interface OwnWrite {
  uid: string;
  metadata: PodMetadataIntent;
  intent: string;
}

export class PodReconciler {
  /** Metadata we wrote and the cache has not shown yet, by pod key (controller-runtime's "expectations"). */
  private readonly pendingWrites = new Map<string, OwnWrite & { atMs: number }>();
  /**
   * Writes the API server refused as invalid (422: e.g. our annotations would take the pod past the 256 KiB
   * metadata limit). The same write would be refused again, so it waits until the pod's metadata or what we
   * want changes instead of retrying in a loop.
   */
  private readonly refusedWrites = new Map<string, { uid: string; intent: string; bytes: number }>();
  /**
   * Pods whose metadata write has been sent and not answered yet; `arrived` once the watch has shown it (the
   * watch event can come before the answer).
   */
  private readonly writesInFlight = new Map<string, OwnWrite & { arrived: boolean }>();

  constructor(private readonly deps: PodReconcilerDeps) {}

  /**
   * Pods whose metadata may differ from what the cache shows: a write under way, or answered but not yet
   * watched. A policy's finalizer must wait for them: the cache alone would let it go while a label written
   * just before the deletion has not reached it (fault scenario 13).
   */
  unsettledPods(): string[] {
    const nowMs = this.deps.now().getTime();
    const keys = new Set(this.writesInFlight.keys());
    for (const [key, pending] of this.pendingWrites) if (nowMs - pending.atMs < OWN_WRITE_EXPECTATION_MS) keys.add(key);
    return [...keys];
  }

  /**
   * Called with every pod update the watch delivers, before it is queued: whether it is our own write to the
   * pod arriving and nothing else (onlyOwnWriteArrived). The expectation is then met here, as client-go's
   * controllers lower theirs in their event handlers, and the update needs no reconcile: during a backlog every
   * label write comes back so, and reconciling each echo was a third of the pod controller's work. Anything
   * else on the pod that changed with it (spec, other labels, deletion, a new uid) still means a reconcile.
   */
  ownWriteArrived(key: string, old: Pod, obj: Pod): boolean {
    const inFlight = this.writesInFlight.get(key);
    if (inFlight?.arrived) return false; // a write arrives once
    const expected = inFlight ?? this.pendingWrites.get(key);
    if (expected === undefined || expected.uid !== (obj.metadata.uid ?? '') || !onlyOwnWriteArrived(old, obj, expected.metadata)) return false;
    if (inFlight) inFlight.arrived = true;
    else this.pendingWrites.delete(key);
    return true;
  }

  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const pod = this.deps.caches.pods.get(key);
    if (!pod || pod.metadata.deletionTimestamp) {
      this.pendingWrites.delete(key);
      this.refusedWrites.delete(key);
      return; // gone or going: nothing to label
    }
    const expiry = msUntilLabelsMayChange(this.deps.policies.governing(), this.deps.now());
    const comeBack = expiry === undefined ? undefined : { requeueAfterMs: expiry };
    const { intent, labelingPolicies } = desiredPodMetadata(this.deps, pod);
    const current = currentOwnedMetadata(pod, intent);
    if (sameMetadata(current, intent)) {
      this.pendingWrites.delete(key);
      this.refusedWrites.delete(key);
      return comeBack;
    }
    const wanted = JSON.stringify(intent);
    const refused = this.refusedWrites.get(key);
    if (refused && refused.uid === pod.metadata.uid && refused.intent === wanted && refused.bytes === metadataBytes(pod)) return comeBack;
    const nowMs = this.deps.now().getTime();
    const pending = this.pendingWrites.get(key);
    if (pending && pending.uid === pod.metadata.uid && pending.intent === wanted && nowMs - pending.atMs < OWN_WRITE_EXPECTATION_MS) {
      // Come back when the expectation lapses, in case the write was undone before the cache ever showed it.
      const lapse = OWN_WRITE_EXPECTATION_MS - (nowMs - pending.atMs);
      return { requeueAfterMs: expiry === undefined ? lapse : Math.min(lapse, expiry) };
    }
    const namespace = pod.metadata.namespace ?? 'default';
    const adding = intent.labels[LABEL_VIOLATION] !== undefined && current.labels[LABEL_VIOLATION] === undefined;
    const write: OwnWrite & { arrived: boolean } = { uid: pod.metadata.uid ?? '', metadata: intent, intent: wanted, arrived: false };
    this.writesInFlight.set(key, write);
    try {
      // With the uid of the pod the intent was computed for: not for a namesake that replaced it meanwhile.
      await this.deps.api.applyPodMetadata({ namespace, name: pod.metadata.name, uid: pod.metadata.uid }, intent, signal);
    } catch (err) {
      this.writesInFlight.delete(key);
      if (isNotFound(err)) return; // deleted meanwhile; its DELETE event ends the story
      if (isGoneOrReplaced(err)) {
        // The cache was behind: the pod was deleted, or replaced by a namesake (a StatefulSet's web-0), since
        // it was read. Nothing failed and nothing is to retry: the watch brings the deletion, and the new pod
        // under its own uid, which gets its own verdict from its own reconcile.
        this.pendingWrites.delete(key);
        this.refusedWrites.delete(key);
        for (const policy of labelingPolicies) this.deps.metrics.actions.inc({ policy, action: 'label', result: 'gone' });
        this.deps.logger.debug('pod metadata not written: the pod is gone or was replaced', { controller: 'pod', key, uid: pod.metadata.uid });
        return;
      }
      for (const policy of labelingPolicies) this.deps.metrics.actions.inc({ policy, action: 'label', result: 'failure' });
      if (!isUnprocessable(err)) throw err;
      // Skipped with a reason, once per change of the pod or of what we want: a retry would be refused alike.
      this.refusedWrites.set(key, { uid: pod.metadata.uid ?? '', intent: wanted, bytes: metadataBytes(pod) });
      const message = messageOf(err);
      this.deps.logger.warn('pod metadata refused', { controller: 'pod', key, policies: labelingPolicies, error: message });
      this.deps.events.record({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace, uid: pod.metadata.uid },
        'Warning', 'LabelFailed', 'Label', `could not write immutability.dev labels and annotations: ${message}`);
      return comeBack;
    }
    // From the answer, not the request: on a slow connection the write itself can take longer than the bound.
    // Not when the watch has already shown it (ownWriteArrived).
    if (!write.arrived) this.pendingWrites.set(key, { uid: write.uid, metadata: intent, intent: wanted, atMs: this.deps.now().getTime() });
    this.writesInFlight.delete(key);
    for (const policy of labelingPolicies) this.deps.metrics.actions.inc({ policy, action: 'label', result: 'success' });
    const regarding = { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace, uid: pod.metadata.uid };
    if (adding) {
      this.deps.events.record(regarding, 'Warning', 'ViolationLabeled', 'Label',
        `labelled ${LABEL_VIOLATION}=true: ${intent.annotations[ANNOTATION_VIOLATIONS] ?? ''} (policies ${labelingPolicies.join(', ')})`);
    }
    // Per pod, at debug (as Kubernetes' controllers log per-object actions at a verbose level): the Event above,
    // the actions metric and the policy status say it at the default level. At info, a backlog of 50k pods
    // wrote 25k lines, 4 % of the operator's CPU (profile of owned-20000).
    this.deps.logger.debug('pod metadata applied', {
      controller: 'pod', key, policies: labelingPolicies, violations: intent.annotations[ANNOTATION_VIOLATIONS] ?? '',
    });
    return comeBack;
  }
}
