// The workloads remediation patches, read from watch caches instead of one GET each (at 1,000 violating
// Deployments the GETs were a third of the API server's requests in the Enforce phase, and the parse of each
// whole object the operator's largest cost per workload). Entries are slim like the pod cache: what
// remediation reads of a Deployment, StatefulSet, DaemonSet or CronJob — identity, our annotations, the pod
// template as the pod cache keeps pod specs, managedFields reduced to what their readers use, the rollout's
// spec and status fields — plus the hash of the full pod template, which the slim one cannot give.
//
// A cache is only as fresh as its watch. A write remediation makes from a cached copy carries the copy's uid
// and resourceVersion (applyBody): the API server refuses it with 409 Conflict if the workload changed or was
// deleted since, and the pass is decided again on a fresh GET (withLatestWorkload). Our own
// writes are laid over the cache until the watch delivers them (client-go's MutationCache), so the pass after
// a patch sees it and does not run into that conflict.
import type { KubeMeta } from '../api/kube.js';
import { FIELD_MANAGER } from '../api/types.js';
import type { NamespacedRef } from '../k8s/api.js';
import { deepFreeze, type Interner } from '../k8s/intern.js';
import { Paths } from '../k8s/resources.js';
import { slimMeta, slimPodSpec } from '../k8s/slim.js';
import { isRecord } from '../runtime/json.js';
import { objectKey } from '../runtime/list-watch.js';
import type { Store } from '../runtime/store.js';
import type { RemediationApi } from './context.js';
import { slimManagedFields, type ManagedFieldsEntry } from './managed-fields.js';
import { templateHash, TEMPLATE_HASH_FIELD } from './workload-record.js';

type Obj = Record<string, unknown>;

interface CachedKind {
  apiVersion: string;
  /** Collection path of the watch. */
  path: string;
  /** Keys from the object's root to its pod template. */
  template: readonly string[];
  /** What remediation reads of the spec besides the template (rollout.ts, rollout-guard.ts). */
  spec: readonly string[];
}

/** The workload kinds remediation patches and caches (standalone ReplicaSets and Jobs are read with a GET). */
export const CACHED_WORKLOAD_KINDS = {
  Deployment: { apiVersion: 'apps/v1', path: Paths.deployments, template: ['spec', 'template'], spec: ['selector', 'replicas', 'progressDeadlineSeconds'] },
  StatefulSet: { apiVersion: 'apps/v1', path: Paths.statefulSets, template: ['spec', 'template'], spec: ['selector', 'replicas', 'updateStrategy'] },
  DaemonSet: { apiVersion: 'apps/v1', path: Paths.daemonSets, template: ['spec', 'template'], spec: ['selector', 'updateStrategy'] },
  CronJob: { apiVersion: 'batch/v1', path: Paths.cronJobs, template: ['spec', 'jobTemplate', 'spec', 'template'], spec: [] },
} as const satisfies Record<string, CachedKind>;

export type CachedWorkloadKind = keyof typeof CACHED_WORKLOAD_KINDS;

/** Status fields rolloutVerdict reads. */
const STATUS_FIELDS = [
  'observedGeneration', 'replicas', 'updatedReplicas', 'availableReplicas', 'readyReplicas', 'currentRevision', 'updateRevision',
  'updatedNumberScheduled', 'desiredNumberScheduled', 'numberAvailable',
] as const;

/** A cached workload: the API object's layout (every reader of a live workload reads it unchanged), slimmed. */
export interface CachedWorkload {
  apiVersion: string;
  kind: string;
  metadata: KubeMeta & { managedFields?: ManagedFieldsEntry[] };
  spec: Obj;
  status?: Obj;
  /** templateHash of the full pod spec, before slimming. */
  [TEMPLATE_HASH_FIELD]: string;
}

function isCachedKind(kind: unknown): kind is CachedWorkloadKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(CACHED_WORKLOAD_KINDS, kind);
}

function at(root: unknown, keys: readonly string[]): unknown {
  return keys.reduce<unknown>((v, k) => (isRecord(v) ? v[k] : undefined), root);
}

/** `leaf` nested under `keys` ({a: {b: leaf}} for [a, b]). */
function nest(keys: readonly string[], leaf: Obj): Obj {
  return keys.reduceRight<Obj>((inner, k) => ({ [k]: inner }), leaf);
}

function pickDefined(src: unknown, keys: readonly string[]): Obj {
  const out: Obj = {};
  if (isRecord(src)) for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  return out;
}

/**
 * A workload of `kindName` as the cache keeps it: slim, frozen, its pod spec shared through `interner`;
 * undefined if it has no pod template. The kind comes from the caller: the items of a LIST carry none.
 */
export function slimWorkload(raw: unknown, kindName: CachedWorkloadKind, interner?: Interner): CachedWorkload | undefined {
  if (!isRecord(raw)) return undefined;
  const kind: CachedKind = CACHED_WORKLOAD_KINDS[kindName];
  const fullMeta = slimMeta(raw['metadata'], { interner });
  const rawPodSpec = at(raw, [...kind.template, 'spec']);
  const podSpec = slimPodSpec(rawPodSpec);
  if (!fullMeta || !podSpec) return undefined;
  const { labels: _labels, ...meta } = fullMeta; // nothing reads a workload's own labels (its selector is in the spec)
  // Workloads patched alike carry the same field sets: one shared copy of each.
  const managedFields = slimManagedFields(raw, FIELD_MANAGER)
    .map((e) => (interner && isRecord(e.fieldsV1) ? { ...e, fieldsV1: interner.value(e.fieldsV1) } : e));
  const spec = { ...pickDefined(raw['spec'], kind.spec) };
  // The template's own metadata is never read; its spec is, at the same path as in the API object.
  const template = nest(kind.template.slice(1), { spec: interner ? interner.value(podSpec) : podSpec });
  Object.assign(spec, template);
  const status = isRecord(raw['status']) ? pickDefined(raw['status'], STATUS_FIELDS) : undefined;
  const conditions = at(raw, ['status', 'conditions']);
  // rolloutVerdict reads one condition: Progressing (ProgressDeadlineExceeded).
  const progressing = Array.isArray(conditions) ? conditions.filter((c) => isRecord(c) && c['type'] === 'Progressing') : [];
  if (status && progressing.length > 0) status['conditions'] = progressing.map((c) => pickDefined(c, ['type', 'status', 'reason']));
  const cached: CachedWorkload = {
    apiVersion: kind.apiVersion, kind: kindName,
    metadata: managedFields.length > 0 ? { ...meta, managedFields } : meta,
    spec,
    [TEMPLATE_HASH_FIELD]: templateHash(rawPodSpec),
  };
  if (status) cached.status = status;
  return deepFreeze(cached);
}

/** resourceVersion as a number: etcd's revision, which kube-apiserver hands out (client-go's MutationCache relies on it too). */
function revision(obj: CachedWorkload): number {
  return Number(obj.metadata.resourceVersion ?? NaN);
}

/** The answer to one of our writes, slimmed only if a read needs it before the watch delivers the write. */
interface Written {
  kind: CachedWorkloadKind;
  stored: Obj;
  revision: number;
  slim?: CachedWorkload;
}

/** The watch caches of the workload kinds, with our own writes laid over them until the watches catch up. */
export class WorkloadCache {
  private readonly written = new Map<string, Written>();

  constructor(private readonly stores: Readonly<Record<CachedWorkloadKind, Store<CachedWorkload>>>) {
    for (const [kind, store] of Object.entries(stores)) {
      store.onChange((ev) => {
        const key = `${kind}/${ev.key}`;
        const mine = this.written.get(key);
        if (mine && (ev.type === 'deleted' || !(mine.revision > revision(ev.obj)))) this.written.delete(key);
      });
    }
  }

  /** The cached workload (or our newer write of it); undefined when its kind is not cached or the cache lacks it. */
  get(ref: NamespacedRef): Obj | undefined {
    if (!isCachedKind(ref.kind) || CACHED_WORKLOAD_KINDS[ref.kind].apiVersion !== ref.apiVersion) return undefined;
    const cached = this.stores[ref.kind].get(objectKey(ref));
    if (!cached) return undefined;
    const mine = this.written.get(`${ref.kind}/${objectKey(ref)}`);
    if (mine && mine.revision > revision(cached)) {
      mine.slim ??= slimWorkload(mine.stored, mine.kind);
      if (mine.slim) return mine.slim as unknown as Obj;
    }
    return cached as unknown as Obj;
  }

  /**
   * Remembers a workload as our write left it (the API server's answer), until the watch delivers it or a
   * newer version. Usually the watch is first to be read again, so the answer is slimmed only when needed.
   */
  remember(stored: Obj): void {
    const kind = stored['kind'];
    const meta = isRecord(stored['metadata']) ? stored['metadata'] : {};
    if (!isCachedKind(kind) || typeof meta['name'] !== 'string') return;
    const key = objectKey({ namespace: typeof meta['namespace'] === 'string' ? meta['namespace'] : undefined, name: meta['name'] });
    const cached = this.stores[kind].get(key);
    const written: Written = { kind, stored, revision: Number(meta['resourceVersion'] ?? NaN) };
    // Only over what the cache holds: a workload it has not seen (or saw deleted) is read with a GET.
    if (cached && written.revision > revision(cached)) this.written.set(`${kind}/${key}`, written);
  }

  /** Writes remembered and not yet delivered by the watches (for tests). */
  get pendingWrites(): number {
    return this.written.size;
  }
}

/** Remediation's API port reading workloads from `cache` first; every workload it writes is remembered there. */
export function cachedRemediationApi(api: RemediationApi, cache: WorkloadCache): RemediationApi {
  return {
    listRemediatedWorkloads: (signal) => api.listRemediatedWorkloads(signal),
    getWorkload: (ref, signal) => api.getWorkload(ref, signal),
    cachedWorkload: (ref) => cache.get(ref),
    applyWorkload: async (ref, body, signal) => {
      const stored = await api.applyWorkload(ref, body, signal);
      cache.remember(stored);
      return stored;
    },
    listPods: (namespace, selector, signal) => api.listPods(namespace, selector, signal),
    evictPod: (namespace, name, uid, signal) => api.evictPod(namespace, name, uid, signal),
  };
}
