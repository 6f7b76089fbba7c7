// Scenarios 6, 7, 8 and 9 (docs/reliability.md): remediation against a cluster that says no — a
// PodDisruptionBudget that forbids every eviction, another field manager that reverts every patch, a rollout
// that never becomes ready, and RBAC that loses `patch` mid-run. Each must be reported, bounded and quiet.
import { expect } from 'chai';
import { requestCounter } from '../support/faults/apiserver-metrics.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import {
  OPERATOR_MANAGER, PRIVILEGED, apply, condition, deployment, getJson, isLabelled, livePods,
  managedFields, policy, statusWhere, waitForNamespacesGone, waitForRunningPods, type Json,
} from '../support/workloads.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import { RBAC_DIR, installOperatorRbac, serviceAccountKubeconfig } from '../support/service-account.js';

const ROOT_PATH = ['spec', 'template', 'spec', 'containers', 0, 'securityContext', 'readOnlyRootFilesystem'] as const;

async function generation(ns: string, kind: string, name: string): Promise<number> {
  return Number(await kubectlOk(['-n', ns, 'get', kind, name, '-o', 'jsonpath={.metadata.generation}']));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('faults: remediation refused', function () {
  before(async function () {
    // Earlier scenarios' namespaces must be gone: their pod deletions would count as DELETEs here.
    await waitForNamespacesGone();
  });

  const operator = withOperator({
    namespaces: ['fault-pdb', 'fault-fight', 'fault-rollout'], policies: ['fault-pdb', 'fault-fight', 'fault-rollout'], operator: { metrics: 'open' },
  });

  it('6: a PodDisruptionBudget forbids every eviction: never a DELETE, EvictionBlocked, attempts bounded', async function () {
    const ns = 'fault-pdb';
    await apply({
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'ledger', namespace: ns },
      spec: {
        replicas: 2, serviceName: 'ledger', updateStrategy: { type: 'OnDelete' }, selector: { matchLabels: { app: 'ledger' } },
        template: { metadata: { labels: { app: 'ledger' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27', securityContext: PRIVILEGED }] } },
      },
    });
    await kubectlOk(['-n', ns, 'create', 'pdb', 'ledger', '--selector=app=ledger', '--max-unavailable=0']);
    const pods = await waitForRunningPods(ns, 2, 'app=ledger');
    const uids = pods.map((p) => String(at(p, 'metadata', 'uid'))).sort();
    await eventually('PDB observed', async () =>
      (await kubectlOk(['-n', ns, 'get', 'pdb', 'ledger', '-o', 'jsonpath={.status.currentHealthy}'])) === '2' ? true : undefined);

    const deletes = await requestCounter({ resource: 'pods', verb: 'DELETE' });
    const evictions = await requestCounter({ resource: 'pods', subresource: 'eviction' });
    const refused = await requestCounter({ resource: 'pods', subresource: 'eviction', code: '429' });
    await apply(policy('fault-pdb', [ns], {
      mode: 'Enforce', rules: { readOnlyRootFilesystem: false, privileged: true },
      remediation: { patchOwner: {}, evict: { maxPerMinute: 60 } },
    }));
    const blocked = await statusWhere('fault-pdb', 'Degraded/EvictionBlocked', (s) => condition(s, 'Degraded')?.reason === 'EvictionBlocked', 60_000);
    expect(blocked.violations?.find((v) => v.name === 'ledger')?.action).to.equal('Blocked');

    const windowSeconds = 30;
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    const attemptsBefore = await evictions();
    await sleep(windowSeconds * 1000);
    const used = usage();
    const attemptsInWindow = (await evictions()) - attemptsBefore;
    const after = (await livePods(ns, 'app=ledger')).map((p) => String(at(p, 'metadata', 'uid'))).sort();
    expect(after, 'the same two pods, never deleted').to.deep.equal(uids);
    expect(await deletes(), 'pod DELETEs while the PDB refused').to.equal(0);
    expect(await refused(), 'every eviction attempt refused with 429').to.equal(await evictions());
    // Two pods, backed off: a handful of attempts per pod in 30 s, not one per reconcile.
    expect(attemptsInWindow, 'eviction attempts in the window').to.be.at.most(12);
    expect(used.cpuShare, 'CPU share').to.be.below(0.2);
    const still = await statusWhere('fault-pdb', 'still EvictionBlocked', (s) => condition(s, 'Degraded')?.reason === 'EvictionBlocked', 5_000);
    report(6, {
      pods: 2, evictionAttempts: await evictions(), attemptsIn30s: attemptsInWindow, deletes: 0,
      cpuShare: used.cpuShare, logLinesIn30s: used.logLines, degraded: String(condition(still, 'Degraded')?.reason),
    });
  });

  it('7: another field manager keeps reverting the patch: bounded attempts, reported, generation stops growing', async function () {
    const ns = 'fault-fight';
    const manifest = deployment(ns, 'fought');
    await apply(manifest, ['--server-side', '--field-manager=deploy-bot']);
    await waitForRunningPods(ns, 1, 'app=fought');
    // The bot owns the manifest and forces readOnlyRootFilesystem back to false whenever it sees it true.
    const reverted = JSON.parse(JSON.stringify(manifest)) as Json;
    (at(reverted, 'spec', 'template', 'spec', 'containers', 0) as Json)['securityContext'] = { readOnlyRootFilesystem: false };
    let reverts = 0;
    let fighting = true;
    const bot = (async () => {
      while (fighting) {
        const d = await getJson(['-n', ns, 'deployment', 'fought']).catch(() => undefined);
        if (d && at(d, ...ROOT_PATH) === true) {
          await apply(reverted, ['--server-side', '--force-conflicts', '--field-manager=deploy-bot']);
          reverts++;
        }
        await sleep(300);
      }
    })();
    try {
      // Writes that went through: an apply the API server refuses (409: made from a cached copy the bot's
      // write has outdated; the operator then reads it fresh) changes nothing and is counted apart.
      const patches = await requestCounter({ resource: 'deployments', verb: /^(PATCH|APPLY)$/, code: /^2/ });
      const refused = await requestCounter({ resource: 'deployments', verb: /^(PATCH|APPLY)$/, code: '409' });
      await apply(policy('fault-fight', [ns], { mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp'] } } }));
      const status = await statusWhere('fault-fight', 'the fight reported', (s) =>
        /reverted/.test(s.violations?.find((v) => v.name === 'fought')?.message ?? ''), 90_000);
      const v = status.violations?.find((x) => x.name === 'fought');
      expect(v?.action).to.equal('Blocked');
      expect(v?.message).to.match(/not fighting/);
      expect(condition(status, 'Degraded')?.status).to.equal('True');
      const gen = await generation(ns, 'deployment', 'fought');
      const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
      await sleep(15_000);
      const used = usage();
      expect(await generation(ns, 'deployment', 'fought'), 'generation stopped growing').to.equal(gen);
      const applied = await patches();
      // The bot's own applies are counted too; ours are what is left. The bound is 3 applies of the same change;
      // the first revert leaves our emptyDir in place, so the change re-planned after it is a smaller one and
      // counts from 1 again: 1 + 3 applies at most.
      const ours = applied - reverts;
      expect(ours, 'operator patches').to.be.within(1, 4);
      expect(used.cpuShare).to.be.below(0.2);
      report(7, { operatorPatches: ours, refusedAsOutdated: await refused(), botReverts: reverts, finalGeneration: gen, cpuShare: used.cpuShare, logLinesIn15s: used.logLines, reason: String(condition(status, 'Degraded')?.reason) });
    } finally {
      fighting = false;
      await bot;
    }
  });

  it('8: a patched rollout never becomes ready: rolled back, RolloutFailed, not re-patched', async function () {
    const ns = 'fault-rollout';
    const names = ['fragile-1', 'fragile-2', 'fragile-3'];
    await apply(names.map((n) => deployment(ns, n, { labels: { 'kwok.immutability.dev/never-ready': 'true' }, progressDeadlineSeconds: 10 })));
    await eventually('fragile pods', async () => ((await livePods(ns)).length === 3 ? true : undefined), 60_000);
    // Every attempt, and those that went through: a write computed from a cached copy the controller-manager
    // has since updated is refused with 409 and redone from a fresh read (as in scenario 7).
    const patches = await requestCounter({ resource: 'deployments', verb: /^(PATCH|APPLY|UPDATE)$/, subresource: '' });
    const applied = await requestCounter({ resource: 'deployments', verb: /^(PATCH|APPLY|UPDATE)$/, subresource: '', code: /^2/ });
    await apply(policy('fault-rollout', [ns], { mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp'], rollback: true } } }));
    const started = Date.now();
    const status = await statusWhere('fault-rollout', 'three rollbacks, RolloutFailed', (s) =>
      condition(s, 'Degraded')?.reason === 'RolloutFailed' && s.actions?.rolledBack === 3, 120_000);
    const rolledBackAfterS = (Date.now() - started) / 1000;
    for (const n of names) expect(await generation(ns, 'deployment', n), n).to.equal(3); // created, patched, reverted
    const writes = await applied();
    const attempts = await patches();
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    await sleep(15_000);
    const used = usage();
    for (const n of names) expect(await generation(ns, 'deployment', n), `${n} not patched again`).to.equal(3);
    expect(await patches(), 'no write attempts after the rollbacks').to.equal(attempts);
    expect(writes, 'one patch and one revert each went through').to.equal(6);
    expect(status.violations?.every((v) => v.action === 'Blocked' && /rolled back/.test(v.message ?? ''))).to.equal(true);
    expect(used.cpuShare).to.be.below(0.2);
    report(8, { deployments: 3, rolledBack: status.actions?.rolledBack ?? 0, rolledBackAfterS, writes, refusedAsOutdated: attempts - writes, cpuShare: used.cpuShare, logLinesIn15s: used.logLines });
  });
});

describe('faults: RBAC loses patch mid-run', function () {
  const ns = 'fault-rbac';

  // Should the scenario fail while `patch` is revoked, the shipped RBAC is back before the fixture's cleanup.
  after(async function () {
    await installOperatorRbac();
  });

  withOperator({ namespaces: [ns], policies: ['fault-rbac'], operator: async () => ({ kubeconfig: await serviceAccountKubeconfig() }) });

  it('9: Degraded/Forbidden while patch is revoked, labelling goes on, recovery when the right comes back', async function () {
    this.timeout(180_000);
    // Revoke `patch` on deployments (and only that) from the shipped ClusterRole.
    const role = await getJson(['clusterrole', 'immutability-operator']);
    const rules = role['rules'] as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const revoked = rules.flatMap((r) => {
      if (!r.resources.includes('deployments')) return [r];
      return [
        { ...r, resources: ['deployments'], verbs: r.verbs.filter((v) => v !== 'patch') },
        { ...r, resources: r.resources.filter((x) => x !== 'deployments') },
      ];
    });
    await kubectlOk(['replace', '-f', '-'], { input: JSON.stringify({ ...role, rules: revoked }) });
    await eventually('patch on deployments revoked', async () =>
      (await kubectl(['auth', 'can-i', 'patch', 'deployments', '-n', ns, '--as=system:serviceaccount:immutability-system:immutability-operator'])).stdout.trim() === 'no' ? true : undefined);

    await apply(deployment(ns, 'locked', { replicas: 2 }));
    await waitForRunningPods(ns, 2, 'app=locked');
    await apply(policy('fault-rbac', [ns], { mode: 'Enforce', remediation: { label: {}, patchOwner: { writablePaths: ['/tmp'] } } }));
    const forbidden = await statusWhere('fault-rbac', 'Degraded/Forbidden', (s) => condition(s, 'Degraded')?.reason === 'Forbidden', 60_000);
    expect(forbidden.violatingPods).to.equal(2);
    await eventually('pods labelled all the same', async () => ((await livePods(ns, 'app=locked')).every(isLabelled) ? true : undefined));
    expect(await generation(ns, 'deployment', 'locked')).to.equal(1);

    const restoredAt = Date.now();
    await kubectlOk(['apply', '-k', RBAC_DIR]);
    const dep = await eventually('the Deployment patched once the right is back', async () => {
      const d = await getJson(['-n', ns, 'deployment', 'locked', '--show-managed-fields']);
      return at(d, ...ROOT_PATH) === true ? d : undefined;
    }, 60_000, 500);
    const recoveredAfterS = (Date.now() - restoredAt) / 1000;
    expect(managedFields(dep).map((f) => f.manager)).to.include(OPERATOR_MANAGER);
    const healed = await statusWhere('fault-rbac', 'Degraded clears', (s) => condition(s, 'Degraded')?.status === 'False', 60_000);
    expect(healed.actions?.patched).to.equal(1);
    expect(await generation(ns, 'deployment', 'locked')).to.equal(2);
    report(9, { forbiddenReason: 'Forbidden', labelledWhileForbidden: 2, recoveredAfterS });
  });
});
