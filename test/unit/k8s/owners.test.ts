import { expect } from 'chai';
import type { KubeMeta, OwnerReference } from '../../../src/api/kube.js';
import { controllerOf, topLevelOwner, topLevelOwnerUid, type OwnerLookup, type WorkloadRef } from '../../../src/k8s/owners.js';

/** `controller: 'absent'` leaves the field out, as the API server does for plain owners. */
const owner = (apiVersion: string, kind: string, name: string, controller: boolean | 'absent' = true): OwnerReference =>
  controller === 'absent' ? { apiVersion, kind, name, uid: `uid-${name}` } : { apiVersion, kind, name, uid: `uid-${name}`, controller };

const pod = (ownerReferences: OwnerReference[] | undefined, namespace: string | undefined): { metadata: KubeMeta } => ({
  metadata: { name: 'p', ...(namespace === undefined ? {} : { namespace }), ...(ownerReferences ? { ownerReferences } : {}) },
});

/** A cache of intermediate owners; records every lookup so tests can see what was (not) read. */
function cache(entries: Record<string, OwnerReference[] | undefined>): OwnerLookup & { calls: string[] } {
  const calls: string[] = [];
  const lookup = (kind: 'ReplicaSet' | 'Job', namespace: string, name: string): { metadata: KubeMeta } | undefined => {
    const key = `${kind}/${namespace}/${name}`;
    calls.push(key);
    if (!(key in entries)) return undefined;
    const refs = entries[key];
    return { metadata: { name, namespace, ...(refs ? { ownerReferences: refs } : {}) } };
  };
  return Object.assign(lookup, { calls });
}

describe('k8s/owners controllerOf', () => {
  it('returns the owner reference with controller: true', () => {
    const ctl = owner('apps/v1', 'ReplicaSet', 'rs');
    expect(controllerOf({ name: 'p', ownerReferences: [owner('v1', 'ConfigMap', 'cm', false), ctl] })).to.equal(ctl);
  });
  it('ignores owners that are not the controller (false or absent)', () => {
    expect(controllerOf({ name: 'p', ownerReferences: [owner('v1', 'A', 'a', false), owner('v1', 'B', 'b', 'absent')] })).to.equal(undefined);
  });
  it('returns undefined without owner references', () => {
    expect(controllerOf({ name: 'p' })).to.equal(undefined);
    expect(controllerOf({ name: 'p', ownerReferences: [] })).to.equal(undefined);
  });
});

describe('k8s/owners topLevelOwner', () => {
  const cases: {
    name: string;
    refs?: OwnerReference[];
    namespace?: string | undefined;
    cached: Record<string, OwnerReference[] | undefined>;
    expected: WorkloadRef;
    lookups: string[];
  }[] = [
    {
      name: 'bare pod (no owner references) is its own workload',
      cached: {}, lookups: [],
      expected: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'p', resolved: true },
    },
    {
      name: 'pod whose owners are not controllers is a bare pod',
      refs: [owner('apps/v1', 'ReplicaSet', 'rs', false)], cached: {}, lookups: [],
      expected: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'p', resolved: true },
    },
    {
      name: 'bare pod without namespace is placed in default',
      namespace: undefined, cached: {}, lookups: [],
      expected: { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'p', resolved: true },
    },
    {
      name: 'Pod → ReplicaSet → Deployment',
      refs: [owner('apps/v1', 'ReplicaSet', 'web-7d9')],
      cached: { 'ReplicaSet/shop/web-7d9': [owner('apps/v1', 'Deployment', 'web')] },
      lookups: ['ReplicaSet/shop/web-7d9'],
      expected: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolved: true },
    },
    {
      name: 'Pod → Job → CronJob',
      refs: [owner('batch/v1', 'Job', 'nightly-2901')],
      cached: { 'Job/shop/nightly-2901': [owner('batch/v1', 'CronJob', 'nightly')] },
      lookups: ['Job/shop/nightly-2901'],
      expected: { apiVersion: 'batch/v1', kind: 'CronJob', namespace: 'shop', name: 'nightly', resolved: true },
    },
    {
      name: 'ReplicaSet without an owner is itself the workload',
      refs: [owner('apps/v1', 'ReplicaSet', 'lonely')],
      cached: { 'ReplicaSet/shop/lonely': undefined },
      lookups: ['ReplicaSet/shop/lonely'],
      expected: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'lonely', resolved: true },
    },
    {
      name: 'ReplicaSet whose owner is not its controller is itself the workload',
      refs: [owner('apps/v1', 'ReplicaSet', 'rs')],
      cached: { 'ReplicaSet/shop/rs': [owner('apps/v1', 'Deployment', 'web', false)] },
      lookups: ['ReplicaSet/shop/rs'],
      expected: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'rs', resolved: true },
    },
    {
      name: 'Job without an owner is itself the workload',
      refs: [owner('batch/v1', 'Job', 'once')],
      cached: { 'Job/shop/once': [] },
      lookups: ['Job/shop/once'],
      expected: { apiVersion: 'batch/v1', kind: 'Job', namespace: 'shop', name: 'once', resolved: true },
    },
    {
      name: 'ReplicaSet not cached yet: the ReplicaSet, resolved=false',
      refs: [owner('apps/v1', 'ReplicaSet', 'web-7d9')], cached: {},
      lookups: ['ReplicaSet/shop/web-7d9'],
      expected: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'web-7d9', resolved: false },
    },
    {
      name: 'Job not cached yet: the Job, resolved=false',
      refs: [owner('batch/v1', 'Job', 'j')], cached: {},
      lookups: ['Job/shop/j'],
      expected: { apiVersion: 'batch/v1', kind: 'Job', namespace: 'shop', name: 'j', resolved: false },
    },
    {
      name: 'StatefulSet is top-level without a lookup',
      refs: [owner('apps/v1', 'StatefulSet', 'db')], cached: {}, lookups: [],
      expected: { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: 'shop', name: 'db', resolved: true },
    },
    {
      name: 'DaemonSet is top-level without a lookup',
      refs: [owner('apps/v1', 'DaemonSet', 'agent')], cached: {}, lookups: [],
      expected: { apiVersion: 'apps/v1', kind: 'DaemonSet', namespace: 'shop', name: 'agent', resolved: true },
    },
    {
      name: 'unknown owner kind (an Argo Rollout) is reported as it is',
      refs: [owner('argoproj.io/v1alpha1', 'Rollout', 'canary')], cached: {}, lookups: [],
      expected: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', namespace: 'shop', name: 'canary', resolved: true },
    },
    {
      name: 'ReplicaSet controlled by an unknown kind stops at the ReplicaSet (never guessed through)',
      refs: [owner('apps/v1', 'ReplicaSet', 'canary-5f')],
      cached: { 'ReplicaSet/shop/canary-5f': [owner('argoproj.io/v1alpha1', 'Rollout', 'canary')] },
      lookups: ['ReplicaSet/shop/canary-5f'],
      expected: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'canary-5f', resolved: true },
    },
    {
      name: 'Job controlled by something other than a CronJob stops at the Job',
      refs: [owner('batch/v1', 'Job', 'step')],
      cached: { 'Job/shop/step': [owner('argoproj.io/v1alpha1', 'Workflow', 'wf')] },
      lookups: ['Job/shop/step'],
      expected: { apiVersion: 'batch/v1', kind: 'Job', namespace: 'shop', name: 'step', resolved: true },
    },
    {
      name: 'a ReplicaSet of another API group is not followed',
      refs: [owner('extensions/v1beta1', 'ReplicaSet', 'old')], cached: { 'ReplicaSet/shop/old': [owner('apps/v1', 'Deployment', 'web')] },
      lookups: [],
      expected: { apiVersion: 'extensions/v1beta1', kind: 'ReplicaSet', namespace: 'shop', name: 'old', resolved: true },
    },
    {
      name: 'a Job of another API group (Volcano) is not followed',
      refs: [owner('batch.volcano.sh/v1alpha1', 'Job', 'vj')], cached: {}, lookups: [],
      expected: { apiVersion: 'batch.volcano.sh/v1alpha1', kind: 'Job', namespace: 'shop', name: 'vj', resolved: true },
    },
    {
      name: 'only the controller reference is followed',
      refs: [owner('apps/v1', 'StatefulSet', 'not-me', false), owner('apps/v1', 'ReplicaSet', 'rs')],
      cached: { 'ReplicaSet/shop/rs': [owner('apps/v1', 'Deployment', 'web')] },
      lookups: ['ReplicaSet/shop/rs'],
      expected: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolved: true },
    },
    {
      name: 'the lookup uses the pod namespace (default when absent)',
      namespace: undefined,
      refs: [owner('apps/v1', 'ReplicaSet', 'rs')],
      cached: { 'ReplicaSet/default/rs': [owner('apps/v1', 'Deployment', 'web')] },
      lookups: ['ReplicaSet/default/rs'],
      expected: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web', resolved: true },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const lookup = cache(c.cached);
      const p = pod(c.refs, 'namespace' in c ? c.namespace : 'shop');
      expect(topLevelOwner(p, lookup)).to.deep.equal(c.expected);
      expect(lookup.calls).to.deep.equal(c.lookups);
    });
  }
});

describe('k8s/owners topLevelOwnerUid', () => {
  it('reads the uid of the top-level owner from the controller reference that names it', () => {
    const rs = owner('apps/v1', 'ReplicaSet', 'web-1');
    const lookup = cache({ 'ReplicaSet/shop/web-1': [owner('apps/v1', 'Deployment', 'web')] });
    expect(topLevelOwnerUid(pod([rs], 'shop'), lookup)).to.equal('uid-web');
    expect(topLevelOwnerUid(pod([owner('apps/v1', 'StatefulSet', 'db')], 'shop'), cache({}))).to.equal('uid-db');
    expect(topLevelOwnerUid(pod([owner('apps/v1', 'ReplicaSet', 'lone')], 'shop'), cache({ 'ReplicaSet/shop/lone': undefined }))).to.equal('uid-lone');
  });
  it('is the pod\'s own uid for a bare pod, and unknown while the chain is not resolved', () => {
    expect(topLevelOwnerUid({ metadata: { name: 'p', namespace: 'shop', uid: 'uid-p' } }, cache({}))).to.equal('uid-p');
    expect(topLevelOwnerUid(pod([owner('apps/v1', 'ReplicaSet', 'web-1')], 'shop'), cache({}))).to.equal(undefined);
  });
});
