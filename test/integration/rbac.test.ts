// The shipped RBAC (config/rbac) is enough and no more: the operator runs with a token of its own
// ServiceAccount instead of the suite's admin credentials, enforces a policy that uses every remediation
// end to end, serves /metrics behind TokenReview + SubjectAccessReview and releases its policy through the
// finalizer, all without a single 403; then `kubectl auth can-i` shows what it still may not do.
import { expect } from 'chai';
import { freePort } from '../support/controlplane/ports.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import {
  OPERATOR_NAMESPACE, OPERATOR_USER, serviceAccountKubeconfig, uninstallOperatorRbac,
} from '../support/service-account.js';
import { apply, condition, getJson, livePods, policyStatus, waitForRunningPods, type Json } from '../support/workloads.js';

const NS = 'rbac-sa';
const POLICY = 'rbac-sa';
/** A scraper identity bound to the shipped metrics-reader role, as docs/security.md tells users to. */
const SCRAPER = 'rbac-scraper';
const SCRAPER_BINDING = 'rbac-scraper-metrics';
const REPORTING_CONTROLLER = 'immutability.dev/operator';

const readOnlyRoot = (obj: unknown, ...template: string[]): unknown =>
  at(obj, ...template, 'spec', 'containers', 0, 'securityContext', 'readOnlyRootFilesystem');

/** Events this operator reported in a namespace, as `Kind/name Reason` strings. */
async function operatorEvents(namespace: string): Promise<string[]> {
  const list = await getJson(['-n', namespace, 'events.events.k8s.io']);
  return ((list['items'] ?? []) as Json[])
    .filter((e) => e['reportingController'] === REPORTING_CONTROLLER)
    .map((e) => `${String(at(e, 'regarding', 'kind'))}/${String(at(e, 'regarding', 'name'))} ${String(e['reason'])}`);
}

/**
 * Log lines that show the API server refusing the operator. Its own answer to an unauthorized scraper
 * ("metrics scrape forbidden") is the endpoint working, not a missing right.
 */
function refusals(entries: Record<string, unknown>[]): string[] {
  return entries
    .filter((e) => e['msg'] !== 'metrics scrape forbidden')
    .map((e) => JSON.stringify(e))
    .filter((line) => /forbidden|"(status|statusCode|code)":403\b/i.test(line));
}

function workloads(): Json[] {
  const nginx = { name: 'nginx', image: 'nginx:1.27' };
  return [
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [nginx] } } },
    },
    {
      // OnDelete: the patched template reaches the running replica only by eviction, which the operator does.
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'ledger', namespace: NS },
      spec: {
        replicas: 1, serviceName: 'ledger', updateStrategy: { type: 'OnDelete' }, selector: { matchLabels: { app: 'ledger' } },
        template: { metadata: { labels: { app: 'ledger' } }, spec: { containers: [nginx] } },
      },
    },
    {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'priv', namespace: NS, labels: { app: 'priv' } },
      spec: { containers: [{ ...nginx, securityContext: { privileged: true, readOnlyRootFilesystem: true } }] },
    },
  ];
}

async function scrape(port: number, token: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('RBAC: the operator under its shipped ServiceAccount', function () {
  this.timeout(120_000);
  let metricsPort = 0;
  const operator = withOperator({
    namespaces: [NS], policies: [POLICY],
    beforeStart: () => apply(workloads()),
    operator: async () => {
      metricsPort = await freePort();
      return {
        kubeconfig: await serviceAccountKubeconfig(),
        // The Lease Role exists only in the operator's namespace; metrics on, with the default (kube) auth.
        args: ['--leader-elect', '--leader-election-namespace', OPERATOR_NAMESPACE, '--metrics-bind-address', `127.0.0.1:${metricsPort}`],
      };
    },
  });

  before(async function () {
    await waitForRunningPods(NS, 4, 'app in (web,ledger,priv)', 60_000);
  });

  after(async function () {
    await kubectl(['delete', 'clusterrolebinding', SCRAPER_BINDING, '--ignore-not-found']);
    await uninstallOperatorRbac();
  });

  it('takes the leader Lease in its own namespace', async function () {
    const holder = await eventually('a Lease holder', async () => {
      const h = await kubectlOk(['-n', OPERATOR_NAMESPACE, 'get', 'lease', 'immutability-operator', '-o', 'jsonpath={.spec.holderIdentity}']);
      return h || undefined;
    }, 20_000);
    const entries = await operator.logEntries();
    expect(entries.some((e) => e['msg'] === 'became leader' && e['identity'] === holder)).to.equal(true);
  });

  it('sends its Lease requests at the leader-election priority level (the shipped FlowSchema), not behind its own writes', async function () {
    // API Priority and Fairness counts every request it dispatches by FlowSchema and priority level.
    const dispatched = async (): Promise<number> => {
      const metrics = await kubectlOk(['get', '--raw', '/metrics']);
      const line = metrics.split('\n').find((l) => l.startsWith('apiserver_flowcontrol_dispatched_requests_total{') &&
        l.includes('flow_schema="immutability-operator-leader-election"') && l.includes('priority_level="leader-election"'));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const before = await dispatched();
    // Renewals go out every retry period (2 s): within a few seconds more of them are counted there.
    await eventually('Lease renewals dispatched at the leader-election level', async () => ((await dispatched()) > before ? true : undefined), 15_000);
  });

  it('enforces a policy with label, patchOwner and evict: patches, evicts, labels, reports status and Events', async function () {
    await apply({
      apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: POLICY },
      spec: {
        mode: 'Enforce', match: { namespaces: [NS] },
        remediation: { label: {}, patchOwner: { writablePaths: ['/var/run', '/var/cache/nginx'] }, evict: { maxPerMinute: 10 } },
      },
    });

    // patch deployments (server-side apply): the Deployment controller rolls out compliant pods.
    await eventually('web rolled out read-only', async () => {
      const pods = await livePods(NS, 'app=web');
      return pods.length === 2 && pods.every((p) => readOnlyRoot(p) === true && at(p, 'status', 'phase') === 'Running') ? true : undefined;
    }, 60_000);
    const web = await getJson(['-n', NS, 'deployment', 'web']);
    expect(readOnlyRoot(web, 'spec', 'template')).to.equal(true);
    const mounts = (at(web, 'spec', 'template', 'spec', 'containers', 0, 'volumeMounts') as Json[]).map((m) => m['mountPath']).sort();
    expect(mounts).to.deep.equal(['/var/cache/nginx', '/var/run']);

    // patch statefulsets, then create pods/eviction: the stale OnDelete replica is replaced.
    await eventually('ledger replica replaced read-only', async () => {
      const pods = await livePods(NS, 'app=ledger');
      return pods.length === 1 && readOnlyRoot(pods[0]) === true ? true : undefined;
    }, 60_000);

    // patch pods: the bare privileged pod cannot be fixed at its owner, so it is labelled.
    await eventually('priv labelled', async () =>
      (await kubectlOk(['-n', NS, 'get', 'pod', 'priv', '-o', 'jsonpath={.metadata.labels.immutability\\.dev/violation}'])) === 'true' ? true : undefined,
    30_000);

    // update immutabilitypolicies/status.
    const status = await eventually('status: two patches, one eviction, the bare pod labelled', async () => {
      const s = await policyStatus(POLICY);
      return (s.actions?.patched ?? 0) >= 2 && (s.actions?.evicted ?? 0) >= 1 && (s.actions?.labeled ?? 0) >= 1 &&
        s.violations?.some((v) => v.kind === 'Pod' && v.name === 'priv') ? s : undefined;
    }, 30_000);
    expect(condition(status, 'Ready')?.status).to.equal('True');
    expect(condition(status, 'Degraded')?.status, JSON.stringify(condition(status, 'Degraded'))).to.equal('False');

    // create events.events.k8s.io, on workloads in their namespace and on the cluster-scoped policy in default.
    const events = await eventually('Events on the workloads and on the policy', async () => {
      const inNs = await operatorEvents(NS);
      const onPolicy = (await operatorEvents('default')).filter((e) => e.startsWith(`ImmutabilityPolicy/${POLICY} `));
      return inNs.includes('Deployment/web Patched') && inNs.includes('StatefulSet/ledger Evicted') && onPolicy.length > 0
        ? { inNs, onPolicy } : undefined;
    }, 30_000);
    expect(events.onPolicy).to.include(`ImmutabilityPolicy/${POLICY} Patched`);

    expect(refusals(await operator.logEntries())).to.deep.equal([]);
  });

  it('authenticates and authorizes /metrics scrapes with TokenReview and SubjectAccessReview', async function () {
    await kubectlOk(['-n', NS, 'create', 'serviceaccount', SCRAPER]);
    await kubectlOk(['create', 'clusterrolebinding', SCRAPER_BINDING, '--clusterrole=immutability-operator-metrics-reader',
      `--serviceaccount=${NS}:${SCRAPER}`]);
    await eventually('the scraper bound', async () =>
      (await kubectl(['auth', 'can-i', 'get', '/metrics', `--as=system:serviceaccount:${NS}:${SCRAPER}`])).stdout.trim() === 'yes' ? true : undefined,
    15_000);
    const scraperToken = (await kubectlOk(['-n', NS, 'create', 'token', SCRAPER, '--duration=10m'])).trim();
    // The operator's own identity is not bound to metrics-reader: authenticated, but not allowed.
    const unboundToken = (await kubectlOk(['-n', OPERATOR_NAMESPACE, 'create', 'token', 'immutability-operator', '--duration=10m'])).trim();

    expect(await scrape(metricsPort, scraperToken)).to.equal(200);
    expect(await scrape(metricsPort, unboundToken)).to.equal(403);
    expect(await scrape(metricsPort, 'not-a-token')).to.equal(401);
  });

  it('holds only the rights it needs (kubectl auth can-i)', async function () {
    const cases: { verb: string; resource: string; extra?: string[]; allowed: boolean }[] = [
      { verb: 'delete', resource: 'pods', allowed: false },
      { verb: 'get', resource: 'secrets', allowed: false },
      { verb: 'list', resource: 'configmaps', allowed: false },
      { verb: 'create', resource: 'pods', allowed: false },
      { verb: 'update', resource: 'deployments.apps', allowed: false },
      { verb: 'delete', resource: 'deployments.apps', allowed: false },
      { verb: 'update', resource: 'pods', allowed: false },
      { verb: 'patch', resource: 'jobs.batch', allowed: false },
      { verb: 'patch', resource: 'events.events.k8s.io', allowed: false },
      { verb: 'impersonate', resource: 'serviceaccounts', allowed: false },
      { verb: 'escalate', resource: 'clusterroles.rbac.authorization.k8s.io', allowed: false },
      { verb: 'update', resource: 'leases.coordination.k8s.io', extra: ['-n', 'default'], allowed: false },
      { verb: 'create', resource: 'pods', extra: ['--subresource=eviction'], allowed: true },
      { verb: 'patch', resource: 'pods', allowed: true },
      { verb: 'patch', resource: 'deployments.apps', allowed: true },
      { verb: 'create', resource: 'events.events.k8s.io', allowed: true },
      { verb: 'patch', resource: 'mutatingadmissionpolicies.admissionregistration.k8s.io', allowed: true },
      { verb: 'list', resource: 'mutatingadmissionpolicies.admissionregistration.k8s.io', allowed: false },
      { verb: 'update', resource: 'leases.coordination.k8s.io', extra: ['-n', OPERATOR_NAMESPACE], allowed: true },
    ];
    const answers: string[] = [];
    for (const c of cases) {
      const scope = c.extra?.includes('-n') ? [] : ['--all-namespaces'];
      const res = await kubectl(['auth', 'can-i', c.verb, c.resource, ...scope, ...(c.extra ?? []), `--as=${OPERATOR_USER}`]);
      answers.push(`${c.verb} ${c.resource} ${(c.extra ?? []).join(' ')}: ${res.stdout.trim() || res.stderr.trim()}`.replace(/ +:/, ':'));
    }
    const expected = cases.map((c) => `${c.verb} ${c.resource} ${(c.extra ?? []).join(' ')}: ${c.allowed ? 'yes' : 'no'}`.replace(/ +:/, ':'));
    expect(answers).to.deep.equal(expected);
  });

  it('releases a deleted policy through its finalizer, still without a 403', async function () {
    await kubectlOk(['delete', 'imp', POLICY, '--timeout=30s']);
    await eventually('the violation label removed from priv', async () =>
      (await kubectlOk(['-n', NS, 'get', 'pod', 'priv', '-o', 'jsonpath={.metadata.labels}'])).includes('immutability.dev/violation') ? undefined : true,
    30_000);
    await eventually('a Finalized Event on the policy', async () =>
      (await operatorEvents('default')).includes(`ImmutabilityPolicy/${POLICY} Finalized`) ? true : undefined, 15_000);
    expect(await operator.stop()).to.equal(0);
    expect(refusals(await operator.logEntries())).to.deep.equal([]);
  });
});
