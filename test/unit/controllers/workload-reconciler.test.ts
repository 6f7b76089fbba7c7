import { expect } from 'chai';
import type { Pod } from '../../../src/api/kube.js';
import { noDrift } from '../../../src/controllers/drift-source.js';
import { PolicySet, type ActivePolicy } from '../../../src/controllers/policy-set.js';
import { WorkloadReconciler } from '../../../src/controllers/workload-reconciler.js';
import type { WorkloadFindings } from '../../../src/remediation/context.js';
import type { WorkloadResult } from '../../../src/remediation/policy-state.js';
import { compliant, policy, pod, testCaches, writable } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00Z');

function owned(target: Pod, kind: string, name: string, apiVersion = 'apps/v1'): Pod {
  return { ...target, metadata: { ...target.metadata, ownerReferences: [{ apiVersion, kind, name, uid: `uid-${name}`, controller: true }] } };
}

/** Records what the reconciler hands to remediation; `fail` makes one policy's call throw. */
class RecordingRemediator {
  readonly calls: { policy: string; key: string; pods: string[] }[] = [];
  readonly results = new Map<string, WorkloadResult>();
  fail?: string;

  remediateWorkload(active: ActivePolicy, key: string, w: WorkloadFindings | undefined): Promise<WorkloadResult | undefined> {
    const name = active.resolved.name;
    this.calls.push({ policy: name, key, pods: w?.pods.map((p) => p.pod.metadata.name) ?? [] });
    const result: WorkloadResult = { settled: true, outcome: { action: w ? 'Patched' : 'Skipped' } };
    this.results.set(`${name}|${key}`, result);
    if (this.fail === name) return Promise.reject(new Error('admission webhook denied the request'));
    return Promise.resolve(w ? { ...result, requeueAfterMs: 2_000 } : undefined);
  }

  resultOf(policyName: string, key: string): WorkloadResult | undefined {
    return this.results.get(`${policyName}|${key}`);
  }
}

function setup(pods: Pod[], specs = [policy('a', { mode: 'Enforce', remediation: { patchOwner: {} } })]) {
  const caches = testCaches({ policies: specs, namespaces: { shop: {} }, pods });
  caches.replicaSets.upsert({ metadata: { name: 'web-1', namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true }] } });
  const remediator = new RecordingRemediator();
  const due: string[] = [];
  const reconciler = new WorkloadReconciler({
    caches, policies: new PolicySet(caches.policies), drift: noDrift, remediator, now: () => NOW, onOutcomeChange: (p) => due.push(p),
  });
  return { caches, remediator, due, reconciler };
}

describe('controllers/workload-reconciler', () => {
  it('gathers the Deployment\'s violating pods through its ReplicaSets and leaves other workloads\' pods out', async () => {
    const h = setup([
      owned(pod('shop', 'web-1-a', [writable('nginx')]), 'ReplicaSet', 'web-1'),
      owned(pod('shop', 'web-1-b', [compliant('nginx')]), 'ReplicaSet', 'web-1'),
      owned(pod('shop', 'api-1-a', [writable('nginx')]), 'ReplicaSet', 'api-1'),
      pod('shop', 'bare', [writable('nginx')]),
    ]);
    const result = await h.reconciler.reconcile('shop/Deployment/web');
    expect(h.remediator.calls).to.deep.equal([{ policy: 'a', key: 'shop/Deployment/web', pods: ['web-1-a'] }]);
    expect(result).to.deep.equal({ requeueAfterMs: 2_000 });
    expect(h.due).to.deep.equal(['a']);

    await h.reconciler.reconcile('shop/Pod/bare');
    expect(h.remediator.calls[1]).to.deep.equal({ policy: 'a', key: 'shop/Pod/bare', pods: ['bare'] });
  });

  it('tells remediation a workload whose pods are gone or comply, so that it forgets or watches detached rollouts', async () => {
    const h = setup([owned(pod('shop', 'web-1-a', [compliant('nginx')]), 'ReplicaSet', 'web-1')]);
    expect(await h.reconciler.reconcile('shop/Deployment/web')).to.equal(undefined);
    expect(h.remediator.calls).to.deep.equal([{ policy: 'a', key: 'shop/Deployment/web', pods: [] }]);
  });

  it('gives every policy its turn before throwing the failure for the runner to retry', async () => {
    const h = setup([owned(pod('shop', 'web-1-a', [writable('nginx')]), 'ReplicaSet', 'web-1')], [
      policy('a', { mode: 'Enforce', remediation: { patchOwner: {} } }),
      policy('b', { mode: 'Audit' }),
    ]);
    h.remediator.fail = 'a';
    const err = await h.reconciler.reconcile('shop/Deployment/web').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error).with.property('message', 'admission webhook denied the request');
    expect(h.remediator.calls.map((c) => c.policy)).to.deep.equal(['a', 'b']);
    expect(h.due.sort()).to.deep.equal(['a', 'b']);
  });

  it('comes back when an exemption expires, with no event needed', async () => {
    const h = setup([owned(pod('shop', 'web-1-a', [writable('nginx')]), 'ReplicaSet', 'web-1')], [
      policy('a', { mode: 'Audit', exemptions: [{ containers: ['nginx'], expires: '2026-06-01T00:00:01Z', reason: 'TICKET-1' }] }),
    ]);
    h.remediator.remediateWorkload = () => Promise.resolve(undefined);
    expect(await h.reconciler.reconcile('shop/Deployment/web')).to.deep.equal({ requeueAfterMs: 1_000 });
  });
});
