import { expect } from 'chai';
import type { Pod } from '../../../src/api/kube.js';
import { evictionBlocker, evictionCandidates, recreatesFromOwnerTemplate } from '../../../src/remediation/eviction.js';

function pod(name: string, meta: Partial<Pod['metadata']> = {}): Pod {
  return { metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...meta }, spec: { containers: [{ name: 'app' }] } };
}
const owned = (kind: string): Partial<Pod['metadata']> => ({ ownerReferences: [{ apiVersion: 'apps/v1', kind, name: 'o', uid: 'u', controller: true }] });

describe('remediation/eviction', () => {
  describe('evictionBlocker', () => {
    const cases: { name: string; pod: Pod; kind: string; barePods?: boolean; blocked: RegExp | undefined }[] = [
      { name: 'a ReplicaSet pod', pod: pod('a', owned('ReplicaSet')), kind: 'Deployment', blocked: undefined },
      { name: 'a StatefulSet pod', pod: pod('a', owned('StatefulSet')), kind: 'StatefulSet', blocked: undefined },
      { name: 'a DaemonSet pod', pod: pod('a', owned('DaemonSet')), kind: 'DaemonSet', blocked: /DaemonSet/ },
      { name: 'a DaemonSet pod even with barePods', pod: pod('a', owned('DaemonSet')), kind: 'DaemonSet', barePods: true, blocked: /DaemonSet/ },
      { name: 'a bare pod', pod: pod('a'), kind: 'Pod', blocked: /barePods/ },
      { name: 'a bare pod with barePods', pod: pod('a'), kind: 'Pod', barePods: true, blocked: undefined },
      { name: 'a mirror pod (annotation)', pod: pod('a', { annotations: { 'kubernetes.io/config.mirror': 'x' } }), kind: 'Pod', barePods: true, blocked: /mirror/ },
      { name: 'a mirror pod (owned by its Node)', pod: pod('a', { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u', controller: true }] }), kind: 'Node', barePods: true, blocked: /mirror/ },
      { name: 'a terminating pod', pod: pod('a', { ...owned('ReplicaSet'), deletionTimestamp: '2026-01-01T00:00:00Z' }), kind: 'Deployment', blocked: /terminating/ },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.blocked ? 'never evicted' : 'may be evicted'}`, () => {
        const blocker = evictionBlocker(c.pod, c.kind, c.barePods ?? false);
        if (c.blocked) expect(blocker).to.match(c.blocked);
        else expect(blocker).to.equal(undefined);
      });
    }
  });

  describe('evictionCandidates', () => {
    const drifted = { pod: pod('drifted'), findings: ['app:readOnlyRootFilesystem'], driftFindings: ['app:exec'] };
    const stale = { pod: pod('stale'), findings: ['app:privileged'], driftFindings: [] };
    const stillViolating = { pod: pod('same'), findings: ['app:runAsNonRoot'], driftFindings: [] };

    it('evicts drifted pods whatever the template says', () => {
      expect(evictionCandidates([drifted], undefined).map((c) => [c.pod.metadata.name, c.cause, c.detail]))
        .to.deep.equal([['drifted', 'drift', ['app:exec']]]);
    });

    it('evicts a stale replica only for findings its template no longer has (no loops)', () => {
      const template = new Set(['app:runAsNonRoot']);
      const out = evictionCandidates([stillViolating, stale], template);
      expect(out.map((c) => [c.pod.metadata.name, c.cause, c.detail])).to.deep.equal([['stale', 'stale', ['app:privileged']]]);
    });

    it('evicts no stale replica when the template is not the one pods come back from', () => {
      expect(evictionCandidates([stale, stillViolating], undefined)).to.deep.equal([]);
    });

    it('stale replicas exist only where the controller does not replace pods itself', () => {
      expect(recreatesFromOwnerTemplate('StatefulSet', false)).to.equal(true);
      expect(recreatesFromOwnerTemplate('StatefulSet', true)).to.equal(false);
      expect(recreatesFromOwnerTemplate('ReplicaSet', false)).to.equal(true);
      expect(recreatesFromOwnerTemplate('Deployment', true)).to.equal(false);
      expect(recreatesFromOwnerTemplate('CronJob', false)).to.equal(false);
      expect(recreatesFromOwnerTemplate('Job', false)).to.equal(false);
    });
  });
});
