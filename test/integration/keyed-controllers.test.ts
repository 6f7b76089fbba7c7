// The keyed controllers on the real control plane: time alone (an exemption's expiry) changes labels and
// status in a quiet cluster, and remediation runs per workload — one workload the API server refuses to
// update is retried with backoff, counted and reported, while every other workload is patched and the
// policy's status is written without waiting on any of it.
import { expect } from 'chai';
import { loadKubeCredentials } from '../../src/k8s/kubeconfig.js';
import { KubeHttp } from '../../src/k8s/http.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { conditionOf } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import { apply, type PolicyStatus } from '../support/workloads.js';

function rfc3339(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

describe('keyed controllers', function () {
  this.timeout(300_000);
  let http: KubeHttp;

  before(async function () {
    http = new KubeHttp(await loadKubeCredentials(cluster().info.kubeconfig));
  });

  after(() => http?.close());

  const policyStatus = async (name: string): Promise<PolicyStatus> =>
    (await http.request<{ status?: PolicyStatus }>('GET', `/apis/immutability.dev/v1alpha1/immutabilitypolicies/${name}`, {})).status ?? {};

  describe('an exemption that expires in a quiet cluster', function () {
    const ns = 'keyed-expiry';
    withOperator({ namespaces: [ns], policies: [ns] });

    it('takes effect in labels and status within 10 s of its expiry, with no event to trigger it', async () => {
      await apply({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: 'legacy', namespace: ns },
        spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
      });
      const expiresAt = Date.now() + 15_000;
      await apply({
        apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: ns },
        spec: {
          mode: 'Enforce', match: { namespaces: [ns] }, remediation: { label: {} },
          exemptions: [{ containers: ['app'], expires: rfc3339(expiresAt), reason: 'TICKET-1: until the image is rebuilt' }],
        },
      });
      // Exempt until then: counted, compliant, unlabelled.
      await eventually('status while exempt', async () => {
        const s = await policyStatus(ns);
        return s.matchedPods === 1 && s.violatingPods === 0 ? s : undefined;
      });
      const expiry = Math.ceil(expiresAt / 1000) * 1000;
      expect(Date.now(), 'the exemption expired before the test could observe it').to.be.below(expiry);
      const labelled = await eventually('pod labelled after expiry', async () => {
        const label = await kubectlOk(['get', 'pod', 'legacy', '-n', ns, '-o', 'jsonpath={.metadata.labels.immutability\\.dev/violation}']);
        return label === 'true' ? Date.now() : undefined;
      }, 40_000, 200);
      const reported = await eventually('status counts the pod after expiry', async () => {
        const s = await policyStatus(ns);
        return s.violatingPods === 1 ? Date.now() : undefined;
      }, 40_000, 200);
      expect(labelled - expiry, 'label latency after expiry (ms)').to.be.at.most(10_000);
      expect(reported - expiry, 'status latency after expiry (ms)').to.be.at.most(10_000);
    });
  });

  describe('500 violating Deployments in Enforce, one refused by the API server', function () {
    const ns = 'keyed-many';
    const count = 500;
    const refused = 'a-refused'; // sorts first: status lists at most 50 workloads
    const operator = withOperator({ namespaces: [ns], policies: [ns], beforeStart: seed, operator: { metrics: 'open', args: ['--log-level', 'info'] } });

    after(async function () {
      await kubectl(['delete', 'validatingadmissionpolicybinding', 'keyed-refuse-one', '--ignore-not-found']);
      await kubectl(['delete', 'validatingadmissionpolicy', 'keyed-refuse-one', '--ignore-not-found']);
    });

    /** 500 Deployments with running pods, and the admission policy that refuses one of them, before the operator starts. */
    async function seed(this: Mocha.Context): Promise<void> {
      this.timeout(600_000);
      // The API server refuses to make this one Deployment's template read-only: an admission policy, not a fake.
      await apply({
        apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'keyed-refuse-one' },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['deployments'] }] },
          validations: [{
            expression: `object.metadata.name != '${refused}' || !object.spec.template.spec.containers.exists(c, has(c.securityContext) && has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem == true)`,
            message: 'keyed-refuse-one: this Deployment may not be made read-only',
          }],
        },
      });
      await apply({
        apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'keyed-refuse-one' },
        spec: {
          policyName: 'keyed-refuse-one', validationActions: ['Deny'],
          matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
        },
      });
      const names = [refused, ...Array.from({ length: count - 1 }, (_, i) => `web-${i}`)];
      const items = names.map((name) => ({
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
        spec: {
          replicas: 1, selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } },
        },
      }));
      await apply(items);
      await eventually(`${count} pods exist`, async () => {
        const out = await kubectlOk(['get', 'pods', '-n', ns, '--no-headers', '-o', 'name']);
        return out.split('\n').filter(Boolean).length >= count ? true : undefined;
      }, 240_000, 1_000);
    }

    it('writes status while patches are in flight, patches the other 499 without waiting, and retries, counts and reports the refused one', async () => {
      const readOnly = async (): Promise<Map<string, boolean>> => {
        const list = await http.request<{ items: { metadata: { name: string }; spec: { template: { spec: { containers: { securityContext?: { readOnlyRootFilesystem?: boolean } }[] } } } }[] }>(
          'GET', `/apis/apps/v1/namespaces/${ns}/deployments`, {});
        return new Map(list.items.map((d) => [d.metadata.name, d.spec.template.spec.containers.every((c) => c.securityContext?.readOnlyRootFilesystem === true)]));
      };
      const patchedCount = async (): Promise<number> => [...await readOnly()].filter(([name, ro]) => ro && name !== refused).length;
      const created = Date.now();
      await apply({
        apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: ns },
        spec: { mode: 'Enforce', match: { namespaces: [ns] }, remediation: { patchOwner: { writablePaths: ['/tmp'] } } },
      });
      // The status does not wait on remediation: it is there while most patches are still to come. (How soon is
      // a benchmark figure, docs/benchmarks.md, not a timed assertion.)
      const firstStatus = await eventually('first status', async () => {
        const s = await policyStatus(ns);
        return (s.matchedPods ?? 0) >= count ? Date.now() : undefined;
      }, 60_000, 50);
      const patchedAtFirstStatus = await patchedCount();
      expect(patchedAtFirstStatus, 'Deployments already patched when the first status was written').to.be.below(count - 1);

      const patched = await eventually('the other 499 patched', async () => {
        return (await patchedCount()) === count - 1 ? Date.now() : undefined;
      }, 180_000, 500);
      process.stdout.write(`      first status ${firstStatus - created} ms (${patchedAtFirstStatus} patched by then), ` +
        `${count - 1} patched ${patched - created} ms after the policy was created\n`);
      expect((await readOnly()).get(refused), 'the refused Deployment').to.equal(false);

      // Status: Degraded with PatchFailed, the refused workload Blocked with the API server's reason.
      const status = await eventually('Degraded PatchFailed', async () => {
        const s = await policyStatus(ns);
        return conditionOf(s, 'Degraded')?.reason === 'PatchFailed' ? s : undefined;
      }, 30_000);
      expect(conditionOf(status, 'Degraded')?.status).to.equal('True');
      const entry = status.violations?.find((v) => v.name === refused);
      expect(entry?.action).to.equal('Blocked');
      expect(entry?.message).to.match(/may not be made read-only/);

      // Retried by the runner, one log line per failed write with the reason; the retry count grows with each
      // (the runner re-adds the key rate-limited, with per-key exponential backoff, until it succeeds or drops).
      const failures = await eventually('three failed attempts', async () => {
        const lines = (await operator.logEntries()).filter((l) => l['msg'] === 'reconcile failed' && l['key'] === `${ns}/Deployment/${refused}`);
        return lines.length >= 3 ? lines : undefined;
      }, 120_000, 500);
      expect(failures.slice(0, 3).map((l) => l['retries'])).to.deep.equal([0, 1, 2]);
      expect(String(failures[0]?.['err'])).to.match(/may not be made read-only/);
      expect((await operator.logEntries()).filter((l) => l['msg'] === 'reconcile failed' && l['key'] !== `${ns}/Deployment/${refused}`)).to.deep.equal([]);

      // Counted as an error of the workload controller, and as a failed patch of this policy.
      const metrics = await (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
      const value = (pattern: RegExp): number => Number(pattern.exec(metrics)?.[1] ?? 0);
      expect(value(/immutability_operator_reconcile_total\{controller="workload",result="error"\} (\d+)/)).to.be.at.least(3);
      expect(value(new RegExp(`immutability_operator_actions_total\\{policy="${ns}",action="patch",result="failure"\\} (\\d+)`))).to.be.at.least(3);
      expect(value(new RegExp(`immutability_operator_actions_total\\{policy="${ns}",action="patch",result="success"\\} (\\d+)`))).to.equal(count - 1);
    });
  });
});
