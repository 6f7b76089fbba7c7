// Objects and reads the integration and fault specs share: policies, Deployments and pods as kubectl sees them.
import type { Condition, ImmutabilityPolicyStatus } from '../../src/api/types.js';
import { eventually, kubectl, kubectlOk } from './kubectl.js';
import { at, conditionOf } from './objects.js';

export type Json = Record<string, unknown>;

/** A policy's status as kubectl reads it: the API's own type, so specs cannot drift from the CRD. */
export type PolicyStatus = ImmutabilityPolicyStatus;

export const VIOLATION_LABEL = 'immutability.dev/violation';
/** The field manager the operator writes with (docs/api.md). */
export const OPERATOR_MANAGER = 'immutability-operator';

export async function apply(obj: Json | Json[], extra: string[] = []): Promise<void> {
  const input = Array.isArray(obj) ? { apiVersion: 'v1', kind: 'List', items: obj } : obj;
  await kubectlOk(['apply', ...extra, '-f', '-'], { input: JSON.stringify(input), timeoutMs: 120_000 });
}

export async function getJson(args: string[]): Promise<Json> {
  return JSON.parse(await kubectlOk(['get', ...args, '-o', 'json'])) as Json;
}

export async function items(args: string[]): Promise<Json[]> {
  return ((await getJson(args))['items'] ?? []) as Json[];
}

export function policy(name: string, namespaces: string[], spec: Json): Json {
  return {
    apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name },
    spec: { ...spec, match: { namespaces } },
  };
}

export async function policyStatus(name: string): Promise<PolicyStatus> {
  return ((await getJson(['imp', name]))['status'] ?? {});
}

export function condition(status: PolicyStatus, type: string): Condition | undefined {
  return conditionOf(status, type);
}

/** Waits for the policy's status to satisfy `check`, returning it. */
export function statusWhere(name: string, what: string, check: (s: PolicyStatus) => boolean, timeoutMs = 60_000): Promise<PolicyStatus> {
  return eventually(what, async () => {
    const s = await policyStatus(name);
    return check(s) ? s : undefined;
  }, timeoutMs, 300);
}

/** Waits until the policy's generated admission objects are in place: AdmissionReady=True, with a message matching `message` if given. */
export async function admissionReady(name: string, message?: RegExp): Promise<Condition> {
  const ready = (s: PolicyStatus): Condition | undefined => {
    const c = condition(s, 'AdmissionReady');
    return c?.status === 'True' && (message === undefined || message.test(c.message)) ? c : undefined;
  };
  return ready(await statusWhere(name, `AdmissionReady True on ${name}`, (s) => ready(s) !== undefined, 30_000))!;
}

export function deployment(namespace: string, name: string, opts: { replicas?: number; securityContext?: Json; labels?: Json; progressDeadlineSeconds?: number } = {}): Json {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
    spec: {
      replicas: opts.replicas ?? 1,
      ...(opts.progressDeadlineSeconds ? { progressDeadlineSeconds: opts.progressDeadlineSeconds } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...opts.labels } },
        spec: { containers: [{ name: 'nginx', image: 'nginx:1.27', ...(opts.securityContext ? { securityContext: opts.securityContext } : {}) }] },
      },
    },
  };
}

export function barePod(namespace: string, name: string, securityContext?: Json, labels: Json = {}): Json {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27', ...(securityContext ? { securityContext } : {}) }] },
  };
}

export const PRIVILEGED = { privileged: true, readOnlyRootFilesystem: true };

/** Live (not terminating) pods matching the selector. */
export async function livePods(namespace: string, selector?: string): Promise<Json[]> {
  const pods = await items(['-n', namespace, 'pods', ...(selector ? ['-l', selector] : [])]);
  return pods.filter((p) => at(p, 'metadata', 'deletionTimestamp') === undefined);
}

export async function waitForRunningPods(namespace: string, count: number, selector?: string, timeoutMs = 90_000): Promise<Json[]> {
  return eventually(`${count} Running pods in ${namespace}`, async () => {
    const pods = await livePods(namespace, selector);
    return pods.length === count && pods.every((p) => at(p, 'status', 'phase') === 'Running') ? pods : undefined;
  }, timeoutMs, 500);
}

/**
 * Waits until every Deployment of the namespace has finished rolling out (the controller saw its latest
 * generation, every replica updated and available) and no pod is left but theirs: after that, pod events in
 * the namespace are no longer legitimate work for the operator.
 */
export async function waitForRollouts(namespace: string, timeoutMs = 90_000): Promise<void> {
  await eventually(`rollouts in ${namespace} finished`, async () => {
    const deployments = await items(['-n', namespace, 'deployments']);
    const done = deployments.every((d) => {
      const wanted = Number(at(d, 'spec', 'replicas') ?? 1);
      return at(d, 'status', 'observedGeneration') === at(d, 'metadata', 'generation') &&
        at(d, 'status', 'updatedReplicas') === wanted && at(d, 'status', 'availableReplicas') === wanted &&
        (at(d, 'status', 'replicas') ?? 0) === wanted;
    });
    if (!done) return undefined;
    const replicas = deployments.reduce((n, d) => n + Number(at(d, 'spec', 'replicas') ?? 1), 0);
    return (await items(['-n', namespace, 'pods'])).length === replicas ? true : undefined;
  }, timeoutMs, 500);
}

export function isLabelled(pod: Json): boolean {
  return at(pod, 'metadata', 'labels', VIOLATION_LABEL) === 'true';
}

/** Field managers of an object, with the time of their last write. */
export function managedFields(obj: Json): { manager: string; operation: string; time: string; subresource?: string }[] {
  return (at(obj, 'metadata', 'managedFields') ?? []) as { manager: string; operation: string; time: string; subresource?: string }[];
}

export async function createNamespaces(names: string[], labels: Record<string, string> = {}): Promise<void> {
  await apply(names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } })));
}

/** Deletes policies (their finalizer needs a running operator) and then namespaces, without waiting for those. */
export async function cleanup(policies: string[], namespaces: string[]): Promise<void> {
  for (const p of policies) await kubectl(['delete', 'imp', p, '--ignore-not-found', '--timeout=60s']);
  if (namespaces.length > 0) await kubectl(['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found']);
}

/** Removes a policy's finalizer and deletes it, for cleanup when no operator is running. */
export async function forceDeletePolicy(name: string): Promise<void> {
  await kubectl(['patch', 'imp', name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  await kubectl(['delete', 'imp', name, '--ignore-not-found', '--wait=false']);
}

/** Waits until no namespace is terminating, so that earlier scenarios' pod deletions do not overlap a count. */
export async function waitForNamespacesGone(timeoutMs = 120_000): Promise<void> {
  await eventually('terminating namespaces gone', async () => {
    const out = await kubectlOk(['get', 'namespaces', '-o', 'jsonpath={.items[*].status.phase}']);
    return out.includes('Terminating') ? undefined : true;
  }, timeoutMs, 1000);
}
