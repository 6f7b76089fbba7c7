// Pod-template fragments — the server-side apply configurations the plan produces (TemplateFragment,
// src/policy/types.ts) — merged, subtracted and wrapped into complete apply bodies. Pure.
import { LABEL_REMEDIATED } from '../api/types.js';
import { parsePointer } from '../policy/json-patch.js';
import type { ContainerFragment, TemplateFragment } from '../policy/index.js';
import { isRecord } from '../runtime/json.js';

export type { ContainerFragment, TemplateFragment } from '../policy/index.js';

export type ContainerList = 'containers' | 'initContainers';
export const CONTAINER_LISTS: readonly ContainerList[] = ['containers', 'initContainers'];

function upsertBy(list: Record<string, unknown>[], key: string, item: Record<string, unknown>): void {
  const index = list.findIndex((x) => x[key] === item[key]);
  if (index >= 0) list[index] = { ...list[index], ...item };
  else list.push(item);
}

/** Copies of `a`'s items with `b`'s laid over them, matched by `key` (neither input changes). */
function mergeBy(
  a: readonly Record<string, unknown>[] | undefined, b: readonly Record<string, unknown>[] | undefined, key: string,
): Record<string, unknown>[] {
  const out = (a ?? []).map((x) => ({ ...x }));
  for (const item of b ?? []) upsertBy(out, key, { ...item });
  return out;
}

function mergeContainer(a: ContainerFragment, b: ContainerFragment): ContainerFragment {
  const out: ContainerFragment = { name: a.name };
  if (a.securityContext || b.securityContext) out.securityContext = { ...a.securityContext, ...b.securityContext };
  if (a.volumeMounts || b.volumeMounts) out.volumeMounts = mergeBy(a.volumeMounts, b.volumeMounts, 'mountPath');
  return out;
}

/** `a` with `b` laid over it (b wins field by field, list items merged by their keys). */
export function mergeFragments(a: TemplateFragment, b: TemplateFragment): TemplateFragment {
  const out: TemplateFragment = {};
  for (const list of CONTAINER_LISTS) {
    const merged = (a[list] ?? []).map((c) => mergeContainer(c, { name: c.name }));
    for (const c of b[list] ?? []) {
      const index = merged.findIndex((x) => x.name === c.name);
      if (index >= 0) merged[index] = mergeContainer(merged[index] as ContainerFragment, c);
      else merged.push(mergeContainer(c, { name: c.name }));
    }
    if (merged.length > 0) out[list] = merged;
  }
  if (a.volumes || b.volumes) out.volumes = mergeBy(a.volumes, b.volumes, 'name');
  return out;
}

/**
 * `a` without every field `b` sets (securityContext keys, mounts by mountPath, volumes by name); containers
 * left with nothing but their name are dropped, so we stop co-owning them.
 */
export function subtractFragment(a: TemplateFragment, b: TemplateFragment): TemplateFragment {
  const out: TemplateFragment = {};
  for (const list of CONTAINER_LISTS) {
    const kept: ContainerFragment[] = [];
    for (const c of a[list] ?? []) {
      const other = b[list]?.find((x) => x.name === c.name);
      const next: ContainerFragment = { name: c.name };
      const sc = Object.entries(c.securityContext ?? {}).filter(([k]) => !other?.securityContext || !(k in other.securityContext));
      if (sc.length > 0) next.securityContext = Object.fromEntries(sc);
      const mounts = (c.volumeMounts ?? []).filter((m) => !other?.volumeMounts?.some((o) => o['mountPath'] === m['mountPath']));
      if (mounts.length > 0) next.volumeMounts = mounts;
      if (next.securityContext || next.volumeMounts) kept.push(next);
    }
    if (kept.length > 0) out[list] = kept;
  }
  const volumes = (a.volumes ?? []).filter((v) => !b.volumes?.some((o) => o['name'] === v['name']));
  if (volumes.length > 0) out.volumes = volumes;
  return out;
}

export function isEmptyFragment(f: TemplateFragment): boolean {
  return CONTAINER_LISTS.every((l) => (f[l]?.length ?? 0) === 0) && (f.volumes?.length ?? 0) === 0;
}

/** The pointer tokens from the workload root to its pod spec, for building nested apply bodies. */
function nest(pointer: string, leaf: Record<string, unknown>): Record<string, unknown> {
  return parsePointer(pointer).reduceRight<Record<string, unknown>>((inner, token) => ({ [token]: inner }), leaf);
}

export interface ApplyTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  podSpecPath: string;
}

/**
 * A complete server-side apply body: identity, our annotations, and the fragment at the pod spec. Fields we
 * applied before and leave out now are removed by the API server (unless another manager owns them too).
 *
 * `basedOn` is the workload the body was computed from (its annotations, the fields we own): its uid and
 * resourceVersion (when it has one: withLatestWorkload drops a fresh read's) go along as preconditions, so
 * the API server refuses a body computed from a version someone has changed since, or from a workload deleted
 * since (which an apply would otherwise try to create): 409 Conflict; without the resourceVersion, a workload
 * replaced by a namesake is refused with 422 on metadata.uid (isStaleWrite covers both).
 */
export function applyBody(
  target: ApplyTarget, fragment: TemplateFragment, annotations: Record<string, string>, basedOn: unknown,
): Record<string, unknown> {
  // The label marks the workload as one we wrote to (its action records are found by a label selector).
  const metadata: Record<string, unknown> = { name: target.name, namespace: target.namespace, labels: { [LABEL_REMEDIATED]: 'true' } };
  const live = isRecord(basedOn) && isRecord(basedOn['metadata']) ? basedOn['metadata'] : {};
  if (typeof live['uid'] === 'string') metadata['uid'] = live['uid'];
  if (typeof live['resourceVersion'] === 'string') metadata['resourceVersion'] = live['resourceVersion'];
  if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
  const body: Record<string, unknown> = { apiVersion: target.apiVersion, kind: target.kind, metadata };
  if (!isEmptyFragment(fragment)) {
    const spec = nest(target.podSpecPath, fragment as Record<string, unknown>);
    Object.assign(body, spec);
  }
  return body;
}
