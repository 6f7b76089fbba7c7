// Image presets on the real control plane, as an Audit user meets them: with presets off, a planned read-only
// root that leaves the official nginx image's /var/cache/nginx without a mount is announced in the policy's
// status message and by a Warning Event on the Deployment and on the policy, before anyone switches to Enforce
// (and nothing is written to the Deployment). With presets on, the planned patch mounts the path and says
// nothing.
import { expect } from 'chai';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { withOperator } from '../support/operator-fixture.js';

type Json = Record<string, unknown>;
const NS = 'presets';
const POLICY = 'presets-audit';
const WARNING = 'warning: container "nginx" (official nginx image) writes to /var/cache/nginx, which the planned read-only root filesystem leaves without a writable mount';

interface Violation { kind: string; namespace: string; name: string; action?: string; message?: string; patch?: string }
interface Event { reason: string; type: string; note: string; regarding: { kind: string; name: string; namespace?: string } }

function policy(presets: boolean): Json {
  return {
    apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: POLICY },
    spec: { mode: 'Audit', match: { namespaces: [NS] }, remediation: { patchOwner: { writablePaths: ['/var/run'], presets } } },
  };
}

async function webViolation(): Promise<Violation | undefined> {
  const status = JSON.parse(await kubectlOk(['get', 'imp', POLICY, '-o', 'jsonpath={.status}']) || '{}') as { violations?: Violation[] };
  return status.violations?.find((v) => v.kind === 'Deployment' && v.namespace === NS && v.name === 'web');
}

async function warningEvents(namespace: string): Promise<Event[]> {
  const list = JSON.parse(await kubectlOk(['-n', namespace, 'get', 'events.events.k8s.io', '-o', 'json'])) as { items: Event[] };
  return list.items.filter((e) => e.reason === 'WritablePathsMissing');
}

describe('image presets in Audit mode (patchOwner.presets)', function () {
  this.timeout(180_000);
  withOperator({ namespaces: [NS], policies: [POLICY] });

  it('with presets off, says in the status and a Warning Event on the Deployment and the policy which path the patch leaves unmounted', async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(policy(false)) });
    await kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
        spec: {
          replicas: 1, selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } },
        },
      }),
    });
    const violation = await eventually('the planned patch with its warning', async () => {
      const found = await webViolation();
      return found?.message?.includes('warning:') ? found : undefined;
    }, 60_000, 500);
    expect(violation.action).to.equal('Planned');
    expect(violation.message).to.include(WARNING);
    expect(violation.patch).to.include('/var/run').and.not.include('/var/cache/nginx');

    const onDeployment = await eventually('the Event on the Deployment', async () => {
      const found = (await warningEvents(NS)).filter((e) => e.regarding.kind === 'Deployment' && e.regarding.name === 'web');
      return found.length > 0 ? found : undefined;
    }, 30_000, 500);
    expect(onDeployment).to.have.length(1);
    expect(onDeployment[0]).to.include({ type: 'Warning' });
    expect(onDeployment[0]!.note).to.include('writes to /var/cache/nginx');
    const onPolicy = await eventually('the Event on the policy', async () => {
      const found = (await warningEvents('default')).filter((e) => e.regarding.kind === 'ImmutabilityPolicy' && e.regarding.name === POLICY);
      return found.length > 0 ? found : undefined;
    }, 30_000, 500);
    expect(onPolicy[0]!.note).to.include('writes to /var/cache/nginx');

    // Audit writes nothing to the workload.
    const template = JSON.parse(await kubectlOk(['-n', NS, 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.template.spec}'])) as Json;
    expect(template['volumes']).to.equal(undefined);
    expect(JSON.stringify(template['containers'])).to.not.include('readOnlyRootFilesystem');
  });

  it('with presets on, plans the image\'s paths too and warns no more', async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(policy(true)) });
    const violation = await eventually('the planned patch with the preset paths', async () => {
      const found = await webViolation();
      return found?.patch?.includes('/var/cache/nginx') ? found : undefined;
    }, 60_000, 500);
    expect(violation.message).to.not.include('warning:');
    expect(violation.message).to.include('added emptyDir at /var/run, /var/cache/nginx');
  });
});
