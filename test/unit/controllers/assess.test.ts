import { expect } from 'chai';
import type { Pod } from '../../../src/api/kube.js';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { assessPod, findingKeys, VerdictMemo, type PodVerdict } from '../../../src/controllers/assess.js';
import { PolicySet, type ActivePolicy } from '../../../src/controllers/policy-set.js';
import { deepFreeze } from '../../../src/k8s/intern.js';
import type { Finding } from '../../../src/policy/index.js';
import { Store } from '../../../src/runtime/store.js';
import { compliant, policy, pod, writable } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00Z');

function active(spec: ImmutabilityPolicySpec): ActivePolicy {
  const store = new Store<ReturnType<typeof policy>>((p) => p.metadata.name);
  store.upsert(policy('p', spec));
  const a = new PolicySet(store).get('p');
  expect(a, 'policy resolved').to.not.equal(undefined);
  return a!;
}

/** The verdict with findings reduced to `container:rule` keys, for readable tables. */
function summary(v: PodVerdict): unknown {
  return v.matched ? { matched: true, findings: v.findings.map((f) => `${f.container}:${f.rule}`), ...(v.error ? { error: v.error } : {}) } : v;
}

describe('controllers/assess assessPod', () => {
  const cases: {
    name: string;
    spec: ImmutabilityPolicySpec;
    pod: Pod;
    nsLabels?: Record<string, string>;
    now?: Date;
    expected: unknown;
  }[] = [
    {
      name: 'matched, violating: findings under the default rules',
      spec: {}, pod: pod('shop', 'web', [writable('nginx', { privileged: true })]),
      expected: { matched: true, findings: ['nginx:readOnlyRootFilesystem', 'nginx:privileged'] },
    },
    {
      name: 'matched, compliant: no findings',
      spec: {}, pod: pod('shop', 'web', [compliant('nginx')]),
      expected: { matched: true, findings: [] },
    },
    {
      name: 'a disabled rule yields no finding',
      spec: { rules: { readOnlyRootFilesystem: false } }, pod: pod('shop', 'web', [writable('nginx')]),
      expected: { matched: true, findings: [] },
    },
    {
      name: 'init containers are evaluated too',
      spec: { rules: { readOnlyRootFilesystem: false, allowPrivilegeEscalation: true } },
      pod: { ...pod('shop', 'web', [compliant('app')]), spec: { containers: [compliant('app')], initContainers: [writable('init')] } },
      expected: { matched: true, findings: ['init:allowPrivilegeEscalation'] },
    },
    {
      name: 'excluded namespace (default exclusions): not matched, with the reason',
      spec: {}, pod: pod('kube-system', 'coredns', [writable('c')]),
      expected: { matched: false, reason: 'namespace "kube-system" is excluded by match.excludedNamespaces' },
    },
    {
      name: 'namespace not listed: not matched',
      spec: { match: { namespaces: ['team-*'] } }, pod: pod('shop', 'web', [writable('c')]),
      expected: { matched: false, reason: 'namespace "shop" is not listed in match.namespaces' },
    },
    {
      name: 'namespace glob listed: matched',
      spec: { match: { namespaces: ['team-*'] } }, pod: pod('team-a', 'web', [writable('c')]),
      expected: { matched: true, findings: ['c:readOnlyRootFilesystem'] },
    },
    {
      name: 'pod without namespace counts as "default"',
      spec: { match: { namespaces: ['default'] } }, pod: pod(undefined, 'web', [writable('c')]),
      expected: { matched: true, findings: ['c:readOnlyRootFilesystem'] },
    },
    {
      name: 'pod without namespace is excluded when "default" is',
      spec: { match: { excludedNamespaces: ['default'] } }, pod: pod(undefined, 'web', [writable('c')]),
      expected: { matched: false, reason: 'namespace "default" is excluded by match.excludedNamespaces' },
    },
    {
      name: 'namespaceSelector with unknown namespace labels: not matched (never govern on a guess)',
      spec: { match: { namespaceSelector: { matchLabels: { env: 'prod' } } } }, pod: pod('shop', 'web', [writable('c')]),
      expected: { matched: false, reason: 'labels of namespace "shop" are unknown, so match.namespaceSelector cannot be evaluated' },
    },
    {
      name: 'namespaceSelector that the namespace labels satisfy: matched',
      spec: { match: { namespaceSelector: { matchLabels: { env: 'prod' } } } }, nsLabels: { env: 'prod' },
      pod: pod('shop', 'web', [writable('c')]),
      expected: { matched: true, findings: ['c:readOnlyRootFilesystem'] },
    },
    {
      name: 'namespaceSelector that the namespace labels do not satisfy: not matched',
      spec: { match: { namespaceSelector: { matchLabels: { env: 'prod' } } } }, nsLabels: { env: 'dev' },
      pod: pod('shop', 'web', [writable('c')]),
      expected: { matched: false, reason: 'namespace "shop" does not match match.namespaceSelector' },
    },
    {
      name: 'podSelector against the pod labels',
      spec: { match: { podSelector: { matchLabels: { app: 'web' } } } }, pod: pod('shop', 'web', [writable('c')], { app: 'api' }),
      expected: { matched: false, reason: 'pod labels do not match match.podSelector' },
    },
    {
      name: 'an unexpired exemption waives the finding',
      spec: { exemptions: [{ containers: ['c'], rules: ['readOnlyRootFilesystem'], expires: '2027-01-01T00:00:00Z', reason: 'T-1' }] },
      pod: pod('shop', 'web', [writable('c')]),
      expected: { matched: true, findings: [] },
    },
    {
      name: 'an exemption past its expiry at `now` no longer applies',
      spec: { exemptions: [{ containers: ['c'], rules: ['readOnlyRootFilesystem'], expires: '2026-01-01T00:00:00Z', reason: 'T-1' }] },
      pod: pod('shop', 'web', [writable('c')]),
      expected: { matched: true, findings: ['c:readOnlyRootFilesystem'] },
    },
    {
      name: 'an exemption applies up to its expiry, judged at the given `now`',
      spec: { exemptions: [{ containers: ['c'], rules: ['readOnlyRootFilesystem'], expires: '2026-01-01T00:00:00Z', reason: 'T-1' }] },
      now: new Date('2025-12-31T23:59:59Z'),
      pod: pod('shop', 'web', [writable('c')]),
      expected: { matched: true, findings: [] },
    },
    {
      name: 'unevaluable pod (container without name): matched, no findings, the error',
      spec: {}, pod: { ...pod('shop', 'web', []), spec: { containers: [{ image: 'x' } as unknown as Pod['spec']['containers'][number]] } },
      expected: { matched: true, findings: [], error: 'spec.containers[0] has no name' },
    },
    {
      name: 'unevaluable pod (securityContext not an object): matched, no findings, the error',
      spec: {}, pod: pod('shop', 'web', [{ name: 'c', securityContext: 'root' as unknown as Pod['spec']['containers'][number]['securityContext'] }]),
      expected: { matched: true, findings: [], error: 'spec.containers[0].securityContext is not an object' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(summary(assessPod(c.pod, active(c.spec), c.nsLabels, c.now ?? NOW))).to.deep.equal(c.expected);
    });
  }

  it('returns the full findings (container type, field path, message) for the callers that need them', () => {
    const verdict = assessPod(pod('shop', 'web', [writable('nginx')]), active({}), undefined, NOW);
    expect(verdict.matched).to.equal(true);
    if (!verdict.matched) return;
    expect(verdict.findings).to.have.length(1);
    expect(verdict.findings[0]).to.deep.include({
      container: 'nginx', containerType: 'container', rule: 'readOnlyRootFilesystem',
      fieldPath: 'spec.containers[0].securityContext.readOnlyRootFilesystem',
    });
    expect(verdict).to.not.have.property('error');
  });
});

describe('controllers/assess findingKeys', () => {
  const f = (container: string, rule: Finding['rule']): Finding =>
    ({ container, containerType: 'container', rule, fieldPath: 'x', message: 'm' });

  it('turns findings into sorted, de-duplicated container:rule keys', () => {
    expect(findingKeys([
      f('nginx', 'readOnlyRootFilesystem'), f('app', 'privileged'), f('nginx', 'allowPrivilegeEscalation'), f('app', 'privileged'),
    ])).to.deep.equal(['app:privileged', 'nginx:allowPrivilegeEscalation', 'nginx:readOnlyRootFilesystem']);
  });

  it('is empty for no findings', () => {
    expect(findingKeys([])).to.deep.equal([]);
  });
});

describe('controllers/assess VerdictMemo: remembered verdicts are the engine\'s verdicts now', () => {
  /** A pod as the cache holds it: frozen, its spec and labels shared by every pod of the workload. */
  const cached = (p: Pod): Pod => deepFreeze(p);
  const keys = (v: PodVerdict): unknown => v.matched ? findingKeys(v.findings) : v.reason;
  const ns = (labels: Record<string, string>): Record<string, string> => deepFreeze({ ...labels });

  it('evaluates a spec shared by many pods once, and gives each the same verdict', () => {
    const memo = new VerdictMemo();
    const p = active({}).resolved;
    const spec = deepFreeze({ containers: [writable('nginx')] });
    const pods = Array.from({ length: 5 }, (_, i) => cached({ metadata: { name: `web-${i}`, namespace: 'shop' }, spec }));
    const first = memo.assess(pods[0]!, p, undefined, NOW);
    expect(keys(first)).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    for (const other of pods.slice(1)) expect(memo.assess(other, p, undefined, NOW)).to.equal(first);
  });

  it('a pod whose spec changed gets the new spec\'s verdict', () => {
    const memo = new VerdictMemo();
    const p = active({}).resolved;
    expect(keys(memo.assess(cached(pod('shop', 'web', [writable('nginx')])), p, undefined, NOW))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    expect(keys(memo.assess(cached(pod('shop', 'web', [compliant('nginx')])), p, undefined, NOW))).to.deep.equal([]);
  });

  it('a namespace whose labels changed is matched against the new labels', () => {
    const memo = new VerdictMemo();
    const p = active({ match: { namespaceSelector: { matchLabels: { env: 'prod' } } } }).resolved;
    const web = cached(pod('shop', 'web', [writable('nginx')], { app: 'web' }));
    expect(keys(memo.assess(web, p, ns({ env: 'prod' }), NOW))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    expect(keys(memo.assess(web, p, ns({ env: 'dev' }), NOW))).to.equal('namespace "shop" does not match match.namespaceSelector');
    expect(keys(memo.assess(web, p, undefined, NOW))).to.equal('labels of namespace "shop" are unknown, so match.namespaceSelector cannot be evaluated');
  });

  it('pods of one spec in another namespace get that namespace\'s exemptions', () => {
    const memo = new VerdictMemo();
    const p = active({ exemptions: [{ namespaces: ['legacy'], reason: 'T-9' }] }).resolved;
    const spec = deepFreeze({ containers: [writable('nginx')] });
    expect(keys(memo.assess(cached({ metadata: { name: 'a', namespace: 'shop' }, spec }), p, undefined, NOW))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    expect(keys(memo.assess(cached({ metadata: { name: 'b', namespace: 'legacy' }, spec }), p, undefined, NOW))).to.deep.equal([]);
  });

  it('a pod whose labels changed is matched against its new labels', () => {
    const memo = new VerdictMemo();
    const p = active({ match: { podSelector: { matchLabels: { app: 'web' } } } }).resolved;
    const spec = deepFreeze({ containers: [writable('nginx')] });
    const labelled = (app: string): Pod => cached({ metadata: { name: 'web', namespace: 'shop', labels: { app } }, spec });
    expect(keys(memo.assess(labelled('web'), p, undefined, NOW))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    expect(keys(memo.assess(labelled('api'), p, undefined, NOW))).to.equal('pod labels do not match match.podSelector');
  });

  it('a new policy generation is evaluated afresh', () => {
    const memo = new VerdictMemo();
    const web = cached(pod('shop', 'web', [writable('nginx', { privileged: true })]));
    const store = new Store<ReturnType<typeof policy>>((p) => p.metadata.name);
    const policies = new PolicySet(store);
    store.upsert(policy('p', {}));
    expect(keys(memo.assess(web, policies.get('p')!.resolved, undefined, NOW))).to.deep.equal(['nginx:privileged', 'nginx:readOnlyRootFilesystem']);
    store.upsert(policy('p', { rules: { readOnlyRootFilesystem: false } }, { generation: 2 }));
    expect(keys(memo.assess(web, policies.get('p')!.resolved, undefined, NOW))).to.deep.equal(['nginx:privileged']);
  });

  it('an exemption stops applying at its expiry, and applies again for a `now` before it', () => {
    const memo = new VerdictMemo();
    const expires = new Date(NOW.getTime() + 60_000);
    const p = active({ exemptions: [{ containers: ['nginx'], expires: expires.toISOString(), reason: 'T-1' }] }).resolved;
    const web = cached(pod('shop', 'web', [writable('nginx')]));
    expect(keys(memo.assess(web, p, undefined, NOW))).to.deep.equal([]);
    expect(keys(memo.assess(web, p, undefined, new Date(expires.getTime() - 1)))).to.deep.equal([]);
    expect(keys(memo.assess(web, p, undefined, expires))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    expect(keys(memo.assess(web, p, undefined, new Date(expires.getTime() + 3_600_000)))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    // A clock set back (or a caller with an older `now`) is not answered from a later verdict.
    expect(keys(memo.assess(web, p, undefined, NOW))).to.deep.equal([]);
  });

  it('an exemption that starts covering a pod after a not-yet-expired one lapses is not missed', () => {
    const memo = new VerdictMemo();
    const soon = new Date(NOW.getTime() + 1_000).toISOString();
    const later = new Date(NOW.getTime() + 120_000).toISOString();
    const p = active({ exemptions: [
      { containers: ['nginx'], expires: soon, reason: 'short' }, { containers: ['nginx'], expires: later, reason: 'long' },
    ] }).resolved;
    const web = cached(pod('shop', 'web', [writable('nginx')]));
    expect(keys(memo.assess(web, p, undefined, NOW))).to.deep.equal([]);
    expect(keys(memo.assess(web, p, undefined, new Date(NOW.getTime() + 2_000)))).to.deep.equal([]);
    expect(keys(memo.assess(web, p, undefined, new Date(NOW.getTime() + 120_000)))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
  });

  it('evaluates pods that are not frozen every time (only cached, frozen objects are remembered)', () => {
    const memo = new VerdictMemo();
    const p = active({}).resolved;
    const web = pod('shop', 'web', [writable('nginx')]);
    expect(keys(memo.assess(web, p, undefined, NOW))).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    web.spec.containers[0]!.securityContext = { readOnlyRootFilesystem: true };
    expect(keys(memo.assess(web, p, undefined, NOW))).to.deep.equal([]);
  });

  it('hands out remembered verdicts frozen, so that no caller can change what others read', () => {
    const memo = new VerdictMemo();
    const v = memo.assess(cached(pod('shop', 'web', [writable('nginx')])), active({}).resolved, undefined, NOW);
    expect(v.matched).to.equal(true);
    if (!v.matched) return;
    expect(Object.isFrozen(v.findings)).to.equal(true);
    expect(Object.isFrozen(findingKeys(v.findings))).to.equal(true);
    expect(() => v.findings.push(v.findings[0]!)).to.throw(TypeError);
  });
});
