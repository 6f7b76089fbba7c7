// Prevent at admission, on the real kube-apiserver: the operator generates a ValidatingAdmissionPolicy and
// binding per ImmutabilityPolicy with spec.admission, and kubectl — driven as a user drives it — is refused
// (or warned) exactly where the policy says, with a message naming the policy, the container and the rule.
import { expect } from 'chai';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { withOperator } from '../support/operator-fixture.js';
import { admissionReady } from '../support/workloads.js';

type Json = Record<string, unknown>;

const VAP = 'validatingadmissionpolicy';
const BINDING = 'validatingadmissionpolicybinding';

function pod(namespace: string, name: string, containers: Json[], extra: Json = {}): Json {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers, ...extra } };
}

const READ_ONLY = { readOnlyRootFilesystem: true };

function deployment(namespace: string, name: string, securityContext: Json, containerName = 'nginx'): Json {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: containerName, image: 'nginx:1.27', securityContext }] } },
    },
  };
}

async function applyResult(obj: Json, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return kubectl(['apply', ...extra, '-f', '-'], { input: JSON.stringify(obj) });
}

describe('admission: generated ValidatingAdmissionPolicies', function () {
  this.timeout(120_000);
  const soon = new Date(Date.now() + 40_000).toISOString().replace(/\.\d+Z$/, 'Z');
  withOperator({ namespaces: ['adm-deny', 'adm-free', 'adm-warn'], policies: ['adm-deny', 'adm-warn'] });

  before(async function () {
    await kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'adm-deny' },
        spec: {
          mode: 'Enforce',
          match: { namespaces: ['adm-d*'] },
          rules: { capabilities: true, exec: true, ephemeralContainers: true },
          admission: { action: 'Deny' },
          exemptions: [
            { containers: ['legacy'], rules: ['readOnlyRootFilesystem'], reason: 'LEG-1: writes to /data' },
            { containers: ['soon'], rules: ['readOnlyRootFilesystem'], expires: soon, reason: 'TMP-2: until the fix ships' },
          ],
        },
      }),
    });
    await kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'adm-warn' },
        spec: { mode: 'Audit', match: { namespaces: ['adm-warn'] }, admission: { action: 'Deny' } },
      }),
    });
    await admissionReady('adm-deny');
    await admissionReady('adm-warn');
  });

  it('generates a labelled, owner-referenced policy and binding', async function () {
    const vap = JSON.parse(await kubectlOk(['get', VAP, 'immutability.dev-adm-deny', '-o', 'json'])) as { metadata: Json };
    expect(vap.metadata['labels']).to.include({ 'immutability.dev/policy': 'adm-deny', 'app.kubernetes.io/managed-by': 'immutability-operator' });
    expect((vap.metadata['ownerReferences'] as Json[])[0]).to.include({ kind: 'ImmutabilityPolicy', name: 'adm-deny' });
    const binding = JSON.parse(await kubectlOk(['get', BINDING, 'immutability.dev-adm-deny', '-o', 'json'])) as { spec: Json };
    expect(binding.spec['validationActions']).to.deep.equal(['Deny']);
  });

  it('denies privileged, writable-root, init-container and CronJob-template violations, naming policy, container and rule', async function () {
    const cases: [Json, string][] = [
      [pod('adm-deny', 'priv', [{ name: 'app', image: 'nginx', securityContext: { ...READ_ONLY, privileged: true } }]),
        'ImmutabilityPolicy adm-deny: container "app" must not set securityContext.privileged: true'],
      [deployment('adm-deny', 'writable', {}),
        'ImmutabilityPolicy adm-deny: container "nginx" must set securityContext.readOnlyRootFilesystem: true'],
      [pod('adm-deny', 'init', [{ name: 'app', image: 'nginx', securityContext: READ_ONLY }],
        { initContainers: [{ name: 'setup', image: 'busybox', securityContext: { ...READ_ONLY, capabilities: { add: ['SYS_ADMIN'] } } }] }),
        'container "setup" must not add capabilities outside the Pod Security baseline set in securityContext.capabilities.add (SYS_ADMIN)'],
      [{
        apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'adm-deny' },
        spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'busybox' }] } } } } },
      }, 'container "job" must set securityContext.readOnlyRootFilesystem: true'],
    ];
    for (const [obj, message] of cases) {
      const res = await applyResult(obj);
      expect(res.code, JSON.stringify(obj)).to.not.equal(0);
      expect(res.stderr).to.include('denied request').and.to.include(message);
    }
  });

  it('admits a compliant workload, an unmatched namespace and an exempted container', async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(deployment('adm-deny', 'compliant', READ_ONLY)) });
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(deployment('adm-free', 'anything', { privileged: true })) });
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(deployment('adm-deny', 'legacy-app', {}, 'legacy')) });
  });

  it('stops admitting an exempted container within 10 s of its exemption expiring', async function () {
    const soonPod = pod('adm-deny', 'soon', [{ name: 'soon', image: 'nginx' }]);
    const expiry = Date.parse(soon);
    if (Date.now() < expiry - 2_000) await kubectlOk(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(soonPod) });
    await new Promise((r) => setTimeout(r, Math.max(0, expiry - Date.now())));
    await eventually('the expired exemption no longer admits', async () => {
      const res = await applyResult(soonPod, ['--dry-run=server']);
      return res.code !== 0 && res.stderr.includes('container "soon"') ? true : undefined;
    }, 10_000, 500);
  });

  it('refuses kubectl exec and kubectl debug into a governed pod', async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(pod('adm-deny', 'target', [{ name: 'app', image: 'nginx', securityContext: READ_ONLY }], { nodeName: 'kwok-node-0' })) });
    const exec = await kubectl(['-n', 'adm-deny', 'exec', 'target', '--', 'ls']);
    expect(exec.code).to.not.equal(0);
    expect(exec.stderr).to.include('ImmutabilityPolicy adm-deny: pods/exec into pod "target" is refused');
    const debug = await kubectl(['-n', 'adm-deny', 'debug', 'target', '--image=busybox', '--container=dbg']);
    expect(debug.code).to.not.equal(0);
    expect(debug.stderr).to.include('ImmutabilityPolicy adm-deny').and.to.include('dbg');
    // A label change adds no violation: admission never blocks it (nor the operator's own label writes).
    await kubectlOk(['-n', 'adm-deny', 'label', 'pod', 'target', 'team=a']);
  });

  it('only warns in Audit mode, and kubectl prints the warning', async function () {
    const res = await applyResult(deployment('adm-warn', 'writable', {}));
    expect(res.code).to.equal(0);
    expect(res.stderr).to.include('Warning:').and.to.include('ImmutabilityPolicy adm-warn: container "nginx" must set securityContext.readOnlyRootFilesystem: true');
  });

  it('puts back a deleted binding and a hand-edited policy', async function () {
    await kubectlOk(['delete', BINDING, 'immutability.dev-adm-deny']);
    await kubectlOk(['patch', VAP, 'immutability.dev-adm-deny', '--type=json', '-p', '[{"op":"remove","path":"/spec/validations/0"}]']);
    await eventually('binding and validations restored', async () => {
      const binding = await kubectl(['get', BINDING, 'immutability.dev-adm-deny']);
      const vap = JSON.parse(await kubectlOk(['get', VAP, 'immutability.dev-adm-deny', '-o', 'json'])) as { spec: { validations: Json[] } };
      return binding.code === 0 && vap.spec.validations.length === 5 ? true : undefined;
    }, 30_000);
    // The API server picks up a re-created binding asynchronously.
    await eventually('denying again', async () => {
      const res = await applyResult(pod('adm-deny', 'again', [{ name: 'app', image: 'nginx' }]), ['--dry-run=server']);
      return res.stderr.includes('denied request') ? true : undefined;
    }, 15_000);
  });

  it('removes the generated objects with the policy', async function () {
    await kubectlOk(['delete', 'imp', 'adm-warn', '--timeout=30s']);
    await eventually('generated objects garbage-collected', async () => {
      const vap = await kubectl(['get', VAP, 'immutability.dev-adm-warn']);
      const binding = await kubectl(['get', BINDING, 'immutability.dev-adm-warn']);
      return vap.code !== 0 && binding.code !== 0 ? true : undefined;
    }, 60_000);
  });
});
