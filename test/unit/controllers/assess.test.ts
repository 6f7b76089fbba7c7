import { expect } from 'chai';
import type { Pod } from '../../../src/api/kube.js';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { assessPod, findingKeys, type PodVerdict } from '../../../src/controllers/assess.js';
import { PolicySet, type ActivePolicy } from '../../../src/controllers/policy-set.js';
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
