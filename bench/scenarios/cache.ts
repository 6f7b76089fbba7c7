// cache-N: what one cached pod costs the operator's heap, in this process, without a cluster. N pods of N/10
// Deployments, each as the API server sends it (parsed from its own JSON text, with managedFields, defaults
// and status), go through the operator's own transform into its own stores and indexes (createStores), then
// heap used after a full GC, minus before, over N. The figure the ≤ 1 KiB per pod target is about; the
// RSS-based figure of owned-N includes what V8 keeps around the heap. The N/10 Deployments' entries in the
// workload cache are measured after the pods, on their own (bytesPerCachedDeployment) and with them.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createStores } from '../../src/controllers/caches.js';
import { Interner } from '../../src/k8s/intern.js';
import { slimOwned, slimPod } from '../../src/k8s/slim.js';
import { slimWorkload } from '../../src/remediation/workload-cache.js';
import { type Result, type ScenarioFamily, numberAfter } from '../lib/scenario.js';
import { round1 } from '../lib/stats.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A pod of ReplicaSet `rs` as kube-apiserver v1.36 returns it for the benchmark's pods. */
function podJson(ns: string, rs: string, rsUid: string, i: number, violating: boolean): string {
  const name = `${rs}-${i.toString(36).padStart(5, '0')}`;
  return JSON.stringify({
    kind: 'Pod', apiVersion: 'v1',
    metadata: {
      name, namespace: ns, uid: `0f6c${i.toString(16).padStart(4, '0')}-2b1e-4a8e-9d3c-${(1e11 + i).toString(16).slice(-12)}`,
      resourceVersion: String(100000 + i), creationTimestamp: '2026-11-30T17:00:00Z',
      labels: { app: rs.replace(/-1$/, ''), 'pod-template-hash': '5d8f9c7b6' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: rsUid, controller: true, blockOwnerDeletion: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: '2026-11-30T17:00:00Z', fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} }, 'f:ownerReferences': { '.': {}, [`k:{"uid":"${rsUid}"}`]: {} } },
          'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {}, 'f:securityContext': { '.': {}, 'f:readOnlyRootFilesystem': {} } } } } } }],
    },
    spec: {
      containers: [{ name: 'app', image: 'nginx:1.27', resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent', securityContext: { readOnlyRootFilesystem: !violating } }],
      restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', securityContext: {}, schedulerName: 'default-scheduler',
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      priority: 0, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority',
    },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  });
}

function rsJson(ns: string, name: string, uid: string): string {
  return JSON.stringify({ kind: 'ReplicaSet', apiVersion: 'apps/v1', metadata: { name, namespace: ns, uid, resourceVersion: '1', labels: { app: name.replace(/-1$/, '') },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: name.replace(/-1$/, ''), uid: `d-${uid}`, controller: true, blockOwnerDeletion: true }] },
  spec: { replicas: 10 } });
}

/**
 * A Deployment of those pods as kube-apiserver returns it in a real cluster (applied with kubectl, its status
 * written by the controller-manager): the operator's workload cache holds one per Deployment.
 */
function deploymentJson(ns: string, name: string, uid: string, i: number, violating: boolean): string {
  const template = { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27', resources: {},
    terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent',
    securityContext: { readOnlyRootFilesystem: !violating } }], restartPolicy: 'Always', terminationGracePeriodSeconds: 30,
  dnsPolicy: 'ClusterFirst', securityContext: {}, schedulerName: 'default-scheduler' } };
  const spec = { replicas: 10, selector: { matchLabels: { app: name } }, template,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 };
  return JSON.stringify({
    kind: 'Deployment', apiVersion: 'apps/v1',
    metadata: {
      name, namespace: ns, uid, resourceVersion: String(200000 + i), generation: 1, creationTimestamp: '2026-11-30T17:00:00Z', labels: { app: name },
      annotations: { 'deployment.kubernetes.io/revision': '1',
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns }, spec }) },
      managedFields: [
        { manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'apps/v1', time: '2026-11-30T17:00:00Z', fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} }, 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': { 'f:progressDeadlineSeconds': {}, 'f:replicas': {}, 'f:revisionHistoryLimit': {}, 'f:selector': {}, 'f:strategy': { 'f:rollingUpdate': { '.': {}, 'f:maxSurge': {}, 'f:maxUnavailable': {} }, 'f:type': {} },
              'f:template': { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {},
                'f:resources': {}, 'f:securityContext': { '.': {}, 'f:readOnlyRootFilesystem': {} }, 'f:terminationMessagePath': {}, 'f:terminationMessagePolicy': {} } },
              'f:dnsPolicy': {}, 'f:restartPolicy': {}, 'f:schedulerName': {}, 'f:securityContext': {}, 'f:terminationGracePeriodSeconds': {} } } } } },
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'apps/v1', time: '2026-11-30T17:00:05Z', fieldsType: 'FieldsV1', subresource: 'status',
          fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } }, 'f:status': { 'f:availableReplicas': {}, 'f:conditions': {},
            'f:observedGeneration': {}, 'f:readyReplicas': {}, 'f:replicas': {}, 'f:updatedReplicas': {} } } },
      ],
    },
    spec,
    status: { observedGeneration: 1, replicas: 10, updatedReplicas: 10, readyReplicas: 10, availableReplicas: 10, conditions: [
      { type: 'Available', status: 'True', lastUpdateTime: '2026-11-30T17:00:05Z', lastTransitionTime: '2026-11-30T17:00:05Z', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
      { type: 'Progressing', status: 'True', lastUpdateTime: '2026-11-30T17:00:05Z', lastTransitionTime: '2026-11-30T17:00:00Z', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${name}-5d8f9c7b6" has successfully progressed.` },
    ] },
  });
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export async function cacheCost(pods: number): Promise<Result> {
  const perDeployment = 10;
  const stores = createStores();
  const interner = new Interner();
  const before = heapUsed();
  const started = performance.now();
  for (let d = 0; d < Math.ceil(pods / perDeployment); d++) {
    const rs = `web-${d}-1`;
    const rsUid = `7a1e${d.toString(16).padStart(4, '0')}-5c2d-4f7a-8b6e-3d9f0a1b2c3d`;
    const owned = slimOwned(JSON.parse(rsJson('bench-owned', rs, rsUid)), interner);
    if (owned) stores.replicaSets.upsert(owned);
    for (let i = 0; i < perDeployment; i++) {
      const pod = slimPod(JSON.parse(podJson('bench-owned', rs, rsUid, d * perDeployment + i, d % 2 === 0)), interner);
      if (pod) stores.pods.upsert(pod);
    }
  }
  const transformMs = performance.now() - started;
  const after = heapUsed();
  // The workload cache (remediation reads Deployments from it): one slim entry per Deployment, measured apart.
  const deployments = Math.ceil(pods / perDeployment);
  for (let d = 0; d < deployments; d++) {
    const cached = slimWorkload(JSON.parse(deploymentJson('bench-owned', `web-${d}`, `d-7a1e${d.toString(16).padStart(4, '0')}`, d, d % 2 === 0)), 'Deployment', interner);
    if (cached) stores.workloads.Deployment.upsert(cached);
  }
  const withWorkloads = heapUsed();
  await Promise.resolve();
  return { scenario: `cache-${pods}`, pods: stores.pods.size, replicaSets: stores.replicaSets.size,
    heapMiB: round1((after - before) / 2 ** 20), bytesPerPod: Math.round((after - before) / pods),
    transformMicrosPerPod: round1((transformMs * 1000) / pods),
    deployments: stores.workloads.Deployment.size, bytesPerCachedDeployment: Math.round((withWorkloads - after) / deployments),
    bytesPerPodWithWorkloads: Math.round((withWorkloads - before) / pods) };
}

export const cacheFamily: ScenarioFamily = {
  family: 'cache',
  usage: 'cache-<pods>: heap per cached pod (in process, no cluster): the operator\'s transform, stores and indexes',
  all: ['cache-100000'],
  quick: ['cache-10000'],
  cluster: false,
  run: (name) => cacheCost(numberAfter('cache', name)),
};
