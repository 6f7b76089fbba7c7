// Scenarios 1, 2, 10 and 11 (docs/reliability.md): the API server crashes, forgets the operator's watch
// position (410 Gone), answers slowly, stops answering, and throttles the operator. The operator reaches the
// API server through a loopback TCP proxy, which stands for the network: while the API server is killed and
// restarted, the proxy keeps the operator cut off, so changes made meanwhile happen "during the outage" as
// the operator sees it.
import { expect } from 'chai';
import { apiServerMetric, requestCounter } from '../support/faults/apiserver-metrics.js';
import { proxiedKubeconfig } from '../support/faults/kubeconfig.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import { TcpProxy } from '../support/faults/tcp-proxy.js';
import {
  PRIVILEGED, apply, barePod, createNamespaces, isLabelled, livePods, policy, statusWhere, type Json,
} from '../support/workloads.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import { serviceAccountKubeconfig } from '../support/service-account.js';

const WRITABLE = { readOnlyRootFilesystem: false };
/** Label writes as the API server counts them (server-side apply or patch of pods, not their status). */
const labelWrites = (code?: string): Promise<() => Promise<number>> =>
  requestCounter({ resource: 'pods', subresource: '', verb: /^(PATCH|APPLY)$/, ...(code ? { code } : {}) });

async function labelled(ns: string): Promise<Set<string>> {
  return new Set((await livePods(ns)).filter(isLabelled).map((p) => String(at(p, 'metadata', 'name'))));
}

async function waitForLabels(ns: string, expected: string[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  await eventually(`labels on exactly ${expected.join(', ')}`, async () => {
    const now = [...(await labelled(ns))].sort();
    return JSON.stringify(now) === JSON.stringify([...expected].sort()) ? true : undefined;
  }, timeoutMs, 200);
  return Date.now() - started;
}

describe('faults: the API server crashes, expires watches, slows down and stalls', function () {
  let proxy: TcpProxy;

  before(async function () {
    proxy = await new TcpProxy(cluster().controlPlane.apiServerAddress).start();
  });
  // The operator reaches the API server only through the proxy: let it through before the fixture's cleanup.
  after(() => proxy.setMode({ kind: 'forward' }));

  const operator = withOperator({
    namespaces: ['fault-outage-a', 'fault-outage-b', 'fault-gone', 'fault-slow'],
    policies: ['fault-outage', 'fault-gone', 'fault-slow'],
    beforeStart: () => createNamespaces(['fault-outage-a'], { env: 'prod' }),
    // A 4 s watch timeout: a watch silent for 8 s is restarted (scenario 10) without waiting minutes.
    operator: async () => ({ kubeconfig: await proxiedKubeconfig(proxy), metrics: 'open', args: ['--watch-timeout-seconds', '4'] }),
  });

  after(async function () {
    await proxy.stop();
  });

  it('1: kube-apiserver SIGKILLed mid-watch: pods created, a policy edited and a namespace relabelled meanwhile are handled within 30 s of its return', async function () {
    this.timeout(180_000);
    await apply([
      barePod('fault-outage-a', 'writable', WRITABLE), barePod('fault-outage-a', 'privileged', PRIVILEGED),
      barePod('fault-outage-b', 'privileged', PRIVILEGED),
    ]);
    // Only namespaces labelled env=prod, and only the writable-root rule to begin with.
    await apply({
      ...policy('fault-outage', [], {}),
      spec: { mode: 'Enforce', match: { namespaceSelector: { matchLabels: { env: 'prod' } } }, rules: { readOnlyRootFilesystem: true, privileged: false }, remediation: { label: {} } },
    });
    await waitForLabels('fault-outage-a', ['writable'], 30_000);

    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    proxy.setMode({ kind: 'cut' });
    const outageStarted = Date.now();
    await cluster().controlPlane.restartApiServer(0, { kill: true });
    // The API server is back, the operator still cut off: change everything it must notice.
    await apply({
      ...policy('fault-outage', [], {}),
      spec: { mode: 'Enforce', match: { namespaceSelector: { matchLabels: { env: 'prod' } } }, rules: { readOnlyRootFilesystem: false, privileged: true }, remediation: { label: {} } },
    });
    await apply(barePod('fault-outage-a', 'created-during-outage', PRIVILEGED));
    await kubectlOk(['label', 'namespace', 'fault-outage-b', 'env=prod']);
    const outageSeconds = (Date.now() - outageStarted) / 1000;
    proxy.setMode({ kind: 'forward' });
    const handledMs = Math.max(
      await waitForLabels('fault-outage-a', ['privileged', 'created-during-outage'], 30_000),
      await waitForLabels('fault-outage-b', ['privileged'], 30_000),
    );
    const status = await statusWhere('fault-outage', 'status counts both namespaces', (s) => s.matchedPods === 4 && s.violatingPods === 3, 30_000);
    const used = usage();
    expect(operator.exitCode, 'still running').to.equal(undefined);
    expect(status.observedGeneration).to.equal(2);
    expect(used.cpuShare).to.be.below(0.5);
    report(1, { outageS: outageSeconds, handledAfterReturnMs: handledMs, cpuShare: used.cpuShare, logLines: used.logLines });
  });

  it('2: watch history gone (410): relist, nothing missed, nothing repeated', async function () {
    this.timeout(180_000);
    const ns = 'fault-gone';
    await apply(policy('fault-gone', [ns], { mode: 'Enforce', remediation: { label: {} } }));
    await apply([1, 2, 3].map((i) => barePod(ns, `before-${i}`)));
    await waitForLabels(ns, ['before-1', 'before-2', 'before-3'], 30_000);
    const goneBefore = await operator.metric('immutability_operator_watch_restarts_total', { reason: 'gone' });

    // Cut off, the operator misses these; the restarted API server's watch cache then starts after its
    // last resourceVersion, so resuming the watch gets 410 Gone and the operator must relist.
    proxy.setMode({ kind: 'cut' });
    await apply([1, 2, 3, 4].map((i) => barePod(ns, `missed-${i}`)));
    await kubectlOk(['-n', ns, 'delete', 'pod', 'before-1', 'missed-1', '--grace-period=0', '--force']);
    await cluster().controlPlane.restartApiServer(0);
    await apply(barePod(ns, 'after-restart'));
    const writes = await labelWrites('200');
    proxy.setMode({ kind: 'forward' });
    await waitForLabels(ns, ['before-2', 'before-3', 'missed-2', 'missed-3', 'missed-4', 'after-restart'], 30_000);
    await statusWhere('fault-gone', 'status without the deleted pods', (s) => s.matchedPods === 6 && s.violatingPods === 6, 30_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const gone = (await operator.metric('immutability_operator_watch_restarts_total', { reason: 'gone' })) - goneBefore;
    const written = await writes();
    expect(gone, 'watches restarted after 410 Gone').to.be.above(0);
    // One label write per new pod; the three already labelled are not written again after the relist.
    expect(written, 'label writes').to.equal(4);
    report(2, { goneRestarts: gone, newPods: 4, labelWrites: written, deletedDuringGap: 2 });
  });

  it('10: the API server slow (2 s per packet) and stalled: the watch inactivity timeout reconnects, nothing duplicated', async function () {
    this.timeout(180_000);
    const ns = 'fault-slow';
    await apply(policy('fault-slow', [ns], { mode: 'Enforce', remediation: { label: {} } }));
    const writes = await labelWrites('200');

    proxy.setMode({ kind: 'delay', ms: 2_000 });
    const slowStarted = Date.now();
    await apply([1, 2, 3, 4, 5].map((i) => barePod(ns, `slow-${i}`)));
    await waitForLabels(ns, [1, 2, 3, 4, 5].map((i) => `slow-${i}`), 90_000);
    const slowMs = Date.now() - slowStarted;

    const inactivityBefore = await operator.metric('immutability_operator_watch_restarts_total', { reason: 'inactivity' });
    const connectionsBefore = proxy.connections;
    proxy.setMode({ kind: 'stall' });
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    await apply([1, 2, 3].map((i) => barePod(ns, `stalled-${i}`)));
    await new Promise((r) => setTimeout(r, 12_000)); // longer than the 8 s inactivity timeout
    const used = usage();
    proxy.setMode({ kind: 'forward' });
    const recoveredMs = await waitForLabels(ns, [...[1, 2, 3, 4, 5].map((i) => `slow-${i}`), ...[1, 2, 3].map((i) => `stalled-${i}`)], 30_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const inactivity = (await operator.metric('immutability_operator_watch_restarts_total', { reason: 'inactivity' })) - inactivityBefore;
    const written = await writes();
    expect(inactivity, 'watches restarted for inactivity').to.be.above(0);
    expect(proxy.connections, 'new connections opened during the stall').to.be.above(connectionsBefore);
    expect(written, 'one label write per pod').to.equal(8);
    expect(used.cpuShare, 'CPU share while stalled').to.be.below(0.2);
    report(10, { slowLabelAllMs: slowMs, inactivityRestarts: inactivity, recoveredAfterStallMs: recoveredMs, labelWrites: written, stalledCpuShare: used.cpuShare, stalledLogLines: used.logLines });
  });
});

describe('faults: API Priority and Fairness throttles the operator (429)', function () {
  const ns = 'fault-throttle';
  const flowControl: Json[] = [
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'PriorityLevelConfiguration', metadata: { name: 'fault-throttle' },
      spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } } },
    },
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: 'fault-throttle' },
      spec: {
        priorityLevelConfiguration: { name: 'fault-throttle' }, matchingPrecedence: 100,
        rules: [{
          subjects: [{ kind: 'ServiceAccount', serviceAccount: { namespace: 'immutability-system', name: 'immutability-operator' } }],
          resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }],
        }],
      },
    },
  ];

  // No more throttling by the time the fixture's cleanup needs the operator to release the policy.
  after(async function () {
    await kubectl(['delete', 'flowschema,prioritylevelconfiguration', 'fault-throttle', '--ignore-not-found']);
  });

  const operator = withOperator({ namespaces: [ns], policies: ['fault-throttle'], operator: async () => ({ kubeconfig: await serviceAccountKubeconfig() }) });

  const PODS = 200;

  it('11: throttled with 429 by priority and fairness: backs off and converges, each pod labelled once', async function () {
    this.timeout(180_000);
    await apply(flowControl);
    // The API server picks up new flow-control objects asynchronously: wait until it has bound the schema.
    await eventually('the FlowSchema in effect', async () =>
      (await kubectlOk(['get', 'flowschema', 'fault-throttle', '-o', 'jsonpath={.status.conditions[?(@.type=="Dangling")].status}'])) === 'False' ? true : undefined, 30_000, 250);
    const rejectedBefore = await apiServerMetric('apiserver_flowcontrol_rejected_requests_total', { priority_level: 'fault-throttle' });
    const writes = await labelWrites('200');
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    // The pods exist before the policy that makes them violating, so all 200 label writes are due at once:
    // created one by one, a quiet API server would let the operator keep pace within APF's single share.
    const pods: Json[] = [];
    for (let i = 0; i < PODS; i++) pods.push(barePod(ns, `burst-${i}`));
    await apply(pods);
    const started = Date.now();
    await apply(policy('fault-throttle', [ns], { mode: 'Enforce', remediation: { label: {} } }));
    await eventually(`all ${PODS} labelled`, async () => ((await labelled(ns)).size === PODS ? true : undefined), 120_000, 500);
    const convergedS = (Date.now() - started) / 1000;
    await statusWhere('fault-throttle', 'status counts every pod', (s) => s.matchedPods === PODS && s.violatingPods === PODS, 60_000);
    const used = usage();
    const rejected = (await apiServerMetric('apiserver_flowcontrol_rejected_requests_total', { priority_level: 'fault-throttle' })) - rejectedBefore;
    const written = await writes();
    expect(rejected, 'requests rejected with 429 by APF').to.be.above(0);
    expect(written, 'one successful label write per pod').to.equal(PODS);
    expect(operator.exitCode).to.equal(undefined);
    report(11, { pods: PODS, rejected429: rejected, labelWrites: written, convergedS, cpuShare: used.cpuShare, logLines: used.logLines });
  });
});
