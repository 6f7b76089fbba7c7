// The Helm chart, driven with the helm the project builds (hack/controlplane/build.sh): it lints clean, what it
// renders passes the operator's own check with every rule on, installs into a namespace that enforces the
// restricted Pod Security Standard, and matches config/default (kustomize) wherever both render an object.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { RUNTIME_RULES, SPEC_RULES } from '../../src/api/types.js';
import { parseRunConfig } from '../../src/config.js';
import { repoRoot } from '../support/controlplane/binaries.js';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';

const run = promisify(execFile);
const root = repoRoot();
const CHART = path.join(root, 'charts', 'immutability-operator');
const KUBE_VERSION = '1.36.3';
/** Every option that adds objects or flags, so that the checks below see all the chart can render. */
const EVERYTHING = [
  '--set', 'serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true,podDisruptionBudget.enabled=true',
  '--set', 'auditWebhook.enabled=true,falco.enabled=true,falco.tokenKey=token,metrics.tlsSecretName=metrics-tls,reports.openreports=true',
  '--set', 'metrics.readerSubjects[0].kind=ServiceAccount,metrics.readerSubjects[0].name=prometheus,metrics.readerSubjects[0].namespace=monitoring',
  '--set', 'workers=8,workloadWorkers=32,resyncPeriodSeconds=300,watchTimeoutSeconds=120,statusIntervalMs=2000',
];

interface Run { code: number; stdout: string; stderr: string }

function helm(args: string[]): Promise<Run> {
  const { info } = cluster();
  return new Promise((resolve) => {
    execFile(path.join(info.binDir, 'helm'), [...args, '--kubeconfig', info.kubeconfig], { maxBuffer: 32 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

async function helmOk(args: string[]): Promise<string> {
  const res = await helm(args);
  if (res.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'dist', 'src', 'cli', 'main.js'), ...args], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };

function objects(yamlText: string): Obj[] {
  return parseAllDocuments(yamlText).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
}

const key = (o: Obj): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Labels Helm adds (and the instance label the chart selects on), wherever they appear. */
const HELM_LABELS = new Set(['app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'helm.sh/chart']);
function withoutHelmLabels(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutHelmLabels);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !HELM_LABELS.has(k)).map(([k, v]) => [k, withoutHelmLabels(v)]));
}

describe('Helm chart (charts/immutability-operator)', function () {
  let dir: string;

  before(async function () {
    await installCrd();
    dir = await mkdtemp(path.join(tmpdir(), 'helm-chart-'));
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('helm lint --strict is clean, with every option on too', async function () {
    for (const values of [[], EVERYTHING]) {
      const res = await helm(['lint', CHART, '--strict', ...values]);
      expect(res.code, res.stdout + res.stderr).to.equal(0);
      expect(res.stdout).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(res.stdout).to.not.match(/\[(WARNING|ERROR)\]/);
    }
  });

  it('refuses settings that cannot work and values its schema does not know, with a message', async function () {
    const twoActors = await helm(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'leaderElection.enabled=false']);
    expect(twoActors.code).to.not.equal(0);
    expect(twoActors.stderr).to.match(/replicaCount > 1 needs leaderElection\.enabled/);
    const openFalco = await helm(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'falco.enabled=true,falco.clientCA=false']);
    expect(openFalco.stderr).to.match(/falco\.enabled needs falco\.clientCA or falco\.tokenKey/);
    // values.schema.json: a misspelled key or a value the operator would reject fails before anything is applied.
    const typo = await helm(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'logging.levle=debug']);
    expect(typo.stderr).to.match(/additional properties 'levle' not allowed/);
    const badAuth = await helm(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'metrics.auth=basic']);
    expect(badAuth.stderr).to.match(/\/metrics\/auth': value must be one of 'kube', 'none'/);
    const noWorkers = await helm(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'workloadWorkers=0']);
    expect(noWorkers.code).to.not.equal(0);
    expect(noWorkers.stderr).to.match(/workloadWorkers/);
  });

  it('passes its tuning values to the operator as flags the operator accepts', async function () {
    const rendered = objects(await helmOk(['template', 'x', CHART, '--kube-version', KUBE_VERSION, ...EVERYTHING]));
    const deployment = rendered.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    const [command, ...args] = deployment.spec.template.spec.containers[0]?.args ?? [];
    expect(command).to.equal('run');
    const config = parseRunConfig(args, {});
    expect([config.podWorkers, config.workloadWorkers, config.resyncPeriodMs, config.watchTimeoutSeconds, config.statusIntervalMs, config.reports])
      .to.deep.equal([8, 32, 300_000, 120, 2000, 'openreports']);
  });

  it('renders manifests that pass the operator\'s own check with every rule on', async function () {
    const everyRule = Object.fromEntries([...SPEC_RULES, ...RUNTIME_RULES].map((rule) => [rule, true]));
    await writeFile(path.join(dir, 'strict.json'), JSON.stringify({
      apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'strict' },
      spec: { match: { excludedNamespaces: [] }, rules: everyRule },
    }));
    for (const [name, values] of [['defaults', []], ['everything', EVERYTHING]] as const) {
      const rendered = await helmOk(['template', 'immutability-operator', CHART, '-n', 'immutability-system', '--kube-version', KUBE_VERSION, ...values]);
      await writeFile(path.join(dir, `${name}.yaml`), rendered);
      const res = await runCli(['check', '--policy', path.join(dir, 'strict.json'), '-f', path.join(dir, `${name}.yaml`), '-o', 'json']);
      const report = JSON.parse(res.stdout) as { results: { kind: string; compliant: boolean }[] };
      expect(report.results.filter((r) => r.kind === 'Deployment'), name).to.have.length(1);
      expect(res.code, `${name}: ${res.stdout}`).to.equal(0);
    }
  });

  /** What Helm and kustomize both render must be the same objects, Helm's labels aside. */
  async function expectSameAsKustomize(helmValues: string[], components: string[], expectedOverlap: string[]): Promise<void> {
    const helmObjects = objects(await helmOk(['template', 'immutability-operator', CHART, '-n', 'immutability-system',
      '--kube-version', KUBE_VERSION, '--include-crds', '--set', 'image.tag=dev', ...helmValues]));
    const fromKustomize = new Map((await kustomizeObjects(components)).map((o) => [key(o), o]));
    const overlap = helmObjects.filter((o) => fromKustomize.has(key(o)));
    expect(overlap.map(key).sort()).to.deep.equal([...expectedOverlap].sort());
    for (const object of overlap) {
      expect(withoutHelmLabels(object), key(object)).to.deep.equal(withoutHelmLabels(fromKustomize.get(key(object))));
    }
  }

  /** config/default, with the given components of config/ on top as a user's overlay adds them. */
  async function kustomizeObjects(components: string[]): Promise<Obj[]> {
    let target = path.join(root, 'config', 'default');
    if (components.length > 0) {
      // kustomize accepts only relative paths in a kustomization, and an overlay lives outside the repository.
      target = await mkdtemp(path.join(dir, 'overlay-'));
      const relative = (p: string): string => path.relative(target, path.join(root, p));
      await writeFile(path.join(target, 'kustomization.yaml'), JSON.stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization',
        resources: [relative('config/default')], components: components.map(relative),
      }));
    }
    // kustomize does not know FlowSchema as cluster-scoped and gives it the overlay's namespace, which the API
    // server drops when it stores it: compare it as stored.
    return objects(await kubectlOk(['kustomize', target])).map((o) => {
      if (o.kind !== 'FlowSchema') return o;
      const { namespace: _dropped, ...metadata } = o.metadata;
      return { ...o, metadata };
    });
  }

  const DEFAULT_OVERLAP = [
    'ClusterRole//immutability-operator', 'ClusterRole//immutability-operator-metrics-reader', 'ClusterRoleBinding//immutability-operator',
    'CustomResourceDefinition//immutabilitypolicies.immutability.dev', 'Deployment/immutability-system/immutability-operator',
    'FlowSchema//immutability-operator-leader-election',
    'Role/immutability-system/immutability-operator-leader-election', 'RoleBinding/immutability-system/immutability-operator-leader-election',
    'Service/immutability-system/immutability-operator-metrics', 'ServiceAccount/immutability-system/immutability-operator',
  ];

  it('renders the same objects as config/default where both render one (Helm\'s labels aside)', async function () {
    await expectSameAsKustomize([], [], DEFAULT_OVERLAP);
  });

  it('with reports.openreports=true, renders what config/default with the config/openreports component does', async function () {
    await expectSameAsKustomize(['--set', 'reports.openreports=true'], ['config/openreports'], [
      ...DEFAULT_OVERLAP, 'ClusterRole//immutability-operator-openreports', 'ClusterRoleBinding//immutability-operator-openreports',
    ]);
  });

  it('renders the same from the archive `helm package` makes: the symbolic links are resolved into it', async function () {
    const packaged = await mkdtemp(path.join(dir, 'package-'));
    const out = await helmOk(['package', CHART, '-d', packaged]);
    const archive = /saved it to: (\S+\.tgz)/.exec(out)?.[1];
    expect(archive, out).to.be.a('string');
    const lint = await helm(['lint', archive!, '--strict', ...EVERYTHING]);
    expect(lint.code, lint.stdout + lint.stderr).to.equal(0);
    for (const values of [['--include-crds'], ['--include-crds', ...EVERYTHING]]) {
      const render = (chart: string): Promise<string> =>
        helmOk(['template', 'immutability-operator', chart, '-n', 'immutability-system', '--kube-version', KUBE_VERSION, ...values]);
      const fromArchive = objects(await render(archive!));
      expect(fromArchive.map(key)).to.include('CustomResourceDefinition//immutabilitypolicies.immutability.dev');
      expect(fromArchive).to.deep.equal(objects(await render(CHART)));
    }
  });

  it('helm install works in a namespace that enforces the restricted Pod Security Standard, and uninstalls', async function () {
    this.timeout(240_000);
    const ns = 'helm-restricted';
    await kubectlOk(['create', 'namespace', ns]);
    await kubectlOk(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
    try {
      const out = await helmOk(['install', 'imo', CHART, '-n', ns, '--set', 'image.tag=dev,podDisruptionBudget.enabled=true', '--wait=false']);
      expect(out).to.match(/STATUS: deployed/);
      // Pod Security admission rejects non-compliant pods at creation: two pods existing proves the hardening.
      await eventually('both operator replicas created', async () => {
        const names = await kubectlOk(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/instance=imo', '-o', 'name']);
        return names.trim().split('\n').filter(Boolean).length === 2 ? true : undefined;
      }, 90_000);
      // The first step NOTES.txt shows works when pasted into a shell.
      const firstStep = /^\s*(echo .* \| kubectl apply -f -)$/m.exec(out)?.[1];
      expect(firstStep, `NOTES show a policy to apply:\n${out}`).to.be.a('string');
      const { info } = cluster();
      try {
        await run('sh', ['-c', firstStep!], { env: { ...process.env, PATH: `${info.binDir}${path.delimiter}${process.env['PATH'] ?? ''}`, KUBECONFIG: info.kubeconfig } });
        expect(await kubectlOk(['get', 'imp', 'audit', '-o', 'jsonpath={.spec.mode}'])).to.equal('Audit');
      } finally {
        await kubectl(['delete', 'imp', 'audit', '--ignore-not-found', '--wait=false']);
      }
      const reasons = await kubectlOk(['-n', ns, 'get', 'events', '-o', 'jsonpath={.items[*].reason}']);
      expect(reasons).to.not.include('FailedCreate');
      // What helm installed is what it renders.
      const manifest = objects(await helmOk(['get', 'manifest', 'imo', '-n', ns])).map(key).sort();
      const rendered = objects(await helmOk(['template', 'imo', CHART, '-n', ns, '--kube-version', KUBE_VERSION,
        '--set', 'image.tag=dev,podDisruptionBudget.enabled=true'])).map(key).sort();
      expect(manifest).to.deep.equal(rendered);
      for (const k of manifest.filter((m) => !m.startsWith('Cluster'))) {
        const [kind, namespace, name] = k.split('/') as [string, string, string];
        await kubectlOk(['get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'name']);
      }
      await helmOk(['uninstall', 'imo', '-n', ns, '--wait']);
      expect((await kubectl(['get', 'clusterrole', 'imo-immutability-operator'])).code).to.not.equal(0);
    } finally {
      await helm(['uninstall', 'imo', '-n', ns]);
      await kubectl(['delete', 'namespace', ns, '--wait=false']);
    }
  });
});
