import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { Pod, PodSpec } from '../../../src/api/kube.js';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import type { ActivePolicy } from '../../../src/controllers/policy-set.js';
import type { WorkloadRef } from '../../../src/k8s/owners.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { evaluatePod, resolvePolicy } from '../../../src/policy/index.js';
import { WorkloadRemediator, type RemediationReport, type WorkloadFindings } from '../../../src/remediation/remediator.js';
import { workloadOutcomeKey } from '../../../src/policy/status.js';
import { templateHash } from '../../../src/remediation/workload-record.js';
import { FakeClock } from '../../../src/runtime/clock.js';
import { FakeApi, FakeEvents, noopLogger } from './fake-api.js';

type Obj = Record<string, unknown>;

function active(spec: ImmutabilityPolicySpec, name = 'p'): ActivePolicy {
  return {
    object: { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name, generation: 1, uid: 'policy-uid' }, spec },
    resolved: resolvePolicy(name, spec),
    problems: [],
    deleting: false,
  };
}

/** The image has no preset (src/policy/presets.ts) unless given: plans mount writablePaths only. */
function podSpec(securityContext?: Obj, image = 'example.com/app:1'): PodSpec {
  return { containers: [{ name: 'app', image, ...(securityContext ? { securityContext } : {}) }] };
}

function workload(kind: string, name: string, spec: PodSpec, extra: { spec?: Obj; metadata?: Obj } = {}): Obj {
  return {
    apiVersion: 'apps/v1', kind,
    metadata: { name, namespace: 'ns', generation: 1, uid: `${name}-uid`, ...extra.metadata },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec }, ...extra.spec },
  };
}

function pod(name: string, spec: PodSpec, ownerKind?: string): Pod {
  return {
    metadata: {
      name, namespace: 'ns', uid: `${name}-uid`,
      ...(ownerKind ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: ownerKind, name: 'owner', uid: 'o', controller: true }] } : {}),
    },
    spec,
  };
}

const NOW = new Date(Date.UTC(2026, 0, 1));

function findings(policy: ActivePolicy, ref: WorkloadRef, pods: Pod[], drift: string[] = []): WorkloadFindings {
  return {
    ref,
    pods: pods.map((p) => {
      const evaluation = evaluatePod(policy.resolved, p, NOW);
      return { pod: p, findings: evaluation.outcome === 'evaluated' ? evaluation.findings : [], driftFindings: drift };
    }),
  };
}

const ref = (kind: string, name: string, apiVersion = 'apps/v1'): WorkloadRef => ({ apiVersion, kind, namespace: 'ns', name, resolved: true });

interface Harness {
  api: FakeApi;
  events: FakeEvents;
  clock: FakeClock;
  metrics: Metrics;
  remediator: WorkloadRemediator;
}

function harness(): Harness {
  const api = new FakeApi();
  const events = new FakeEvents();
  const clock = new FakeClock(NOW.getTime());
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const remediator = new WorkloadRemediator({ api, events, metrics, logger: noopLogger, clock });
  return { api, events, clock, metrics, remediator };
}

/**
 * Remediates each workload as the workload controller does (one key at a time), then reads the policy's
 * report; failed writes are collected as the queue runner would receive them.
 */
async function remediateAll(
  remediator: WorkloadRemediator, policy: ActivePolicy, workloads: WorkloadFindings[],
): Promise<RemediationReport & { requeueAfterMs?: number; failures: unknown[] }> {
  let requeueAfterMs: number | undefined;
  const failures: unknown[] = [];
  for (const w of workloads) {
    try {
      const result = await remediator.remediateWorkload(policy, workloadOutcomeKey(w.ref), w);
      const after = result?.requeueAfterMs;
      if (after !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? after, after);
    } catch (err) {
      failures.push(err);
    }
  }
  return { ...remediator.report(policy), ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }), failures };
}

async function actionCount(metrics: Metrics, labels: Record<string, string>): Promise<number> {
  const values = (await metrics.actions.get()).values;
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k as keyof typeof v.labels] === l))?.value ?? 0;
}

const writable = podSpec();
const privileged = podSpec({ privileged: true, readOnlyRootFilesystem: true });
const enforcePatch: ImmutabilityPolicySpec = { mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp'] } } };

describe('remediation/remediator', () => {
  describe('Audit mode', () => {
    it('reports the patch and the evictions Enforce would carry out, and writes nothing', async () => {
      const h = harness();
      const policy = active({ mode: 'Audit', remediation: { patchOwner: { writablePaths: ['/tmp'] }, evict: {} } });
      h.api.add(workload('Deployment', 'web', writable));
      h.api.add(workload('StatefulSet', 'db', privileged, { spec: { updateStrategy: { type: 'OnDelete' } } }));
      const report = await remediateAll(h.remediator, policy, [
        findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')]),
        findings(policy, ref('StatefulSet', 'db'), [pod('db-0', privileged, 'StatefulSet')]),
      ]);
      const web = report.outcomes.get('ns/Deployment/web');
      expect(web?.action).to.equal('Planned');
      expect(web?.message).to.match(/^would patch: set readOnlyRootFilesystem, added emptyDir at \/tmp/);
      expect(JSON.parse(web?.patch ?? '[]')).to.have.length(3);
      const db = report.outcomes.get('ns/StatefulSet/db');
      expect(db?.action).to.equal('Planned');
      expect(db?.message).to.match(/would evict ns\/db-0/);
      // A Deployment's old pods are replaced by its rollout: no eviction is planned for them.
      expect(web?.message).to.not.match(/would evict/);
      expect(h.api.callsOf('apply')).to.deep.equal([]);
      expect(h.api.callsOf('evict')).to.deep.equal([]);
      expect(report.degraded).to.equal(undefined);
      expect(h.events.recorded).to.deep.equal([]);
      expect(await actionCount(h.metrics, { action: 'patch', result: 'planned' })).to.equal(2);
    });

    it('warns in the message and with one Warning Event when the planned read-only root lacks a known image\'s paths', async () => {
      const h = harness();
      const policy = active({ mode: 'Audit', remediation: { patchOwner: { writablePaths: ['/tmp'], presets: false } } });
      const nginx = podSpec(undefined, 'nginx:1.27');
      h.api.add(workload('Deployment', 'web', nginx));
      const run = (): ReturnType<typeof remediateAll> =>
        remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('web-1', nginx, 'ReplicaSet')])]);
      const report = await run();
      const message = report.outcomes.get('ns/Deployment/web')?.message ?? '';
      expect(message).to.match(/^would patch: set readOnlyRootFilesystem, added emptyDir at \/tmp; warning: container "app" \(official nginx image\) writes to \/var\/cache\/nginx, \/var\/run, /);
      const warnings = (): string[] => h.events.recorded.filter((e) => e.type === 'Warning').map((e) => `${e.regarding.kind}/${e.reason}`);
      expect(warnings()).to.deep.equal(['Deployment/WritablePathsMissing', 'ImmutabilityPolicy/WritablePathsMissing']);
      await h.clock.advance(60 * 60_000); // past the memo: the workload is planned again, with the same warning
      await run();
      expect(warnings(), 'announced once, not on every pass').to.have.length(2);
      expect(h.api.callsOf('apply')).to.deep.equal([]);
    });

    it('says when Enforce would not patch (GitOps) but still shows the patch', async () => {
      const h = harness();
      const policy = active({ mode: 'Audit', remediation: { patchOwner: {} } });
      h.api.add(workload('Deployment', 'web', writable, {
        metadata: { managedFields: [{ manager: 'argocd-controller', operation: 'Apply', fieldsV1: { 'f:spec': {} } }] },
      }));
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('w', writable, 'ReplicaSet')])]);
      const outcome = report.outcomes.get('ns/Deployment/web');
      expect(outcome?.action).to.equal('Planned');
      expect(outcome?.message).to.match(/Enforce would not patch: GitOpsManaged.*argocd-controller/);
      expect(outcome?.patch).to.be.a('string');
    });
  });

  describe('patchOwner', () => {
    it('applies only the planned fields with our record, once; a repeat finds the template fixed', async () => {
      const h = harness();
      const policy = active(enforcePatch);
      h.api.add(workload('Deployment', 'web', writable));
      const wf = findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')]);
      const first = await remediateAll(h.remediator, policy, [wf]);
      const applies = h.api.callsOf('apply');
      expect(applies).to.have.length(1);
      const body = applies[0]?.body as Obj;
      expect((body['spec'])).to.deep.equal({ template: { spec: {
        containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'immutability-tmp-tmp', mountPath: '/tmp' }] }],
        volumes: [{ name: 'immutability-tmp-tmp', emptyDir: {} }],
      } } });
      const record = JSON.parse(((body['metadata'] as Obj)['annotations'] as Record<string, string>)['immutability.dev/patched'] ?? '{}') as Obj;
      expect(record).to.include({ template: templateHash(writable), attempts: 1 });
      expect(first.outcomes.get('ns/Deployment/web')).to.include({ action: 'Patched', message: 'set readOnlyRootFilesystem, added emptyDir at /tmp' });
      expect(first.actions).to.deep.equal({ patched: 1, evicted: 0, rolledBack: 0 });
      expect(first.requeueAfterMs).to.be.a('number'); // the rollout is watched
      expect(h.events.recorded.map((e) => [e.regarding.kind, e.reason])).to.deep.equal([['Deployment', 'Patched'], ['ImmutabilityPolicy', 'Patched']]);

      // The old pod still violates while the rollout runs: no second apply, the same report.
      const second = await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('apply')).to.have.length(1);
      expect(second.outcomes.get('ns/Deployment/web')?.action).to.equal('Patched');
      expect(second.actions.patched).to.equal(1);

      // A fresh replica (after a crash) reads the record on the workload and does not patch again either.
      const restarted = new WorkloadRemediator({ api: h.api, events: h.events, metrics: h.metrics, logger: noopLogger, clock: h.clock });
      const third = await remediateAll(restarted, policy, [wf]);
      expect(h.api.callsOf('apply')).to.have.length(1);
      expect(third.outcomes.get('ns/Deployment/web')?.action).to.equal('Patched');
    });

    it('restates fields it already owns, so a second fix never removes the first', async () => {
      const h = harness();
      const policy = active({ mode: 'Enforce', rules: { privileged: true, readOnlyRootFilesystem: true }, remediation: { patchOwner: {} } });
      const spec = podSpec({ readOnlyRootFilesystem: true, privileged: true });
      h.api.add(workload('Deployment', 'web', spec, {
        metadata: { managedFields: [{ manager: 'immutability-operator', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': {
          'f:containers': { 'k:{"name":"app"}': { 'f:name': {}, 'f:securityContext': { 'f:readOnlyRootFilesystem': {} } } },
        } } } } }] },
      }));
      await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('w', spec, 'ReplicaSet')])]);
      const body = h.api.callsOf('apply')[0]?.body as Obj;
      expect(((body['spec'] as Obj)['template'] as Obj)['spec']).to.deep.equal({
        containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true, privileged: false } }],
      });
    });

    const blockedCases: { name: string; metadata: (spec: PodSpec) => Obj; reason: string; message: RegExp }[] = [
      {
        name: 'a workload whose spec Flux applies',
        metadata: () => ({ managedFields: [{ manager: 'kustomize-controller', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {} } } }] }),
        reason: 'GitOpsManaged', message: /GitOpsManaged: the spec is managed by kustomize-controller/,
      },
      {
        name: 'a template whose patch was rolled back',
        metadata: (spec) => ({ annotations: { 'immutability.dev/rolled-back': templateHash(spec), 'immutability.dev/rollback-reason': 'new pods crash-loop' } }),
        reason: 'RolloutFailed', message: /rolled back: new pods crash-loop; the patch is not re-applied/,
      },
    ];
    for (const c of blockedCases) {
      it(`does not patch ${c.name}: Blocked, Degraded ${c.reason}, patch shown`, async () => {
        const h = harness();
        const policy = active(enforcePatch);
        h.api.add(workload('Deployment', 'web', writable, { metadata: c.metadata(writable) }));
        const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('w', writable, 'ReplicaSet')])]);
        expect(h.api.callsOf('apply')).to.deep.equal([]);
        const outcome = report.outcomes.get('ns/Deployment/web');
        expect(outcome?.action).to.equal('Blocked');
        expect(outcome?.message).to.match(c.message);
        expect(outcome?.patch).to.contain('readOnlyRootFilesystem');
        expect(report.degraded?.reason).to.equal(c.reason);
        expect(h.events.recorded.some((e) => e.type === 'Warning' && e.regarding.kind === 'Deployment')).to.equal(true);
      });
    }

    it('stops after three applies of the same change that someone keeps reverting', async () => {
      const h = harness();
      const policy = active(enforcePatch);
      const wf = findings(policy, ref('Deployment', 'web'), [pod('w', writable, 'ReplicaSet')]);
      const original = workload('Deployment', 'web', writable, {
        metadata: { managedFields: [{ manager: 'ci-pipeline', operation: 'Update', time: '2026-01-01T00:00:00Z', fieldsV1: { 'f:spec': {} } }] },
      });
      h.api.add(original);
      for (let i = 1; i <= 4; i++) {
        const report = await remediateAll(h.remediator, policy, [wf]);
        const patched = h.api.get(ref('Deployment', 'web'));
        // Someone restores the original template, keeping our record annotation.
        h.api.add({ ...structuredClone(original), metadata: { ...(original['metadata'] as Obj), annotations: (patched['metadata'] as Obj)['annotations'] } });
        h.remediator.forget('p');
        if (i <= 3) expect(report.outcomes.get('ns/Deployment/web')?.action, `round ${i}`).to.equal('Patched');
        else {
          expect(report.outcomes.get('ns/Deployment/web')?.action).to.equal('Blocked');
          expect(report.outcomes.get('ns/Deployment/web')?.message).to.match(/reverted 3 times \(last change by ci-pipeline\); not fighting/);
          expect(report.degraded?.reason).to.equal('PatchFailed');
        }
      }
      expect(h.api.callsOf('apply')).to.have.length(3);
    });

    /** A privileged Deployment, patched once: its rollout is under watch. */
    async function patchedPrivileged(): Promise<{ h: Harness; policy: ActivePolicy; spec: PodSpec; wf: WorkloadFindings }> {
      const h = harness();
      const policy = active({ mode: 'Enforce', rules: { privileged: true }, remediation: { patchOwner: { writablePaths: ['/tmp'] } } });
      const spec = podSpec({ privileged: true });
      h.api.add(workload('Deployment', 'web', spec));
      const wf = findings(policy, ref('Deployment', 'web'), [pod('old', spec, 'ReplicaSet')]);
      await remediateAll(h.remediator, policy, [wf]);
      return { h, policy, spec, wf };
    }

    it('does not list the pods of a rollout before the controller has seen the patched template', async () => {
      const { h, policy, wf } = await patchedPrivileged();
      const report = await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('list')).to.have.length(0);
      expect(report.outcomes.get('ns/Deployment/web')?.action).to.equal('Patched');
      const patched = h.api.get(ref('Deployment', 'web'));
      patched['status'] = { observedGeneration: (patched['metadata'] as Obj)['generation'] };
      await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('list')).to.have.length(1);
    });

    it('rolls back when the new pods crash-loop: our fields removed, replaced values restored, template marked', async () => {
      const { h, policy, spec, wf } = await patchedPrivileged();
      const patched = h.api.get(ref('Deployment', 'web'));
      // The applied fields are now ours (as the API server would record them).
      (patched['metadata'] as Obj)['managedFields'] = [{ manager: 'immutability-operator', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': {
        'f:containers': { 'k:{"name":"app"}': { 'f:name': {}, 'f:securityContext': { 'f:readOnlyRootFilesystem': {}, 'f:privileged': {} },
          'f:volumeMounts': { 'k:{"mountPath":"/tmp"}': { 'f:name': {}, 'f:mountPath': {} } } } },
        'f:volumes': { 'k:{"name":"immutability-tmp-tmp"}': { 'f:name': {}, 'f:emptyDir': {} } },
      } } } } }];
      // The Deployment controller has seen the patched template (else no pod could carry it yet).
      patched['status'] = { observedGeneration: (patched['metadata'] as Obj)['generation'] ?? 0 };
      h.api.add(patched);
      const newSpec = ((patched['spec'] as Obj)['template'] as Obj)['spec'];
      h.api.pods = [{ metadata: { name: 'new' }, spec: newSpec, status: { containerStatuses: [{ name: 'app', restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }];

      const report = await remediateAll(h.remediator, policy, [wf]);
      const applies = h.api.callsOf('apply');
      expect(applies).to.have.length(2);
      const revert = applies[1]?.body as Obj;
      expect(revert['spec']).to.deep.equal({ template: { spec: { containers: [{ name: 'app', securityContext: { privileged: true } }] } } });
      expect((revert['metadata'] as Obj)['annotations']).to.include({ 'immutability.dev/rolled-back': templateHash(spec) });
      const outcome = report.outcomes.get('ns/Deployment/web');
      expect(outcome?.action).to.equal('Blocked');
      expect(outcome?.message).to.match(/rolled back: new pods crash-loop/);
      expect(report.actions.rolledBack).to.equal(1);
      expect(report.degraded?.reason).to.equal('RolloutFailed');
      expect(await actionCount(h.metrics, { action: 'rollback', result: 'success' })).to.equal(1);
    });

    it('never patches a bare pod, an unknown owner kind, a Job, or a ReplicaSet its Deployment controls', async () => {
      const h = harness();
      const policy = active({ mode: 'Enforce', remediation: { label: {}, patchOwner: {} } });
      h.api.add({ ...workload('ReplicaSet', 'rs', writable), metadata: {
        name: 'rs', namespace: 'ns', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', uid: 'u', controller: true }],
      } });
      h.api.add({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job', namespace: 'ns' }, spec: { template: { spec: writable } } });
      const report = await remediateAll(h.remediator, policy, [
        findings(policy, ref('Pod', 'bare', 'v1'), [pod('bare', writable)]),
        findings(policy, ref('Rollout', 'canary', 'argoproj.io/v1alpha1'), [pod('c', writable, 'ReplicaSet')]),
        findings(policy, ref('ReplicaSet', 'rs'), [pod('r', writable, 'ReplicaSet')]),
        findings(policy, ref('Job', 'job', 'batch/v1'), [pod('j', writable, 'Job')]),
      ]);
      expect(h.api.callsOf('apply')).to.deep.equal([]);
      expect(report.outcomes.get('ns/Pod/bare')).to.deep.equal({ action: 'Skipped', message: 'bare pod: no owner to patch; labelled only' });
      expect(report.outcomes.get('ns/Rollout/canary')?.message).to.match(/owner kind Rollout \(argoproj.io\/v1alpha1\) is not supported/);
      expect(report.outcomes.get('ns/ReplicaSet/rs')?.message).to.match(/controlled by Deployment d/);
      expect(report.outcomes.get('ns/Job/job')?.message).to.match(/Job's pod template is immutable/);
      expect(report.outcomes.get('ns/Job/job')?.action).to.equal('Labeled');
      expect(h.api.callsOf('get').map((c) => c.key).sort()).to.deep.equal(['ns/Job/job', 'ns/ReplicaSet/rs']);
    });

    it('reports a refused apply (403) as Forbidden and hands the failure to the runner to retry', async () => {
      const h = harness();
      const policy = active(enforcePatch);
      h.api.add(workload('Deployment', 'web', writable));
      h.api.applyFailure = 403;
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('w', writable, 'ReplicaSet')])]);
      expect(report.outcomes.get('ns/Deployment/web')?.action).to.equal('Blocked');
      expect(report.degraded?.reason).to.equal('Forbidden');
      expect(report.failures).to.have.length(1);
      expect(report.actions.patched).to.equal(0);
    });
  });

  describe('evict', () => {
    const evictPolicy = (evict: Obj = {}): ActivePolicy => active({ mode: 'Enforce', remediation: { evict } });

    it('backs off after a PodDisruptionBudget refusal (429) and succeeds once allowed', async () => {
      const h = harness();
      const policy = evictPolicy();
      h.api.add(workload('Deployment', 'web', writable));
      const wf = findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')], ['app:exec']);
      h.api.evictions = [429];
      const blocked = await remediateAll(h.remediator, policy, [wf]);
      expect(blocked.outcomes.get('ns/Deployment/web')?.action).to.equal('Blocked');
      expect(blocked.degraded?.reason).to.equal('EvictionBlocked');
      expect(blocked.requeueAfterMs).to.equal(5_000);

      await h.clock.advance(4_000);
      const waiting = await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('evict')).to.have.length(1); // still backing off
      expect(waiting.degraded?.reason).to.equal('EvictionBlocked');
      expect(waiting.requeueAfterMs).to.equal(1_000);

      await h.clock.advance(1_000);
      const done = await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('evict').map((c) => c.key)).to.deep.equal(['ns/web-1@web-1-uid', 'ns/web-1@web-1-uid']);
      expect(done.outcomes.get('ns/Deployment/web')?.action).to.equal('Evicted');
      expect(done.actions.evicted).to.equal(1);
      expect(done.degraded).to.equal(undefined);

      // The evicted pod may linger in the cache for a moment: it is never evicted twice.
      await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('evict')).to.have.length(2);
    });

    it('keeps to maxPerMinute: the rest wait (RateLimited) and come back when a token is due', async () => {
      const h = harness();
      const policy = evictPolicy({ maxPerMinute: 1 });
      h.api.add(workload('Deployment', 'web', writable));
      const wf = findings(policy, ref('Deployment', 'web'), [pod('a', writable, 'ReplicaSet'), pod('b', writable, 'ReplicaSet')], ['app:exec']);
      const report = await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('evict')).to.have.length(1);
      expect(report.degraded?.reason).to.equal('RateLimited');
      expect(report.requeueAfterMs).to.equal(60_000);
      await h.clock.advance(60_000);
      await remediateAll(h.remediator, policy, [wf]);
      expect(h.api.callsOf('evict').map((c) => c.key)).to.deep.equal(['ns/a@a-uid', 'ns/b@b-uid']);
    });

    it('classifies 403 as Forbidden', async () => {
      const h = harness();
      const policy = evictPolicy();
      h.api.add(workload('Deployment', 'web', writable));
      h.api.evictions = [403];
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('a', writable, 'ReplicaSet')], ['app:exec'])]);
      expect(report.degraded?.reason).to.equal('Forbidden');
      expect(await actionCount(h.metrics, { action: 'evict', result: 'failure' })).to.equal(1);
    });

    it('never evicts violating pods whose template still violates, bare pods or DaemonSet pods', async () => {
      const h = harness();
      const policy = evictPolicy();
      h.api.add(workload('StatefulSet', 'db', writable, { spec: { updateStrategy: { type: 'OnDelete' } } }));
      h.api.add(workload('DaemonSet', 'agent', writable));
      const report = await remediateAll(h.remediator, policy, [
        findings(policy, ref('StatefulSet', 'db'), [pod('db-0', writable, 'StatefulSet')]),
        findings(policy, ref('Pod', 'bare', 'v1'), [pod('bare', writable)], ['app:exec']),
        findings(policy, ref('DaemonSet', 'agent'), [pod('agent-x', writable, 'DaemonSet')], ['app:exec']),
      ]);
      expect(h.api.callsOf('evict')).to.deep.equal([]);
      expect(report.outcomes.get('ns/Pod/bare')?.message).to.match(/not evicted: bare \(bare pods are evicted only with evict.barePods: true\)/);
      expect(report.outcomes.get('ns/DaemonSet/agent')?.message).to.match(/DaemonSet pods are never evicted/);
    });

    it('evicts a drifted bare pod only with barePods: true', async () => {
      const h = harness();
      const policy = evictPolicy({ barePods: true });
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Pod', 'bare', 'v1'), [pod('bare', writable)], ['app:exec'])]);
      expect(h.api.callsOf('evict').map((c) => c.key)).to.deep.equal(['ns/bare@bare-uid']);
      expect(report.outcomes.get('ns/Pod/bare')?.action).to.equal('Evicted');
    });
  });

  describe('action counts', () => {
    /** A new process (a restart, another leader) over the same cluster: it reads the records before acting. */
    async function restarted(h: Harness): Promise<WorkloadRemediator> {
      const next = new WorkloadRemediator({ api: h.api, events: h.events, metrics: h.metrics, logger: noopLogger, clock: h.clock });
      await next.loadRecordedActions();
      return next;
    }

    it('are what the workloads record, so a restarted process reports every patch, whatever the status said', async () => {
      const h = harness();
      const policy = active(enforcePatch);
      const names = ['a', 'b', 'c'];
      for (const n of names) h.api.add(workload('Deployment', n, writable));
      const report = await remediateAll(h.remediator, policy, names.map((n) => findings(policy, ref('Deployment', n), [pod(`${n}-1`, writable, 'ReplicaSet')])));
      expect(report.actions.patched).to.equal(3);
      const applied = h.api.callsOf('apply')[0]?.body?.['metadata'] as Obj;
      expect(applied['labels']).to.deep.equal({ 'immutability.dev/remediated': 'true' });
      expect(JSON.parse(String((applied['annotations'] as Obj)['immutability.dev/actions']))).to.deep.equal({
        p: { uid: 'policy-uid', generation: 1, patched: 1, rolledBack: 0, evicted: 0 },
      });
      // The status the crashed process last wrote counted one of the three.
      const stale: ActivePolicy = { ...policy, object: { ...policy.object, status: { observedGeneration: 1, actions: { labeled: 0, patched: 1, evicted: 0, rolledBack: 0 } } } };
      expect((await restarted(h)).report(stale).actions).to.deep.equal({ patched: 3, evicted: 0, rolledBack: 0 });
      expect(h.api.callsOf('apply')).to.have.length(3); // reading them back wrote nothing
    });

    it('start over for a new generation or a new policy of the same name, without touching other policies\' records', async () => {
      const h = harness();
      const policy = active(enforcePatch);
      h.api.add(workload('Deployment', 'web', writable, { metadata: { annotations: {
        'immutability.dev/actions': JSON.stringify({ other: { uid: 'other-uid', generation: 4, patched: 2, rolledBack: 1, evicted: 0 } }),
      }, labels: { 'immutability.dev/remediated': 'true' } } }));
      await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')])]);
      const records = JSON.parse(String(((h.api.get(ref('Deployment', 'web'))['metadata'] as Obj)['annotations'] as Obj)['immutability.dev/actions'])) as Obj;
      expect(records['other']).to.deep.equal({ uid: 'other-uid', generation: 4, patched: 2, rolledBack: 1, evicted: 0 });
      const next = await restarted(h);
      expect(next.report(policy).actions.patched).to.equal(1);
      const edited: ActivePolicy = { ...policy, object: { ...policy.object, metadata: { ...policy.object.metadata, generation: 2 } } };
      expect(next.report(edited).actions.patched).to.equal(0);
      const recreated: ActivePolicy = { ...policy, object: { ...policy.object, metadata: { ...policy.object.metadata, uid: 'new-uid' } } };
      expect((await restarted(h)).report(recreated).actions.patched).to.equal(0);
    });

    it('record evictions on the workload (one write restating our fields), and keep bare pods\' from the status', async () => {
      const h = harness();
      const policy = active({ mode: 'Enforce', remediation: { evict: { barePods: true } } });
      h.api.add(workload('Deployment', 'web', writable));
      const report = await remediateAll(h.remediator, policy, [
        findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet'), pod('web-2', writable, 'ReplicaSet')], ['app:exec']),
        findings(policy, ref('Pod', 'bare', 'v1'), [pod('bare', writable)], ['app:exec']),
      ]);
      expect(report.actions.evicted).to.equal(3);
      const applies = h.api.callsOf('apply');
      expect(applies).to.have.length(1);
      expect(applies[0]?.body?.['spec']).to.equal(undefined); // nothing of ours in the template: the write changes only metadata
      const status = { observedGeneration: 1, actions: { labeled: 0, patched: 0, evicted: 3, rolledBack: 0 } };
      expect((await restarted(h)).report({ ...policy, object: { ...policy.object, status } }).actions.evicted).to.equal(3);
    });
  });

  describe('reading workloads from the watch cache', () => {
    /** A workload at resourceVersion 10, served by the API server and cached as it is. */
    function cachedHarness(kind = 'Deployment', name = 'web', spec = writable): Harness & { key: string } {
      const h = harness();
      const w = workload(kind, name, spec, { metadata: { resourceVersion: '10' } });
      h.api.add(w);
      h.api.cache = new Map([[`ns/${kind}/${name}`, structuredClone(w)]]);
      return { ...h, key: `ns/${kind}/${name}` };
    }

    it('plans in Audit without a single request', async () => {
      const h = cachedHarness();
      const policy = active({ mode: 'Audit', remediation: { patchOwner: { writablePaths: ['/tmp'] } } });
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')])]);
      expect(report.outcomes.get(h.key)?.action).to.equal('Planned');
      expect(h.api.calls).to.deep.equal([]);
    });

    it('patches from the cached copy with one apply, made conditional on its uid and resourceVersion', async () => {
      const h = cachedHarness();
      const policy = active(enforcePatch);
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')])]);
      expect(h.api.calls.map((c) => c.method)).to.deep.equal(['apply']);
      expect(h.api.calls[0]?.body?.['metadata']).to.include({ uid: 'web-uid', resourceVersion: '10' });
      expect(report.outcomes.get(h.key)?.action).to.equal('Patched');
      expect(report.actions.patched).to.equal(1);
    });

    it('decides again on a fresh read when the cache was behind (409): one successful write, counted once', async () => {
      const h = cachedHarness();
      const policy = active(enforcePatch);
      // Someone else wrote to the workload after the cache's copy: a newer resourceVersion.
      const live = h.api.get(ref('Deployment', 'web'));
      h.api.add({ ...live, metadata: { ...(live['metadata'] as Obj), resourceVersion: '11' } });
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')])]);
      expect(h.api.calls.map((c) => c.method)).to.deep.equal(['apply', 'get', 'apply']);
      // The fresh write is conditional on the uid alone: the controller's status writes must not fail it.
      expect(h.api.calls[2]?.body?.['metadata']).to.include({ uid: 'web-uid' }).and.not.have.property('resourceVersion');
      expect(report.failures).to.deep.equal([]);
      expect(report.outcomes.get(h.key)?.action).to.equal('Patched');
      expect(report.actions.patched).to.equal(1);
      expect(h.events.recorded.filter((e) => e.reason === 'Patched')).to.have.length(2); // on the workload and on the policy
      expect(h.events.recorded.filter((e) => e.type === 'Warning')).to.deep.equal([]);
    });

    it('drops a workload the cache still holds but the API server has deleted: nothing created, no failure', async () => {
      const h = cachedHarness();
      const policy = active(enforcePatch);
      h.api.workloads.clear();
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')])]);
      expect(h.api.calls.map((c) => c.method)).to.deep.equal(['apply', 'get']);
      expect(h.api.workloads.size).to.equal(0);
      expect(report.failures).to.deep.equal([]);
      expect(report.outcomes.has(h.key)).to.equal(false);
    });

    it('leaves a conflict that a fresh read does not resolve to the runner: the pass fails, nothing is counted', async () => {
      const h = cachedHarness();
      const policy = active(enforcePatch);
      // The cached copy's apply is refused, and the fresh read's too (the workload re-created under that name meanwhile).
      h.api.applyFailure = 409;
      const fresh = h.api.getWorkload.bind(h.api);
      h.api.getWorkload = async (r) => {
        const obj = await fresh(r);
        h.api.applyFailure = 409;
        return obj;
      };
      const report = await remediateAll(h.remediator, policy, [findings(policy, ref('Deployment', 'web'), [pod('web-1', writable, 'ReplicaSet')])]);
      expect(h.api.calls.map((c) => c.method)).to.deep.equal(['apply', 'get', 'apply']);
      expect(report.failures).to.have.length(1);
      expect(report.outcomes.get(h.key)?.action).to.equal('Blocked');
      expect(report.actions.patched).to.equal(0);
    });
  });
});
