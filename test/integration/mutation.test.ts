// spec.admission.mutate on the real kube-apiserver: the operator generates a MutatingAdmissionPolicy from the
// rule table's fixes, and what the API server makes of a new object is what the owner patch (planRemediation)
// makes of it — on the parity corpus and on mutation-specific cases (image presets, a volume name already
// taken, a path mounted with a trailing slash, escalation on a container that stays privileged). A mutated
// object then passes the ValidatingAdmissionPolicy (a Deny policy admits it) and `check`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../src/api/types.js';
import {
  applyJsonPatch, evaluateWorkload, planRemediation, resolvePolicy, workloadFromObject,
} from '../../src/policy/index.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import { EVERY_SPEC_RULE, PARITY_SPECS, good, parityManifest, runCheck } from '../support/parity-manifests.js';
import { admissionReady } from '../support/workloads.js';

type Json = Record<string, unknown>;

const MAP = 'mutatingadmissionpolicy';
const MAP_BINDING = 'mutatingadmissionpolicybinding';
const VAP = 'validatingadmissionpolicy';

/** Every rule on; Warn, so that manifests with findings no fix covers are still admitted and compared. */
const PARITY_SPEC: ImmutabilityPolicySpec = {
  mode: 'Enforce',
  match: { namespaces: ['mutation'] },
  rules: EVERY_SPEC_RULE,
  exemptions: [
    { containers: ['legacy-*'], rules: ['readOnlyRootFilesystem'], reason: 'LEG-1' },
    { images: ['docker.io/library/busybox*'], rules: ['runAsNonRoot'], reason: 'BB-2' },
  ],
  admission: { action: 'Warn', mutate: true },
  remediation: { patchOwner: { writablePaths: ['/tmp'], emptyDirSizeLimit: '32Mi' } },
};

/** Cases only mutation has: presets, volume names, mounts already there, fixes that block each other. */
const MUTATION_SPECS: [string, Json][] = [
  ['bare-nginx', { containers: [{ name: 'nginx', image: 'nginx:1.27' }] }],
  ['presets', {
    containers: [{ name: 'cache', image: 'redis:7' }, { name: 'db', image: 'docker.io/library/postgres:17' }],
    initContainers: [{ name: 'migrate', image: 'python:3.12', securityContext: { readOnlyRootFilesystem: false } }],
  }],
  ['tmp-mounted', { volumes: [{ name: 'scratch', emptyDir: {} }], containers: [good('app', { readOnlyRootFilesystem: false }, { volumeMounts: [{ name: 'scratch', mountPath: '/tmp/' }] })] }],
  ['name-taken', {
    volumes: [{ name: 'immutability-tmp-tmp', configMap: { name: 'settings' } }],
    containers: [good('app', { readOnlyRootFilesystem: false }, { volumeMounts: [{ name: 'immutability-tmp-tmp', mountPath: '/etc/settings' }] })],
  }],
  ['privileged-escalation', { containers: [{ name: 'app', image: 'quay.io/app:1', securityContext: { privileged: true, allowPrivilegeEscalation: true, capabilities: { add: ['SYS_ADMIN', 'CHOWN'] } } }] }],
  ['exempt-privileged', { containers: [{ name: 'legacy-priv', image: 'quay.io/app:1', securityContext: { privileged: true } }] }],
];

const KINDS = ['Pod', 'Deployment', 'CronJob'];

function manifestOf(namespace: string, kind: string, variant: string, spec: Json): Json {
  if (kind !== 'CronJob') return parityManifest(namespace, kind, variant, spec);
  const name = `cronjob-${variant}`;
  return {
    apiVersion: 'batch/v1', kind, metadata: { name, namespace },
    spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { metadata: { labels: { parity: name } }, spec: { ...spec, restartPolicy: 'Never' } } } } },
  };
}

/** What the owner patch makes of `manifest` under `spec`, the engine's way. */
function patchedByPlan(spec: ImmutabilityPolicySpec, manifest: Json): { patched: Json; unpatchable: string[] } {
  const policy = resolvePolicy('mutation', spec);
  const workload = workloadFromObject(manifest);
  if ('error' in workload) throw new Error(workload.error);
  const evaluation = evaluateWorkload(policy, workload, new Date());
  if (evaluation.outcome === 'error') throw new Error(evaluation.error);
  const plan = planRemediation(policy, workload, evaluation.findings);
  return { patched: applyJsonPatch(manifest, plan.patch), unpatchable: [...new Set(plan.unpatchable.map((f) => f.rule))].sort() };
}

/**
 * Keys sorted (the API server prints them sorted), and without the empty lists the API server omits
 * (`capabilities.add: []` after the fix removed every item).
 */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => !(Array.isArray(v) && v.length === 0))
    .sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)]));
}

const byKey = (key: string) => (a: Json, b: Json): number => String(a[key]).localeCompare(String(b[key]));

/**
 * The fields the fix touches, without what the API server defaults: securityContext and mounts per container
 * (mounts by path), and volumes by name (emptyDirs with their size limit).
 */
function fixedShape(obj: Json): Json {
  const workload = workloadFromObject(obj);
  if ('error' in workload) throw new Error(workload.error);
  const podSpec = workload.podSpec as unknown as Json;
  const containers = (list: string): Json[] => ((podSpec[list] as Json[] | undefined) ?? []).map((c) => ({
    name: c['name'],
    securityContext: canonical(c['securityContext'] ?? null),
    volumeMounts: [...((c['volumeMounts'] as Json[] | undefined) ?? [])].sort(byKey('mountPath')).map((m) => ({ name: m['name'], mountPath: m['mountPath'] })),
  }));
  const volumes = [...((podSpec['volumes'] as Json[] | undefined) ?? [])].sort(byKey('name'))
    .map((v) => ({ name: v['name'], emptyDir: v['emptyDir'] ?? null }));
  return { containers: containers('containers'), initContainers: containers('initContainers'), volumes };
}

/**
 * AdmissionReady says the generated objects exist and type-check; kube-apiserver loads them into its admission
 * chain on its own schedule (its informers, then a compile), and in a busy run the ValidatingAdmissionPolicy
 * was in effect before the MutatingAdmissionPolicy. Wait until a dry-run Pod in the namespace comes out
 * mutated.
 */
async function mutationInEffect(namespace: string): Promise<void> {
  const probe = parityManifest(namespace, 'Pod', 'probe', { containers: [{ name: 'app', image: 'quay.io/app:1' }] });
  await eventually(`MutatingAdmissionPolicy in effect in ${namespace}`, async () => {
    const res = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(probe) });
    if (res.code !== 0) return undefined;
    const securityContext = at(JSON.parse(res.stdout) as Json, 'spec', 'containers', 0, 'securityContext') as Json | undefined;
    return securityContext?.['readOnlyRootFilesystem'] === true ? true : undefined;
  }, 30_000);
}

async function checkFindings(spec: ImmutabilityPolicySpec, objects: Json[]): Promise<Map<string, string[]>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mutation-'));
  try {
    const policy = { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'mutation' }, spec };
    await writeFile(path.join(dir, 'policy.json'), JSON.stringify(policy));
    await writeFile(path.join(dir, 'objects.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    const res = await runCheck(['--policy', path.join(dir, 'policy.json'), '-f', path.join(dir, 'objects.json'), '-o', 'json']);
    expect(res.stderr).to.equal('');
    const report = JSON.parse(res.stdout) as { results: { kind: string; name: string; findings: { rule: string }[] }[] };
    return new Map(report.results.map((r) => [`${r.kind}/${r.name}`, [...new Set(r.findings.map((f) => f.rule))].sort()]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function policyObject(name: string, spec: ImmutabilityPolicySpec): string {
  return JSON.stringify({ apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name }, spec });
}

describe('admission: generated MutatingAdmissionPolicies (spec.admission.mutate)', function () {
  this.timeout(300_000);
  withOperator({ namespaces: ['mutation', 'mutate-deny'], policies: ['mutation', 'mutate-deny'] });

  before(async function () {
    await kubectlOk(['apply', '-f', '-'], { input: policyObject('mutation', PARITY_SPEC) });
    await kubectlOk(['apply', '-f', '-'], {
      input: policyObject('mutate-deny', {
        mode: 'Enforce', match: { namespaces: ['mutate-deny'] }, rules: { capabilities: true, allowPrivilegeEscalation: true },
        admission: { action: 'Deny', mutate: true }, remediation: { patchOwner: { writablePaths: ['/tmp'] } },
      }),
    });
    await admissionReady('mutation', /MutatingAdmissionPolicy/);
    await admissionReady('mutate-deny', /MutatingAdmissionPolicy/);
    for (const ns of ['mutation', 'mutate-deny']) await mutationInEffect(ns);
  });

  it('generates a labelled, owner-referenced MutatingAdmissionPolicy and binding', async function () {
    const map = JSON.parse(await kubectlOk(['get', MAP, 'immutability.dev-mutate-deny', '-o', 'json'])) as { metadata: Json; spec: Json };
    expect(map.metadata['labels']).to.include({ 'immutability.dev/policy': 'mutate-deny', 'app.kubernetes.io/managed-by': 'immutability-operator' });
    expect((map.metadata['ownerReferences'] as Json[])[0]).to.include({ kind: 'ImmutabilityPolicy', name: 'mutate-deny' });
    expect(map.spec).to.include({ failurePolicy: 'Ignore', reinvocationPolicy: 'IfNeeded' });
    const binding = JSON.parse(await kubectlOk(['get', MAP_BINDING, 'immutability.dev-mutate-deny', '-o', 'json'])) as { spec: Json };
    expect(binding.spec['policyName']).to.equal('immutability.dev-mutate-deny');
  });

  it('a new nginx Deployment comes out of admission with a read-only root and emptyDirs, passing the Deny policy and check', async function () {
    const web = parityManifest('mutate-deny', 'Deployment', 'web', { containers: [{ name: 'nginx', image: 'nginx:1.27' }] });
    // Without the mutation, the ValidatingAdmissionPolicy (action Deny) would refuse this Deployment.
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(web) });
    const stored = JSON.parse(await kubectlOk(['-n', 'mutate-deny', 'get', 'deployment', 'deployment-web', '-o', 'json'])) as Json;
    const container = (at(stored, 'spec', 'template', 'spec', 'containers') as Json[])[0]!;
    expect(container['securityContext']).to.deep.equal({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect((container['volumeMounts'] as Json[]).map((m) => m['mountPath'])).to.deep.equal(['/tmp', '/var/cache/nginx', '/var/run']);
    expect((at(stored, 'spec', 'template', 'spec', 'volumes') as Json[]).map((v) => [v['name'], v['emptyDir']])).to.deep.equal([
      ['immutability-tmp-tmp', {}], ['immutability-tmp-var-cache-nginx', {}], ['immutability-tmp-var-run', {}],
    ]);
    const findings = await checkFindings({ rules: { capabilities: true, allowPrivilegeEscalation: true } }, [stored]);
    expect(findings.get('Deployment/deployment-web')).to.deep.equal([]);
    // A privileged Pod with SYS_ADMIN is fixed too, and admitted.
    const pod = parityManifest('mutate-deny', 'Pod', 'root', { containers: [{ name: 'app', image: 'quay.io/app:1', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } }] });
    const created = JSON.parse(await kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(pod) })) as Json;
    expect(canonical(at(created, 'spec', 'containers', 0, 'securityContext'))).to.deep.equal({
      privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {},
    });
  });

  it('mutates every manifest as the owner patch would, and check then finds only what no fix covers', async function () {
    const specs = [...PARITY_SPECS, ...MUTATION_SPECS];
    const manifests = KINDS.flatMap((kind) => specs.map(([variant, spec]) => manifestOf('mutation', kind, variant, spec)));
    const mutated: Json[] = [];
    const differences: string[] = [];
    const expectedUnpatchable = new Map<string, string[]>();
    for (const m of manifests) {
      const key = `${m['kind'] as string}/${at(m, 'metadata', 'name') as string}`;
      const res = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(m) });
      expect(res.code, `${key}\n${res.stderr}`).to.equal(0);
      const admitted = JSON.parse(res.stdout) as Json;
      mutated.push(admitted);
      const { patched, unpatchable } = patchedByPlan(PARITY_SPEC, m);
      expectedUnpatchable.set(key, unpatchable);
      const fromAdmission = JSON.stringify(fixedShape(admitted));
      const fromPlan = JSON.stringify(fixedShape(patched));
      if (fromAdmission !== fromPlan) differences.push(`${key}:\n  admission ${fromAdmission}\n  plan      ${fromPlan}`);
    }
    expect(differences, differences.join('\n')).to.deep.equal([]);
    const findings = await checkFindings(PARITY_SPEC, mutated);
    const leftovers: string[] = [];
    for (const [key, unpatchable] of expectedUnpatchable) {
      if (JSON.stringify(findings.get(key)) !== JSON.stringify(unpatchable)) {
        leftovers.push(`${key}: check ${JSON.stringify(findings.get(key))}, not patchable ${JSON.stringify(unpatchable)}`);
      }
    }
    expect(leftovers, leftovers.join('\n')).to.deep.equal([]);
    // The corpus does exercise the fixes.
    expect(manifests.filter((m) => JSON.stringify(fixedShape(m)) !== JSON.stringify(fixedShape(patchedByPlan(PARITY_SPEC, m).patched))).length).to.be.greaterThan(30);
  });

  it('puts back a deleted MutatingAdmissionPolicy, and removes both objects when mutate is turned off', async function () {
    await kubectlOk(['delete', MAP, 'immutability.dev-mutate-deny']);
    await eventually('MutatingAdmissionPolicy restored', async () => ((await kubectl(['get', MAP, 'immutability.dev-mutate-deny'])).code === 0 ? true : undefined), 30_000);
    await kubectlOk(['patch', 'imp', 'mutate-deny', '--type=merge', '-p', '{"spec":{"admission":{"mutate":false}}}']);
    await eventually('mutation objects removed, validation kept', async () => {
      const map = await kubectl(['get', MAP, 'immutability.dev-mutate-deny']);
      const binding = await kubectl(['get', MAP_BINDING, 'immutability.dev-mutate-deny']);
      const vap = await kubectl(['get', VAP, 'immutability.dev-mutate-deny']);
      return map.code !== 0 && binding.code !== 0 && vap.code === 0 ? true : undefined;
    }, 30_000);
    await admissionReady('mutate-deny', /^ValidatingAdmissionPolicy and binding/);
  });

  it('removes the generated objects with the policy', async function () {
    await kubectlOk(['delete', 'imp', 'mutation', '--timeout=30s']);
    await eventually('generated objects garbage-collected', async () => {
      const map = await kubectl(['get', MAP, 'immutability.dev-mutation']);
      const binding = await kubectl(['get', MAP_BINDING, 'immutability.dev-mutation']);
      return map.code !== 0 && binding.code !== 0 ? true : undefined;
    }, 60_000);
  });
});
