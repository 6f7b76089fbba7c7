// Scenario 15 (docs/reliability.md): churn. Pods of existing ReplicaSets (owner references set, as the
// controller-manager sets them) are created at 100 a second and each deleted 300 creates later (3 s at that
// rate), for 60 s: up to 6,000 creates and 5,700 deletes, as many as the API server takes. Afterwards the work
// queues drain, the policy's status counts exactly the pods that are left, every violating one of them is
// labelled, the operator's memory comes back near where it was, and once it has converged it sends nothing but
// its watches — no crash, no hot loop.
//
// It runs on a control plane of its own without controller-manager, scheduler or kwok, as the benchmark's
// churn scenario does (and with its code, bench/lib): a ReplicaSet controller would delete the pods the test
// creates for its ReplicaSets, and a kubelet's status updates would add work the scenario does not measure.
// The shared control plane's other scenarios are not slowed by 12,000 pod writes either.
import { expect } from 'chai';
import { BenchCluster, requestDelta } from '../../bench/lib/cluster.js';
import { controllerRef, ownedNames, createOwned, podSpec, type Created } from '../../bench/lib/objects.js';
import { RssSampler, rssOf } from '../../bench/lib/operator.js';
import { paced } from '../support/faults/paced.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import { VIOLATION_LABEL, type PolicyStatus } from '../support/workloads.js';
import { eventually } from '../support/kubectl.js';
import { DEPLOYED_NODE_OPTIONS, OperatorProcess } from '../support/operator.js';

const NS = 'fault-churn';
const POLICY = 'fault-churn';
/** Deployments (every other one violating), each with a ReplicaSet and two steady pods. */
const DEPLOYMENTS = 50;
const STEADY_PODS_EACH = 2;
const RATE = 100;
const SECONDS = 60;
/** Each churned pod is deleted this many creates later: 3 s at 100/s, so 300 churned pods live at once. */
const LIFETIME = 300;
/** V8 gives memory back after a burst once it is idle (bench/scenarios/bare.ts waits as long). */
const SETTLE_MS = 15_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface PodItem {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: { securityContext?: { readOnlyRootFilesystem?: boolean } }[] };
}

/** The truth the status must converge to: the pods that exist, and which of them violate (writable root). */
async function livePods(cluster: BenchCluster): Promise<{ pods: number; violating: string[]; labelled: string[] }> {
  const list = await cluster.http.request<{ items: PodItem[] }>('GET', `/api/v1/namespaces/${NS}/pods`);
  const live = list.items.filter((p) => p.metadata.deletionTimestamp === undefined);
  const violating = live.filter((p) => p.spec.containers.some((c) => c.securityContext?.readOnlyRootFilesystem !== true));
  const labelled = live.filter((p) => p.metadata.labels?.[VIOLATION_LABEL] === 'true');
  return { pods: live.length, violating: violating.map((p) => p.metadata.name).sort(), labelled: labelled.map((p) => p.metadata.name).sort() };
}

describe('faults: churn', function () {
  let cluster: BenchCluster | undefined;
  let operator: OperatorProcess | undefined;

  after(async function () {
    this.timeout(60_000);
    await operator?.stop();
    await cluster?.stop();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && operator) process.stderr.write(`operator log tail:\n${await operator.logs(40)}\n`);
  });

  it('15: 100 pods/s created and deleted for 60 s: the queues drain, status converges, memory returns, no hot loop', async function () {
    this.timeout(300_000);
    cluster = await BenchCluster.start();
    const { http } = cluster;
    await cluster.ensureNamespace(NS);
    await cluster.applyPolicy(POLICY, { mode: 'Enforce', match: { namespaces: [NS] }, remediation: { label: {} } });
    const workloads = ownedNames(DEPLOYMENTS, STEADY_PODS_EACH);
    const replicaSets: Created[] = await createOwned(http, NS, workloads, 16);
    operator = await new OperatorProcess({ kubeconfig: cluster.kubeconfig, metrics: 'open', nodeOptions: DEPLOYED_NODE_OPTIONS }).start();
    const op = operator;
    const pid = op.pid ?? 0;
    const queueDepth = (): Promise<number> => op.metric('immutability_operator_queue_depth');
    const status = async (): Promise<PolicyStatus> => (await cluster?.policyStatus(POLICY)) as PolicyStatus;
    const converged = async (): Promise<PolicyStatus | undefined> => {
      const truth = await livePods(cluster as BenchCluster);
      const s = await status();
      return s.matchedPods === truth.pods && s.violatingPods === truth.violating.length &&
        truth.labelled.join() === truth.violating.join() && (await queueDepth()) === 0 ? s : undefined;
    };
    const synced = await eventually('the steady pods labelled and counted', converged, 60_000, 500);
    await sleep(5_000);
    const heapUsedMiB = async (): Promise<number> => Math.round((await op.metric('nodejs_heap_size_used_bytes')) / 2 ** 20);
    const rssBefore = await rssOf(pid);
    const heapBefore = await heapUsedMiB();
    const rss = new RssSampler(() => pid, performance.now(), 500).start();

    // The churn: pod i is created for ReplicaSet i mod 50, and pod i - 300 deleted, 100 of each a second.
    const before = await cluster.requestCounts();
    let peakDepth = 0;
    const depthSampler = setInterval(() => void queueDepth().then((d) => { peakDepth = Math.max(peakDepth, d); }, () => undefined), 500);
    const name = (i: number): string => `${replicaSets[i % DEPLOYMENTS]?.metadata.name}-c${i}`;
    let violatingCreated = 0;
    let deleted = 0;
    // Offered at 100 creates and 100 deletes a second for 60 s, 64 pods in the works at most (the client's
    // connection pool): a loaded API server holds the rate back rather than the churn running on for minutes.
    const churn = await paced({ rate: RATE, seconds: SECONDS, inflight: 64 }, async (i) => {
      const d = i % DEPLOYMENTS;
      const rs = replicaSets[d] as Created;
      await http.write('POST', `/api/v1/namespaces/${NS}/pods`, { body: { apiVersion: 'v1', kind: 'Pod',
        metadata: { name: name(i), labels: { app: `web-${d}` }, ownerReferences: controllerRef(rs) }, spec: podSpec(workloads.violates(d)) } });
      if (workloads.violates(d)) violatingCreated++;
      if (i < LIFETIME) return;
      await http.write('DELETE', `/api/v1/namespaces/${NS}/pods/${name(i - LIFETIME)}`);
      deleted++;
    });
    const created = churn.calls;
    const achievedRate = Math.round(created / churn.seconds);
    const churnEnded = performance.now();
    const drainMs = await eventually('the work queues drained', async () => ((await queueDepth()) === 0 ? Math.round(performance.now() - churnEnded) : undefined), 120_000, 250);
    clearInterval(depthSampler);
    const final = await eventually('status converged to the pods that are left', converged, 120_000, 500);
    const convergedMs = Math.round(performance.now() - churnEnded);
    const requests = requestDelta(before, await cluster.requestCounts());
    expect(op.exitCode, 'still running after the churn').to.equal(undefined);

    // Memory: back near where it was once V8 is idle again.
    await sleep(SETTLE_MS);
    const rssAfter = await rssOf(pid);
    const heapAfter = await heapUsedMiB();
    const rssPeak = rss.peak();
    rss.stop();
    // Quiet afterwards: the API server sees nothing from it but its open watches, and it spends no CPU.
    const quietFrom = await cluster.requestCounts();
    const usage = sampleUsage(pid, op.logFile);
    await sleep(10_000);
    const quiet = usage();
    // Watches are the operator's; Lease renewals the API server's own (its identity Lease: this operator runs
    // without leader election).
    const quietRequests = Object.entries(requestDelta(quietFrom, await cluster.requestCounts()))
      .filter(([k]) => !k.startsWith('WATCH ') && !k.endsWith(' leases'));

    const truth = await livePods(cluster);
    const labelWrites = (requests['APPLY pods'] ?? 0) + (requests['PATCH pods'] ?? 0);
    report(15, {
      targetRate: RATE, achievedRate, seconds: Math.round(churn.seconds), creates: created, deletes: deleted, violatingCreated, labelWrites,
      peakQueueDepth: peakDepth, drainMs, convergedMs, podsLeft: truth.pods, violatingLeft: truth.violating.length,
      rssBeforeMiB: rssBefore, rssPeakMiB: rssPeak, rssAfterMiB: rssAfter, heapUsedBeforeMiB: heapBefore, heapUsedAfterMiB: heapAfter, quietCpuShare: quiet.cpuShare, quietLogLines: quiet.logLines,
    });
    expect(truth.pods, 'pods left: the steady ones and the last churned ones').to.equal(workloads.pods.length + created - deleted);
    expect(final.matchedPods).to.equal(truth.pods);
    expect(final.violatingPods).to.equal(truth.violating.length);
    expect(final.violatingWorkloads, 'violating workloads: the Deployments whose template violates').to.equal(synced.violatingWorkloads);
    // One label write per violating pod at most: a pod deleted before its turn needs none, none needs two.
    expect(labelWrites, 'label writes during the churn').to.be.at.most(violatingCreated);
    expect(requests['POST pods'], 'pods created: the test\'s own, none by a late apply').to.equal(created);
    expect(rssAfter, 'RSS after the churn, settled (MiB)').to.be.below(rssBefore * 1.25 + 16);
    expect(quietRequests, 'requests other than watches once converged').to.deep.equal([]);
    expect(quiet.cpuShare, 'CPU share once converged').to.be.below(0.05);
  });
});
