// The local control plane is real: the CRD is validated by kube-apiserver's schema and CEL, workloads run
// through kube-controller-manager and kube-scheduler onto kwok nodes, and evictions honour PDBs.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { repoRoot } from '../support/controlplane/binaries.js';
import { installCrd } from '../support/fixtures.js';
import { EVERY_SPEC_RULE } from '../support/parity-manifests.js';

const root = repoRoot();

/** Runs the built CLI; resolves with its exit code and output. */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'dist', 'src', 'cli', 'main.js'), ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('local control plane', function () {
  before(async function () {
    await installCrd();
  });

  describe('ImmutabilityPolicy CRD', function () {
    it('is Established and served under the short name imp', async function () {
      const out = await kubectlOk(['get', 'crd', 'immutabilitypolicies.immutability.dev', '-o',
        'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      expect(out).to.equal('True');
      expect(await kubectlOk(['get', 'imp'])).to.be.a('string');
      // The OpenAPI document that `kubectl explain` reads is republished a moment after the CRD is established.
      const explain = await eventually('kubectl explain to know the CRD', async () =>
        (await kubectl(['explain', 'imp.spec.remediation.evict'])).stdout || undefined, 30_000);
      expect(explain).to.match(/maxPerMinute/);
      expect(explain).to.match(/PodDisruptionBudget/i);
    });

    it('accepts every sample with a server-side dry run', async function () {
      await kubectlOk(['apply', '-f', path.join(root, 'config/samples/namespace-demo.yaml')]);
      const dir = path.join(root, 'config/samples');
      const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      expect(files.length).to.be.greaterThan(3);
      for (const file of files) {
        const res = await kubectl(['apply', '--dry-run=server', '-f', path.join(dir, file)]);
        expect(res.code, `${file}: ${res.stderr}`).to.equal(0);
      }
    });

    const invalid: { name: string; spec: unknown; error: RegExp }[] = [
      { name: 'bad enum', spec: { mode: 'Sometimes' }, error: /spec\.mode.*Unsupported value.*"Sometimes"/s },
      { name: 'unknown field', spec: { mode: 'Audit', rulez: {} }, error: /unknown field "spec\.rulez"/ },
      {
        name: 'exemption without reason',
        spec: { exemptions: [{ containers: ['istio-proxy'] }] },
        error: /spec\.exemptions\[0\]\.reason|reason.*[Rr]equired/,
      },
      {
        name: 'expires not RFC 3339',
        spec: { exemptions: [{ containers: ['app'], reason: 'ticket', expires: 'next tuesday' }] },
        error: /spec\.exemptions\[0\]\.expires/,
      },
      {
        name: 'relative writable path',
        spec: { remediation: { patchOwner: { writablePaths: ['tmp'] } } },
        error: /spec\.remediation\.patchOwner\.writablePaths/,
      },
      {
        name: 'maxPerMinute below 1',
        spec: { remediation: { evict: { maxPerMinute: 0 } } },
        error: /spec\.remediation\.evict\.maxPerMinute/,
      },
    ];
    for (const tc of invalid) {
      it(`rejects a policy with ${tc.name}, naming the field`, async function () {
        const doc = JSON.stringify({
          apiVersion: 'immutability.dev/v1alpha1',
          kind: 'ImmutabilityPolicy',
          metadata: { name: `invalid-${tc.name.replace(/[^a-z0-9]+/g, '-')}` },
          spec: tc.spec,
        });
        const res = await kubectl(['apply', '--validate=strict', '-f', '-'], { input: doc });
        expect(res.code).to.not.equal(0);
        expect(res.stderr).to.match(tc.error);
      });
    }
  });

  describe('the shipped manifests (config/default)', function () {
    it('deploy into a namespace that enforces the restricted Pod Security Standard', async function () {
      await kubectlOk(['apply', '--server-side', '--force-conflicts', '-k', path.join(root, 'config/default')]);
      try {
        const psa = await kubectlOk(['get', 'namespace', 'immutability-system', '-o', 'jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}']);
        expect(psa).to.equal('restricted');
        // Pod Security admission rejects non-compliant pods at creation: two pods existing proves the hardening.
        await eventually('both operator replicas created', async () => {
          const out = await kubectlOk(['-n', 'immutability-system', 'get', 'pods', '-l', 'app.kubernetes.io/name=immutability-operator', '-o', 'name']);
          return out.trim().split('\n').filter(Boolean).length === 2 ? true : undefined;
        }, 60_000);
        const events = await kubectlOk(['-n', 'immutability-system', 'get', 'events', '-o', 'jsonpath={.items[*].reason}']);
        expect(events).to.not.include('FailedCreate');
      } finally {
        // The namespace and RBAC stay (other specs use them); the fake replicas go.
        await kubectl(['-n', 'immutability-system', 'delete', 'deployment', 'immutability-operator', '--ignore-not-found', '--wait=false']);
      }
    });

    it('pass the operator\'s own strictest policy: it practices what it enforces', async function () {
      const rendered = await kubectlOk(['kustomize', path.join(root, 'config/default')]);
      const strict = JSON.stringify({
        apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'strict' },
        spec: { match: { excludedNamespaces: [] }, rules: EVERY_SPEC_RULE },
      });
      const dir = await mkdtemp(path.join(tmpdir(), 'strict-'));
      try {
        await writeFile(path.join(dir, 'strict.json'), strict);
        await writeFile(path.join(dir, 'rendered.yaml'), rendered);
        const res = await runCli(['check', '--policy', path.join(dir, 'strict.json'), '-f', path.join(dir, 'rendered.yaml'), '-o', 'json']);
        const report = JSON.parse(res.stdout) as { results: { kind: string; compliant: boolean }[] };
        expect(report.results.filter((r) => r.kind === 'Deployment')).to.have.length(1);
        expect(report.results.every((r) => r.compliant), res.stdout).to.equal(true);
        expect(res.code).to.equal(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('workloads on kwok nodes', function () {
    const ns = 'cp-workloads';
    before(async function () {
      await kubectlOk(['create', 'namespace', ns]);
    });

    it('runs a Deployment: ReplicaSet and Running pods', async function () {
      await kubectlOk(['-n', ns, 'create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2']);
      await eventually('2 Running pods of web', async () => {
        const out = await kubectlOk(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}']);
        const phases = out.split(' ').filter(Boolean);
        return phases.length === 2 && phases.every((p) => p === 'Running') ? phases : undefined;
      }, 60_000);
      const rs = await kubectlOk(['-n', ns, 'get', 'rs', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.ownerReferences[0].kind}']);
      expect(rs).to.equal('Deployment');
    });

    it('refuses an eviction that a PodDisruptionBudget forbids (429), then allows it', async function () {
      await kubectlOk(['-n', ns, 'create', 'deployment', 'guarded', '--image=nginx:1.27', '--replicas=1']);
      await kubectlOk(['-n', ns, 'create', 'pdb', 'guarded', '--selector=app=guarded', '--min-available=1']);
      const pod = await eventually('a Running guarded pod', async () => {
        const out = await kubectlOk(['-n', ns, 'get', 'pods', '-l', 'app=guarded', '--field-selector=status.phase=Running',
          '-o', 'jsonpath={.items[0].metadata.name}']);
        return out || undefined;
      }, 60_000);
      // The disruption controller must have observed the pod before the PDB says "0 allowed".
      await eventually('PDB status observed', async () => {
        const out = await kubectlOk(['-n', ns, 'get', 'pdb', 'guarded', '-o', 'jsonpath={.status.currentHealthy}']);
        return out === '1' ? out : undefined;
      }, 30_000);

      const kc = new KubeConfig();
      kc.loadFromFile(cluster().info.kubeconfig);
      const core = kc.makeApiClient(CoreV1Api);
      const evict = (): Promise<unknown> => core.createNamespacedPodEviction({
        name: pod, namespace: ns,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: ns } },
      });
      let refused: unknown;
      try {
        await evict();
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(ApiException);
      expect((refused as ApiException<unknown>).code).to.equal(429);

      await kubectlOk(['-n', ns, 'patch', 'pdb', 'guarded', '--type=merge', '-p', '{"spec":{"minAvailable":0}}']);
      await eventually('eviction allowed once the PDB permits it', async () => {
        try {
          await evict();
          return true;
        } catch (err) {
          if (err instanceof ApiException && err.code === 429) return undefined;
          throw err;
        }
      }, 30_000);
      await eventually('evicted pod gone or terminating', async () => {
        const res = await kubectl(['-n', ns, 'get', 'pod', pod, '-o', 'jsonpath={.metadata.deletionTimestamp}']);
        return res.code !== 0 || res.stdout !== '' ? true : undefined;
      });
    });
  });
});

