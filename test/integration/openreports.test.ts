// --reports=openreports on the real control plane: with the openreports.io CRD installed from
// config/openreports/crd, the operator keeps one Report per governed workload — failing while the Deployment
// breaks a rule, passing once its template is fixed and rolled out, owned by the Deployment and gone with it.
import path from 'node:path';
import { expect } from 'chai';
import { repoRoot } from '../support/controlplane/binaries.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';

type Json = Record<string, unknown>;
const NS = 'openreports';
const REPORT = 'immutability-deployment-web';

interface Result { policy: string; rule: string; result: string; severity: string; properties?: Record<string, string>; message: string }
interface Report { metadata: { resourceVersion: string; ownerReferences?: Json[] }; scope: Json; summary: Record<string, number>; results: Result[] }

async function report(): Promise<Report | undefined> {
  const res = await kubectl(['-n', NS, 'get', 'reports.openreports.io', REPORT, '-o', 'json']);
  return res.code === 0 ? JSON.parse(res.stdout) as Report : undefined;
}

function web(readOnlyRootFilesystem: boolean): Json {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27', securityContext: { readOnlyRootFilesystem } }] } },
    },
  };
}

const cell = (r: Report, rule: string): string | undefined =>
  r.results.find((x) => x.rule === rule && x.properties?.['container'] === 'nginx')?.result;

describe('OpenReports: one Report per governed workload (--reports=openreports)', function () {
  this.timeout(180_000);

  before(async function () {
    await kubectlOk(['apply', '--server-side', '-k', path.join(repoRoot(), 'config', 'openreports', 'crd')]);
    await kubectlOk(['wait', '--for=condition=Established', 'crd/reports.openreports.io', '--timeout=30s']);
  });

  withOperator({ namespaces: [NS], policies: ['reports'], operator: { args: ['--reports', 'openreports'] } });

  before(async function () {
    await kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'reports' },
        spec: { mode: 'Audit', match: { namespaces: [NS] }, rules: { readOnlyRootFilesystem: true, privileged: true } },
      }),
    });
  });

  it('writes a failing Report owned by the Deployment, and does not rewrite it while nothing changes', async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(web(false)) });
    const uid = await kubectlOk(['-n', NS, 'get', 'deployment', 'web', '-o', 'jsonpath={.metadata.uid}']);
    const r = await eventually('a failing Report', async () => {
      const found = await report();
      return found && cell(found, 'readOnlyRootFilesystem') === 'fail' ? found : undefined;
    }, 60_000, 500);
    expect(r.scope).to.include({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name: 'web', uid });
    expect(r.metadata.ownerReferences?.[0]).to.include({ kind: 'Deployment', name: 'web', uid });
    expect(r.summary).to.deep.equal({ pass: 1, fail: 1, warn: 0, error: 0, skip: 0 });
    const failed = r.results.find((x) => x.result === 'fail')!;
    expect(failed).to.include({ policy: 'reports', rule: 'readOnlyRootFilesystem', severity: 'medium' });
    expect(failed.message).to.include('nginx');
    // The same verdict as the policy's status, which is written on its own interval (it may follow the Report).
    const findings = await eventually('the policy status listing the finding', async () => {
      const status = JSON.parse(await kubectlOk(['get', 'imp', 'reports', '-o', 'jsonpath={.status}'])) as Json;
      const listed = at(status, 'violations', 0, 'findings');
      return listed === undefined ? undefined : listed;
    }, 30_000, 250);
    expect(findings).to.deep.equal(['nginx:readOnlyRootFilesystem']);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await report())?.metadata.resourceVersion).to.equal(r.metadata.resourceVersion);
  });

  it('updates the Report once the fixed template has rolled out', async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(web(true)) });
    const r = await eventually('a passing Report', async () => {
      const found = await report();
      return found && found.summary['fail'] === 0 ? found : undefined;
    }, 90_000, 500);
    expect(cell(r, 'readOnlyRootFilesystem')).to.equal('pass');
    expect(r.summary).to.deep.equal({ pass: 2, fail: 0, warn: 0, error: 0, skip: 0 });
  });

  it('removes the Report with the Deployment', async function () {
    await kubectlOk(['-n', NS, 'delete', 'deployment', 'web']);
    await eventually('the Report is gone', async () => ((await report()) === undefined ? true : undefined), 60_000, 500);
  });
});
