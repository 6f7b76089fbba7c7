import { expect } from 'chai';
import type { Pod } from '../../../src/api/kube.js';
import {
  ANNOTATION_DRIFT, ANNOTATION_VIOLATIONS, LABEL_DRIFT, LABEL_VIOLATION, type ImmutabilityPolicy,
} from '../../../src/api/types.js';
import { noDrift, type DriftSource } from '../../../src/controllers/drift-source.js';
import { desiredPodMetadata, onlyOwnWriteArrived, OWN_WRITE_EXPECTATION_MS, OWNED_POD_KEYS, PodReconciler } from '../../../src/controllers/pod-reconciler.js';
import type { KubeApi, PodIdentity, PodMetadataIntent } from '../../../src/k8s/api.js';
import type { EventRecorder } from '../../../src/observability/events.js';
import type { Logger } from '../../../src/runtime/logger.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { Registry } from 'prom-client';
import { StatusError } from '../../../src/runtime/errors.js';
import { PolicySet, type ActivePolicy } from '../../../src/controllers/policy-set.js';
import { compliant, policy, pod, testCaches, writable } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00Z');

const enforceLabel = (name: string, spec: ImmutabilityPolicy['spec'] = {}): ImmutabilityPolicy =>
  policy(name, { mode: 'Enforce', remediation: { label: {} }, ...spec });

function desired(policies: ImmutabilityPolicy[], target: Pod, opts: { namespaces?: Record<string, Record<string, string> | undefined>; drift?: DriftSource } = {}):
  ReturnType<typeof desiredPodMetadata> {
  const caches = testCaches({ policies, namespaces: opts.namespaces ?? { shop: {} }, pods: [target] });
  return desiredPodMetadata({ caches, policies: new PolicySet(caches.policies), drift: opts.drift ?? noDrift, now: () => NOW }, target);
}

describe('controllers/pod-reconciler desiredPodMetadata', () => {
  it('labels and annotates a pod that an Enforce policy with remediation.label finds violating', () => {
    const out = desired([enforceLabel('prod')], pod('shop', 'web', [writable('nginx', { privileged: true })]));
    expect(out).to.deep.equal({
      intent: {
        labels: { [LABEL_VIOLATION]: 'true' },
        annotations: { [ANNOTATION_VIOLATIONS]: 'nginx:privileged,nginx:readOnlyRootFilesystem' },
      },
      labelingPolicies: ['prod'],
    });
  });

  it('wants no metadata for a compliant pod (so that stale labels are removed)', () => {
    expect(desired([enforceLabel('prod')], pod('shop', 'web', [compliant('nginx')])))
      .to.deep.equal({ intent: { labels: {}, annotations: {} }, labelingPolicies: [] });
  });

  const ignored: [string, ImmutabilityPolicy][] = [
    ['an Audit policy (reports only)', policy('audit', { mode: 'Audit', remediation: { label: {} } })],
    ['an Enforce policy without remediation.label', policy('patch-only', { mode: 'Enforce', remediation: { patchOwner: {} } })],
    ['an Enforce policy that does not match the pod', enforceLabel('other-ns', { match: { namespaces: ['other'] } })],
    ['a policy with an unusable spec', enforceLabel('broken', { exemptions: [{ reason: 'everything' }] })],
    ['a policy being deleted', policy('going', { mode: 'Enforce', remediation: { label: {} } }, { deletionTimestamp: '2026-01-01T00:00:00Z' })],
  ];
  for (const [name, p] of ignored) {
    it(`ignores ${name}`, () => {
      expect(desired([p], pod('shop', 'web', [writable('nginx')])))
        .to.deep.equal({ intent: { labels: {}, annotations: {} }, labelingPolicies: [] });
    });
  }

  it('unions the findings of every labelling policy into one sorted annotation', () => {
    const out = desired([
      enforceLabel('b-privileged', { rules: { readOnlyRootFilesystem: false, privileged: true } }),
      enforceLabel('a-root', { rules: { readOnlyRootFilesystem: true, privileged: false } }),
      enforceLabel('c-escalation', { rules: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: true } }),
      policy('d-audit', { mode: 'Audit', rules: { runAsNonRoot: true } }),
    ], pod('shop', 'web', [writable('nginx', { privileged: true }), writable('sidecar')]));
    expect(out.intent.annotations[ANNOTATION_VIOLATIONS]).to.equal([
      'nginx:allowPrivilegeEscalation', 'nginx:privileged', 'nginx:readOnlyRootFilesystem',
      'sidecar:allowPrivilegeEscalation', 'sidecar:readOnlyRootFilesystem',
    ].join(','));
    expect(out.intent.labels).to.deep.equal({ [LABEL_VIOLATION]: 'true' });
    // In the order of the policy cache; the Audit policy does not label.
    expect(out.labelingPolicies).to.deep.equal(['b-privileged', 'a-root', 'c-escalation']);
  });

  it('lists only the labelling policies that found something', () => {
    const out = desired([
      enforceLabel('finds', { rules: { readOnlyRootFilesystem: true } }),
      enforceLabel('finds-nothing', { rules: { readOnlyRootFilesystem: false, privileged: true } }),
    ], pod('shop', 'web', [writable('nginx')]));
    expect(out.labelingPolicies).to.deep.equal(['finds']);
  });

  it('reads the namespace labels from the namespace cache for namespaceSelector', () => {
    const p = enforceLabel('prod', { match: { namespaceSelector: { matchLabels: { env: 'prod' } } } });
    const target = pod('shop', 'web', [writable('nginx')]);
    expect(desired([p], target, { namespaces: { shop: { env: 'prod' } } }).labelingPolicies).to.deep.equal(['prod']);
    expect(desired([p], target, { namespaces: { shop: { env: 'dev' } } }).labelingPolicies).to.deep.equal([]);
    // Namespace not cached: labels unknown, so the selector cannot match.
    expect(desired([p], target, { namespaces: {} }).labelingPolicies).to.deep.equal([]);
  });

  it('looks up a pod without namespace under "default"', () => {
    const p = enforceLabel('prod', { match: { namespaceSelector: { matchLabels: { env: 'prod' } } } });
    expect(desired([p], pod(undefined, 'web', [writable('nginx')]), { namespaces: { default: { env: 'prod' } } }).labelingPolicies)
      .to.deep.equal(['prod']);
  });

  it('never labels an unevaluable pod', () => {
    const bad = pod('shop', 'web', [{ name: 'c', securityContext: 'x' as unknown as Pod['spec']['containers'][number]['securityContext'] }]);
    expect(desired([enforceLabel('prod')], bad)).to.deep.equal({ intent: { labels: {}, annotations: {} }, labelingPolicies: [] });
  });

  it('merges drift metadata from the drift source, asking it with the governing policies and namespace labels', () => {
    const calls: { pod: string; governing: string[]; nsLabels: Record<string, string> | undefined }[] = [];
    const drift: DriftSource = {
      podMetadata: (p: Pod, governing: readonly ActivePolicy[], nsLabels: Record<string, string> | undefined) => {
        calls.push({ pod: p.metadata.name, governing: governing.map((g) => g.resolved.name), nsLabels });
        return { labels: { [LABEL_DRIFT]: 'exec' }, annotations: { [ANNOTATION_DRIFT]: '{"count":1}' } };
      },
      driftFindings: () => [],
    };
    const out = desired(
      [enforceLabel('prod'), policy('audit', { mode: 'Audit' }), enforceLabel('broken', { exemptions: [{ reason: 'x' }] })],
      pod('shop', 'web', [writable('nginx')]),
      { drift, namespaces: { shop: { env: 'prod' } } },
    );
    expect(out.intent).to.deep.equal({
      labels: { [LABEL_VIOLATION]: 'true', [LABEL_DRIFT]: 'exec' },
      annotations: { [ANNOTATION_VIOLATIONS]: 'nginx:readOnlyRootFilesystem', [ANNOTATION_DRIFT]: '{"count":1}' },
    });
    // Drift is recorded under every governing policy, Audit included (docs/audit.md: labels in every mode).
    expect(calls).to.deep.equal([{ pod: 'web', governing: ['prod', 'audit'], nsLabels: { env: 'prod' } }]);
  });

  it('writes drift metadata even when no policy labels violations', () => {
    const drift: DriftSource = { ...noDrift, podMetadata: () => ({ labels: { [LABEL_DRIFT]: 'ephemeral' }, annotations: {} }) };
    const out = desired([policy('audit', { mode: 'Audit' })], pod('shop', 'web', [writable('nginx')]), { drift });
    expect(out).to.deep.equal({ intent: { labels: { [LABEL_DRIFT]: 'ephemeral' }, annotations: {} }, labelingPolicies: [] });
  });

  it('only ever produces keys the reconciler owns', () => {
    const drift: DriftSource = { ...noDrift, podMetadata: () => ({ labels: { [LABEL_DRIFT]: 'attach' }, annotations: { [ANNOTATION_DRIFT]: '{}' } }) };
    const { intent } = desired([enforceLabel('prod')], pod('shop', 'web', [writable('nginx')]), { drift });
    expect(Object.keys(intent.labels)).to.have.members([...OWNED_POD_KEYS.labels]);
    expect(Object.keys(intent.annotations)).to.have.members([...OWNED_POD_KEYS.annotations]);
  });
});

describe('controllers/drift-source noDrift', () => {
  it('reports neither metadata nor findings', () => {
    const p = pod('shop', 'web', [writable('c')]);
    const caches = testCaches({ policies: [enforceLabel('prod')] });
    const governing = new PolicySet(caches.policies).governing();
    expect(noDrift.podMetadata(p, governing, undefined)).to.deep.equal({ labels: {}, annotations: {} });
    expect(noDrift.driftFindings(p, governing[0]!)).to.deep.equal([]);
  });
});

describe('controllers/pod-reconciler PodReconciler: its own writes', () => {
  function setup(refuse?: () => Error | undefined, hold?: Promise<void>): {
    reconciler: PodReconciler; writes: PodMetadataIntent[]; targets: PodIdentity[]; caches: ReturnType<typeof testCaches>; clock: { ms: number };
    target: Pod; events: string[]; logs: string[]; metrics: Metrics;
  } {
    const target = pod('shop', 'web', [writable('nginx')]);
    target.metadata.uid = 'uid-1';
    const caches = testCaches({ policies: [enforceLabel('prod')], namespaces: { shop: {} }, pods: [target] });
    const writes: PodMetadataIntent[] = [];
    const targets: PodIdentity[] = [];
    const clock = { ms: NOW.getTime() };
    const logs: string[] = [];
    const recordingLogger: Logger = {
      debug: (msg) => logs.push(`debug: ${msg}`), info: (msg) => logs.push(`info: ${msg}`),
      warn: (msg) => logs.push(`warn: ${msg}`), error: (msg) => logs.push(`error: ${msg}`), child: () => recordingLogger,
    };
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const reconciler = new PodReconciler({
      caches, policies: new PolicySet(caches.policies), drift: noDrift, now: () => new Date(clock.ms),
      api: { applyPodMetadata: (to: PodIdentity, intent: PodMetadataIntent) => {
        targets.push(to);
        writes.push(intent);
        const err = refuse?.();
        return err ? Promise.reject(err) : hold ?? Promise.resolve();
      } } as unknown as KubeApi,
      events: { record: (_r: unknown, _t: string, reason: string, _a: string, note: string) => events.push(`${reason}: ${note}`) } as unknown as EventRecorder,
      metrics,
      logger: recordingLogger,
    });
    const events: string[] = [];
    return { reconciler, writes, targets, caches, clock, target, events, logs, metrics };
  }

  const labelActions = async (metrics: Metrics): Promise<Record<string, number>> => Object.fromEntries((await metrics.actions.get()).values
    .filter((v) => v.labels.action === 'label').map((v) => [String(v.labels.result), v.value]));

  it('pins every write to the uid of the pod it was computed for', async () => {
    const { reconciler, targets, caches, target } = setup();
    await reconciler.reconcile('shop/web');
    caches.pods.upsert({ ...target, metadata: { ...target.metadata, uid: 'uid-2' } });
    await reconciler.reconcile('shop/web');
    expect(targets).to.deep.equal([{ namespace: 'shop', name: 'web', uid: 'uid-1' }, { namespace: 'shop', name: 'web', uid: 'uid-2' }]);
  });

  const goneAnswers: [string, StatusError][] = [
    ['deleted', new StatusError(409, 'Operation cannot be fulfilled on pods "web": uid mismatch: the provided object specified uid uid-1, and no existing object was found', 'Conflict')],
    ['replaced by a namesake', new StatusError(422, 'Pod "web" is invalid: metadata.uid: Invalid value: "uid-1": field is immutable', 'Invalid',
      [{ reason: 'FieldValueInvalid', message: 'Invalid value: "uid-1": field is immutable', field: 'metadata.uid' }])],
  ];
  for (const [what, answer] of goneAnswers) {
    it(`takes a pod ${what} since the cache read it as a normal outcome: no Event, no warning, no retry, counted as gone`, async () => {
      const { reconciler, writes, events, logs, metrics, caches, target } = setup(() => answer);
      expect(await reconciler.reconcile('shop/web')).to.equal(undefined); // no throw, no requeue
      expect(events).to.deep.equal([]);
      expect(logs).to.deep.equal(['debug: pod metadata not written: the pod is gone or was replaced']);
      expect(await labelActions(metrics)).to.deep.equal({ gone: 1 });
      expect(reconciler.unsettledPods()).to.deep.equal([]);
      // Its successor, once watched, gets its own write at once: nothing of the predecessor's holds it back.
      caches.pods.upsert({ ...target, metadata: { ...target.metadata, uid: 'uid-2' } });
      await reconciler.reconcile('shop/web').catch(() => undefined);
      expect(writes).to.have.length(2);
    });
  }

  it('skips a write the API server refuses as invalid with a Warning Event, and tries again only once the pod changed', async () => {
    const tooLong = new StatusError(422, 'Pod "web" is invalid: metadata.annotations: Too long: must have at most 262144 bytes', 'Invalid');
    const { reconciler, writes, caches, target, events, logs, metrics } = setup(() => tooLong);
    expect(await reconciler.reconcile('shop/web')).to.equal(undefined); // no throw: no retry loop
    expect(events).to.deep.equal([`LabelFailed: could not write immutability.dev labels and annotations: ${tooLong.message}`]);
    expect(logs).to.deep.equal(['warn: pod metadata refused']);
    expect(await labelActions(metrics)).to.deep.equal({ failure: 1 });
    await reconciler.reconcile('shop/web');
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(1);
    // Someone trims their annotations: worth another try.
    caches.pods.upsert({ ...target, metadata: { ...target.metadata, annotations: { 'example.com/blob': 'smaller' } } });
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(2);
  });

  it('still throws other write failures, for the runner to retry', async () => {
    const { reconciler } = setup(() => new StatusError(500, 'etcdserver: request timed out', 'InternalError'));
    let thrown: unknown;
    await reconciler.reconcile('shop/web').catch((err: unknown) => (thrown = err));
    expect(thrown).to.be.instanceOf(StatusError);
  });

  it('does not write the same metadata again while the cache has not shown its own write, and comes back when that lapses', async () => {
    const { reconciler, writes, clock } = setup();
    expect(await reconciler.reconcile('shop/web')).to.equal(undefined);
    expect(writes).to.have.length(1);
    // An event from before our write (e.g. a status update) brings the pod back, still without our label.
    clock.ms += 1_000;
    expect(await reconciler.reconcile('shop/web')).to.deep.equal({ requeueAfterMs: OWN_WRITE_EXPECTATION_MS - 1_000 });
    expect(writes).to.have.length(1);
    // The write never showed up (undone before the cache saw it): written again once the expectation lapsed.
    clock.ms += OWN_WRITE_EXPECTATION_MS;
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(2);
  });

  it('writes again at once when the cache showed its write and the label was then removed', async () => {
    const { reconciler, writes, caches, target } = setup();
    await reconciler.reconcile('shop/web');
    caches.pods.upsert({ ...target, metadata: { ...target.metadata, labels: { ...writes[0]?.labels }, annotations: { ...writes[0]?.annotations } } });
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(1);
    caches.pods.upsert(target);
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(2);
  });

  it('writes at once for a new pod of the same name, or when the wanted metadata changed', async () => {
    const { reconciler, writes, caches, target } = setup();
    await reconciler.reconcile('shop/web');
    caches.pods.upsert({ ...target, metadata: { ...target.metadata, uid: 'uid-2' } });
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(2);
    caches.pods.upsert({ ...target, metadata: { ...target.metadata, uid: 'uid-2' }, spec: { containers: [writable('nginx', { privileged: true })] } });
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(3);
  });

  /** The cached pod as the watch shows it after `intent` was applied to it, with `change` on top. */
  const withMetadata = (target: Pod, intent: PodMetadataIntent, change: Partial<Pod['metadata']> = {}): Pod =>
    ({ ...target, metadata: { ...target.metadata, labels: { ...target.metadata.labels, ...intent.labels }, annotations: { ...intent.annotations }, ...change } });

  it('takes its own write coming back through the watch as seen, with nothing to reconcile, once', async () => {
    const { reconciler, writes, caches, target } = setup();
    await reconciler.reconcile('shop/web');
    const echo = withMetadata(target, writes[0]!);
    expect(reconciler.ownWriteArrived('shop/web', target, echo)).to.equal(true);
    expect(reconciler.unsettledPods()).to.deep.equal([]);
    // Seen: the same event again is no longer ours to swallow.
    expect(reconciler.ownWriteArrived('shop/web', target, echo)).to.equal(false);
    caches.pods.upsert(echo);
    await reconciler.reconcile('shop/web');
    expect(writes).to.have.length(1);
  });

  it('takes its write as seen when the watch shows it before the answer arrives, and expects it no more after the answer', async () => {
    let answer = (): void => undefined;
    const { reconciler, writes, target } = setup(undefined, new Promise<void>((r) => (answer = r)));
    const reconciling = reconciler.reconcile('shop/web');
    expect(writes).to.have.length(1);
    expect(reconciler.ownWriteArrived('shop/web', target, withMetadata(target, writes[0]!))).to.equal(true);
    expect(reconciler.ownWriteArrived('shop/web', target, withMetadata(target, writes[0]!)), 'arrives once').to.equal(false);
    expect(reconciler.unsettledPods()).to.deep.equal(['shop/web']); // still in flight
    answer();
    await reconciling;
    expect(reconciler.unsettledPods()).to.deep.equal([]);
  });

  it('still reconciles an update that brings anything besides its own write', async () => {
    const { reconciler, writes, target } = setup();
    await reconciler.reconcile('shop/web');
    const intent = writes[0]!;
    const others: [string, Pod][] = [
      ['another label', withMetadata(target, intent, { labels: { ...target.metadata.labels, ...intent.labels, tier: 'front' } })],
      ['a different value of our label', withMetadata(target, { ...intent, labels: { [LABEL_VIOLATION]: 'false' } })],
      ['only part of the write', withMetadata(target, { labels: intent.labels, annotations: {} })],
      ['deletion', withMetadata(target, intent, { deletionTimestamp: '2026-06-01T00:00:01Z' })],
      ['a new pod of the same name', withMetadata(target, intent, { uid: 'uid-2' })],
      ['the spec', { ...withMetadata(target, intent), spec: { containers: [writable('nginx', { privileged: true })] } }],
    ];
    for (const [what, next] of others) expect(reconciler.ownWriteArrived('shop/web', target, next), what).to.equal(false);
    // An update of a pod it did not write to is never its own.
    expect(reconciler.ownWriteArrived('shop/other', target, withMetadata(target, intent))).to.equal(false);
    expect(reconciler.unsettledPods()).to.deep.equal(['shop/web']);
  });
});

describe('controllers/pod-reconciler onlyOwnWriteArrived', () => {
  const before = pod('shop', 'web', [writable('nginx')], { app: 'web' });
  const intent: PodMetadataIntent = { labels: { [LABEL_VIOLATION]: 'true' }, annotations: { [ANNOTATION_VIOLATIONS]: 'nginx:readOnlyRootFilesystem' } };
  const after = (meta: Partial<Pod['metadata']> = {}): Pod =>
    ({ ...before, metadata: { ...before.metadata, labels: { app: 'web', ...intent.labels }, annotations: intent.annotations, ...meta } });

  it('is true for exactly the written metadata, and for a removal of ours', () => {
    expect(onlyOwnWriteArrived(before, after(), intent)).to.equal(true);
    expect(onlyOwnWriteArrived(after(), before, { labels: {}, annotations: {} })).to.equal(true);
  });

  it('is false when our keys do not read what was written, or something else changed too', () => {
    expect(onlyOwnWriteArrived(before, after({ labels: { app: 'web' } }), intent)).to.equal(false);
    expect(onlyOwnWriteArrived(before, after({ annotations: { ...intent.annotations, [ANNOTATION_DRIFT]: '{}' } }), intent)).to.equal(false);
    expect(onlyOwnWriteArrived(before, after({ labels: { app: 'shop', ...intent.labels } }), intent)).to.equal(false);
    expect(onlyOwnWriteArrived(before, after({ ownerReferences: [{ apiVersion: 'v1', kind: 'ReplicaSet', name: 'x', uid: 'u' }] }), intent)).to.equal(false);
    expect(onlyOwnWriteArrived(before, { ...after(), status: { phase: 'Running' } }, intent)).to.equal(false);
  });
});
