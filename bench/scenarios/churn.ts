// Pods of Deployments coming and going, and nothing happening at all.
//
//   churn-R  200 Deployments with their ReplicaSets (every other one violating), the operator synced; pods
//            of those ReplicaSets (owner references set) created at R per second for the run's seconds
//            (60 s in a full run): latency from a violating pod's create answer to a watch seeing it labelled
//   idle-S   1,000 pods of 100 Deployments, the operator synced and settled; then S seconds in which nothing
//            changes: every request the API server counted meanwhile (apiserver_request_total), which must
//            be watches and Lease renewals only
import { controllerRef, createOwned, ownedNames, podSpec } from '../lib/objects.js';
import { requestDelta } from '../lib/cluster.js';
import { Operator, operatorRunInfo } from '../lib/operator.js';
import { type Result, type ScenarioContext, type ScenarioFamily, numberAfter, sleep } from '../lib/scenario.js';
import { percentiles, round, round1 } from '../lib/stats.js';
import { LabelWatch, until } from '../lib/watch.js';
import { labelPolicy, pacedCreates } from './bare.js';

const NS = 'bench-churn';

async function churn(ctx: ScenarioContext, rate: number): Promise<Result> {
  const { http } = ctx.cluster;
  await labelPolicy(ctx, NS);
  const workloads = ownedNames(200, 0);
  const replicaSets = await createOwned(http, NS, workloads, 16);
  const operator = await Operator.create(ctx.cluster.kubeconfig);
  operator.start();
  const watch = new LabelWatch(http, NS);
  try {
    await sleep(3000); // initial sync
    await watch.start();
    const seconds = ctx.quick ? ctx.seconds : Math.max(ctx.seconds, 60);
    const total = rate * seconds;
    const createdAt = new Map<string, number>();
    const { achievedRate } = await pacedCreates(total, rate, async (i) => {
      const d = i % replicaSets.length;
      const rs = replicaSets[d]!;
      const name = `${rs.metadata.name}-c${i}`;
      await http.write('POST', `/api/v1/namespaces/${NS}/pods`, { body: { apiVersion: 'v1', kind: 'Pod',
        metadata: { name, labels: { app: `web-${d}` }, ownerReferences: controllerRef(rs) }, spec: podSpec(workloads.violates(d)) } });
      if (workloads.violates(d)) createdAt.set(name, performance.now());
    });
    const complete = await watch.waitFor(createdAt.size, 30_000);
    const latencies = [...createdAt].map(([name, t]) => (watch.seen.get(name) ?? NaN) - t).filter((x) => !Number.isNaN(x));
    return { scenario: `churn-${rate}`, operator: operatorRunInfo(), targetRate: rate, achievedRate, seconds, pods: total,
      violating: createdAt.size, labelled: latencies.length, complete, latencyMs: round(percentiles(latencies)),
      latencySamplesMs: latencies.map(round1), rssMiB: await operator.rssMiB(), rssPeakMiB: operator.sampler?.peak() ?? null };
  } finally {
    watch.stop();
    await operator.stop();
  }
}

/** Requests of a quiet operator that are expected: its watches, and the leader Lease it renews. */
const expectedWhileIdle = (key: string): boolean => key.startsWith('WATCH ') || key.endsWith(' leases');
/**
 * What the operator reads or writes. apiserver_request_total also counts kube-apiserver's own loopback
 * clients (its informers re-watching configmaps or secrets, the Service IP repair loop's LIST services, its
 * identity Lease renewed every 10 s): a request for any other resource is not the operator's.
 */
const OPERATOR_RESOURCES = new Set(['pods', 'namespaces', 'replicasets', 'jobs', 'immutabilitypolicies', 'immutabilitypolicies/status',
  'leases', 'events', 'deployments', 'statefulsets', 'daemonsets', 'cronjobs', 'pods/eviction', 'validatingadmissionpolicies',
  'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings']);
const operatorResource = (key: string): boolean => OPERATOR_RESOURCES.has(key.slice(key.indexOf(' ') + 1));

async function idle(ctx: ScenarioContext, seconds: number): Promise<Result> {
  const { cluster } = ctx;
  await labelPolicy(ctx, NS);
  const workloads = ownedNames(100, 10);
  await createOwned(cluster.http, NS, workloads, 16);
  const operator = await Operator.create(cluster.kubeconfig);
  const watch = new LabelWatch(cluster.http, NS);
  await watch.start();
  operator.start();
  try {
    await watch.waitFor(workloads.violatingPods.length, 120_000);
    watch.stop();
    await until('status complete', 60_000, 200, async () => (await cluster.policyStatus('bench'))['matchedPods'] === workloads.pods.length);
    await sleep(15_000); // status writes and Events of the sync are done
    const before = await cluster.requestCounts();
    await sleep(seconds * 1000);
    const requests = requestDelta(before, await cluster.requestCounts());
    const unexpected = Object.fromEntries(Object.entries(requests).filter(([k]) => operatorResource(k) && !expectedWhileIdle(k)));
    return { scenario: `idle-${seconds}`, operator: operatorRunInfo(), pods: workloads.pods.length, seconds, requests, unexpected,
      onlyWatchesAndLease: Object.keys(unexpected).length === 0, rssMiB: await operator.rssMiB() };
  } finally {
    await operator.stop();
  }
}

export const churnFamily: ScenarioFamily = {
  family: 'churn',
  usage: 'churn-<pods/s>: pods of existing ReplicaSets created at a steady rate, create → label latency',
  all: ['churn-100'],
  quick: ['churn-100'],
  run: (name, ctx) => churn(ctx, numberAfter('churn', name)),
};

export const idleFamily: ScenarioFamily = {
  family: 'idle',
  usage: 'idle-<seconds>: a synced operator with nothing changing, the requests it still sends',
  all: ['idle-300'],
  quick: ['idle-60'],
  run: (name, ctx) => idle(ctx, numberAfter('idle', name)),
};
