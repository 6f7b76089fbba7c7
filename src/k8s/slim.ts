// Slim cache entries: only what evaluation, matching and owner resolution read. Dropping managedFields,
// status and unused spec keeps 10k pods in a few tens of MiB and makes change detection cheap.
import type { Container, KubeMeta, OwnerReference, Pod, PodSpec, Volume, VolumeMount } from '../api/kube.js';
import { GROUP } from '../api/types.js';
import { isRecord } from '../runtime/json.js';

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

export function slimMeta(raw: unknown, opts: { annotations?: 'own' | 'none' } = {}): KubeMeta | undefined {
  if (!isRecord(raw) || typeof raw.name !== 'string') return undefined;
  const meta: KubeMeta = { name: raw.name };
  if (typeof raw.namespace === 'string') meta.namespace = raw.namespace;
  if (typeof raw.uid === 'string') meta.uid = raw.uid;
  if (typeof raw.resourceVersion === 'string') meta.resourceVersion = raw.resourceVersion;
  if (typeof raw.generation === 'number') meta.generation = raw.generation;
  if (isRecord(raw.labels)) meta.labels = raw.labels as Record<string, string>;
  if (opts.annotations !== 'none') {
    const annotations = ownAnnotations(raw.annotations);
    if (annotations) meta.annotations = annotations;
  }
  if (Array.isArray(raw.ownerReferences)) {
    meta.ownerReferences = raw.ownerReferences
      .map((o) => pick<OwnerReference>(o, ['apiVersion', 'kind', 'name', 'uid', 'controller']))
      .filter((o): o is OwnerReference => o !== undefined);
  }
  if (typeof raw.deletionTimestamp === 'string') meta.deletionTimestamp = raw.deletionTimestamp;
  return meta;
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

export function slimPod(raw: unknown): Pod | undefined {
  if (!isRecord(raw)) return undefined;
  const metadata = slimMeta(raw.metadata);
  const spec = slimPodSpec(raw.spec);
  if (!metadata || !spec) return undefined;
  const pod: Pod = { metadata, spec };
  if (isRecord(raw.status) && typeof raw.status.phase === 'string') pod.status = { phase: raw.status.phase };
  return pod;
}

export interface SlimOwned {
  metadata: KubeMeta;
}

/** ReplicaSets and Jobs: only their own owner references matter (for Pod → RS → Deployment). */
export function slimOwned(raw: unknown): SlimOwned | undefined {
  if (!isRecord(raw)) return undefined;
  const metadata = slimMeta(raw.metadata, { annotations: 'none' });
  return metadata ? { metadata } : undefined;
}

export interface SlimNamespace {
  metadata: { name: string; labels?: Record<string, string> };
}

export function slimNamespace(raw: unknown): SlimNamespace | undefined {
  if (!isRecord(raw) || !isRecord(raw.metadata) || typeof raw.metadata.name !== 'string') return undefined;
  const labels = isRecord(raw.metadata.labels) ? (raw.metadata.labels as Record<string, string>) : undefined;
  return { metadata: labels ? { name: raw.metadata.name, labels } : { name: raw.metadata.name } };
}
