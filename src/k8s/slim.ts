// Slim cache entries: only what evaluation, matching and owner resolution read. Dropping managedFields,
// status and unused spec keeps 10k pods in a few tens of MiB and makes change detection cheap. With an
// Interner, the parts pods of one workload share (spec, labels, owner references, namespace) are one frozen
// copy for all of them.
import type { Container, KubeMeta, OwnerReference, Pod, PodSpec, Volume, VolumeMount } from '../api/kube.js';
import { GROUP } from '../api/types.js';
import { deepEqual, isRecord } from '../runtime/json.js';
import { deepFreeze, type Interner } from './intern.js';

type Raw = Record<string, unknown>;


function pick<T extends object>(src: unknown, keys: readonly (keyof T & string)[]): Partial<T> | undefined {
  if (!isRecord(src)) return undefined;
  const out: Raw = {};
  for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  return out as Partial<T>;
}

/** Keeps only our own annotations: others can be large (last-applied-configuration) and are never read. */
function ownAnnotations(a: unknown): Record<string, string> | undefined {
  if (!isRecord(a)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) if (k.startsWith(`${GROUP}/`) && typeof v === 'string') out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

export interface SlimMetaOptions {
  annotations?: 'own' | 'none';
  /**
   * Keep metadata.resourceVersion (default). Cached pods drop it: nothing reads it (the reflector tracks the
   * watch's version from the raw event), and without it an event that changed nothing we keep (a status
   * update, another manager's write) is not a change that wakes three controllers.
   */
  resourceVersion?: boolean;
  interner?: Interner;
  /**
   * The cached slim form of the same object, if any: its parts (and strings) that are equal to the new ones
   * are kept instead of the new copies. Every write to a pod comes back through the watch as the whole pod;
   * most of it did not change, and keeping the cached parts spares the interner's look-up (a JSON text of
   * each part) and lets the new copies die young instead of being promoted to the old generation.
   */
  previous?: KubeMeta | undefined;
}

export function slimMeta(raw: unknown, opts: SlimMetaOptions = {}): KubeMeta | undefined {
  if (!isRecord(raw) || typeof raw.name !== 'string') return undefined;
  const share = opts.interner;
  const prev = opts.previous;
  const meta: KubeMeta = { name: same(prev?.name, raw.name) };
  if (typeof raw.namespace === 'string') meta.namespace = prev?.namespace === raw.namespace ? prev.namespace : share ? share.string(raw.namespace) : raw.namespace;
  if (typeof raw.uid === 'string') meta.uid = same(prev?.uid, raw.uid);
  if (typeof raw.resourceVersion === 'string' && opts.resourceVersion !== false) meta.resourceVersion = raw.resourceVersion;
  if (typeof raw.generation === 'number') meta.generation = raw.generation;
  if (isRecord(raw.labels)) meta.labels = shared(share, raw.labels as Record<string, string>, prev?.labels);
  if (opts.annotations !== 'none') {
    const annotations = ownAnnotations(raw.annotations);
    if (annotations) meta.annotations = shared(share, annotations, prev?.annotations);
  }
  if (Array.isArray(raw.ownerReferences)) {
    meta.ownerReferences = shared(share, raw.ownerReferences
      .map((o) => pick<OwnerReference>(o, ['apiVersion', 'kind', 'name', 'uid', 'controller']))
      .filter((o): o is OwnerReference => o !== undefined), prev?.ownerReferences);
  }
  if (typeof raw.deletionTimestamp === 'string') meta.deletionTimestamp = same(prev?.deletionTimestamp, raw.deletionTimestamp);
  return meta;
}

/** The cached copy of a string when it is equal: the new one is garbage at once. */
function same(previous: string | undefined, value: string): string {
  return previous === value ? previous : value;
}

/**
 * The cached part when it equals `value`; else the interned copy when there is an interner; else the value
 * itself, frozen all the same.
 */
function shared<T extends object>(interner: Interner | undefined, value: T, previous?: T): T {
  if (previous !== undefined && deepEqual(previous, value)) return previous;
  return interner ? interner.value(value) : deepFreeze(value);
}

function slimContainer(raw: unknown): Container | undefined {
  const c = pick<Container>(raw, ['name', 'image', 'securityContext']);
  if (!c) return undefined;
  if (isRecord(raw) && Array.isArray(raw.volumeMounts)) {
    // readOnly: hostPathWritable judges it (every field a rule in policy/rules.ts reads must survive slimming).
    c.volumeMounts = raw.volumeMounts.map((m) => pick<VolumeMount>(m, ['name', 'mountPath', 'readOnly']))
      .filter((m): m is VolumeMount => m !== undefined);
  }
  return c as Container;
}

function slimContainers(raw: unknown): Container[] | undefined {
  return Array.isArray(raw) ? raw.map(slimContainer).filter((c): c is Container => c !== undefined) : undefined;
}

export function slimPodSpec(raw: unknown): PodSpec | undefined {
  // The API server never stores a pod without containers; anything else is not a pod spec we can judge.
  if (!isRecord(raw) || !Array.isArray(raw.containers)) return undefined;
  const spec: PodSpec = { containers: slimContainers(raw.containers) ?? [] };
  const init = slimContainers(raw.initContainers);
  if (init) spec.initContainers = init;
  const ephemeral = slimContainers(raw.ephemeralContainers);
  if (ephemeral) spec.ephemeralContainers = ephemeral;
  if (Array.isArray(raw.volumes)) {
    spec.volumes = raw.volumes.map((v) => pick<Volume>(v, ['name', 'emptyDir', 'hostPath'])).filter((v): v is Volume => v !== undefined);
  }
  if (isRecord(raw.securityContext)) spec.securityContext = pick(raw.securityContext, ['runAsNonRoot', 'runAsUser']);
  if (isRecord(raw.os)) spec.os = raw.os as { name: string };
  if (typeof raw.hostUsers === 'boolean') spec.hostUsers = raw.hostUsers;
  if (typeof raw.nodeName === 'string') spec.nodeName = raw.nodeName;
  return spec;
}

/**
 * A cached pod: slim, frozen, its shared parts interned when `interner` is given. With `previous` (the cached
 * pod of the same key), equal parts are the cached ones, and a pod equal to it in all we keep is `previous`
 * itself: a watch event that changed nothing we keep allocates nothing that outlives it.
 */
export function slimPod(raw: unknown, interner?: Interner, previous?: Pod): Pod | undefined {
  if (!isRecord(raw)) return undefined;
  const metadata = slimMeta(raw.metadata, { resourceVersion: false, interner, previous: previous?.metadata });
  const spec = slimPodSpec(raw.spec);
  if (!metadata || !spec) return undefined;
  const pod: Pod = { metadata, spec: shared(interner, spec, previous?.spec) };
  if (isRecord(raw.status) && typeof raw.status.phase === 'string') {
    pod.status = shared(interner, { phase: raw.status.phase }, previous?.status as { phase: string } | undefined);
  }
  if (previous !== undefined && samePod(previous, pod)) return previous;
  Object.freeze(metadata);
  return Object.freeze(pod);
}

/** Whether `next`, built with `previous`'s parts where equal, is equal to it: its parts are then identical. */
function samePod(previous: Pod, next: Pod): boolean {
  return previous.spec === next.spec && previous.status === next.status && sameFields(previous.metadata, next.metadata);
}

function sameFields(a: object, b: object): boolean {
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const k of ak) if ((a as Raw)[k] !== (b as Raw)[k]) return false;
  return true;
}

export interface SlimOwned {
  metadata: KubeMeta;
}

/** ReplicaSets and Jobs: only their own owner references matter (for Pod → RS → Deployment). */
export function slimOwned(raw: unknown, interner?: Interner): SlimOwned | undefined {
  if (!isRecord(raw)) return undefined;
  const metadata = slimMeta(raw.metadata, { annotations: 'none', resourceVersion: false, interner });
  return metadata ? { metadata } : undefined;
}

export interface SlimNamespace {
  metadata: { name: string; labels?: Record<string, string> };
}

export function slimNamespace(raw: unknown): SlimNamespace | undefined {
  if (!isRecord(raw) || !isRecord(raw.metadata) || typeof raw.metadata.name !== 'string') return undefined;
  // Frozen like every cached object: verdicts are remembered by the identity of these labels (controllers/assess.ts).
  const labels = isRecord(raw.metadata.labels) ? deepFreeze(raw.metadata.labels as Record<string, string>) : undefined;
  return { metadata: labels ? { name: raw.metadata.name, labels } : { name: raw.metadata.name } };
}
