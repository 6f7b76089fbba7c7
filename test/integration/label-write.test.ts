// The operator's label write asks kube-apiserver for the answer as metadata only (podMetadataApply). That the
// server honours the Accept on a PATCH, and still answers failures with a Status whose reason and message reach
// the reconciler (422 makes it stop retrying; its message goes into the LabelFailed Event), is the API server's
// behaviour: proven here on the real one, since a fake would only repeat our assumption. So is what the write's
// uid precondition answers for a pod deleted or replaced by a namesake since the cache read it, and what the
// pod reconciler makes of those answers.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ANNOTATION_VIOLATIONS, API_VERSION, FIELD_MANAGER, FINALIZER, KIND, LABEL_VIOLATION } from '../../src/api/types.js';
import { createCaches } from '../../src/controllers/caches.js';
import { noDrift } from '../../src/controllers/drift-source.js';
import { PodReconciler, type PodReconcilerDeps } from '../../src/controllers/pod-reconciler.js';
import { PolicySet } from '../../src/controllers/policy-set.js';
import { podMetadataApply, type KubeApi } from '../../src/k8s/api.js';
import { isConflict, isGoneOrReplaced, isUnprocessable } from '../../src/k8s/errors.js';
import type { KubeHttp } from '../../src/k8s/http.js';
import { httpListWatch } from '../../src/k8s/list-watch.js';
import { EventRecorder, eventsSink, REPORTING_CONTROLLER } from '../../src/observability/events.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { systemClock } from '../../src/runtime/clock.js';
import { noopLogger, type Logger } from '../../src/runtime/logger.js';
import { adminApiIn, installCrd, refusal } from '../support/fixtures.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';

const NS = 'label-write';
const intent = { labels: { 'immutability.dev/violation': 'true' }, annotations: { 'immutability.dev/violations': 'readOnlyRootFilesystem' } };


describe('the label write on the real kube-apiserver', function () {
  this.timeout(60_000);
  let http: KubeHttp;
  let api: KubeApi;

  before(async function () {
    api = await adminApiIn(NS);
    http = api.http;
    // Admitted once the controller-manager has made the namespace's default ServiceAccount.
    await eventually('the pod created', async () => (await kubectl(['apply', '-f', '-'], { input: JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: NS },
      spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] },
    }) })).code === 0 || undefined);
  });

  after(async function () {
    http?.close();
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
  });

  const web = { namespace: NS, name: 'web' };

  it('lands the labels, and the answer the API server sends for it is the pod\'s metadata only', async function () {
    await api.applyPodMetadata(web, intent);
    const pod = JSON.parse(await kubectlOk(['get', 'pod', 'web', '-n', NS, '-o', 'json'])) as { metadata: typeof intent };
    expect(pod.metadata.labels).to.include(intent.labels);
    expect(pod.metadata.annotations).to.include(intent.annotations);
    // The same request, its answer read rather than drained.
    const { method, path, opts } = podMetadataApply(web, intent);
    const answer = await http.request<Record<string, unknown>>(method, path, opts);
    expect(answer).to.include({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' });
    expect(answer).to.not.have.any.keys('spec', 'status');
    expect((answer['metadata'] as typeof intent).labels).to.include(intent.labels);
  });

  it('a refused write still carries the Status reason and message: 422 for invalid metadata', async function () {
    const tooBig = { ...intent, annotations: { 'immutability.dev/violations': 'x'.repeat(300 * 1024) } };
    const err = await refusal(api.applyPodMetadata(web, tooBig));
    expect(isUnprocessable(err)).to.equal(true);
    expect(err.reason).to.equal('Invalid');
    expect(err.message).to.match(/metadata\.annotations: Too long/);
  });

  it('and 409 for a conflict with another field manager (the same request without force)', async function () {
    const other = podMetadataApply(web, { labels: { 'immutability.dev/violation': 'false' }, annotations: {} }, 'someone-else');
    await http.write(other.method, other.path, other.opts);
    const { method, path, opts } = podMetadataApply(web, intent);
    const err = await refusal(http.write(method, path, { ...opts, query: { fieldManager: FIELD_MANAGER } }));
    expect(isConflict(err)).to.equal(true);
    expect(err.reason).to.equal('Conflict');
    expect(err.message).to.include('conflict with "someone-else"');
  });

  it('pinned to the pod\'s uid: a namesake refuses it (422 on metadata.uid), a deleted pod too (409, not the create attempt\'s 422)', async function () {
    const first = await createPod(NS, 'pinned', writableRoot);
    await api.applyPodMetadata({ namespace: NS, name: 'pinned', uid: first }, intent);
    // Server-side apply takes no ownership of the uid: the precondition leaves managedFields as they were.
    const managed = JSON.parse(await kubectlOk(['get', 'pod', 'pinned', '-n', NS, '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields}'])) as
      { manager: string; fieldsV1: { 'f:metadata': Record<string, unknown> } }[];
    expect(managed.find((m) => m.manager === FIELD_MANAGER)?.fieldsV1['f:metadata']).to.have.all.keys('f:labels', 'f:annotations');

    await deletePod(NS, 'pinned');
    const second = await createPod(NS, 'pinned', writableRoot);
    const replaced = await refusal(api.applyPodMetadata({ namespace: NS, name: 'pinned', uid: first }, intent));
    expect(replaced.status).to.equal(422);
    expect(replaced.causes?.map((c) => c.field)).to.include('metadata.uid');
    expect(isGoneOrReplaced(replaced)).to.equal(true);
    expect(await podLabels(NS, 'pinned')).to.not.have.property('immutability.dev/violation');

    await deletePod(NS, 'pinned');
    const deleted = await refusal(api.applyPodMetadata({ namespace: NS, name: 'pinned', uid: second }, intent));
    expect(deleted.status).to.equal(409);
    expect(deleted.message).to.include(`uid mismatch: the provided object specified uid ${second}, and no existing object was found`);
    expect(isGoneOrReplaced(deleted)).to.equal(true);
    // Without the uid, the same write is apply's attempt to create the pod, refused as an invalid Pod: the
    // answer that used to reach the reconciler as a LabelFailed Event.
    const unpinned = await refusal(api.applyPodMetadata({ namespace: NS, name: 'pinned' }, intent));
    expect(unpinned.status).to.equal(422);
    expect(isGoneOrReplaced(unpinned)).to.equal(false);
  });
});

const writableRoot = { containers: [{ name: 'nginx', image: 'nginx:1.27' }] };

/** Creates a pod (once the namespace's default ServiceAccount exists) and resolves with its uid. */
async function createPod(namespace: string, name: string, spec: object): Promise<string> {
  await eventually(`pod ${name} created`, async () => (await kubectl(['create', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec,
  }) })).code === 0 || undefined);
  return kubectlOk(['get', 'pod', name, '-n', namespace, '-o', 'jsonpath={.metadata.uid}']);
}

async function deletePod(namespace: string, name: string): Promise<void> {
  await kubectlOk(['delete', 'pod', name, '-n', namespace, '--grace-period=0', '--force', '--wait=true']);
}

async function podLabels(namespace: string, name: string): Promise<Record<string, string>> {
  const pod = JSON.parse(await kubectlOk(['get', 'pod', name, '-n', namespace, '-o', 'json'])) as { metadata: { labels?: Record<string, string>; uid: string } };
  return pod.metadata.labels ?? {};
}

// The pod reconciler, on the real API server, with a cache that is behind it (its watch stopped after the
// first sync: what a slow watch is for the length of one write). Everything else is the operator's own.
describe('the pod reconciler, when the pod its cache shows is gone or is another pod now', function () {
  this.timeout(90_000);
  const RNS = 'label-write-stale';
  let api: KubeApi;
  const stopWatches = new AbortController();
  const stopCaughtUp = new AbortController();
  let deps: PodReconcilerDeps;
  let reconciler: PodReconciler;
  const logged: { level: string; msg: string }[] = [];
  const sent: { reason: string; uid: string | undefined }[] = [];
  let firstWeb = '';

  before(async function () {
    api = await adminApiIn(RNS);
    await installCrd();
    await createPod(RNS, 'gone', writableRoot);
    firstWeb = await createPod(RNS, 'web-0', writableRoot);
    const caches = createCaches({ source: (path) => httpListWatch(api.http, path), clock: systemClock, logger: noopLogger });
    caches.start(stopWatches.signal);
    await caches.waitForSync(AbortSignal.timeout(60_000));
    stopWatches.abort(); // from here on the cache is behind the API server
    // The policy as the operator's cache holds it once the policy reconciler has added our finalizer.
    caches.policies.upsert({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'stale-pods', uid: 'uid-stale-pods', generation: 1, finalizers: [FINALIZER] },
      spec: { mode: 'Enforce', match: { namespaces: [RNS] }, rules: { readOnlyRootFilesystem: true, privileged: true }, remediation: { label: {} } } });
    const recording = (fields: Record<string, unknown> = {}): Logger => ({
      debug: (msg) => logged.push({ level: 'debug', msg }), info: (msg) => logged.push({ level: 'info', msg }),
      warn: (msg) => logged.push({ level: 'warn', msg }), error: (msg) => logged.push({ level: 'error', msg }),
      child: (more) => recording({ ...fields, ...more }),
    });
    const sink = eventsSink(api.http);
    const events = new EventRecorder({
      sink: { create: (namespace, event) => (sent.push({ reason: event.reason, uid: event.regarding.uid }), sink.create(namespace, event)) },
      instance: 'label-write-stale', clock: systemClock, logger: recording(),
    });
    deps = { caches, policies: new PolicySet(caches.policies), api, events, metrics: createMetrics(new Registry(), { defaultMetrics: false }),
      logger: recording(), drift: noDrift, now: () => new Date() };
    reconciler = new PodReconciler(deps);
  });

  after(async function () {
    stopWatches.abort();
    stopCaughtUp.abort();
    api?.http.close();
    await kubectl(['delete', 'namespace', RNS, '--wait=false', '--ignore-not-found']);
  });

  const labelResults = async (): Promise<Record<string, number>> => Object.fromEntries((await deps.metrics.actions.get()).values
    .filter((v) => v.labels.action === 'label').map((v) => [String(v.labels.result), v.value]));

  it('a deleted pod: no write lands, no LabelFailed Event, no warning, no retry; counted as gone', async function () {
    await deletePod(RNS, 'gone');
    expect(deps.caches.pods.get(`${RNS}/gone`)).to.not.equal(undefined); // the cache has not seen it go
    expect(await reconciler.reconcile(`${RNS}/gone`)).to.equal(undefined);
    expect(logged.filter((l) => l.level !== 'debug')).to.deep.equal([]);
    expect(logged).to.deep.include({ level: 'debug', msg: 'pod metadata not written: the pod is gone or was replaced' });
    expect(sent).to.deep.equal([]);
    expect(await labelResults()).to.deep.equal({ gone: 1 });
    expect((await kubectl(['get', 'pod', 'gone', '-n', RNS])).code).to.not.equal(0); // not brought back by apply
  });

  it('a pod recreated under the same name: the stale write is refused, and the new pod gets its own verdict', async function () {
    await deletePod(RNS, 'web-0');
    // Its successor breaks another rule: privileged, with a read-only root.
    const secondWeb = await createPod(RNS, 'web-0', { containers: [{ name: 'nginx', image: 'nginx:1.27', securityContext: { privileged: true, readOnlyRootFilesystem: true } }] });
    expect(deps.caches.pods.get(`${RNS}/web-0`)?.metadata.uid).to.equal(firstWeb);
    expect(await reconciler.reconcile(`${RNS}/web-0`)).to.equal(undefined);
    expect(await podLabels(RNS, 'web-0')).to.not.have.property(LABEL_VIOLATION); // the predecessor's verdict did not land
    expect(await labelResults()).to.deep.equal({ gone: 2 });

    // The watch catches up (a fresh cache, synced), and the pod's own reconcile labels it for what it is.
    const caughtUp = createCaches({ source: (path) => httpListWatch(api.http, path), clock: systemClock, logger: noopLogger });
    caughtUp.start(stopCaughtUp.signal);
    await caughtUp.waitForSync(AbortSignal.timeout(60_000));
    deps.caches = caughtUp;
    expect(await reconciler.reconcile(`${RNS}/web-0`)).to.equal(undefined);
    const pod = JSON.parse(await kubectlOk(['get', 'pod', 'web-0', '-n', RNS, '-o', 'json'])) as { metadata: { uid: string; labels: Record<string, string>; annotations: Record<string, string> } };
    expect(pod.metadata.uid).to.equal(secondWeb);
    expect(pod.metadata.labels[LABEL_VIOLATION]).to.equal('true');
    expect(pod.metadata.annotations[ANNOTATION_VIOLATIONS]).to.equal('nginx:privileged');
    expect(await labelResults()).to.deep.equal({ gone: 2, success: 1 });
    expect(logged.filter((l) => l.level === 'warn' || l.level === 'error')).to.deep.equal([]);
    // Our one Event is the new pod's own, on the new pod; none says a write failed.
    const ours = await eventually('the Event of the new pod', async () => {
      const list = JSON.parse(await kubectlOk(['get', 'events.events.k8s.io', '-n', RNS, '-o', 'json'])) as
        { items: { reason: string; reportingController?: string; regarding: { uid?: string } }[] };
      const items = list.items.filter((e) => e.reportingController === REPORTING_CONTROLLER);
      return items.length > 0 ? items : undefined;
    });
    expect(ours.map((e) => [e.reason, e.regarding.uid])).to.deep.equal([['ViolationLabeled', secondWeb]]);
    expect(sent).to.deep.equal([{ reason: 'ViolationLabeled', uid: secondWeb }]);
  });
});
