// A pod-template fragment: the part of a workload's pod spec that the operator sets by server-side apply.
// Only three kinds of fields ever appear — container securityContext fields (capabilities.add among them,
// set whole because the API declares it atomic), volumeMounts keyed by
// mountPath, volumes keyed by name — always addressed through the list keys the API server merges on
// (container name, mountPath, volume name), never by index. Pure.
import { isRecord } from '../runtime/json.js';
import { parsePointer } from '../policy/json-patch.js';
import type { JsonPatchOperation } from '../policy/index.js';
import { LABEL_REMEDIATED } from '../api/types.js';

export type ContainerList = 'containers' | 'initContainers';
export const CONTAINER_LISTS: readonly ContainerList[] = ['containers', 'initContainers'];

export interface ContainerFragment {
  name: string;
  securityContext?: Record<string, unknown>;
  /** Each with at least `mountPath` (the merge key) and `name`. */
  volumeMounts?: Record<string, unknown>[];
}

export interface TemplateFragment {
  containers?: ContainerFragment[];
  initContainers?: ContainerFragment[];
  /** Each with at least `name` (the merge key). */
  volumes?: Record<string, unknown>[];
}

export class FragmentError extends Error {
  override readonly name = 'FragmentError';
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function containerEntry(fragment: TemplateFragment, list: ContainerList, name: string): ContainerFragment {
  const entries = (fragment[list] ??= []);
  let entry = entries.find((c) => c.name === name);
  if (!entry) {
    entry = { name };
    entries.push(entry);
  }
  return entry;
}

function upsertBy(list: Record<string, unknown>[], key: string, item: Record<string, unknown>): void {
  const index = list.findIndex((x) => x[key] === item[key]);
  if (index >= 0) list[index] = { ...list[index], ...item };
  else list.push(item);
}

/**
 * The apply configuration fragment a plan's JSON patch stands for, plus the values the patch replaced (so a
 * rollback can restore exactly them). `podSpec` is the template the plan was computed from and `podSpecPath`
 * its JSON pointer in the workload. Throws FragmentError for an operation the operator never emits: the
 * fragment must describe the plan exactly or not at all.
 */
export function fragmentFromPlan(
  podSpec: unknown,
  podSpecPath: string,
  operations: readonly JsonPatchOperation[],
): { fragment: TemplateFragment; previous: TemplateFragment } {
  const spec = isRecord(podSpec) ? podSpec : {};
  const base = parsePointer(podSpecPath);
  const fragment: TemplateFragment = {};
  const previous: TemplateFragment = {};
  for (const op of operations) {
    const tokens = parsePointer(op.path);
    const unexpected = (): FragmentError => new FragmentError(`cannot express ${op.op} ${op.path} as an apply configuration`);
    if (tokens.length <= base.length || base.some((t, i) => tokens[i] !== t)) throw unexpected();
    const [field, ...rest] = tokens.slice(base.length);
    if (op.op !== 'add' && op.op !== 'replace') throw unexpected();

    if (field === 'volumes') {
      const values = rest.length === 0 && Array.isArray(op.value) ? op.value
        : rest.length === 1 && rest[0] === '-' ? [op.value] : undefined;
      if (!values || !values.every(isRecord) || !values.every((v) => typeof v['name'] === 'string')) throw unexpected();
      for (const v of values) upsertBy((fragment.volumes ??= []), 'name', { ...v });
      continue;
    }
    if (field !== 'containers' && field !== 'initContainers') throw unexpected();
    const [indexToken, sub, ...tail] = rest;
    const container = records(spec[field])[Number(indexToken)];
    const name = container?.['name'];
    if (indexToken === undefined || !/^\d+$/.test(indexToken) || typeof name !== 'string') throw unexpected();
    const entry = containerEntry(fragment, field, name);

    if (sub === 'securityContext') {
      if (tail.length === 0 && op.op === 'add' && isRecord(op.value)) {
        entry.securityContext = { ...entry.securityContext, ...op.value };
        continue;
      }
      if (tail.length === 2 && tail[0] === 'capabilities' && tail[1] === 'add' && Array.isArray(op.value)) {
        // capabilities.add is an atomic list: the fragment carries the whole remaining list.
        entry.securityContext = { ...entry.securityContext, capabilities: { add: op.value } };
        const current = container?.['securityContext'];
        const capabilities = isRecord(current) ? current['capabilities'] : undefined;
        if (isRecord(capabilities) && Array.isArray(capabilities['add'])) {
          const prev = containerEntry(previous, field, name);
          prev.securityContext = { ...prev.securityContext, capabilities: { add: capabilities['add'] } };
        }
        continue;
      }
      const [key] = tail;
      if (tail.length !== 1 || key === undefined) throw unexpected();
      entry.securityContext = { ...entry.securityContext, [key]: op.value };
      const current = container?.['securityContext'];
      if (op.op === 'replace' && isRecord(current) && Object.prototype.hasOwnProperty.call(current, key)) {
        const prev = containerEntry(previous, field, name);
        prev.securityContext = { ...prev.securityContext, [key]: current[key] };
      }
      continue;
    }
    if (sub === 'volumeMounts') {
      const values = tail.length === 0 && Array.isArray(op.value) ? op.value
        : tail.length === 1 && tail[0] === '-' ? [op.value] : undefined;
      if (!values || !values.every(isRecord) || !values.every((m) => typeof m['mountPath'] === 'string')) throw unexpected();
      for (const m of values) upsertBy((entry.volumeMounts ??= []), 'mountPath', { ...m });
      continue;
    }
    throw unexpected();
  }
  return { fragment, previous };
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
 */
export function applyBody(target: ApplyTarget, fragment: TemplateFragment, annotations: Record<string, string>): Record<string, unknown> {
  // The label marks the workload as one we wrote to (its action records are found by a label selector).
  const metadata: Record<string, unknown> = { name: target.name, namespace: target.namespace, labels: { [LABEL_REMEDIATED]: 'true' } };
  if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
  const body: Record<string, unknown> = { apiVersion: target.apiVersion, kind: target.kind, metadata };
  if (!isEmptyFragment(fragment)) {
    const spec = nest(target.podSpecPath, fragment as Record<string, unknown>);
    Object.assign(body, spec);
  }
  return body;
}
