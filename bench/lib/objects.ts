// The objects a scenario creates, created the way their controllers would (none runs: the benchmark writes
// ReplicaSets and pods itself, with the owner references the controller-manager sets).
import { podMetadataApply, type PodIdentity, type PodMetadataIntent } from '../../src/k8s/api.js';
import { AcceptTypes, ContentTypes, type KubeHttp } from '../../src/k8s/http.js';

export interface PodItem { name: string; violating: boolean }

/** One container; a violating one declares a writable root filesystem, a compliant one a read-only root. */
export function podSpec(violating: boolean): object {
  return { containers: [{ name: 'app', image: 'nginx:1.27', securityContext: { readOnlyRootFilesystem: !violating } }] };
}

export function barePod(ns: string, name: string, violating: boolean): object {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: 'bench' } }, spec: podSpec(violating) };
}

/** Runs `work` over `items` with `concurrency` requests in flight. */
export async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  }));
}

export async function createPods(http: KubeHttp, ns: string, pods: readonly PodItem[], concurrency = 16): Promise<Map<string, number>> {
  const createdAt = new Map<string, number>();
  await inParallel(pods, concurrency, async (p) => {
    await http.write('POST', `/api/v1/namespaces/${ns}/pods`, { body: barePod(ns, p.name, p.violating) });
    createdAt.set(p.name, performance.now());
  });
  return createdAt;
}

export interface Created { apiVersion: string; kind: string; metadata: { name: string; uid: string } }

export const controllerRef = (o: Created): object[] =>
  [{ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true, blockOwnerDeletion: true }];

export interface OwnedWorkloads {
  deployments: number;
  podsPerDeployment: number;
  /** Whether Deployment i's template violates. */
  violates: (i: number) => boolean;
  violatingPods: PodItem[];
  pods: PodItem[];
}

/**
 * Deployment `web-i` → ReplicaSet `web-i-1` → pods `web-i-1-j`; every other Deployment violates, or all of
 * them with `allViolating`.
 */
export function ownedNames(deployments: number, podsPerDeployment: number, allViolating = false): OwnedWorkloads {
  const violates = (i: number): boolean => allViolating || i % 2 === 0;
  const pods: PodItem[] = [];
  for (let i = 0; i < deployments; i++) {
    for (let j = 0; j < podsPerDeployment; j++) pods.push({ name: `web-${i}-1-${j}`, violating: violates(i) });
  }
  return { deployments, podsPerDeployment, violates, pods, violatingPods: pods.filter((p) => p.violating) };
}

/**
 * Creates the Deployments, their ReplicaSets and their pods; resolves with the ReplicaSets, by Deployment
 * index. Deployment → ReplicaSet chains go `concurrency` at a time; each chain's pods are created together.
 */
export async function createOwned(http: KubeHttp, ns: string, w: OwnedWorkloads, concurrency = 32): Promise<Created[]> {
  const indexes = Array.from({ length: w.deployments }, (_, i) => i);
  const replicaSets: Created[] = [];
  await inParallel(indexes, concurrency, async (i) => {
    const name = `web-${i}`;
    const labels = { app: name };
    const template = { metadata: { labels }, spec: podSpec(w.violates(i)) };
    const deployment = await http.request<Created>('POST', `/apis/apps/v1/namespaces/${ns}/deployments`,
      { body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels }, spec: { replicas: w.podsPerDeployment, selector: { matchLabels: labels }, template } } });
    const rs = await http.request<Created>('POST', `/apis/apps/v1/namespaces/${ns}/replicasets`,
      { body: { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${name}-1`, labels, ownerReferences: controllerRef(deployment) },
        spec: { replicas: w.podsPerDeployment, selector: { matchLabels: labels }, template } } });
    replicaSets[i] = rs;
    await Promise.all(Array.from({ length: w.podsPerDeployment }, (_, j) => http.write('POST', `/api/v1/namespaces/${ns}/pods`,
      { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-1-${j}`, labels, ownerReferences: controllerRef(rs) }, spec: template.spec } })));
  });
  return replicaSets;
}

/**
 * Gives back everything `fieldManager` applied to the pod: server-side apply of no fields removes the fields
 * it alone owned and its managedFields entry. Each writer of owned-N then finds the pods as the first one did;
 * otherwise every later writer's apply merges one more manager's entry and costs kube-apiserver more.
 */
export function releaseFields(http: KubeHttp, ns: string, name: string, fieldManager: string): Promise<void> {
  return http.write('PATCH', `/api/v1/namespaces/${ns}/pods/${name}`, {
    query: { fieldManager, force: true }, contentType: ContentTypes.apply,
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns } },
  });
}

/** The field managers recorded on the pod, e.g. to check that releaseFields left none of a writer's behind. */
export async function fieldManagers(http: KubeHttp, ns: string, name: string): Promise<string[]> {
  const pod = await http.request<{ metadata: { managedFields?: { manager?: string }[] } }>('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
  return (pod.metadata.managedFields ?? []).map((f) => f.manager ?? '');
}

/**
 * The operator's label write, built by the operator's own podMetadataApply (server-side apply of one label and
 * one annotation, pinned to the pod's uid, the same Accept, answer drained unread), under another key and field
 * manager: the API server's ceiling for the same work.
 */
export function applyLabel(http: KubeHttp, pod: PodIdentity, key: string, fieldManager: string): Promise<void> {
  const { method, path, opts } = podMetadataApply(pod, ceilingIntent(key), fieldManager);
  return http.write(method, path, opts);
}

/**
 * The uid of every pod of `ns`, by name, read as metadata only a page at a time: what a writer that pins its
 * label write to the pod (as the operator does, from its cache) must know before it writes.
 */
export async function podUids(http: KubeHttp, ns: string): Promise<Map<string, string>> {
  const uids = new Map<string, string>();
  let continueToken: string | undefined;
  do {
    const page = await http.request<{ metadata?: { continue?: string }; items?: { metadata: { name: string; uid: string } }[] }>(
      'GET', `/api/v1/namespaces/${ns}/pods`, { query: { limit: 1000, continue: continueToken }, accept: AcceptTypes.listMetadata });
    for (const item of page.items ?? []) uids.set(item.metadata.name, item.metadata.uid);
    continueToken = page.metadata?.continue || undefined;
  } while (continueToken);
  return uids;
}

/**
 * The same label change as `applyLabel`, written as a JSON merge patch (an Update for field management, not an
 * apply) with the same Accept and answer drained unread: an experiment on what server-side apply costs the API
 * server (BENCH_OWNED_PARTS=merge), not a write the operator sends. Pinned to the pod's uid as the apply is
 * (a patched uid that differs is refused). `remove` writes nulls, taking the label and annotation and with them
 * the manager's managedFields entry away again.
 */
export function mergeLabel(http: KubeHttp, pod: PodIdentity, key: string, fieldManager: string, remove = false): Promise<void> {
  const { labels, annotations } = ceilingIntent(key);
  const value = (m: Record<string, string>): Record<string, string | null> =>
    remove ? Object.fromEntries(Object.keys(m).map((k) => [k, null])) : m;
  return http.write('PATCH', `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}`, {
    query: { fieldManager }, contentType: ContentTypes.mergePatch, accept: AcceptTypes.objectMetadata,
    body: { metadata: { ...(pod.uid ? { uid: pod.uid } : {}), labels: value(labels), annotations: value(annotations) } },
  });
}

/** What the ceiling applies under `key`: one label and one annotation, as the operator's violation label. */
export const ceilingIntent = (key: string): PodMetadataIntent =>
  ({ labels: { [key]: 'true' }, annotations: { [`${key}-rules`]: 'readOnlyRootFilesystem' } });
