import { expect } from 'chai';
import { applyJsonPatch, planRemediation, resolvePolicy, type Finding } from '../../../src/policy/index.js';
import {
  applyBody, isEmptyFragment, mergeFragments, subtractFragment, type TemplateFragment,
} from '../../../src/remediation/fragment.js';
import { canonicalJson } from '../../../src/remediation/workload-record.js';
import { loadCases } from '../policy/fixtures.js';
import { findingsOf, workloadOf, type PlanCase } from '../policy/plan-helpers.js';

type Obj = Record<string, unknown>;

/** What the API server's merge of an apply configuration does to these keyed lists (an independent model). */
function mergeInto(podSpec: Obj, fragment: TemplateFragment): Obj {
  const out = structuredClone(podSpec);
  for (const list of ['containers', 'initContainers'] as const) {
    for (const c of fragment[list] ?? []) {
      const target = (out[list] as Obj[]).find((x) => x['name'] === c.name) as Obj;
      if (c.securityContext) {
        // Structs merge field by field (securityContext, and capabilities inside it); capabilities.add is atomic.
        const current = (target['securityContext'] ?? {}) as Obj;
        const merged: Obj = { ...current, ...c.securityContext };
        const capabilities = c.securityContext['capabilities'];
        if (capabilities !== undefined) merged['capabilities'] = { ...(current['capabilities'] as Obj | undefined), ...(capabilities as Obj) };
        target['securityContext'] = merged;
      }
      for (const m of c.volumeMounts ?? []) {
        const mounts = (target['volumeMounts'] ??= []) as Obj[];
        if (!mounts.some((x) => x['mountPath'] === m['mountPath'])) mounts.push(m);
      }
    }
  }
  for (const v of fragment.volumes ?? []) {
    const volumes = (out['volumes'] ??= []) as Obj[];
    if (!volumes.some((x) => x['name'] === v['name'])) volumes.push(v);
  }
  return out;
}

describe('remediation/fragment', () => {
  describe('the plan\'s apply configuration over every plan fixture', () => {
    const { defaults, cases } = loadCases<PlanCase>('plan.yaml');
    for (const c of cases) {
      it(`is what the JSON patch rendered from it does: ${c.name}`, () => {
        const policy = resolvePolicy('p', c.policy);
        const workload = workloadOf(c.object);
        const now = new Date(c.now ?? defaults.now ?? '');
        const findings = c.findings ?? findingsOf(policy, workload, now);
        const plan = planRemediation(policy, workload, findings);
        const patched = workloadOf(applyJsonPatch(c.object, plan.patch)).podSpec;
        expect(canonicalJson(mergeInto(workload.podSpec as unknown as Obj, plan.fragment))).to.equal(canonicalJson(patched));
        expect(isEmptyFragment(plan.fragment)).to.equal(plan.patch.length === 0);
      });
    }
  });

  const finding = (container: string, containerType: Finding['containerType'], rule: Finding['rule']): Finding =>
    ({ container, containerType, rule, fieldPath: '', message: '' });

  it('keeps the values the configuration replaces, for a rollback', () => {
    const policy = resolvePolicy('p', { mode: 'Enforce', rules: { allowPrivilegeEscalation: true }, remediation: { patchOwner: {} } });
    const workload = workloadOf({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'ns' },
      spec: { template: { spec: { containers: [{ name: 'app', image: 'example.com/app:1', securityContext: { privileged: true, readOnlyRootFilesystem: false } }] } } },
    });
    const plan = planRemediation(policy, workload, [
      finding('app', 'container', 'privileged'), finding('app', 'container', 'readOnlyRootFilesystem'), finding('app', 'container', 'allowPrivilegeEscalation'),
    ]);
    expect(plan.fragment).to.deep.equal({
      containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true, privileged: false, allowPrivilegeEscalation: false } }],
    });
    expect(plan.previous).to.deep.equal({ containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: false, privileged: true } }] });
  });

  it('addresses init containers by name and CronJob templates at their own path', () => {
    const path = '/spec/jobTemplate/spec/template/spec';
    const policy = resolvePolicy('p', { mode: 'Enforce', remediation: { patchOwner: {} } });
    const workload = workloadOf({
      apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'ns' },
      spec: { schedule: '@daily', jobTemplate: { spec: { template: { spec: {
        containers: [{ name: 'main' }], initContainers: [{ name: 'setup' }, { name: 'migrate', securityContext: { privileged: true } }],
      } } } } },
    });
    const plan = planRemediation(policy, workload, [finding('migrate', 'initContainer', 'privileged')]);
    expect(plan.fragment).to.deep.equal({ initContainers: [{ name: 'migrate', securityContext: { privileged: false } }] });
    expect(plan.patch).to.deep.equal([{ op: 'replace', path: `${path}/initContainers/1/securityContext/privileged`, value: false }]);
    const body = applyBody({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: 'ns', name: 'nightly', podSpecPath: path }, plan.fragment, {}, {});
    expect(body).to.deep.equal({
      apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'ns', labels: { 'immutability.dev/remediated': 'true' } },
      spec: { jobTemplate: { spec: { template: { spec: plan.fragment } } } },
    });
  });

  it('merges fragments by their list keys, the later one winning', () => {
    const a: TemplateFragment = {
      containers: [{ name: 'app', securityContext: { privileged: false }, volumeMounts: [{ name: 'v1', mountPath: '/tmp' }] }],
      volumes: [{ name: 'v1', emptyDir: {} }],
    };
    const b: TemplateFragment = {
      containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true } }, { name: 'side', securityContext: { privileged: false } }],
      volumes: [{ name: 'v1', emptyDir: { sizeLimit: '1Gi' } }, { name: 'v2', emptyDir: {} }],
    };
    expect(mergeFragments(a, b)).to.deep.equal({
      containers: [
        { name: 'app', securityContext: { privileged: false, readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'v1', mountPath: '/tmp' }] },
        { name: 'side', securityContext: { privileged: false } },
      ],
      volumes: [{ name: 'v1', emptyDir: { sizeLimit: '1Gi' } }, { name: 'v2', emptyDir: {} }],
    });
  });

  it('subtracts a patch from what we own, dropping containers left with nothing', () => {
    const owned: TemplateFragment = {
      containers: [
        { name: 'app', securityContext: { privileged: false, readOnlyRootFilesystem: true }, volumeMounts: [{ name: 't', mountPath: '/tmp' }] },
        { name: 'side', securityContext: { readOnlyRootFilesystem: true } },
      ],
      volumes: [{ name: 't', emptyDir: {} }, { name: 'other', emptyDir: {} }],
    };
    const patch: TemplateFragment = {
      containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 't', mountPath: '/tmp' }] },
        { name: 'side', securityContext: { readOnlyRootFilesystem: true } }],
      volumes: [{ name: 't', emptyDir: {} }],
    };
    expect(subtractFragment(owned, patch)).to.deep.equal({
      containers: [{ name: 'app', securityContext: { privileged: false } }],
      volumes: [{ name: 'other', emptyDir: {} }],
    });
    expect(isEmptyFragment(subtractFragment(patch, patch))).to.equal(true);
  });

  it('builds an apply body without spec when the fragment is empty (removes all our template fields)', () => {
    const body = applyBody({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'web', podSpecPath: '/spec/template/spec' },
      {}, { 'immutability.dev/rolled-back': 'abc' }, {});
    expect(body).to.deep.equal({
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'web', namespace: 'ns', labels: { 'immutability.dev/remediated': 'true' }, annotations: { 'immutability.dev/rolled-back': 'abc' } },
    });
  });

  it('makes the apply conditional on the uid and resourceVersion of the workload it was computed from', () => {
    const read = { metadata: { name: 'web', namespace: 'ns', uid: 'u-1', resourceVersion: '42', generation: 3 } };
    const body = applyBody({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'web', podSpecPath: '/spec/template/spec' }, {}, {}, read);
    expect(body['metadata']).to.deep.equal({ name: 'web', namespace: 'ns', uid: 'u-1', resourceVersion: '42', labels: { 'immutability.dev/remediated': 'true' } });
  });
});
