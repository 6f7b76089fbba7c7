// What a pod update changed, for the decisions about which controllers it wakes (manager.ts) and whether it is
// our own metadata write coming back (pod-reconciler.ts). Cached pods are slim and frozen, and an update keeps
// the cached parts it did not change (src/k8s/slim.ts): most comparisons end at an identity check.
import type { Pod } from '../api/kube.js';
import { deepEqual } from '../runtime/json.js';

/**
 * Whether `old` and `obj` are the same pod but for the labels in `labels` and the annotations in `annotations`:
 * spec, status and every other metadata field (uid, owners, deletionTimestamp, other labels) equal.
 */
export function podChangedOnlyIn(old: Pod, obj: Pod, labels: readonly string[], annotations: readonly string[]): boolean {
  if (!deepEqual(old.spec, obj.spec) || !deepEqual(old.status, obj.status)) return false;
  const a = old.metadata as unknown as Record<string, unknown>;
  const b = obj.metadata as unknown as Record<string, unknown>;
  for (const k of Object.keys(a)) if (k !== 'labels' && k !== 'annotations' && !deepEqual(a[k], b[k])) return false;
  for (const k of Object.keys(b)) if (k !== 'labels' && k !== 'annotations' && !(k in a) && b[k] !== undefined) return false;
  return sameExcept(old.metadata.labels, obj.metadata.labels, labels) &&
    sameExcept(old.metadata.annotations, obj.metadata.annotations, annotations);
}

function sameExcept(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined, keys: readonly string[]): boolean {
  if (a === b) return true;
  const x = a ?? {};
  const y = b ?? {};
  for (const k of Object.keys(x)) if (!keys.includes(k) && x[k] !== y[k]) return false;
  for (const k of Object.keys(y)) if (!keys.includes(k) && !(k in x)) return false;
  return true;
}
