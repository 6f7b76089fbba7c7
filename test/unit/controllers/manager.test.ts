import { expect } from 'chai';
import type { ImmutabilityPolicy, ObjectMeta } from '../../../src/api/types.js';
import { policyChangeNeedsWork } from '../../../src/controllers/manager.js';
import type { StoreEvent } from '../../../src/runtime/store.js';
import { policy } from './helpers.js';

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
