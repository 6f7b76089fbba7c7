// Is the rollout of our patch going well? Judged from the workload's status (the Deployment controller's
// own ProgressDeadlineExceeded verdict, or rollout counters) and from the new pods — the ones that carry our
// change — crash-looping. Pure: the caller passes the objects and the clock reading.
import { isRecord } from '../runtime/json.js';
import { CONTAINER_LISTS, type TemplateFragment } from './fragment.js';

export type RolloutVerdict =
  | { state: 'progressing' }
  | { state: 'complete' }
  | { state: 'failed'; reason: string };

/** Waiting reasons that mean a container cannot run as patched. */
export const CRASH_WAITING_REASONS: readonly string[] = ['CrashLoopBackOff', 'RunContainerError', 'CreateContainerError'];
/** Restarts of a new pod's container that count as crash-looping even before the back-off shows. */
export const CRASH_RESTARTS = 3;
/** How long to watch workloads without a progress deadline of their own (StatefulSet, DaemonSet). */
export const DEFAULT_ROLLOUT_DEADLINE_MS = 600_000;

type Obj = Record<string, unknown>;

function rec(value: unknown): Obj {
  return isRecord(value) ? value : {};
}
function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' ? value : fallback;
}
function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** Whether a pod's spec has every field of our fragment (so it was created from the patched template). */
export function podCarriesFragment(podSpec: unknown, fragment: TemplateFragment): boolean {
  const spec = rec(podSpec);
  for (const l of CONTAINER_LISTS) {
    for (const want of fragment[l] ?? []) {
      const have = list(spec[l]).find((c) => c['name'] === want.name);
      if (!have) return false;
      const sc = rec(have['securityContext']);
      if (Object.entries(want.securityContext ?? {}).some(([k, v]) => sc[k] !== v)) return false;
      const mounts = list(have['volumeMounts']);
      if ((want.volumeMounts ?? []).some((m) => !mounts.some((x) => x['mountPath'] === m['mountPath']))) return false;
    }
  }
  const volumes = list(spec['volumes']);
  return (fragment.volumes ?? []).every((v) => volumes.some((x) => x['name'] === v['name']));
}

/** Why a pod is crash-looping, or undefined. */
export function crashLoopReason(pod: unknown): string | undefined {
  const status = rec(rec(pod)['status']);
  const name = str(rec(rec(pod)['metadata'])['name']);
  for (const s of [...list(status['initContainerStatuses']), ...list(status['containerStatuses'])]) {
    const waiting = rec(rec(s['state'])['waiting'])['reason'];
    const container = str(s['name']);
    if (typeof waiting === 'string' && CRASH_WAITING_REASONS.includes(waiting)) return `pod ${name} container ${container}: ${waiting}`;
    const restarts = num(s['restartCount']);
    if (restarts >= CRASH_RESTARTS) return `pod ${name} container ${container} restarted ${restarts} times`;
  }
  return undefined;
}

function condition(status: Obj, type: string): Obj | undefined {
  return list(status['conditions']).find((c) => c['type'] === type);
}

function updateStrategy(spec: Obj, kind: string): string {
  const type = rec(spec['updateStrategy'])['type'];
  if (typeof type === 'string') return type;
  return kind === 'StatefulSet' || kind === 'DaemonSet' ? 'RollingUpdate' : 'OnDelete';
}

/** Whether the workload's controller replaces existing pods by itself after a template change. */
export function replacesPodsOnTemplateChange(kind: string, workload: unknown): boolean {
  const spec = rec(rec(workload)['spec']);
  if (kind === 'Deployment') return true;
  if (kind === 'StatefulSet' || kind === 'DaemonSet') return updateStrategy(spec, kind) === 'RollingUpdate';
  return false;
}

export interface RolloutInput {
  kind: string;
  /** The live workload (spec, status, metadata.generation). */
  workload: unknown;
  /** Pods of the workload created from the patched template. */
  newPods: readonly unknown[];
  startedAtMs: number;
  nowMs: number;
  /** Deadline for kinds without a progress deadline of their own. */
  deadlineMs?: number;
}

/** Whether the workload's controller has acted on its current spec (status.observedGeneration caught up). */
export function observedGeneration(workload: unknown): boolean {
  const obj = rec(workload);
  return num(rec(obj['status'])['observedGeneration'], -1) >= num(rec(obj['metadata'])['generation']);
}

export function rolloutVerdict(input: RolloutInput): RolloutVerdict {
  const obj = rec(input.workload);
  const spec = rec(obj['spec']);
  const status = rec(obj['status']);
  const observed = observedGeneration(obj);
  for (const pod of input.newPods) {
    const crash = crashLoopReason(pod);
    if (crash) return { state: 'failed', reason: `new pods crash-loop (${crash})` };
  }
  const deadlineMs = input.deadlineMs ?? DEFAULT_ROLLOUT_DEADLINE_MS;
  const overdue = input.nowMs - input.startedAtMs > deadlineMs;
  switch (input.kind) {
    case 'Deployment': {
      const replicas = num(spec['replicas'], 1);
      const progressing = observed ? condition(status, 'Progressing') : undefined;
      if (progressing?.['status'] === 'False' && progressing['reason'] === 'ProgressDeadlineExceeded') {
        return { state: 'failed', reason: `new pods not ready within progressDeadlineSeconds=${num(spec['progressDeadlineSeconds'], 600)} (ProgressDeadlineExceeded)` };
      }
      const complete = observed && num(status['updatedReplicas']) === replicas && num(status['availableReplicas']) >= replicas &&
        num(status['replicas']) === num(status['updatedReplicas']);
      return complete ? { state: 'complete' } : { state: 'progressing' };
    }
    case 'StatefulSet':
    case 'DaemonSet': {
      if (!replacesPodsOnTemplateChange(input.kind, obj)) {
        // OnDelete: pods change only when evicted; watch their replacements for crash loops for a while.
        return overdue ? { state: 'complete' } : { state: 'progressing' };
      }
      const complete = input.kind === 'StatefulSet'
        ? observed && status['updateRevision'] === status['currentRevision'] && num(status['readyReplicas']) >= num(spec['replicas'], 1)
        : observed && num(status['updatedNumberScheduled']) === num(status['desiredNumberScheduled']) &&
          num(status['numberAvailable']) >= num(status['desiredNumberScheduled']);
      if (complete) return { state: 'complete' };
      return overdue
        ? { state: 'failed', reason: `new pods not ready within ${Math.round(deadlineMs / 1000)}s` }
        : { state: 'progressing' };
    }
    case 'ReplicaSet':
      return overdue ? { state: 'complete' } : { state: 'progressing' };
    default:
      // CronJob: the next Job uses the new template; there is no rollout to watch.
      return { state: 'complete' };
  }
}

/** metav1.LabelSelector → the `labelSelector` query string; undefined when absent or empty (selects all). */
export function selectorQuery(selector: unknown): string | undefined {
  const sel = rec(selector);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(rec(sel['matchLabels']))) if (typeof v === 'string') parts.push(`${k}=${v}`);
  for (const e of list(sel['matchExpressions'])) {
    const key = str(e['key']);
    const values = Array.isArray(e['values']) ? e['values'].map(String).join(',') : '';
    switch (e['operator']) {
      case 'In': parts.push(`${key} in (${values})`); break;
      case 'NotIn': parts.push(`${key} notin (${values})`); break;
      case 'Exists': parts.push(key); break;
      case 'DoesNotExist': parts.push(`!${key}`); break;
      default: return undefined;
    }
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}
