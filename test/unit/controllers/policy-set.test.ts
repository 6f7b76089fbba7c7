import { expect } from 'chai';
import type { ImmutabilityPolicy } from '../../../src/api/types.js';
import { MESSAGE_EXEMPTION_NARROW, MESSAGE_PATH_ABSOLUTE, MESSAGE_SELECTOR_VALUES } from '../../../src/api/semantic.js';
import { PolicySet, usageProblems } from '../../../src/controllers/policy-set.js';
import { Store } from '../../../src/runtime/store.js';
import { policy } from './helpers.js';

describe('controllers/policy-set usageProblems', () => {
  it('is empty for a usable spec', () => {
    expect(usageProblems(policy('p', {}))).to.deep.equal([]);
    expect(usageProblems(policy('p', {
      mode: 'Enforce',
      match: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, podSelector: { matchLabels: { a: 'b' } } },
      exemptions: [{ containers: ['istio-proxy'], reason: 'mesh' }],
      remediation: { patchOwner: { writablePaths: ['/tmp'] } },
    }))).to.deep.equal([]);
  });

  it('reports the cross-field rules of the spec with their paths', () => {
    const problems = usageProblems(policy('p', {
      exemptions: [{ reason: 'too broad' }],
      remediation: { patchOwner: { writablePaths: ['tmp'] } },
    }));
    expect(problems).to.deep.equal([
      `spec.exemptions[0]: ${MESSAGE_EXEMPTION_NARROW}`,
      `spec.remediation.patchOwner.writablePaths[0]: ${MESSAGE_PATH_ABSOLUTE}`,
    ]);
  });

  it('reports a selector with an unknown operator, which only the selector check catches', () => {
    const problems = usageProblems(policy('p', {
      // An operator the schema's enum would reject; the controller must not crash or match on it.
      match: { podSelector: { matchExpressions: [{ key: 'a', operator: 'Like' as 'In' }] } },
    }));
    expect(problems).to.deep.equal(['spec.match.podSelector: matchExpressions[0]: unknown operator "Like"']);
  });

  it('checks namespaceSelector and podSelector with their own paths', () => {
    const problems = usageProblems(policy('p', {
      match: {
        namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
        podSelector: { matchExpressions: [{ key: 'b', operator: 'NotIn' }] },
      },
    }));
    // Reported once, in the CEL mirror's words (the same message the API server gives), per selector.
    expect(problems).to.deep.equal([
      `spec.match.namespaceSelector.matchExpressions[0]: ${MESSAGE_SELECTOR_VALUES}`,
      `spec.match.podSelector.matchExpressions[0]: ${MESSAGE_SELECTOR_VALUES}`,
    ]);
  });

  it('words label-syntax problems as the CRD CEL rules do (a policy stored before they existed)', () => {
    const problems = usageProblems(policy('p', { match: { podSelector: { matchLabels: { 'not a valid key!': 'x' } } } }));
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^spec\.match\.podSelector\.matchLabels: every matchLabels key must be a valid label key/);
  });
});

describe('controllers/policy-set PolicySet', () => {
  function setup(...policies: ImmutabilityPolicy[]): { store: Store<ImmutabilityPolicy>; set: PolicySet } {
    const store = new Store<ImmutabilityPolicy>((p) => p.metadata.name);
    for (const p of policies) store.upsert(p);
    return { store, set: new PolicySet(store) };
  }

  it('resolves a cached policy with its defaults filled in', () => {
    const { set } = setup(policy('prod', { mode: 'Enforce', rules: { privileged: false } }));
    const active = set.get('prod');
    expect(active?.resolved.name).to.equal('prod');
    expect(active?.resolved.mode).to.equal('Enforce');
    expect(active?.resolved.rules).to.deep.include({ privileged: false, readOnlyRootFilesystem: true });
    expect(active?.resolved.match.excludedNamespaces).to.deep.equal(['kube-system', 'kube-public', 'kube-node-lease']);
    expect(active?.problems).to.deep.equal([]);
    expect(active?.deleting).to.equal(false);
  });

  it('returns undefined for a policy that is not cached', () => {
    expect(setup().set.get('missing')).to.equal(undefined);
  });

  it('resolves once per generation, and hands out the newest object (status) each time', () => {
    const { store, set } = setup(policy('p', { mode: 'Audit' }, { generation: 1 }));
    const first = set.get('p');
    const withStatus: ImmutabilityPolicy = { ...policy('p', { mode: 'Audit' }, { generation: 1, resourceVersion: '2' }), status: { matchedPods: 3 } };
    store.upsert(withStatus);
    const second = set.get('p');
    expect(second).to.equal(first);
    expect(second?.resolved).to.equal(first?.resolved);
    expect(second?.object).to.equal(withStatus);
  });

  it('re-resolves when the generation changes', () => {
    const { store, set } = setup(policy('p', { mode: 'Audit' }, { generation: 1 }));
    const first = set.get('p');
    store.upsert(policy('p', { mode: 'Enforce' }, { generation: 2 }));
    const second = set.get('p');
    expect(second).to.not.equal(first);
    expect(second?.resolved.mode).to.equal('Enforce');
  });

  it('re-resolves a policy recreated under the same name (new uid, same generation)', () => {
    const { store, set } = setup(policy('p', { mode: 'Audit' }, { generation: 1, uid: 'a' }));
    const first = set.get('p');
    store.upsert(policy('p', { mode: 'Enforce' }, { generation: 1, uid: 'b' }));
    expect(set.get('p')?.resolved.mode).to.equal('Enforce');
    expect(set.get('p')).to.not.equal(first);
  });

  it('forgets a policy deleted from the store', () => {
    const { store, set } = setup(policy('p', { mode: 'Audit' }));
    const first = set.get('p');
    store.delete('p');
    expect(set.get('p')).to.equal(undefined);
    store.upsert(policy('p', { mode: 'Audit' }));
    expect(set.get('p')).to.not.equal(first);
  });

  it('tracks deletion without a generation change', () => {
    const { store, set } = setup(policy('p', {}));
    expect(set.get('p')?.deleting).to.equal(false);
    store.upsert(policy('p', {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }));
    expect(set.get('p')?.deleting).to.equal(true);
  });

  it('records usage problems on the active policy', () => {
    const { set } = setup(policy('bad', { exemptions: [{ reason: 'x' }] }));
    expect(set.get('bad')?.problems).to.deep.equal([`spec.exemptions[0]: ${MESSAGE_EXEMPTION_NARROW}`]);
  });

  it('governing() lists usable policies that are not being deleted', () => {
    const { set } = setup(
      policy('a-ok', {}),
      policy('b-bad', { exemptions: [{ reason: 'x' }] }),
      policy('c-deleting', {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      policy('d-ok', { mode: 'Enforce' }),
    );
    expect(set.governing().map((p) => p.resolved.name)).to.deep.equal(['a-ok', 'd-ok']);
  });

  it('names() lists every cached policy, usable or not', () => {
    const { set } = setup(policy('a', {}), policy('b', { exemptions: [{ reason: 'x' }] }), policy('c', {}, { deletionTimestamp: 't' }));
    expect(set.names()).to.deep.equal(['a', 'b', 'c']);
  });
});
