// Scenarios 3 and 23 (docs/reliability.md): the operator crashes in the middle of enforcing a policy over
// 100 Deployments, and is restarted ten times in a row. Everything is judged from the API server: object
// generations, ReplicaSets, the API server's own request counters, and the policy's status.
import { expect } from 'chai';
import { requestCounter } from '../support/faults/apiserver-metrics.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import { TcpProxy } from '../support/faults/tcp-proxy.js';
import { proxiedKubeconfig } from '../support/faults/kubeconfig.js';
import {
  PRIVILEGED, apply, barePod, cleanup, condition, createNamespaces, deployment, isLabelled, items, livePods, policy,
  policyStatus, statusWhere, waitForRunningPods, type Json,
} from '../support/workloads.js';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { OperatorProcess } from '../support/operator.js';

const NS = 'fault-enforce';
const POLICY = 'fault-enforce';
const DEPLOYMENTS = 100;

/** Generation of every Deployment in the namespace, by name. */
async function generations(): Promise<Map<string, number>> {
  const res = await cluster().controlPlane.apiGet(`/apis/apps/v1/namespaces/${NS}/deployments`);
  const list = JSON.parse(res.body) as { items: { metadata: { name: string; generation: number } }[] };
  return new Map(list.items.map((d) => [d.metadata.name, d.metadata.generation]));
}

const count = (gens: Map<string, number>, gen: number): number => [...gens.values()].filter((g) => g === gen).length;

/** The operator's writes as the API server counts them: label applies, owner patches, evictions, status. */
async function operatorWrites(): Promise<() => Promise<number>> {
  const counters = await Promise.all([
    requestCounter({ resource: 'pods', subresource: '', verb: /^(PATCH|APPLY|UPDATE)$/ }),
    requestCounter({ resource: 'deployments', subresource: '', verb: /^(PATCH|APPLY|UPDATE)$/ }),
    requestCounter({ resource: 'pods', subresource: 'eviction' }),
    requestCounter({ resource: 'immutabilitypolicies', verb: /^(PATCH|APPLY|UPDATE)$/ }),
  ]);
  return async () => (await Promise.all(counters.map((c) => c()))).reduce((a, b) => a + b, 0);
}

describe('faults: operator crashes and restarts', function () {
  let operator: OperatorProcess | undefined;

  before(async function () {
    this.timeout(300_000);
    await installCrd();
    await createNamespaces([NS]);
    const deployments: Json[] = [];
    for (let i = 0; i < DEPLOYMENTS; i++) deployments.push(deployment(NS, `app-${String(i).padStart(3, '0')}`));
    await apply(deployments);
    await waitForRunningPods(NS, DEPLOYMENTS, undefined, 180_000);
  });

  after(async function () {
    this.timeout(120_000);
    operator ??= await new OperatorProcess().start();
    await cleanup([POLICY], [NS]);
    await operator.stop();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && operator) process.stderr.write(`operator log tail:\n${await operator.logs(40)}\n`);
  });

  it('3: SIGKILL in the middle of Enforce over 100 Deployments: each patched exactly once, counts right, no repeated evictions', async function () {
    this.timeout(300_000);
    const evictions = await requestCounter({ resource: 'pods', subresource: 'eviction' });
    await apply(policy(POLICY, [NS], {
      mode: 'Enforce',
      remediation: { label: {}, patchOwner: { writablePaths: ['/tmp'] }, evict: { maxPerMinute: 1000 } },
    }));
    // A 40 ms delay on every packet between the first operator and the API server spreads its 100 patches
    // over seconds, so that the kill lands in the middle of them rather than before or after.
    const proxy = await new TcpProxy(cluster().controlPlane.apiServerAddress).start();
    proxy.setMode({ kind: 'delay', ms: 40 });
    const first = await new OperatorProcess({ kubeconfig: await proxiedKubeconfig(proxy) }).start();
    operator = first;
    const atKill = await eventually('some but not all Deployments patched', async () => {
      const gens = await generations();
      return count(gens, 2) >= 5 ? gens : undefined;
    }, 120_000, 20);
    await first.kill();
    await proxy.stop();
    expect(count(atKill, 2), 'the kill landed mid-way').to.be.below(DEPLOYMENTS);
    const patchedAtKill = count(await generations(), 2);

    const restarted = Date.now();
    operator = await new OperatorProcess().start();
    await eventually('every Deployment patched', async () => (count(await generations(), 2) === DEPLOYMENTS ? true : undefined), 120_000, 500);
    await eventually('every pod replaced by a compliant one', async () => {
      const pods = await livePods(NS);
      return pods.length === DEPLOYMENTS && pods.every((p) =>
        at(p, 'spec', 'containers', 0, 'securityContext', 'readOnlyRootFilesystem') === true && !isLabelled(p) &&
        at(p, 'status', 'phase') === 'Running') ? true : undefined;
    }, 180_000, 1000);
    const status = await statusWhere(POLICY, 'Compliant with 100 matched pods', (s) =>
      condition(s, 'Compliant')?.status === 'True' && s.matchedPods === DEPLOYMENTS && s.violatingWorkloads === 0, 60_000);
    const convergedSeconds = (Date.now() - restarted) / 1000;

    // Quiet for a while: nothing patched a second time, no further evictions.
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    const evictedBefore = await evictions();
    await new Promise((r) => setTimeout(r, 5_000));
    const quiet = usage();
    const gens = await generations();
    expect(count(gens, 2), 'every Deployment at generation 2: patched exactly once').to.equal(DEPLOYMENTS);
    const replicaSets = await items(['-n', NS, 'replicasets']);
    const perDeployment = new Map<string, number>();
    for (const rs of replicaSets) {
      const owner = String(at(rs, 'metadata', 'ownerReferences', 0, 'name'));
      perDeployment.set(owner, (perDeployment.get(owner) ?? 0) + 1);
    }
    expect([...perDeployment.values()].every((n) => n === 2) && perDeployment.size === DEPLOYMENTS, 'two ReplicaSets each').to.equal(true);
    const evicted = await evictions();
    expect(evicted, 'no evictions once converged').to.equal(evictedBefore);
    // A Deployment's rollout replaces its own pods: each old pod is evicted at most once, most never.
    expect(evicted).to.be.at.most(DEPLOYMENTS);
    expect(condition(status, 'Degraded')?.status).to.equal('False');
    // Exact: every patch is counted on its Deployment in the same write, and the restarted operator reads
    // the records back (the killed one's last status write never counted all it had done).
    expect(status.actions?.patched).to.equal(DEPLOYMENTS);
    expect(quiet.cpuShare, 'CPU share while idle').to.be.below(0.2);
    report(3, {
      deployments: DEPLOYMENTS, patchedAtKill, generation2: count(gens, 2), replicaSets: replicaSets.length,
      evictions: evicted, convergedAfterRestartS: convergedSeconds, statusPatched: status.actions?.patched ?? -1,
      idleCpuShare: quiet.cpuShare, idleLogLines: quiet.logLines,
    });
  });

  it('23: ten restarts in a row: no repeated actions, conditions keep their lastTransitionTime', async function () {
    this.timeout(240_000);
    // Bare privileged pods stay violating (labelled, never evicted): the status has conditions and actions to keep.
    await apply([1, 2, 3].map((i) => barePod(NS, `bare-${i}`, PRIVILEGED)));
    await eventually('bare pods labelled', async () => {
      const pods = await livePods(NS, 'app!=x');
      return pods.filter((p) => String(at(p, 'metadata', 'name')).startsWith('bare-') && isLabelled(p)).length === 3 ? true : undefined;
    }, 60_000);
    const settled = await statusWhere(POLICY, 'status counts the bare pods', (s) => s.violatingPods === 3 && condition(s, 'Compliant')?.status === 'False');
    await new Promise((r) => setTimeout(r, 1_500)); // a last coalesced status write lands
    const before = await policyStatus(POLICY);
    const gensBefore = await generations();
    const writes = await operatorWrites();
    const restartTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      // Alternate a crash and a graceful stop: both must come back without acting again.
      if (i % 2 === 0) await operator?.kill();
      else await operator?.stop();
      const started = Date.now();
      operator = await new OperatorProcess().start();
      restartTimes.push(Date.now() - started);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await policyStatus(POLICY);
    const written = await writes();
    expect(written, 'writes by ten restarted operators').to.equal(0);
    for (const type of ['Ready', 'Compliant', 'Degraded']) {
      expect(condition(after, type)?.lastTransitionTime, `${type}.lastTransitionTime`).to.equal(condition(before, type)?.lastTransitionTime);
    }
    expect(after.actions).to.deep.equal(settled.actions);
    expect([...(await generations()).entries()]).to.deep.equal([...gensBefore.entries()]);
    report(23, { restarts: 10, writes: written, meanReadyMs: restartTimes.reduce((a, b) => a + b, 0) / restartTimes.length, maxReadyMs: Math.max(...restartTimes) });
  });
});
