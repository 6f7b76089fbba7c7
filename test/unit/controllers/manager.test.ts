import { expect } from 'chai';
import type { Pod } from '../../../src/api/kube.js';
import { ANNOTATION_DRIFT, ANNOTATION_VIOLATIONS, LABEL_DRIFT, LABEL_VIOLATION, type ImmutabilityPolicy, type ObjectMeta } from '../../../src/api/types.js';
import { onlyVerdictMetadataChanged, policyChangeNeedsWork, WATCHES } from '../../../src/controllers/manager.js';
import type { StoreEvent } from '../../../src/runtime/store.js';
import { pod, policy, testCaches, writable } from './helpers.js';

const base = (meta: Partial<ObjectMeta> = {}): ImmutabilityPolicy =>
  policy('p', { mode: 'Audit' }, { generation: 3, resourceVersion: '10', ...meta });

const updated = (old: ImmutabilityPolicy, obj: ImmutabilityPolicy): StoreEvent<ImmutabilityPolicy> => ({ type: 'updated', key: 'p', obj, old });

describe('controllers/manager policyChangeNeedsWork', () => {
  it('is true for added and deleted policies', () => {
    expect(policyChangeNeedsWork({ type: 'added', key: 'p', obj: base() })).to.equal(true);
    expect(policyChangeNeedsWork({ type: 'deleted', key: 'p', obj: base() })).to.equal(true);
  });

  it('is true for an update without the old object', () => {
    expect(policyChangeNeedsWork({ type: 'updated', key: 'p', obj: base() })).to.equal(true);
  });

  it('is false for our own status write (resourceVersion and status move, generation does not)', () => {
    const next: ImmutabilityPolicy = { ...base({ resourceVersion: '11' }), status: { observedGeneration: 3, matchedPods: 4 } };
    expect(policyChangeNeedsWork(updated(base(), next))).to.equal(false);
  });

  it('is false for label and annotation edits (metadata the controller does not read)', () => {
    expect(policyChangeNeedsWork(updated(base(), base({ labels: { team: 'a' }, annotations: { note: 'x' } })))).to.equal(false);
  });

  it('treats absent and empty finalizer lists alike', () => {
    expect(policyChangeNeedsWork(updated(base({ finalizers: undefined }), base({ finalizers: [] })))).to.equal(false);
    expect(policyChangeNeedsWork(updated(base({ finalizers: [] }), base({ finalizers: undefined })))).to.equal(false);
  });

  const changes: [string, ImmutabilityPolicy, ImmutabilityPolicy][] = [
    ['the generation moves (spec edited)', base(), base({ generation: 4 })],
    ['a generation appears', base({ generation: undefined }), base()],
    ['deletion starts', base(), base({ deletionTimestamp: '2026-01-01T00:00:00Z' })],
    ['a finalizer is added', base({ finalizers: undefined }), base({ finalizers: ['immutability.dev/cleanup'] })],
    ['a finalizer is removed', base({ finalizers: ['immutability.dev/cleanup'] }), base({ finalizers: [] })],
    ['finalizers are reordered', base({ finalizers: ['a', 'b'] }), base({ finalizers: ['b', 'a'] })],
  ];
  for (const [name, old, obj] of changes) {
    it(`is true when ${name}`, () => {
      expect(policyChangeNeedsWork(updated(old, obj))).to.equal(true);
    });
  }
});

describe('controllers/manager pod events', () => {
  const owned = (meta: Partial<Pod['metadata']> = {}, spec?: Pod['spec']): Pod => {
    const p = pod('shop', 'web-1', [writable('nginx')], { app: 'web' });
    return {
      metadata: { ...p.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9', uid: 'rs', controller: true }], ...meta },
      spec: spec ?? p.spec,
    };
  };
  const labelled = (): Pod => owned({ labels: { app: 'web', [LABEL_VIOLATION]: 'true' }, annotations: { [ANNOTATION_VIOLATIONS]: 'nginx:readOnlyRootFilesystem' } });
  const keysOf = (old: Pod, obj: Pod, policies: ImmutabilityPolicy[] = []) =>
    WATCHES[0]!.keys({ type: 'updated', key: 'shop/web-1', obj, old }, testCaches({ policies }));

  it('our own violation label and annotation coming back wake the pod and the status, not the workload', () => {
    expect(onlyVerdictMetadataChanged(owned(), labelled())).to.equal(true);
    expect(onlyVerdictMetadataChanged(labelled(), owned())).to.equal(true);
    expect(keysOf(owned(), labelled())).to.deep.equal({ pods: ['shop/web-1'], workloads: [], statuses: true });
  });

  it('does not wake the pod controller for an update the pod reconciler takes as its own write arriving; the status still', () => {
    const asked: string[] = [];
    const own = (answer: boolean) => (key: string): boolean => {
      asked.push(key);
      return answer;
    };
    const ev = { type: 'updated' as const, key: 'shop/web-1', obj: labelled(), old: owned() };
    expect(WATCHES[0]!.keys(ev, testCaches(), own(true))).to.deep.equal({ pods: [], workloads: [], statuses: true });
    expect(WATCHES[0]!.keys(ev, testCaches(), own(false))).to.deep.equal({ pods: ['shop/web-1'], workloads: [], statuses: true });
    // Additions and deletions are never an echo of a metadata write; it is not even asked.
    expect(WATCHES[0]!.keys({ type: 'added', key: 'shop/web-1', obj: labelled() }, testCaches(), own(true))?.pods).to.deep.equal(['shop/web-1']);
    expect(asked).to.deep.equal(['shop/web-1', 'shop/web-1']);
  });

  it('wakes the workload when a policy selects pods by the violation label', () => {
    const byLabel = policy('p', { mode: 'Enforce', match: { podSelector: { matchExpressions: [{ key: LABEL_VIOLATION, operator: 'DoesNotExist' }] } } });
    const byMatchLabels = policy('q', { mode: 'Enforce', match: { podSelector: { matchLabels: { [LABEL_VIOLATION]: 'true' } } } });
    const other = policy('r', { mode: 'Enforce', match: { podSelector: { matchLabels: { app: 'web' } } } });
    expect(keysOf(owned(), labelled(), [other])?.workloads).to.deep.equal([]);
    expect(keysOf(owned(), labelled(), [other, byLabel])?.workloads).to.deep.equal(['shop/ReplicaSet/web-7d9']);
    expect(keysOf(owned(), labelled(), [byMatchLabels])?.workloads).to.deep.equal(['shop/ReplicaSet/web-7d9']);
  });

  const changes: [string, Pod][] = [
    ['another label', owned({ labels: { app: 'web', tier: 'front' } })],
    ['the drift label (drift state reads it)', owned({ labels: { app: 'web', [LABEL_DRIFT]: 'exec' } })],
    ['the drift annotation', owned({ annotations: { [ANNOTATION_DRIFT]: '{"count":1}' } })],
    ['the spec', owned({}, { containers: [writable('nginx'), writable('sidecar')] })],
    ['the owner references', owned({ ownerReferences: [] })],
    ['deletion', owned({ deletionTimestamp: '2026-01-01T00:00:00Z' })],
    ['the uid (a new pod of the same name)', owned({ uid: 'other' })],
  ];
  for (const [name, next] of changes) {
    it(`wakes the workload when ${name} changes`, () => {
      expect(onlyVerdictMetadataChanged(owned(), next)).to.equal(false);
      expect(keysOf(owned(), next)?.workloads).to.not.deep.equal([]);
    });
  }
});
