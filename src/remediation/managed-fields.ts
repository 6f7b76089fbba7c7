// Reading `metadata.managedFields`: which template fields the operator owns (so every apply restates them
// and never drops another policy's or an earlier patch's fields), and whether a GitOps tool owns the spec.
// Pure.
import { isRecord } from '../runtime/json.js';
import { parsePointer } from '../policy/json-patch.js';
import { CONTAINER_LISTS, type ContainerFragment, type TemplateFragment } from './fragment.js';

/**
 * Field managers of tools that reconcile workloads from a source of truth (Git, a chart). Patching a workload
 * they own only starts a tug of war — they restore their version on the next sync — so the operator reports
 * the patch instead. Argo CD (both names it has used), Flux's kustomize and helm controllers, and Helm itself.
 */
export const GITOPS_MANAGERS: readonly string[] = [
  'argocd-controller',
  'argocd-application-controller',
  'kustomize-controller',
  'helm-controller',
  'helm',
];

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  time?: string;
  fieldsV1?: unknown;
}

export function managedFieldsOf(obj: unknown): ManagedFieldsEntry[] {
  const metadata = isRecord(obj) ? obj['metadata'] : undefined;
  const entries = isRecord(metadata) ? metadata['managedFields'] : undefined;
  return Array.isArray(entries) ? entries.filter(isRecord) : [];
}

/**
 * managedFields reduced to what the readers below use, for the workload cache: `self`'s own apply whole
 * (ownedFragment reads its field set), and the other entries that reach under `spec` (touchesSpec: the only
 * ones gitOpsManagersOf and lastSpecWriter look at) with their manager, operation, subresource and time and
 * a bare `f:spec` for a field set. A Deployment's entries hold a fieldsV1 tree per writer, usually its
 * largest part.
 */
export function slimManagedFields(obj: unknown, self: string): ManagedFieldsEntry[] {
  const ours = (e: ManagedFieldsEntry): boolean => e.manager === self && e.operation === 'Apply';
  return managedFieldsOf(obj).filter((e) => ours(e) || touchesSpec(e)).map((e) => {
    const out: ManagedFieldsEntry = {};
    if (typeof e.manager === 'string') out.manager = e.manager;
    if (typeof e.operation === 'string') out.operation = e.operation;
    if (typeof e.subresource === 'string') out.subresource = e.subresource;
    if (typeof e.time === 'string') out.time = e.time;
    out.fieldsV1 = ours(e) ? e.fieldsV1 : { 'f:spec': {} };
    return out;
  });
}

function touchesSpec(entry: ManagedFieldsEntry): boolean {
  return (entry.subresource === undefined || entry.subresource === '') &&
    (entry.operation === 'Apply' || entry.operation === 'Update') &&
    isRecord(entry.fieldsV1) && isRecord(entry.fieldsV1['f:spec']);
}

/** GitOps managers (of `managers`) that own fields under `spec`; empty when none. */
export function gitOpsManagersOf(obj: unknown, managers: readonly string[] = GITOPS_MANAGERS): string[] {
  const found = managedFieldsOf(obj)
    .filter((e) => typeof e.manager === 'string' && managers.includes(e.manager) && touchesSpec(e))
    .map((e) => e.manager as string);
  return [...new Set(found)].sort();
}

/** The manager other than `self` that wrote the spec most recently (who reverted our change, usually). */
export function lastSpecWriter(obj: unknown, self: string): string | undefined {
  let best: ManagedFieldsEntry | undefined;
  for (const e of managedFieldsOf(obj)) {
    if (e.manager === self || !touchesSpec(e)) continue;
    if (!best || (e.time ?? '') > (best.time ?? '')) best = e;
  }
  return best?.manager;
}

/** `k:{"name":"app"}` → { name: 'app' }. */
function parseKey(token: string): Record<string, unknown> | undefined {
  if (!token.startsWith('k:')) return undefined;
  try {
    const parsed: unknown = JSON.parse(token.slice(2));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function child(fields: unknown, name: string): Record<string, unknown> | undefined {
  const value = isRecord(fields) ? fields[`f:${name}`] : undefined;
  return isRecord(value) ? value : undefined;
}

function ownedFieldNames(fields: Record<string, unknown>): string[] {
  return Object.keys(fields).filter((k) => k.startsWith('f:')).map((k) => k.slice(2));
}

/** Live items of a keyed list for which `fields` holds ownership, restricted to the owned top-level fields. */
function ownedItems(fields: Record<string, unknown> | undefined, live: unknown, keyField: string): Record<string, unknown>[] {
  if (!fields) return [];
  const items = Array.isArray(live) ? live.filter(isRecord) : [];
  const out: Record<string, unknown>[] = [];
  for (const [token, sub] of Object.entries(fields)) {
    const key = parseKey(token);
    const keyValue = key?.[keyField];
    const item = items.find((i) => i[keyField] === keyValue);
    if (keyValue === undefined || !item || !isRecord(sub)) continue;
    const picked: Record<string, unknown> = { [keyField]: keyValue };
    for (const name of ownedFieldNames(sub)) if (item[name] !== undefined) picked[name] = item[name];
    out.push(picked);
  }
  return out;
}

/**
 * What `manager` currently owns under the pod spec at `podSpecPath`, with the live values — the apply
 * configuration client-go's `Extract*` functions would give, limited to the fields this operator ever sets.
 */
export function ownedFragment(obj: unknown, podSpecPath: string, manager: string): TemplateFragment {
  const entry = managedFieldsOf(obj).find((e) => e.manager === manager && e.operation === 'Apply' && !e.subresource);
  let fields: unknown = entry?.fieldsV1;
  let live: unknown = obj;
  for (const token of parsePointer(podSpecPath)) {
    fields = child(fields, token);
    live = isRecord(live) ? live[token] : undefined;
  }
  if (!isRecord(fields) || !isRecord(live)) return {};
  const fragment: TemplateFragment = {};
  for (const list of CONTAINER_LISTS) {
    const listFields = child(fields, list);
    if (!listFields) continue;
    const containers = Array.isArray(live[list]) ? (live[list] as unknown[]).filter(isRecord) : [];
    const owned: ContainerFragment[] = [];
    for (const [token, sub] of Object.entries(listFields)) {
      const name = parseKey(token)?.['name'];
      const container = containers.find((c) => c['name'] === name);
      if (typeof name !== 'string' || !container || !isRecord(sub)) continue;
      const entryOut: ContainerFragment = { name };
      const scFields = child(sub, 'securityContext');
      const sc = container['securityContext'];
      if (scFields && isRecord(sc)) {
        const picked = Object.fromEntries(ownedFieldNames(scFields).filter((k) => sc[k] !== undefined).map((k) => [k, sc[k]]));
        if (Object.keys(picked).length > 0) entryOut.securityContext = picked;
      }
      const mounts = ownedItems(child(sub, 'volumeMounts'), container['volumeMounts'], 'mountPath');
      if (mounts.length > 0) entryOut.volumeMounts = mounts;
      if (entryOut.securityContext || entryOut.volumeMounts) owned.push(entryOut);
    }
    if (owned.length > 0) fragment[list] = owned;
  }
  const volumes = ownedItems(child(fields, 'volumes'), live['volumes'], 'name');
  if (volumes.length > 0) fragment.volumes = volumes;
  return fragment;
}
