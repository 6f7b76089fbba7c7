// Runtime drift per pod, as the reconcilers see it (the DriftSource port). Evidence comes from three places,
// merged on every call so that nothing is lost across restarts or before a label is written:
//   1. the pod itself: the `immutability.dev/drift` label and `drift-details` annotation written earlier
//      (the operator's durable memory; the audit stream is not replayed after a restart);
//   2. audit records received but not yet written to the pod (bounded LRU of pods, bound to the pod's UID so
//      a StatefulSet pod recreated under the same name starts clean, dropped when the pod is deleted);
//   3. the pod spec: ephemeral containers exist only if someone added them through the subresource.
// Drift counts for a policy only when the policy matches the pod, has the rule on (`exec` for exec/attach/cp,
// `ephemeralContainers` for debug containers, `falco` for Falco alerts that pass the policy's spec.falco
// filter), and no unexpired exemption waives it. Drift of pods no policy
// counts yet is remembered in memory, in case a policy appears later.
import { Subject, type Observable } from 'rxjs';
import type { Container, Pod } from '../api/kube.js';
import { ANNOTATION_DRIFT, LABEL_DRIFT, RUNTIME_RULES, type FalcoPriorityName, type RuntimeRuleName } from '../api/types.js';
import type { DriftRecord, PodRef } from '../audit/classify.js';
import {
  DRIFT_LABELS, compareRecords, decodeDriftDetails, driftLabelOf, encodeDriftDetails, mergeDriftRecords,
  type DriftLabel,
} from '../audit/drift-details.js';
import { LRUCache } from 'lru-cache';
import type { PodMetadataIntent } from '../k8s/api.js';
import { activeExemption, falcoAlertCounts, matchPod } from '../policy/index.js';
import type { DriftSource } from './drift-source.js';
import type { ActivePolicy } from './policy-set.js';
import { objectKey } from '../runtime/list-watch.js';

export interface DriftRegistryOptions {
  /** UID of the pod cached under `namespace/name`, if any; binds a new record to the pod it was about. */
  podUid(key: string): string | undefined;
  /** For exemption expiry. */
  now(): Date;
  /** Pods remembered in memory. Default 10000. */
  capacity?: number;
  /** Records remembered per pod (the first and the latest). Default 32. */
  maxRecordsPerPod?: number;
}

/** A new drift record, announced so the pod and the policies get reconciled. */
export interface DriftChange {
  key: string;
  record: DriftRecord;
}

interface Remembered {
  uid?: string;
  records: DriftRecord[];
  /** Bumped on every record added, so that a state computed from `records` knows when it is stale. */
  version: number;
}

/** Everything known about one pod's drift: annotation, label and spec merged with the records in memory. */
interface DriftState {
  evidence: Evidence[];
  records: DriftRecord[];
  count: number;
  ephemeralContainers: string[];
  persistedLabel?: DriftLabel;
}

/** A pod's state and what it was computed from: reused while none of these changed. */
interface MemoizedState {
  annotation: string | undefined;
  labelValue: string | undefined;
  ephemeral: readonly unknown[] | undefined;
  ephemeralCount: number;
  containers: readonly unknown[];
  uid: string | undefined;
  remembered: Remembered | undefined;
  version: number;
  state: DriftState;
}

/** One piece of evidence, with the rule it falls under and the container it concerns ('*' when unknown). */
interface Evidence {
  label: DriftLabel;
  rule: RuntimeRuleName;
  container: string;
  /** Position in time order; evidence without a time (spec, label) sorts last. */
  order: number;
  /** A Falco alert's rule and priority, which each policy filters by. */
  falco?: { rule: string; priority: FalcoPriorityName };
}

const RULE_OF_LABEL: Record<DriftLabel, RuntimeRuleName> = { exec: 'exec', attach: 'exec', ephemeral: 'ephemeralContainers', falco: 'falco' };
const ruleOf = (label: DriftLabel): RuntimeRuleName => RULE_OF_LABEL[label];
const watchesDrift = (policy: ActivePolicy): boolean => RUNTIME_RULES.some((rule) => policy.resolved.rules[rule]);

function allContainers(pod: Pod): Container[] {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? []), ...(pod.spec.ephemeralContainers ?? [])];
}

/**
 * Adds `record` to `records` (oldest first, at most `max`: the first and the latest) in place. Records mostly
 * arrive in time order, so this is an append; a flood of alerts about one pod must not re-sort per alert.
 */
export function insertRecord(records: DriftRecord[], record: DriftRecord, max: number): void {
  let at = records.length;
  while (at > 0 && compareRecords(records[at - 1] as DriftRecord, record) > 0) at--;
  records.splice(at, 0, record);
  // As trimRecords: keep the first (it names the label) and the most recent.
  if (records.length > max) records.splice(1, records.length - max);
}

export class DriftRegistry implements DriftSource {
  private readonly memory: LRUCache<string, Remembered>;
  /**
   * The last state computed for each cached pod object. Every policy status pass asks about every pod, and
   * decoding a drifted pod's annotation and merging its records each time was most of a pass (at 3,000
   * drifted pods, 25 ms slices every second that held up the next exec's label). Keyed weakly by the
   * cache's object, which the watch replaces on every change, so entries go with the objects.
   */
  private readonly states = new WeakMap<Pod, MemoizedState>();
  private readonly changes = new Subject<DriftChange>();
  /** Emits after every new record (not for duplicates). */
  readonly changes$: Observable<DriftChange> = this.changes.asObservable();

  constructor(private readonly opts: DriftRegistryOptions) {
    this.memory = new LRUCache({ max: opts.capacity ?? 10_000 });
  }

  /** Remembers a drift record for a pod; returns false when the audit ID was known already. */
  record(pod: PodRef, record: DriftRecord): boolean {
    const key = objectKey(pod);
    const uid = this.opts.podUid(key);
    let entry = this.memory.get(key);
    if (!entry || (uid !== undefined && entry.uid !== undefined && entry.uid !== uid)) {
      entry = uid === undefined ? { records: [], version: 0 } : { uid, records: [], version: 0 };
    } else if (entry.uid === undefined && uid !== undefined) {
      entry.uid = uid;
      entry.version++;
    }
    if (entry.records.some((r) => r.id === record.id)) return false;
    insertRecord(entry.records, record, this.opts.maxRecordsPerPod ?? 32);
    entry.version++;
    this.memory.set(key, entry);
    this.changes.next({ key, record });
    return true;
  }

  /** The pod is gone: its drift goes with it. `uid` protects a newer pod that reused the name. */
  forgetPod(key: string, uid?: string): void {
    const entry = this.memory.peek(key);
    if (entry && (uid === undefined || entry.uid === undefined || entry.uid === uid)) this.memory.delete(key);
  }

  /** Number of pods remembered in memory. */
  get size(): number {
    return this.memory.size;
  }

  podMetadata(pod: Pod, governing: readonly ActivePolicy[], namespaceLabels: Record<string, string> | undefined): PodMetadataIntent {
    const intent: PodMetadataIntent = { labels: {}, annotations: {} };
    const state = this.state(pod);
    if (!state) return intent;
    const namespace = pod.metadata.namespace ?? 'default';
    const counted: Evidence[] = [];
    for (const policy of governing) {
      if (!watchesDrift(policy)) continue;
      if (!matchPod(policy.resolved, { namespace, labels: pod.metadata.labels }, namespaceLabels).matched) continue;
      counted.push(...this.countedEvidence(pod, policy, state.evidence));
    }
    if (counted.length === 0) return intent;
    const kinds = new Set(counted.map((e) => e.label));
    // The first drift seen names the label, and a label once written stays (it is what the pod's history
    // says first happened) for as long as that kind of drift still counts.
    const label = state.persistedLabel && kinds.has(state.persistedLabel)
      ? state.persistedLabel
      : [...counted].sort((a, b) => a.order - b.order)[0]?.label;
    if (label) intent.labels[LABEL_DRIFT] = label;
    intent.annotations[ANNOTATION_DRIFT] = encodeDriftDetails({
      count: state.count, records: state.records,
      ...(state.ephemeralContainers.length > 0 ? { ephemeralContainers: state.ephemeralContainers } : {}),
    });
    return intent;
  }

  driftFindings(pod: Pod, policy: ActivePolicy): string[] {
    if (!watchesDrift(policy)) return [];
    const state = this.state(pod);
    if (!state) return [];
    const keys = new Set(this.countedEvidence(pod, policy, state.evidence).map((e) => `${e.container}:${e.rule}`));
    return [...keys].sort();
  }

  /** Names of the policies (among `governing`) under which `record` is drift of `pod`; for Events. */
  countingPolicies(pod: Pod, record: DriftRecord, governing: readonly ActivePolicy[], namespaceLabels: Record<string, string> | undefined): string[] {
    const namespace = pod.metadata.namespace ?? 'default';
    const evidence = [this.recordEvidence(pod, record, 0)];
    return governing
      .filter((p) => matchPod(p.resolved, { namespace, labels: pod.metadata.labels }, namespaceLabels).matched)
      .filter((p) => this.countedEvidence(pod, p, evidence).length > 0)
      .map((p) => p.resolved.name);
  }

  private countedEvidence(pod: Pod, policy: ActivePolicy, evidence: readonly Evidence[]): Evidence[] {
    const counts = evidence.filter((e) => policy.resolved.rules[e.rule] && (!e.falco || falcoAlertCounts(policy.resolved, e.falco)));
    // Most policies exempt nothing: the clock and the container images are read only for those that do (a
    // status pass asks about every drifted pod every second while drift keeps arriving).
    if (counts.length === 0 || policy.resolved.exemptions.length === 0) return counts;
    const namespace = pod.metadata.namespace ?? 'default';
    const now = this.opts.now();
    const images = new Map(allContainers(pod).map((c) => [c.name, c.image]));
    return counts.filter((e) => {
      const image = images.get(e.container);
      return !activeExemption(policy.resolved, { namespace, container: e.container, rule: e.rule, ...(image ? { image } : {}) }, now);
    });
  }

  private recordEvidence(pod: Pod, record: DriftRecord, order: number): Evidence {
    const label = driftLabelOf(record.what);
    // A request without `container` went to the pod's only container; with several, we cannot tell.
    const only = pod.spec.containers.length === 1 ? pod.spec.containers[0]?.name : undefined;
    const container = label === 'ephemeral' ? '*' : record.container ?? only ?? '*';
    const evidence: Evidence = { label, rule: ruleOf(label), container, order };
    if (label === 'falco' && record.rule !== undefined && record.priority !== undefined) evidence.falco = { rule: record.rule, priority: record.priority };
    return evidence;
  }

  /**
   * Everything known about the pod's drift, or undefined on the fast path (the common case: none). Computed
   * again only when the pod's drift metadata, its ephemeral containers or its records in memory changed.
   */
  private state(pod: Pod): DriftState | undefined {
    const remembered = this.memory.peek(objectKey(pod.metadata));
    const memory = remembered && (remembered.uid === undefined || remembered.uid === pod.metadata.uid) ? remembered.records : [];
    const annotation = pod.metadata.annotations?.[ANNOTATION_DRIFT];
    const labelValue = pod.metadata.labels?.[LABEL_DRIFT];
    const { ephemeralContainers: ephemeral, containers } = pod.spec;
    const ephemeralCount = ephemeral?.length ?? 0;
    // Nothing to remember for the pods that never drifted: no memo either (100k pods would pay for one each).
    if (memory.length === 0 && annotation === undefined && labelValue === undefined && ephemeralCount === 0) return undefined;
    const { uid } = pod.metadata;
    const version = remembered?.version ?? 0;
    const memo = this.states.get(pod);
    if (memo && memo.annotation === annotation && memo.labelValue === labelValue && memo.ephemeral === ephemeral &&
      memo.ephemeralCount === ephemeralCount && memo.containers === containers && memo.uid === uid &&
      memo.remembered === remembered && memo.version === version) return memo.state;
    const state = this.computeState(pod, memory, annotation, labelValue);
    this.states.set(pod, { annotation, labelValue, ephemeral, ephemeralCount, containers, uid, remembered, version, state });
    return state;
  }

  private computeState(pod: Pod, memory: readonly DriftRecord[], annotation: string | undefined, labelValue: string | undefined): DriftState {
    const ephemeralContainers = (pod.spec.ephemeralContainers ?? []).map((c) => c.name);
    const { count, records } = mergeDriftRecords(decodeDriftDetails(annotation), memory);
    const evidence = records.map((r, i) => this.recordEvidence(pod, r, i));
    const late = records.length;
    const hasSpecEphemeral = ephemeralContainers.length > 0;
    // The spec names the debug containers exactly; an audit record of the patch cannot (no body at Metadata).
    const filtered = hasSpecEphemeral ? evidence.filter((e) => e.label !== 'ephemeral') : evidence;
    for (const name of ephemeralContainers) filtered.push({ label: 'ephemeral', rule: 'ephemeralContainers', container: name, order: late });
    if (hasSpecEphemeral) {
      // Keep the time order of the first ephemeral record, so that "first seen" still holds.
      const firstEphemeral = evidence.find((e) => e.label === 'ephemeral');
      if (firstEphemeral) for (const e of filtered) if (e.label === 'ephemeral') e.order = firstEphemeral.order;
    }
    const persistedLabel = (DRIFT_LABELS as readonly string[]).includes(labelValue ?? '') ? labelValue as DriftLabel : undefined;
    if (persistedLabel && !filtered.some((e) => e.label === persistedLabel)) {
      // The label is all that is left (annotation edited away): it still says the pod was tampered with.
      filtered.push({ label: persistedLabel, rule: ruleOf(persistedLabel), container: '*', order: late + 1 });
    }
    return { evidence: filtered, records, count, ephemeralContainers, ...(persistedLabel ? { persistedLabel } : {}) };
  }
}
