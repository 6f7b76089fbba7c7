// Direct, table-driven tests of remediation's pure decisions: whether Enforce patches a template
// (`patchDecision`), how a refused eviction is classified and backed off (`evictionRefusal`,
// `evictionRetryDelay`), which pods may be evicted at all (`evictionBlocker`, `evictionCandidates`), and what a
// refused write means for Degraded (`apiProblem`). The orchestrator tests reach these only indirectly; where a
// decision only shows through a step (Audit vs Enforce, barePods from the policy, backoff across passes), the
// step is driven with the fake API.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { Pod, PodSpec } from '../../../src/api/kube.js';
import { FIELD_MANAGER, Reasons, type ImmutabilityPolicySpec } from '../../../src/api/types.js';
import type { ActivePolicy } from '../../../src/controllers/policy-set.js';
import type { WorkloadRef } from '../../../src/k8s/owners.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import {
  evaluateWorkload, planRemediation, resolvePolicy, workloadFromObject,
  type RemediationPlan, type Workload,
} from '../../../src/policy/index.js';
import { ActionReporter } from '../../../src/remediation/action-reporter.js';
import type { RemediationContext } from '../../../src/remediation/context.js';
import { evictionBlocker, evictionCandidates, MIRROR_POD_ANNOTATION, type PodFindings } from '../../../src/remediation/eviction.js';
import { evictionRefusal, evictionRetryDelay, Evictor, type Backoff } from '../../../src/remediation/evictor.js';
import { GITOPS_MANAGERS } from '../../../src/remediation/managed-fields.js';
import { apiProblem, type Problem } from '../../../src/remediation/outcome.js';
import { OwnerPatcher, patchDecision, type PatchDecision } from '../../../src/remediation/patch-owner.js';
import { PolicyState } from '../../../src/remediation/policy-state.js';
import { rolledBackMessage } from '../../../src/remediation/rollout-guard.js';
import { MAX_MESSAGE_CHARS } from '../../../src/remediation/status-text.js';
import { WorkloadDraft } from '../../../src/remediation/workload-draft.js';
import {
  ANNOTATION_PATCHED, ANNOTATION_ROLLBACK_REASON, ANNOTATION_ROLLED_BACK, fragmentHash, parsePatchRecord, templateHash,
} from '../../../src/remediation/workload-record.js';
import { FakeClock } from '../../../src/runtime/clock.js';
import { StatusError } from '../../../src/runtime/errors.js';
import { FakeApi, FakeEvents, noopLogger } from './fake-api.js';

type Obj = Record<string, unknown>;

const NOW = new Date(Date.UTC(2026, 0, 1));
const PATCH_SPEC: ImmutabilityPolicySpec = { mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp'] } } };
const POLICY = resolvePolicy('p', PATCH_SPEC);

/**
 * A container that violates readOnlyRootFilesystem and privileged: the plan adds, replaces and mounts. Its image
 * has no preset (src/policy/presets.ts), so only writablePaths are mounted.
 */
const PRIVILEGED: PodSpec = { containers: [{ name: 'app', image: 'example.com/app:1', securityContext: { privileged: true } }] };

interface ManagedField { manager: string; operation?: string; subresource?: string; time?: string; fieldsV1?: unknown }

const SPEC_FIELDS = { 'f:spec': { 'f:template': {} } };
const specWriter = (manager: string, extra: Partial<ManagedField> = {}): ManagedField =>
  ({ manager, operation: 'Apply', time: '2026-01-01T00:00:00Z', fieldsV1: SPEC_FIELDS, ...extra });

function deployment(opts: { annotations?: Record<string, string>; managedFields?: ManagedField[]; podSpec?: PodSpec } = {}): Obj {
  const metadata: Obj = { name: 'web', namespace: 'ns', uid: 'web-uid', generation: 1 };
  if (opts.annotations) metadata['annotations'] = opts.annotations;
  if (opts.managedFields) metadata['managedFields'] = opts.managedFields;
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata,
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: structuredClone(opts.podSpec ?? PRIVILEGED) } },
  };
}

function workloadOf(live: Obj): Workload {
  const w = workloadFromObject(live);
  if ('error' in w) throw new Error(w.error);
  return w;
}

function planOf(live: Obj): RemediationPlan {
  const workload = workloadOf(live);
  const evaluation = evaluateWorkload(POLICY, workload, NOW);
  if (evaluation.outcome !== 'evaluated') throw new Error(evaluation.error);
  return planRemediation(POLICY, workload, evaluation.findings);
}


/** The decision on `live` with the engine's own plan for it, the default managers and bound 3. */
function decide(live: Obj, opts: { plan?: RemediationPlan; managers?: readonly string[]; maxAttempts?: number } = {}): PatchDecision {
  return patchDecision(live, workloadOf(live), opts.plan ?? planOf(live), opts.managers ?? GITOPS_MANAGERS, opts.maxAttempts ?? 3);
}

/** A patch record of the plan's change on `live`, as an earlier apply would have left it. */
function recordAnnotation(attempts: number, patch?: string): string {
  const decision = decide(deployment());
  if (decision.blocked) throw new Error('expected a record');
  return JSON.stringify({ ...decision.record, attempts, ...(patch !== undefined ? { patch } : {}) });
}

function blockedOf(decision: PatchDecision): Problem {
  if (!decision.blocked) throw new Error(`expected a blocked decision, got record ${JSON.stringify(decision.record)}`);
  return decision.blocked;
}

function attemptsOf(decision: PatchDecision): number {
  if (decision.blocked) throw new Error(`expected a record, got blocked: ${decision.blocked.message}`);
  return decision.record.attempts;
}

/** An ApiException as client-node 1.4 throws it: numeric `code`, the Status as JSON text, raw headers. */
function apiException(code: number, status: Obj = {}, headers?: Record<string, string>): Error {
  const err = new Error(`HTTP-Code: ${code}`) as Error & { code: number; body: string; headers?: Record<string, string> };
  err.code = code;
  err.body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, ...status });
  if (headers) err.headers = headers;
  return err;
}

describe('remediation/decisions', () => {
  describe('patchDecision', () => {
    describe('a normal apply', () => {
      it('records the planned template, the change and its first attempt', () => {
        const live = deployment();
        const decision = decide(live);
        if (decision.blocked) throw new Error(decision.blocked.message);
        const { record } = decision;
        expect(record.template).to.equal(templateHash(PRIVILEGED));
        expect(record.attempts).to.equal(1);
        expect(record.fragment).to.deep.equal({
          containers: [{
            name: 'app', securityContext: { readOnlyRootFilesystem: true, privileged: false },
            volumeMounts: [{ name: 'immutability-tmp-tmp', mountPath: '/tmp' }],
          }],
          volumes: [{ name: 'immutability-tmp-tmp', emptyDir: {} }],
        });
        expect(record.patch).to.equal(fragmentHash(record.fragment));
        // Only the replaced value is remembered, so a rollback restores exactly it.
        expect(record.previous).to.deep.equal({ containers: [{ name: 'app', securityContext: { privileged: true } }] });
      });

      it('leaves its inputs unchanged', () => {
        const live = deployment({ annotations: { [ANNOTATION_PATCHED]: recordAnnotation(1) }, managedFields: [specWriter('kubectl-edit')] });
        const before = structuredClone(live);
        decide(live);
        expect(live).to.deep.equal(before);
      });
    });

    describe('rolled back before', () => {
      const rolledBack = (template: string, reason?: string): Obj => deployment({
        annotations: { [ANNOTATION_ROLLED_BACK]: template, ...(reason ? { [ANNOTATION_ROLLBACK_REASON]: reason } : {}) },
      });

      it('never patches the template whose patch was rolled back, and says why', () => {
        const blocked = blockedOf(decide(rolledBack(templateHash(PRIVILEGED), 'pod web-2 crash-looped')));
        expect(blocked).to.deep.equal({
          reason: Reasons.RolloutFailed, event: 'PatchBlocked', message: rolledBackMessage('pod web-2 crash-looped'),
        });
      });

      it('falls back to a generic reason when the reason annotation is missing', () => {
        expect(blockedOf(decide(rolledBack(templateHash(PRIVILEGED)))).message).to.equal(rolledBackMessage('its rollout failed'));
      });

      it('patches a template that changed since the rollback (a new image)', () => {
        const edited: PodSpec = { containers: [{ name: 'app', image: 'example.com/app:2', securityContext: { privileged: true } }] };
        expect(attemptsOf(decide(deployment({ podSpec: edited, annotations: { [ANNOTATION_ROLLED_BACK]: templateHash(PRIVILEGED) } })))).to.equal(1);
      });

      it('wins over every other reason (GitOps, the attempts bound)', () => {
        const live = deployment({
          annotations: { [ANNOTATION_ROLLED_BACK]: templateHash(PRIVILEGED), [ANNOTATION_PATCHED]: recordAnnotation(9) },
          managedFields: [specWriter('argocd-controller')],
        });
        expect(blockedOf(decide(live)).reason).to.equal(Reasons.RolloutFailed);
      });
    });

    describe('GitOps-managed', () => {
      it('knows the documented managers', () => {
        expect([...GITOPS_MANAGERS].sort()).to.deep.equal(
          ['argocd-application-controller', 'argocd-controller', 'helm', 'helm-controller', 'kustomize-controller'],
        );
      });

      for (const manager of GITOPS_MANAGERS) {
        for (const operation of ['Apply', 'Update']) {
          it(`does not patch a spec ${manager} owns (${operation})`, () => {
            const blocked = blockedOf(decide(deployment({ managedFields: [specWriter('kubectl-edit'), specWriter(manager, { operation })] })));
            expect(blocked).to.deep.equal({
              reason: Reasons.GitOpsManaged, event: 'GitOpsManaged',
              message: `GitOpsManaged: the spec is managed by ${manager}; fix the source (the patch shows how)`,
            });
          });
        }
      }

      it('names every GitOps manager once, sorted', () => {
        const live = deployment({ managedFields: [specWriter('kustomize-controller'), specWriter('argocd-controller'), specWriter('kustomize-controller', { operation: 'Update' })] });
        expect(blockedOf(decide(live)).message).to.contain('managed by argocd-controller, kustomize-controller;');
      });

      const notBlocking: { name: string; fields: ManagedField[]; managers?: string[] }[] = [
        { name: 'kubectl (client-side apply)', fields: [specWriter('kubectl-client-side-apply', { operation: 'Update' })] },
        { name: 'kube-controller-manager', fields: [specWriter('kube-controller-manager', { operation: 'Update' })] },
        { name: 'the operator itself', fields: [specWriter(FIELD_MANAGER)] },
        { name: 'a name that only starts like a GitOps manager', fields: [specWriter('argocd'), specWriter('helm-controller-v2')] },
        { name: 'a GitOps manager owning only metadata', fields: [specWriter('argocd-controller', { fieldsV1: { 'f:metadata': { 'f:labels': {} } } })] },
        { name: 'a GitOps manager owning only the status subresource', fields: [specWriter('helm-controller', { subresource: 'status', fieldsV1: { 'f:status': {} } })] },
        { name: 'a GitOps manager without fieldsV1', fields: [specWriter('helm', { fieldsV1: undefined })] },
        { name: 'a GitOps manager not in the configured list', fields: [specWriter('argocd-controller')], managers: ['my-gitops'] },
        { name: 'any manager when the configured list is empty', fields: [specWriter('argocd-controller')], managers: [] },
      ];
      for (const c of notBlocking) {
        it(`patches a spec written by ${c.name}`, () => {
          const live = deployment({ managedFields: c.fields });
          expect(attemptsOf(decide(live, c.managers ? { managers: c.managers } : {}))).to.equal(1);
        });
      }

      it('honours a configured manager that is not a default one', () => {
        const blocked = blockedOf(decide(deployment({ managedFields: [specWriter('my-gitops')] }), { managers: ['my-gitops'] }));
        expect(blocked.reason).to.equal(Reasons.GitOpsManaged);
        expect(blocked.message).to.contain('managed by my-gitops;');
      });
    });

    describe('reverted too often', () => {
      const withRecord = (attempts: number, fields: ManagedField[] = [], patch?: string): Obj =>
        deployment({ annotations: { [ANNOTATION_PATCHED]: recordAnnotation(attempts, patch) }, managedFields: fields });

      const cases: { name: string; live: () => Obj; maxAttempts?: number; attempts?: number; blocked?: string }[] = [
        { name: 'no record: first attempt', live: () => deployment(), attempts: 1 },
        { name: 'the same change applied once: second attempt', live: () => withRecord(1), attempts: 2 },
        { name: 'applied twice: the last attempt the bound allows', live: () => withRecord(2), attempts: 3 },
        { name: 'applied 3 times: bound reached', live: () => withRecord(3), blocked: 'our patch was reverted 3 times; not fighting over it' },
        { name: 'applied beyond the bound (a lowered bound)', live: () => withRecord(7), blocked: 'our patch was reverted 7 times; not fighting over it' },
        { name: 'bound 1, applied once', live: () => withRecord(1), maxAttempts: 1, blocked: 'our patch was reverted 1 times; not fighting over it' },
        { name: 'bound 1, never applied', live: () => deployment(), maxAttempts: 1, attempts: 1 },
        { name: 'bound 5, applied 3 times', live: () => withRecord(3), maxAttempts: 5, attempts: 4 },
        { name: 'a different change recorded: counting starts over', live: () => withRecord(3, [], 'another-change'), attempts: 1 },
        { name: 'an unreadable record: counting starts over', live: () => deployment({ annotations: { [ANNOTATION_PATCHED]: '{not json' } }), attempts: 1 },
        { name: 'a record without a counter: counting starts over', live: () => deployment({ annotations: { [ANNOTATION_PATCHED]: JSON.stringify({ template: 't', patch: 'p' }) } }), attempts: 1 },
      ];
      for (const c of cases) {
        it(`${c.name} → ${c.blocked ? 'blocked' : `attempt ${c.attempts}`}`, () => {
          const decision = decide(c.live(), c.maxAttempts !== undefined ? { maxAttempts: c.maxAttempts } : {});
          if (c.blocked) expect(blockedOf(decision)).to.deep.equal({ reason: Reasons.PatchFailed, event: 'PatchBlocked', message: c.blocked });
          else expect(attemptsOf(decision)).to.equal(c.attempts);
        });
      }

      const writers: { name: string; fields: ManagedField[]; by?: string }[] = [
        { name: 'the only other spec writer', fields: [specWriter('kubectl-edit')], by: 'kubectl-edit' },
        {
          name: 'the most recent spec writer',
          fields: [specWriter('kubectl-edit', { time: '2026-01-01T10:00:00Z' }), specWriter('deploy-bot', { operation: 'Update', time: '2026-01-01T11:00:00Z' })],
          by: 'deploy-bot',
        },
        { name: 'not the operator, even when it wrote last', fields: [specWriter('kubectl-edit', { time: '2026-01-01T10:00:00Z' }), specWriter(FIELD_MANAGER, { time: '2026-01-02T00:00:00Z' })], by: 'kubectl-edit' },
        { name: 'not a status writer', fields: [specWriter('kubectl-edit', { time: '2026-01-01T10:00:00Z' }), specWriter('kube-controller-manager', { subresource: 'status', time: '2026-01-02T00:00:00Z' })], by: 'kubectl-edit' },
        { name: 'nobody when only the operator wrote the spec', fields: [specWriter(FIELD_MANAGER)] },
      ];
      for (const w of writers) {
        it(`names ${w.name}`, () => {
          const { message } = blockedOf(decide(withRecord(3, w.fields)));
          if (w.by) expect(message).to.equal(`our patch was reverted 3 times (last change by ${w.by}); not fighting over it`);
          else expect(message).to.equal('our patch was reverted 3 times; not fighting over it');
        });
      }

      it('keeps the change in the new record, so the next revert is recognised', () => {
        const first = decide(deployment());
        const second = decide(withRecord(1));
        if (first.blocked || second.blocked) throw new Error('expected records');
        expect(second.record.patch).to.equal(first.record.patch);
        expect(second.record.fragment).to.deep.equal(first.record.fragment);
      });
    });
  });

  describe('patching in Audit vs Enforce', () => {
    const ref: WorkloadRef = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'web', resolved: true };
    const target = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'web', podSpecPath: '/spec/template/spec' };

    async function patch(enforce: boolean, live: Obj): Promise<{ api: FakeApi; draft: WorkloadDraft; templateChanged: boolean }> {
      const api = new FakeApi();
      api.add(structuredClone(live));
      const spec: ImmutabilityPolicySpec = { ...PATCH_SPEC, mode: enforce ? 'Enforce' : 'Audit' };
      const policy = resolvePolicy('p', spec);
      const active: ActivePolicy = {
        object: { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'p', generation: 1, uid: 'policy-uid' }, spec },
        resolved: policy, problems: [], deleting: false,
      };
      const clock = new FakeClock(NOW.getTime());
      const ctx: RemediationContext = { active, policy, state: new PolicyState(1, new Map(), 0, clock), enforce, now: NOW };
      const reporter = new ActionReporter(new FakeEvents(), createMetrics(new Registry(), { defaultMetrics: false }));
      const patcher = new OwnerPatcher({ api, reporter, logger: noopLogger, gitOpsManagers: GITOPS_MANAGERS, maxPatchAttempts: 3 });
      const draft = new WorkloadDraft();
      const out = await patcher.patch(ctx, 'ns/Deployment/web', ref, target, live, workloadOf(live), planOf(live), draft);
      return { api, draft, templateChanged: out !== undefined };
    }

    const blockedCases: { name: string; live: () => Obj; reason: string; says: RegExp }[] = [
      { name: 'GitOps-managed', live: () => deployment({ managedFields: [specWriter('argocd-controller')] }), reason: Reasons.GitOpsManaged, says: /GitOpsManaged: the spec is managed by argocd-controller/ },
      { name: 'reverted too often', live: () => deployment({ annotations: { [ANNOTATION_PATCHED]: recordAnnotation(3) } }), reason: Reasons.PatchFailed, says: /reverted 3 times/ },
      { name: 'rolled back before', live: () => deployment({ annotations: { [ANNOTATION_ROLLED_BACK]: templateHash(PRIVILEGED) } }), reason: Reasons.RolloutFailed, says: /rolled back: its rollout failed/ },
    ];
    for (const c of blockedCases) {
      it(`${c.name}: Audit says Enforce would not patch, with no problem for Degraded`, async () => {
        const { api, draft, templateChanged } = await patch(false, c.live());
        expect(draft.messages).to.have.length(1);
        expect(draft.messages[0]).to.match(/^set readOnlyRootFilesystem.*; Enforce would not patch: /);
        expect(draft.messages[0]).to.match(c.says);
        expect(draft.problems).to.deep.equal([]);
        expect(draft.result(false, 'Labeled').outcome?.action).to.equal('Planned');
        expect(draft.patch, 'the patch that would fix it is still shown').to.be.a('string').and.not.equal('');
        expect(templateChanged).to.equal(false);
        expect(api.callsOf('apply')).to.deep.equal([]);
      });

      it(`${c.name}: Enforce is Blocked with reason ${c.reason} and writes nothing`, async () => {
        const { api, draft, templateChanged } = await patch(true, c.live());
        expect(draft.problems.map((p) => p.reason)).to.deep.equal([c.reason]);
        const result = draft.result(true, 'Labeled');
        expect(result.outcome?.action).to.equal('Blocked');
        expect(result.outcome?.message).to.match(c.says);
        expect(result.problem?.reason).to.equal(c.reason);
        expect(templateChanged).to.equal(false);
        expect(api.callsOf('apply')).to.deep.equal([]);
      });
    }

    it('a normal apply: Audit describes it and judges evictions against the patched template, writing nothing', async () => {
      const { api, draft, templateChanged } = await patch(false, deployment());
      expect(draft.messages).to.deep.equal(['would patch: set readOnlyRootFilesystem, added emptyDir at /tmp; dropped privileged']);
      expect(templateChanged).to.equal(true);
      expect(api.callsOf('apply')).to.deep.equal([]);
    });

    it('a normal apply: Enforce applies once and leaves a record of attempt 1', async () => {
      const { api, draft } = await patch(true, deployment());
      const applies = api.callsOf('apply');
      expect(applies).to.have.length(1);
      const annotations = (applies[0]?.body?.['metadata'] as { annotations?: Record<string, string> }).annotations ?? {};
      expect(parsePatchRecord(annotations[ANNOTATION_PATCHED])?.attempts).to.equal(1);
      expect(draft.result(true, 'Labeled').outcome?.action).to.equal('Patched');
    });

    it('Audit never advances the attempt counter: the same record gives the same answer on every pass', async () => {
      const live = deployment({ annotations: { [ANNOTATION_PATCHED]: recordAnnotation(2) } });
      const { api } = await patch(false, live);
      expect(api.callsOf('apply')).to.deep.equal([]);
      expect(api.get({ namespace: 'ns', kind: 'Deployment', name: 'web' })).to.deep.equal(live);
      expect(attemptsOf(decide(live))).to.equal(3);
    });
  });

  describe('evictionRefusal', () => {
    const pdb = 'Cannot evict pod as it would violate the pod\'s disruption budget.';
    const cases: { name: string; err: unknown; blocked: boolean; reason: string; message: string }[] = [
      {
        name: '429 (a PodDisruptionBudget) as a StatusError', err: new StatusError(429, pdb),
        blocked: true, reason: Reasons.EvictionBlocked, message: `eviction of ns/web-1 refused (${pdb}); retrying with backoff`,
      },
      {
        name: '429 as an ApiException, with the Status message', err: apiException(429, { reason: 'TooManyRequests', message: pdb }),
        blocked: true, reason: Reasons.EvictionBlocked, message: `eviction of ns/web-1 refused (${pdb}); retrying with backoff`,
      },
      {
        name: '403 (RBAC)', err: new StatusError(403, 'pods "web-1" is forbidden: cannot create pods/eviction'),
        blocked: false, reason: Reasons.Forbidden, message: 'eviction of ns/web-1 forbidden: pods "web-1" is forbidden: cannot create pods/eviction',
      },
      {
        name: '403 as an ApiException', err: apiException(403, { message: 'no rights' }),
        blocked: false, reason: Reasons.Forbidden, message: 'eviction of ns/web-1 forbidden: no rights',
      },
      {
        name: '500', err: new StatusError(500, 'etcdserver: request timed out'),
        blocked: false, reason: Reasons.EvictionBlocked, message: 'eviction of ns/web-1 failed: etcdserver: request timed out; retrying with backoff',
      },
      {
        name: '422', err: new StatusError(422, 'invalid'),
        blocked: false, reason: Reasons.EvictionBlocked, message: 'eviction of ns/web-1 failed: invalid; retrying with backoff',
      },
      {
        name: 'a network error without a status', err: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
        blocked: false, reason: Reasons.EvictionBlocked, message: 'eviction of ns/web-1 failed: read ECONNRESET; retrying with backoff',
      },
      {
        name: 'a thrown non-Error', err: 'boom',
        blocked: false, reason: Reasons.EvictionBlocked, message: 'eviction of ns/web-1 failed: boom; retrying with backoff',
      },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.reason}${c.blocked ? ' (blocked)' : ''}`, () => {
        expect(evictionRefusal(c.err, 'ns/web-1')).to.deep.equal({ blocked: c.blocked, problem: { reason: c.reason, message: c.message } });
      });
    }
  });

  describe('evictionRetryDelay', () => {
    const backoff: Backoff = { initialMs: 5_000, maxMs: 300_000 };
    const plain = new StatusError(429, 'pdb');
    const retryAfter = (seconds: number): Error => apiException(429, { details: { retryAfterSeconds: seconds } });
    const cases: { name: string; attempts: number; err: unknown; backoff?: Backoff; ms: number }[] = [
      { name: 'first retry waits the initial delay', attempts: 1, err: plain, ms: 5_000 },
      { name: 'second doubles', attempts: 2, err: plain, ms: 10_000 },
      { name: 'third doubles again', attempts: 3, err: plain, ms: 20_000 },
      { name: 'sixth is still under the cap', attempts: 6, err: plain, ms: 160_000 },
      { name: 'seventh would be 320 s: capped', attempts: 7, err: plain, ms: 300_000 },
      { name: 'far beyond stays at the cap', attempts: 40, err: plain, ms: 300_000 },
      { name: 'an overflowing exponent stays at the cap', attempts: 5_000, err: plain, ms: 300_000 },
      { name: 'the server asks for longer than the backoff', attempts: 1, err: retryAfter(30), ms: 30_000 },
      { name: 'the backoff is longer than the server asks', attempts: 4, err: retryAfter(30), ms: 40_000 },
      { name: 'the server asks for longer than the cap: the server wins', attempts: 40, err: retryAfter(600), ms: 600_000 },
      { name: 'a Retry-After header counts too', attempts: 1, err: apiException(429, {}, { 'retry-after': '7' }), ms: 7_000 },
      { name: 'retryAfterSeconds 0 is no request', attempts: 2, err: retryAfter(0), ms: 10_000 },
      { name: 'a custom backoff', attempts: 3, err: plain, backoff: { initialMs: 100, maxMs: 1_000 }, ms: 400 },
      { name: 'a custom cap', attempts: 5, err: plain, backoff: { initialMs: 100, maxMs: 1_000 }, ms: 1_000 },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.ms} ms`, () => {
        expect(evictionRetryDelay(c.backoff ?? backoff, c.attempts, c.err)).to.equal(c.ms);
      });
    }

    it('never shrinks as attempts grow', () => {
      let last = 0;
      for (let attempts = 1; attempts <= 20; attempts++) {
        const delay = evictionRetryDelay(backoff, attempts, plain);
        expect(delay).to.be.at.least(last).and.at.most(backoff.maxMs);
        last = delay;
      }
      expect(last).to.equal(backoff.maxMs);
    });
  });

  describe('which pods may be evicted', () => {
    function pod(name: string, opts: { controller?: string; annotations?: Record<string, string>; terminating?: boolean } = {}): Pod {
      const metadata: Pod['metadata'] = { name, namespace: 'ns', uid: `${name}-uid` };
      if (opts.controller) metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: opts.controller, name: 'owner', uid: 'o', controller: true }];
      if (opts.annotations) metadata.annotations = opts.annotations;
      if (opts.terminating) metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
      return { metadata, spec: { containers: [{ name: 'app' }] } };
    }
    const mirror = { [MIRROR_POD_ANNOTATION]: 'abc' };

    describe('evictionBlocker', () => {
      const cases: { name: string; pod: Pod; kind: string; barePods: boolean; blocker?: string }[] = [
        { name: 'a bare pod without barePods', pod: pod('a'), kind: 'Pod', barePods: false, blocker: 'bare pods are evicted only with evict.barePods: true' },
        { name: 'a bare pod with barePods', pod: pod('a'), kind: 'Pod', barePods: true },
        { name: 'a mirror pod (annotation)', pod: pod('a', { annotations: mirror }), kind: 'Pod', barePods: true, blocker: 'static (mirror) pods cannot be evicted' },
        { name: 'a mirror pod whose annotation is empty', pod: pod('a', { annotations: { [MIRROR_POD_ANNOTATION]: '' } }), kind: 'Pod', barePods: true, blocker: 'static (mirror) pods cannot be evicted' },
        { name: 'a mirror pod without barePods (mirror said first)', pod: pod('a', { annotations: mirror }), kind: 'Pod', barePods: false, blocker: 'static (mirror) pods cannot be evicted' },
        { name: 'a pod controlled by its Node', pod: pod('a', { controller: 'Node' }), kind: 'Node', barePods: true, blocker: 'static (mirror) pods cannot be evicted' },
        { name: 'a DaemonSet pod', pod: pod('a', { controller: 'DaemonSet' }), kind: 'DaemonSet', barePods: false, blocker: 'DaemonSet pods are never evicted' },
        { name: 'a DaemonSet pod even with barePods', pod: pod('a', { controller: 'DaemonSet' }), kind: 'DaemonSet', barePods: true, blocker: 'DaemonSet pods are never evicted' },
        { name: 'a pod of a DaemonSet workload whatever its controller', pod: pod('a', { controller: 'ControllerRevision' }), kind: 'DaemonSet', barePods: true, blocker: 'DaemonSet pods are never evicted' },
        { name: 'a DaemonSet-controlled pod reported under another kind', pod: pod('a', { controller: 'DaemonSet' }), kind: 'Pod', barePods: true, blocker: 'DaemonSet pods are never evicted' },
        { name: 'a ReplicaSet pod', pod: pod('a', { controller: 'ReplicaSet' }), kind: 'Deployment', barePods: false },
        { name: 'a StatefulSet pod', pod: pod('a', { controller: 'StatefulSet' }), kind: 'StatefulSet', barePods: false },
        { name: 'a terminating StatefulSet pod', pod: pod('a', { controller: 'StatefulSet', terminating: true }), kind: 'StatefulSet', barePods: false, blocker: 'already terminating' },
        { name: 'a terminating bare pod with barePods', pod: pod('a', { terminating: true }), kind: 'Pod', barePods: true, blocker: 'already terminating' },
      ];
      for (const c of cases) {
        it(`${c.name}: ${c.blocker ?? 'may be evicted'}`, () => {
          expect(evictionBlocker(c.pod, c.kind, c.barePods)).to.equal(c.blocker);
        });
      }
    });

    describe('evictionCandidates', () => {
      const p = (name: string, findings: string[], driftFindings: string[] = []): PodFindings => ({ pod: pod(name, { controller: 'StatefulSet' }), findings, driftFindings });
      const compliantTemplate = new Set<string>();
      const cases: { name: string; pods: PodFindings[]; template?: Set<string>; out: [string, string, string[]][] }[] = [
        { name: 'a drifted pod, template unknown', pods: [p('a', [], ['app:exec'])], out: [['a', 'drift', ['app:exec']]] },
        { name: 'a drifted pod whose template still violates: drift wins', pods: [p('a', ['app:privileged'], ['app:exec'])], template: new Set(['app:privileged']), out: [['a', 'drift', ['app:exec']]] },
        { name: 'a stale pod, template compliant', pods: [p('a', ['app:privileged', 'app:readOnlyRootFilesystem'])], template: compliantTemplate, out: [['a', 'stale', ['app:privileged', 'app:readOnlyRootFilesystem']]] },
        { name: 'a stale pod, only the fixed findings in the detail', pods: [p('a', ['app:privileged', 'app:runAsNonRoot'])], template: new Set(['app:runAsNonRoot']), out: [['a', 'stale', ['app:privileged']]] },
        { name: 'a violating pod whose template has the same violations: never', pods: [p('a', ['app:privileged'])], template: new Set(['app:privileged']), out: [] },
        { name: 'a violating pod when the template is not the one pods come back from: never', pods: [p('a', ['app:privileged'])], out: [] },
        { name: 'a compliant pod: never', pods: [p('a', [])], template: compliantTemplate, out: [] },
        {
          name: 'a mix, sorted by pod name',
          pods: [p('c', ['app:privileged']), p('b', [], ['app:attach']), p('a', ['app:runAsNonRoot'])],
          template: new Set(['app:runAsNonRoot']),
          out: [['b', 'drift', ['app:attach']], ['c', 'stale', ['app:privileged']]],
        },
      ];
      for (const c of cases) {
        it(c.name, () => {
          expect(evictionCandidates(c.pods, c.template).map((x) => [x.pod.metadata.name, x.cause, x.detail])).to.deep.equal(c.out);
        });
      }
    });

    describe('through the evictor', () => {
      const ref = (kind: string): WorkloadRef => ({ apiVersion: kind === 'Pod' ? 'v1' : 'apps/v1', kind, namespace: 'ns', name: 'w', resolved: true });

      function setup(evict: { barePods?: boolean }, enforce: boolean): { api: FakeApi; clock: FakeClock; evictor: Evictor; ctx: () => RemediationContext } {
        const api = new FakeApi();
        const clock = new FakeClock(NOW.getTime());
        const spec: ImmutabilityPolicySpec = { mode: enforce ? 'Enforce' : 'Audit', remediation: { evict } };
        const policy = resolvePolicy('p', spec);
        const active: ActivePolicy = {
          object: { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'p', generation: 1, uid: 'policy-uid' }, spec },
          resolved: policy, problems: [], deleting: false,
        };
        const state = new PolicyState(1, new Map(), 0, clock);
        const reporter = new ActionReporter(new FakeEvents(), createMetrics(new Registry(), { defaultMetrics: false }));
        const evictor = new Evictor({ api, reporter, logger: noopLogger, clock, backoff: { initialMs: 5_000, maxMs: 20_000 } });
        return { api, clock, evictor, ctx: () => ({ active, policy, state, enforce, now: new Date(clock.now()) }) };
      }

      const drifted = (p: Pod): PodFindings => ({ pod: p, findings: [], driftFindings: ['app:exec'] });

      const cases: { name: string; kind: string; pod: Pod; barePods?: boolean; message: string }[] = [
        { name: 'a bare drifted pod without barePods', kind: 'Pod', pod: pod('a'), message: 'not evicted: a (bare pods are evicted only with evict.barePods: true)' },
        { name: 'a bare drifted pod with barePods', kind: 'Pod', pod: pod('a'), barePods: true, message: 'would evict ns/a' },
        { name: 'a mirror pod with barePods', kind: 'Pod', pod: pod('a', { annotations: mirror }), barePods: true, message: 'not evicted: a (static (mirror) pods cannot be evicted)' },
        { name: 'a DaemonSet pod with barePods', kind: 'DaemonSet', pod: pod('a', { controller: 'DaemonSet' }), barePods: true, message: 'not evicted: a (DaemonSet pods are never evicted)' },
        { name: 'a ReplicaSet pod', kind: 'ReplicaSet', pod: pod('a', { controller: 'ReplicaSet' }), message: 'would evict ns/a' },
      ];
      for (const c of cases) {
        it(`Audit, ${c.name}: "${c.message}"`, async () => {
          const h = setup(c.barePods === undefined ? {} : { barePods: c.barePods }, false);
          const draft = new WorkloadDraft();
          await h.evictor.evictDrifted(h.ctx(), 'k', ref(c.kind), [drifted(c.pod)], draft);
          expect(draft.messages).to.deep.equal([c.message]);
          expect(h.api.callsOf('evict')).to.deep.equal([]);
        });
      }

      it('Enforce backs a refused pod off per attempt, doubling to the cap, and never asks again before it is due', async () => {
        const h = setup({}, true);
        h.api.evictions = [429, 429, 429, 429, 'ok'];
        const candidate = drifted(pod('a', { controller: 'ReplicaSet' }));
        const waits: number[] = [];
        for (let pass = 0; pass < 5; pass++) {
          const draft = new WorkloadDraft();
          await h.evictor.evictDrifted(h.ctx(), 'k', ref('ReplicaSet'), [candidate], draft);
          if (draft.requeueAfterMs === undefined) break;
          waits.push(draft.requeueAfterMs);
          // Just before it is due: no second request, and the same refusal is still reported.
          await h.clock.advance(draft.requeueAfterMs - 1);
          const early = new WorkloadDraft();
          await h.evictor.evictDrifted(h.ctx(), 'k', ref('ReplicaSet'), [candidate], early);
          expect(early.requeueAfterMs).to.equal(1);
          expect(early.problems.map((x) => x.reason)).to.deep.equal([Reasons.EvictionBlocked]);
          await h.clock.advance(1);
        }
        expect(waits).to.deep.equal([5_000, 10_000, 20_000, 20_000]);
        expect(h.api.callsOf('evict')).to.have.length(5);
      });
    });
  });

  describe('apiProblem', () => {
    const cases: { name: string; err: unknown; what: 'patch' | 'rollback'; problem: Problem }[] = [
      { name: '403', err: new StatusError(403, 'replicasets.apps "web" is forbidden'), what: 'patch', problem: { reason: Reasons.Forbidden, message: 'patch forbidden: replicasets.apps "web" is forbidden' } },
      { name: '403 on a rollback', err: new StatusError(403, 'no'), what: 'rollback', problem: { reason: Reasons.Forbidden, message: 'rollback forbidden: no' } },
      { name: '403 as an ApiException', err: apiException(403, { message: 'RBAC: denied' }), what: 'patch', problem: { reason: Reasons.Forbidden, message: 'patch forbidden: RBAC: denied' } },
      { name: '409 (a conflict with another manager)', err: new StatusError(409, 'Apply failed with 1 conflict'), what: 'patch', problem: { reason: Reasons.PatchFailed, message: 'patch failed: Apply failed with 1 conflict' } },
      { name: '422 (invalid, e.g. an admission rule)', err: apiException(422, { message: 'spec.template: Invalid value' }), what: 'patch', problem: { reason: Reasons.PatchFailed, message: 'patch failed: spec.template: Invalid value' } },
      { name: '422 on a rollback', err: new StatusError(422, 'invalid'), what: 'rollback', problem: { reason: Reasons.PatchFailed, message: 'rollback failed: invalid' } },
      { name: '500', err: new StatusError(500, 'internal error'), what: 'patch', problem: { reason: Reasons.PatchFailed, message: 'patch failed: internal error' } },
      { name: '429', err: new StatusError(429, 'slow down'), what: 'patch', problem: { reason: Reasons.PatchFailed, message: 'patch failed: slow down' } },
      { name: 'a network error', err: new Error('socket hang up'), what: 'patch', problem: { reason: Reasons.PatchFailed, message: 'patch failed: socket hang up' } },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.problem.reason}`, () => {
        // deep.equal also pins that no Event reason is attached: the caller already emitted PatchFailed.
        expect(apiProblem(c.err, c.what)).to.deep.equal(c.problem);
      });
    }

    it('caps a failure message at the status limit', () => {
      const long = 'x'.repeat(5_000);
      const { message } = apiProblem(new StatusError(500, long), 'patch');
      expect(message).to.have.length(MAX_MESSAGE_CHARS);
      expect(message.startsWith('patch failed: xxx')).to.equal(true);
      expect(message.endsWith(' …[truncated]')).to.equal(true);
    });

    it('a long Forbidden message still ends up within the status limit once folded into the workload', () => {
      const draft = new WorkloadDraft();
      draft.addProblem(apiProblem(new StatusError(403, 'y'.repeat(5_000)), 'patch'));
      const result = draft.result(true, 'Labeled');
      expect(result.problem?.reason).to.equal(Reasons.Forbidden);
      expect(result.outcome?.message).to.have.length(MAX_MESSAGE_CHARS);
    });
  });
});
