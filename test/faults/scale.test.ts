// Scenario 16 (docs/reliability.md): many policies over the same pods. However many policies govern a pod,
// the pod gets one metadata write per change of what they want, and each policy's status counts right.
import { expect } from 'chai';
import { requestCounter } from '../support/faults/apiserver-metrics.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import {
  PRIVILEGED, apply, barePod, isLabelled, items, livePods, policy, waitForRunningPods,
} from '../support/workloads.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';

const NS = 'fault-overlap';
const POLICIES = 100;
const PODS = 10;
const names = Array.from({ length: POLICIES }, (_, i) => `fault-overlap-${i}`);
/** Label writes as the API server counts them (server-side apply or patch of pods, not their status). */
const labelWrites = (): Promise<() => Promise<number>> => requestCounter({ resource: 'pods', subresource: '', verb: /^(PATCH|APPLY)$/ });

describe('faults: many policies over the same pods', function () {
  const operator = withOperator({
    namespaces: [NS], policies: names, operator: { metrics: 'open' },
    beforeStart: async () => {
      await apply(Array.from({ length: PODS }, (_, i) => barePod(NS, `pod-${i}`, PRIVILEGED)));
      await waitForRunningPods(NS, PODS);
    },
  });

  it('16: 100 overlapping policies on one namespace: one label write per pod change, each status right', async function () {
    this.timeout(240_000);
    const writes = await labelWrites();
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    const started = Date.now();
    // Half of them Audit (they report but never label), half Enforce with labels: the union is one label.
    await apply(names.map((name, i) => policy(name, [NS], i % 2 === 0
      ? { mode: 'Enforce', remediation: { label: {} } }
      : { mode: 'Audit', rules: { privileged: true } })));
    const statuses = await eventually('every policy counts every pod', async () => {
      const all = await items(['imp']);
      const ours = all.filter((p) => names.includes(String(at(p, 'metadata', 'name'))));
      const right = ours.filter((p) => at(p, 'status', 'matchedPods') === PODS && at(p, 'status', 'violatingPods') === PODS);
      return right.length === POLICIES ? ours : undefined;
    }, 120_000, 1000);
    const convergedMs = Date.now() - started;
    await eventually('every pod labelled', async () => ((await livePods(NS)).every(isLabelled) ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    const firstWrites = await writes();
    expect(firstWrites, 'one write per pod for 100 policies').to.equal(PODS);
    const used = usage();

    // A pod change that changes nothing the policies want (someone else's label): no write.
    const quiet = await labelWrites();
    await kubectlOk(['-n', NS, 'label', 'pod', 'pod-0', 'team=payments']);
    await new Promise((r) => setTimeout(r, 3_000));
    // The one PATCH counted is kubectl's own label write; the operator adds none.
    expect(await quiet(), 'writes for an unrelated label change, kubectl\'s included').to.equal(1);
    // A new pod: one write.
    const added = await labelWrites();
    await apply(barePod(NS, 'pod-new', PRIVILEGED));
    await eventually('the new pod labelled', async () => ((await livePods(NS)).find((p) => at(p, 'metadata', 'name') === 'pod-new' && isLabelled(p)) ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await added(), 'writes for one new pod').to.equal(1);
    const annotation = String(at((await livePods(NS))[0], 'metadata', 'annotations', 'immutability.dev/violations'));
    report(16, {
      policies: POLICIES, pods: PODS, labelWrites: firstWrites, writesForUnrelatedChange: 0, writesForNewPod: 1,
      statusesRight: statuses.length, convergedMs, cpuSeconds: used.cpuSeconds, violations: annotation,
    });
  });
});
