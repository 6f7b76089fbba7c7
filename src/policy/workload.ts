// The unit the engine evaluates and patches: a Pod or a workload with a pod template. Each supported kind
// keeps its pod spec at a fixed place; anything else is rejected with a message a user can act on.
import type { PodSpec } from '../api/kube.js';
import type { WorkloadKind } from '../api/types.js';
import { isRecord } from '../runtime/json.js';
import { nonEmptyString } from './guards.js';
import type { Workload } from './types.js';

interface KindLayout {
  /** API group the kind is served from ("" is the core group). */
  group: string;
  podSpecPath: string;
}

const LAYOUTS: Readonly<Record<WorkloadKind, KindLayout>> = {
  Pod: { group: '', podSpecPath: '/spec' },
  Deployment: { group: 'apps', podSpecPath: '/spec/template/spec' },
  StatefulSet: { group: 'apps', podSpecPath: '/spec/template/spec' },
  DaemonSet: { group: 'apps', podSpecPath: '/spec/template/spec' },
  ReplicaSet: { group: 'apps', podSpecPath: '/spec/template/spec' },
  Job: { group: 'batch', podSpecPath: '/spec/template/spec' },
  CronJob: { group: 'batch', podSpecPath: '/spec/jobTemplate/spec/template/spec' },
};

const SUPPORTED_KINDS = Object.keys(LAYOUTS).join(', ');

function isWorkloadKind(kind: string): kind is WorkloadKind {
  return Object.prototype.hasOwnProperty.call(LAYOUTS, kind);
}

/** "apps/v1" → "apps", "v1" → "". */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Walks a JSON pointer of plain object keys; undefined when any step is missing or not an object. */
function objectAt(root: Record<string, unknown>, pointer: string): Record<string, unknown> | undefined {
  let current: unknown = root;
  for (const token of pointer.split('/').slice(1)) {
    if (!isRecord(current)) return undefined;
    current = current[token];
  }
  return isRecord(current) ? current : undefined;
}

/**
 * Reads a workload from a parsed manifest or API object. A kind with a supported name but another API group
 * (Volcano's batch.volcano.sh Job, say) is rejected, since its pod template lives elsewhere. An object without
 * `metadata.namespace` (an offline manifest) is placed in "default", as kubectl would.
 */
export function workloadFromObject(obj: unknown): Workload | { error: string } {
  if (!isRecord(obj)) return { error: 'object is not a mapping' };
  const kind = nonEmptyString(obj['kind']);
  if (kind === undefined) return { error: 'object has no kind' };
  if (!isWorkloadKind(kind)) return { error: `kind ${kind} is not supported (supported: ${SUPPORTED_KINDS})` };
  const layout = LAYOUTS[kind];
  const apiVersion = obj['apiVersion'];
  if (apiVersion !== undefined) {
    if (typeof apiVersion !== 'string' || groupOf(apiVersion) !== layout.group) {
      const expected = layout.group === '' ? 'the core API group (v1)' : `API group ${layout.group}`;
      return { error: `${kind} of apiVersion ${JSON.stringify(apiVersion)} is not supported: expected ${expected}` };
    }
  }
  const metadata = obj['metadata'];
  const name = isRecord(metadata) ? nonEmptyString(metadata['name']) : undefined;
  if (name === undefined || !isRecord(metadata)) return { error: `${kind} has no metadata.name` };
  const namespace = nonEmptyString(metadata['namespace']) ?? 'default';
  const podSpec = objectAt(obj, layout.podSpecPath);
  const where = `${kind} ${namespace}/${name}`;
  const fieldPath = layout.podSpecPath.split('/').slice(1).join('.');
  if (podSpec === undefined) return { error: `${where} has no ${fieldPath}` };
  if (!Array.isArray(podSpec['containers'])) return { error: `${where} has no ${fieldPath}.containers list` };
  return { kind, namespace, name, podSpec: podSpec as unknown as PodSpec, podSpecPath: layout.podSpecPath };
}
