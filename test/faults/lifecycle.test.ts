// Scenarios 12, 13 and 14 (docs/reliability.md): what the operator acts on disappears while it acts — a
// namespace, a workload, the policy itself, the CRD. Nothing may loop on the error, and nothing the operator
// wrote may be left behind. The operator reaches the API server through a delaying proxy so that its work is
// spread over seconds and the deletions land in the middle of it.
import { expect } from 'chai';
import { requestCounter } from '../support/faults/apiserver-metrics.js';
import { proxiedKubeconfig } from '../support/faults/kubeconfig.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import { TcpProxy } from '../support/faults/tcp-proxy.js';
import {
  PRIVILEGED, apply, barePod, deployment, items, livePods, policy, statusWhere,
  waitForNamespacesGone, waitForRollouts, waitForRunningPods, type Json,
} from '../support/workloads.js';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import type { OperatorProcess } from '../support/operator.js';

const OUR_KEYS = { labels: ['immutability.dev/violation', 'immutability.dev/drift'], annotations: ['immutability.dev/violations'] };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pods still carrying any label or annotation the operator writes. */
function carryingOurs(pods: Json[]): string[] {
  return pods.filter((p) => OUR_KEYS.labels.some((k) => at(p, 'metadata', 'labels', k) !== undefined) ||
    OUR_KEYS.annotations.some((k) => at(p, 'metadata', 'annotations', k) !== undefined)).map((p) => String(at(p, 'metadata', 'name')));
}

async function generations(ns: string): Promise<Map<string, number>> {
  return new Map((await items(['-n', ns, 'deployments'])).map((d) => [String(at(d, 'metadata', 'name')), Number(at(d, 'metadata', 'generation'))]));
}

/** Counts one of the operator's counters (summed over its labels) between two points. */
async function operatorCounter(operator: OperatorProcess, name: string): Promise<() => Promise<number>> {
  const start = await operator.metric(name);
  return async () => (await operator.metric(name)) - start;
}

/** Log lines of failed reconciles and dropped keys since `from` (an index into the operator's log). */
async function failures(operator: OperatorProcess, from: number): Promise<{ failed: number; dropped: number; total: number }> {
  const entries = (await operator.logEntries()).slice(from);
  return {
    failed: entries.filter((e) => e['msg'] === 'reconcile failed').length,
    dropped: entries.filter((e) => e['msg'] === 'giving up on key after repeated failures').length,
    total: entries.length,
  };
}

describe('faults: what the operator acts on disappears', function () {
  let proxy: TcpProxy;

  before(async function () {
    await waitForNamespacesGone();
    proxy = await new TcpProxy(cluster().controlPlane.apiServerAddress).start();
  });
  afterEach(() => proxy.setMode({ kind: 'forward' }));
  // Scenario 14 deletes the CRD: it and a forwarding proxy must be back before the fixture deletes the policies.
  after(async function () {
    proxy.setMode({ kind: 'forward' });
    await installCrd();
  });

  const operator = withOperator({
    namespaces: ['fault-gone-ns', 'fault-gone-wl', 'fault-gone-policy', 'fault-crd'],
    policies: ['fault-gone', 'fault-gone-policy', 'fault-crd'],
    // One workload worker: patches go one after another, so that deletions land between them.
    operator: async () => ({
      kubeconfig: await proxiedKubeconfig(proxy), metrics: 'open', args: ['--watch-timeout-seconds', '4', '--workload-workers', '1'],
    }),
  });

  after(async function () {
    await proxy.stop();
  });

  it('12: a namespace and workloads deleted in the middle of remediation: no error loop, status drops them', async function () {
    this.timeout(240_000);
    const perNamespace = 8;
    const names = Array.from({ length: perNamespace }, (_, i) => `web-${i}`);
    await apply(['fault-gone-ns', 'fault-gone-wl'].flatMap((ns) => names.map((n) => deployment(ns, n, { securityContext: PRIVILEGED }))));
    for (const ns of ['fault-gone-ns', 'fault-gone-wl']) await waitForRunningPods(ns, perNamespace);
    const logFrom = (await operator.logEntries()).length;
    // 150 ms on every packet: each patch (a GET and an apply) takes about a second.
    proxy.setMode({ kind: 'delay', ms: 150 });
    await apply(policy('fault-gone', ['fault-gone-ns', 'fault-gone-wl'], { mode: 'Enforce', remediation: { label: {}, patchOwner: {} } }));
    await eventually('remediation under way', async () => {
      const gens = [...(await generations('fault-gone-ns')).values(), ...(await generations('fault-gone-wl')).values()];
      return gens.some((g) => g >= 2) ? true : undefined;
    }, 60_000, 100);
    // Mid-way: the whole namespace goes, and every Deployment not yet patched in the other one.
    const unpatched = [...(await generations('fault-gone-wl'))].filter(([, g]) => g === 1).map(([n]) => n);
    const patchedAtDelete = perNamespace - unpatched.length;
    await kubectlOk(['delete', 'namespace', 'fault-gone-ns', '--wait=false']);
    if (unpatched.length > 0) await kubectlOk(['-n', 'fault-gone-wl', 'delete', 'deployment', ...unpatched, '--wait=false']);
    const deployCreates = await requestCounter({ resource: 'deployments', verb: /^(POST|APPLY|PATCH)$/, code: '201' });
    proxy.setMode({ kind: 'forward' });

    const dropped = await statusWhere('fault-gone', 'status without the deleted workloads', (s) => {
      const listed = (s.violations ?? []).filter((v) => v.namespace === 'fault-gone-ns' || unpatched.includes(v.name));
      return listed.length === 0 && (s.violatingWorkloads ?? 0) <= patchedAtDelete ? true : false;
    }, 90_000);
    await waitForNamespacesGone(120_000);
    // The patched Deployments left roll out (new pods, old ones deleted): events the operator must handle, not
    // a loop. Judge it once they are done and the status written for them has gone out.
    await waitForRollouts('fault-gone-wl');
    await sleep(2_000);
    // Quiet afterwards: no retries of the vanished keys. A retry shows as a failed reconcile or a dropped key
    // (the operator's log and metrics) and as reconciles at all; a late write as a Deployment write (the API
    // server's count). CPU follows from those. (404s for Deployments are no measure: the controller-manager's
    // garbage collector looks up the deleted owners of the ReplicaSets it removes.)
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    const before = await failures(operator, logFrom);
    const reconciles = await operatorCounter(operator, 'immutability_operator_reconcile_total');
    const dropCount = await operatorCounter(operator, 'immutability_operator_queue_dropped_total');
    const deploymentWrites = await requestCounter({ resource: 'deployments', subresource: '', verb: /^(PATCH|APPLY)$/ });
    await sleep(10_000);
    const quiet = usage();
    const after = await failures(operator, logFrom);
    const quietReconciles = await reconciles();
    expect(after.dropped, 'no key given up on: nothing retried to exhaustion').to.equal(0);
    expect(await dropCount(), 'keys dropped from the queues while quiet').to.equal(0);
    expect(after.failed - before.failed, 'no failed reconciles once the objects are gone').to.equal(0);
    expect(after.failed, 'failed reconciles bounded by the deleted objects').to.be.at.most(2 * (perNamespace + unpatched.length));
    expect(await deploymentWrites(), 'Deployment writes while quiet').to.equal(0);
    // The last events of the deletions (ReplicaSets and pods the garbage collector removes) may still bring a
    // key or two; a loop brings them without end.
    expect(quietReconciles, 'reconciles while quiet').to.be.at.most(2 * perNamespace);
    expect(quiet.cpuShare, 'CPU share afterwards').to.be.below(0.1);
    // Nothing resurrected: server-side apply creates what it patches, so a late apply must not bring one back.
    expect(await deployCreates(), 'Deployments created by a late apply').to.equal(0);
    expect((await items(['-n', 'fault-gone-wl', 'deployments'])).map((d) => String(at(d, 'metadata', 'name'))).sort())
      .to.deep.equal(names.filter((n) => !unpatched.includes(n)).sort());
    report(12, {
      deployments: 2 * perNamespace, patchedBeforeDelete: patchedAtDelete, workloadsDeleted: unpatched.length,
      failedReconciles: after.failed, droppedKeys: after.dropped, statusViolatingWorkloads: dropped.violatingWorkloads ?? 0,
      quietReconciles, quietCpuShare: quiet.cpuShare, quietLogLines: quiet.logLines,
    });
  });

  it('13: a policy deleted in the middle of labelling: once it is gone, no pod carries anything it wrote', async function () {
    this.timeout(180_000);
    const ns = 'fault-gone-policy';
    const count = 40;
    await apply(Array.from({ length: count }, (_, i) => barePod(ns, `pod-${i}`, PRIVILEGED)));
    await waitForRunningPods(ns, count);
    proxy.setMode({ kind: 'delay', ms: 100 });
    await apply(policy('fault-gone-policy', [ns], { mode: 'Enforce', remediation: { label: {} } }));
    const labelledAtDelete = await eventually('labelling under way', async () => {
      const n = carryingOurs(await livePods(ns)).length;
      return n >= 3 ? n : undefined;
    }, 60_000, 50);
    const deletedAt = Date.now();
    await kubectlOk(['delete', 'imp', 'fault-gone-policy', '--wait=false']);
    // The moment the API server lets the policy go (its finalizer removed), every pod must be clean.
    let leftAtRelease: string[] = [];
    await eventually('policy released by its finalizer', async () => {
      const res = await kubectl(['get', 'imp', 'fault-gone-policy', '-o', 'name']);
      if (res.code === 0) return undefined;
      leftAtRelease = carryingOurs(await livePods(ns));
      return true;
    }, 90_000, 100);
    const releasedAfterMs = Date.now() - deletedAt;
    proxy.setMode({ kind: 'forward' });
    await sleep(3_000);
    const leftLater = carryingOurs(await livePods(ns));
    expect(leftAtRelease, 'pods still carrying our metadata when the policy was released').to.deep.equal([]);
    expect(leftLater, 'pods carrying our metadata 3 s later (a write in flight landing late)').to.deep.equal([]);
    report(13, { pods: count, labelledWhenDeleted: labelledAtDelete, releasedAfterMs, leftAtRelease: leftAtRelease.length, leftLater: leftLater.length });
  });

  it('14: the CRD deleted and re-created while running: the operator recovers without a restart, quietly meanwhile', async function () {
    this.timeout(240_000);
    const ns = 'fault-crd';
    await apply(barePod(ns, 'before', PRIVILEGED));
    await apply(policy('fault-crd', [ns], { mode: 'Enforce', remediation: { label: {} } }));
    await eventually('labelled under the first CRD', async () => (carryingOurs(await livePods(ns)).length === 1 ? true : undefined), 60_000);
    const pid = operator.pid;

    // Deleting the CRD deletes its policies; their finalizer (the operator) unlabels the pod first.
    await kubectlOk(['delete', 'crd', 'immutabilitypolicies.immutability.dev', '--timeout=90s'], { timeoutMs: 100_000 });
    await eventually('the pod unlabelled by the finalizer', async () => (carryingOurs(await livePods(ns)).length === 0 ? true : undefined), 30_000);
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    // The API server does not count requests for a resource it no longer serves; the operator counts its tries.
    const policyRestarts = (): Promise<number> => operator.metric('immutability_operator_watch_restarts_total', { resource: /polic/i });
    const restartsBefore = await policyRestarts();
    await apply(barePod(ns, 'during', PRIVILEGED)); // nothing governs it while the CRD is gone
    await sleep(15_000);
    const gone = usage();
    const lists = (await policyRestarts()) - restartsBefore;
    expect(operator.exitCode, 'still running without the CRD').to.equal(undefined);

    const recreatedAt = Date.now();
    await installCrd();
    await apply(policy('fault-crd', [ns], { mode: 'Enforce', remediation: { label: {} } }));
    await eventually('both pods labelled under the re-created CRD', async () => (carryingOurs(await livePods(ns)).length === 2 ? true : undefined), 90_000, 250);
    const recoveredAfterMs = Date.now() - recreatedAt;
    const status = await statusWhere('fault-crd', 'status of the re-created policy', (s) => s.violatingPods === 2, 30_000);
    expect(operator.pid, 'the same process').to.equal(pid);
    expect(operator.exitCode).to.equal(undefined);
    expect(gone.cpuShare, 'CPU share while the CRD is gone').to.be.below(0.1);
    // Backed off: a handful of list attempts in 15 s, not a loop.
    expect(lists, 'policy watch restarts while the CRD was gone').to.be.within(1, 30);
    report(14, {
      cpuShareWhileGone: gone.cpuShare, logLinesWhileGone: gone.logLines, policyWatchRestartsWhileGone: lists, recoveredAfterMs,
      violatingPods: status.violatingPods ?? -1,
    });
  });
});
