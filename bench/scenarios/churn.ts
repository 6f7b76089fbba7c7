// Pods of Deployments coming and going, and nothing happening at all.
//
//   churn-R  200 Deployments with their ReplicaSets (every other one violating), the operator synced; pods
//            of those ReplicaSets (owner references set) created at R per second for the run's seconds
//            (60 s in a full run): latency from a violating pod's create answer to a watch seeing it labelled
//   idle-S   1,000 pods of 100 Deployments, the operator synced and settled; then S seconds in which nothing
//            changes: every request of the operator's that the API server's audit log recorded meanwhile
//            (told apart by its User-Agent), which must be watches and Lease renewals only
import { controllerRef, createOwned, ownedNames, podSpec } from '../lib/objects.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requestDelta, type ClusterOptions } from '../lib/cluster.js';
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

/** Requests of a quiet operator that are expected: its watches, and the leader Lease it reads and renews. */
const expectedWhileIdle = (key: string): boolean => key.startsWith('WATCH ') || key.endsWith(' leases');

/**
 * kube-apiserver's audit log, every request at Metadata level: apiserver_request_total cannot tell clients
 * apart (kube-apiserver's own informers re-watch configmaps and secrets, its Service IP repair loop LISTs
 * services, its identity Lease is renewed every 10 s), the audit log names each request's user agent.
 */
const IDLE_AUDIT_POLICY = 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n';

async function idleCluster(): Promise<ClusterOptions> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-idle-audit-'));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(policyFile, IDLE_AUDIT_POLICY);
  return { audit: { policyFile, logFile: path.join(dir, 'audit.log') } };
}

interface AuditEntry {
  auditID: string; verb: string; userAgent?: string; requestReceivedTimestamp: string;
  objectRef?: { resource?: string; subresource?: string };
}

/**
 * Requests received in [fromMs, toMs), from the audit log, split into the operator's (its User-Agent,
 * `immutability-operator/<version>`) by `VERB resource[/subresource]`, and everyone else's by user agent.
 */
export async function auditedRequests(logFile: string, fromMs: number, toMs: number):
  Promise<{ operator: Record<string, number>; others: Record<string, number> }> {
  const operator: Record<string, number> = {};
  const others: Record<string, number> = {};
  const seen = new Set<string>();
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    if (line === '') continue;
    const e = JSON.parse(line) as AuditEntry;
    const at = Date.parse(e.requestReceivedTimestamp);
    if (at < fromMs || at >= toMs || seen.has(e.auditID)) continue;
    seen.add(e.auditID); // a watch has a ResponseStarted and a ResponseComplete entry
    const agent = e.userAgent ?? '';
    if (agent.startsWith('immutability-operator/')) {
      const resource = e.objectRef?.resource ? `${e.objectRef.resource}${e.objectRef.subresource ? `/${e.objectRef.subresource}` : ''}` : '(non-resource)';
      const key = `${e.verb.toUpperCase()} ${resource}`;
      operator[key] = (operator[key] ?? 0) + 1;
    } else {
      const client = agent.split(' ')[0] || '(none)';
      others[client] = (others[client] ?? 0) + 1;
    }
  }
  return { operator, others };
}

async function idle(ctx: ScenarioContext, seconds: number): Promise<Result> {
  const { cluster } = ctx;
  const auditLog = cluster.auditLogFile;
  if (!auditLog) throw new Error('idle needs the control plane\'s audit log');
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
    const from = Date.now();
    await sleep(seconds * 1000);
    const to = Date.now();
    const allClients = requestDelta(before, await cluster.requestCounts());
    await sleep(2_000); // the audit log backend writes what it has buffered
    const { operator: requests, others } = await auditedRequests(auditLog, from, to);
    const unexpected = Object.fromEntries(Object.entries(requests).filter(([k]) => !expectedWhileIdle(k)));
    return { scenario: `idle-${seconds}`, operator: operatorRunInfo(), pods: workloads.pods.length, seconds, requests, unexpected,
      onlyWatchesAndLease: Object.keys(unexpected).length === 0, otherClients: others, allClientsRequestTotal: allClients,
      rssMiB: await operator.rssMiB() };
  } finally {
    await operator.stop();
    await rm(path.dirname(auditLog), { recursive: true, force: true }); // the audit policy and log of idleCluster
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
  cluster: idleCluster,
  run: (name, ctx) => idle(ctx, numberAfter('idle', name)),
};
