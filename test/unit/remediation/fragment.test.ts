import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import {
  applyJsonPatch, evaluateWorkload, planRemediation, resolvePolicy, workloadFromObject,
  type Finding, type Workload,
} from '../../../src/policy/index.js';
import {
  applyBody, FragmentError, fragmentFromPlan, isEmptyFragment, mergeFragments, subtractFragment, type TemplateFragment,
} from '../../../src/remediation/fragment.js';
import { canonicalJson } from '../../../src/remediation/workload-record.js';
import { loadCases } from '../policy/fixtures.js';

type Obj = Record<string, unknown>;

function workloadOf(object: unknown): Workload {
  const w = workloadFromObject(object);
  if ('error' in w) throw new Error(w.error);
  return w;
}

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

interface PlanCase {
  name: string;
  now?: string;
  policy: ImmutabilityPolicySpec;
  object: unknown;
  findings?: Finding[];
}

describe('remediation/fragment', () => {
  describe('fragmentFromPlan over every plan fixture', () => {
    const { defaults, cases } = loadCases<PlanCase>('plan.yaml');
    for (const c of cases) {
      it(`says exactly what the JSON patch does: ${c.name}`, () => {
        const policy = resolvePolicy('p', c.policy);
        const workload = workloadOf(c.object);
        const now = new Date(c.now ?? defaults.now ?? '');
        const evaluation = evaluateWorkload(policy, workload, now);
        const findings = c.findings ?? (evaluation.outcome === 'evaluated' ? evaluation.findings : []);
        const plan = planRemediation(policy, workload, findings);
        const { fragment } = fragmentFromPlan(workload.podSpec, workload.podSpecPath, plan.patch);
        const patched = workloadOf(applyJsonPatch(c.object, plan.patch)).podSpec;
        expect(canonicalJson(mergeInto(workload.podSpec as unknown as Obj, fragment))).to.equal(canonicalJson(patched));
        expect(isEmptyFragment(fragment)).to.equal(plan.patch.length === 0);
      });
    }
  });

  it('keeps the values a replace overwrote, for a rollback', () => {
    const podSpec = { containers: [{ name: 'app', securityContext: { privileged: true, readOnlyRootFilesystem: false } }] };
    const { fragment, previous } = fragmentFromPlan(podSpec, '/spec/template/spec', [
      { op: 'replace', path: '/spec/template/spec/containers/0/securityContext/privileged', value: false },
      { op: 'replace', path: '/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem', value: true },
      { op: 'add', path: '/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation', value: false },
    ]);
    expect(fragment).to.deep.equal({
      containers: [{ name: 'app', securityContext: { privileged: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false } }],
    });
    expect(previous).to.deep.equal({ containers: [{ name: 'app', securityContext: { privileged: true, readOnlyRootFilesystem: false } }] });
  });

  it('addresses init containers by name and CronJob templates at their own path', () => {
    const podSpec = { containers: [{ name: 'main' }], initContainers: [{ name: 'setup' }, { name: 'migrate' }] };
    const path = '/spec/jobTemplate/spec/template/spec';
    const { fragment } = fragmentFromPlan(podSpec, path, [
      { op: 'add', path: `${path}/initContainers/1/securityContext`, value: { privileged: false } },
    ]);
    expect(fragment).to.deep.equal({ initContainers: [{ name: 'migrate', securityContext: { privileged: false } }] });
    const body = applyBody({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: 'ns', name: 'nightly', podSpecPath: path }, fragment, {});
    expect(body).to.deep.equal({
      apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'ns', labels: { 'immutability.dev/remediated': 'true' } },
      spec: { jobTemplate: { spec: { template: { spec: fragment } } } },
    });
  });

  const refused: { name: string; op: { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown } }[] = [
    { name: 'a remove', op: { op: 'remove', path: '/spec/template/spec/containers/0/securityContext/privileged' } },
    { name: 'a path outside the pod spec', op: { op: 'add', path: '/metadata/labels/x', value: 'y' } },
    { name: 'an unknown container index', op: { op: 'add', path: '/spec/template/spec/containers/7/securityContext', value: {} } },
    { name: 'a field other than securityContext or mounts', op: { op: 'add', path: '/spec/template/spec/containers/0/image', value: 'x' } },
    { name: 'a volume without a name', op: { op: 'add', path: '/spec/template/spec/volumes/-', value: { emptyDir: {} } } },
  ];
  for (const r of refused) {
    it(`refuses ${r.name} rather than guess`, () => {
      expect(() => fragmentFromPlan({ containers: [{ name: 'app' }] }, '/spec/template/spec', [r.op])).to.throw(FragmentError);
    });
  }

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
      {}, { 'immutability.dev/rolled-back': 'abc' });
    expect(body).to.deep.equal({
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'web', namespace: 'ns', labels: { 'immutability.dev/remediated': 'true' }, annotations: { 'immutability.dev/rolled-back': 'abc' } },
    });
  });
});
