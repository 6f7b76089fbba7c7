// What GitOps tools and a new user see: `kubectl apply -f crds/`, the `-o wide` columns, and health as Flux
// reads it — the real kstatus library (hack/controlplane/kstatus) and `kubectl wait` — as the operator
// reconciles a policy or lags behind a spec change.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse } from 'yaml';
import { repoRoot } from '../support/controlplane/binaries.js';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { kubectl, kubectlOk } from '../support/kubectl.js';
import { OperatorProcess } from '../support/operator.js';

const run = promisify(execFile);
const POLICY = 'gitops-health';

/** kstatus's verdict on the live policy: {"status": "Current" | "InProgress" | ..., "message": ...}. */
async function kstatus(): Promise<{ status: string; message: string }> {
  const object = await kubectlOk(['get', 'imp', POLICY, '-o', 'json']);
  const child = run(path.join(cluster().info.binDir, 'kstatus'), []);
  child.child.stdin?.end(object);
  return JSON.parse((await child).stdout) as { status: string; message: string };
}

async function waitReady(timeout: string): Promise<{ code: number; stderr: string }> {
  return kubectl(['wait', '--for=condition=Ready', `imp/${POLICY}`, `--timeout=${timeout}`], { timeoutMs: 90_000 });
}

describe('GitOps and kubectl', function () {
  let operator: OperatorProcess | undefined;

  before(async function () {
    await installCrd();
  });

  after(async function () {
    await operator?.stop();
    await kubectl(['delete', 'imp', POLICY, '--ignore-not-found', '--wait=false']);
  });

  it('kubectl apply -f crds/ applies the CRD and nothing else', async function () {
    const out = await kubectlOk(['apply', '-f', path.join(repoRoot(), 'crds')]);
    expect(out.trim().split('\n')).to.have.length(1);
    expect(out).to.match(/^customresourcedefinition\.apiextensions\.k8s\.io\/immutabilitypolicies\.immutability\.dev (configured|unchanged|created)/);
  });

  it('kubectl get imp shows Drifted, Workloads and Admission with -o wide only', async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: POLICY }, spec: { match: { namespaces: ['gitops-none'] } } }) });
    const header = (out: string): string[] => out.split('\n')[0]!.trim().split(/\s+/);
    expect(header(await kubectlOk(['get', 'imp', POLICY]))).to.deep.equal(['NAME', 'MODE', 'MATCHED', 'VIOLATING', 'READY', 'AGE']);
    expect(header(await kubectlOk(['get', 'imp', POLICY, '-o', 'wide']))).to.deep.equal(
      ['NAME', 'MODE', 'MATCHED', 'VIOLATING', 'DRIFTED', 'WORKLOADS', 'READY', 'ADMISSION', 'AGE']);
  });

  it('the Argo CD health check installs as docs/gitops.md says: merged into argocd-cm, keeping its other settings', async function () {
    const doc = await readFile(path.join(repoRoot(), 'docs', 'gitops.md'), 'utf8');
    const command = /^kubectl (-n argocd patch configmap argocd-cm .*)$/m.exec(doc)?.[1];
    expect(command, 'docs/gitops.md shows the kubectl patch command').to.be.a('string');
    await kubectlOk(['create', 'namespace', 'argocd']);
    try {
      await kubectlOk(['-n', 'argocd', 'create', 'configmap', 'argocd-cm', '--from-literal=url=https://argocd.example.com']);
      // The doc's paths are relative to the repository root.
      await kubectlOk(command!.split(/\s+/).map((arg) => (arg.startsWith('config/') ? path.join(repoRoot(), arg) : arg)));
      const data = JSON.parse(await kubectlOk(['-n', 'argocd', 'get', 'configmap', 'argocd-cm', '-o', 'jsonpath={.data}'])) as Record<string, string>;
      const shipped = parse(await readFile(path.join(repoRoot(), 'config', 'argocd', 'argocd-cm.yaml'), 'utf8')) as { data: Record<string, string> };
      expect(data).to.deep.equal({ url: 'https://argocd.example.com', ...shipped.data });
    } finally {
      await kubectl(['delete', 'namespace', 'argocd', '--wait=false']);
    }
  });

  it('reads Current under kstatus once reconciled, InProgress while observedGeneration lags, and kubectl wait agrees', async function () {
    this.timeout(180_000);
    // Not evaluated yet: the CRD's status default reads observedGeneration 0, below generation 1.
    expect((await kstatus()).status).to.equal('InProgress');

    operator = await new OperatorProcess().start();
    const ready = await waitReady('60s');
    expect(ready.code, ready.stderr).to.equal(0);
    expect(await kstatus()).to.deep.include({ status: 'Current' });

    // A spec change while no operator runs: the status describes the previous generation.
    await operator.stop();
    operator = undefined;
    await kubectlOk(['patch', 'imp', POLICY, '--type', 'merge', '-p', '{"spec":{"rules":{"allowPrivilegeEscalation":true}}}']);
    const lagging = await kstatus();
    expect(lagging.status).to.equal('InProgress');
    expect(lagging.message).to.match(/generation/i);
    expect((await waitReady('3s')).code, 'kubectl wait must not accept a Ready condition of an older generation').to.not.equal(0);

    operator = await new OperatorProcess().start();
    const caughtUp = await waitReady('60s');
    expect(caughtUp.code, caughtUp.stderr).to.equal(0);
    expect(await kstatus()).to.deep.include({ status: 'Current' });
  });
});
