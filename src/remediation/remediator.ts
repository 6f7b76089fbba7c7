// Remediation for one policy: patch the owner workloads' pod templates (server-side apply), watch the
// rollout and roll a failed one back, evict drifted pods and stale replicas — or, in Audit mode, work out
// exactly that and report it as planned. Every step is safe to repeat: applies restate the same content
// (a no-op for the API server), the workload's annotations record what was done, evictions carry the pod's
// UID as a precondition.
import type { Pod } from '../api/kube.js';
import { API_VERSION, FIELD_MANAGER, KIND, Reasons, type WorkloadAction } from '../api/types.js';
import type { RemediationReport, Remediator, WorkloadFindings } from '../controllers/policy-reconciler.js';
import type { ActivePolicy } from '../controllers/policy-set.js';
import type { NamespacedRef } from '../k8s/api.js';
import { isAbortError, isForbidden, isNotFound, isConflict, isTooManyRequests, messageOf, retryAfterSecondsOf } from '../k8s/errors.js';
import { controllerOf, type WorkloadRef } from '../k8s/owners.js';
import type { EventRecorder, EventType, ObjectReference } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import {
  applyJsonPatch, evaluateWorkload, findingKey, planRemediation, workloadFromObject,
  type RemediationPlan, type ResolvedPolicy, type Workload,
} from '../policy/index.js';
import { isRecord } from '../policy/guards.js';
import { workloadOutcomeKey, type WorkloadOutcome } from '../policy/status.js';
import type { Clock } from '../runtime/clock.js';
import { evictionBlocker, evictionCandidates, recreatesFromOwnerTemplate, type EvictionCandidate } from './eviction.js';
import {
  applyBody, FragmentError, fragmentFromPlan, mergeFragments, subtractFragment, type ApplyTarget, type TemplateFragment,
} from './fragment.js';
import { gitOpsManagersOf, GITOPS_MANAGERS, lastSpecWriter, ownedFragment } from './managed-fields.js';
import { degradedState, worstProblem, type Problem } from './outcome.js';
import { PolicyState, type RolloutWatch, type WorkloadResult } from './policy-state.js';
import {
  DEFAULT_ROLLOUT_DEADLINE_MS, podCarriesFragment, replacesPodsOnTemplateChange, rolloutVerdict, selectorQuery,
} from './rollout.js';
import { listSome, MAX_MESSAGE_CHARS, MAX_PATCH_CHARS, truncateText } from './status-text.js';
import {
  ANNOTATION_PATCHED, ANNOTATION_ROLLBACK_REASON, ANNOTATION_ROLLED_BACK, annotationsOf, formatPatchRecord,
  fragmentHash, ownAnnotations, parsePatchRecord, templateHash, type PatchRecord,
} from './workload-record.js';

/** The API calls remediation makes; `KubeApi` implements it, unit tests fake it. */
export interface RemediationApi {
  getWorkload(ref: NamespacedRef, signal?: AbortSignal): Promise<Record<string, unknown>>;
  applyWorkload(ref: NamespacedRef, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>>;
  listPods(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<Record<string, unknown>[]>;
  evictPod(namespace: string, name: string, uid: string | undefined, signal?: AbortSignal): Promise<void>;
}

export interface WorkloadRemediatorOptions {
  api: RemediationApi;
  events: Pick<EventRecorder, 'record'>;
  metrics: Pick<Metrics, 'actions'>;
  logger: Logger;
  clock: Clock;
  /** Field managers whose ownership of a workload's spec blocks live patches; default GITOPS_MANAGERS. */
  gitOpsManagers?: readonly string[];
  /** Applies of the same change before we stop fighting whoever reverts it. Default 3. */
  maxPatchAttempts?: number;
  /** Rollout deadline for kinds without progressDeadlineSeconds. Default 600 s. */
  rolloutDeadlineMs?: number;
  /** How often a rollout being watched is looked at. Default 2 s. */
  rolloutPollMs?: number;
  /** Backoff of refused evictions (PDB, 403, ...). Default 5 s doubling to 5 min. */
  evictionBackoff?: { initialMs: number; maxMs: number };
  /** Settled workloads with unchanged pods are re-read at most this often. Default 30 s. */
  revisitMs?: number;
  /** Retry delay after a failed API call. Default 10 s. */
  retryMs?: number;
}

const PATCHABLE_KINDS: readonly string[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'CronJob'];

interface Context {
  active: ActivePolicy;
  policy: ResolvedPolicy;
  state: PolicyState;
  enforce: boolean;
  now: Date;
  signal?: AbortSignal;
}

/** Pieces of one workload's outcome, folded into a single status entry at the end. */
interface Draft {
  action?: WorkloadAction;
  messages: string[];
  patch?: string;
  problems: Problem[];
  requeueAfterMs?: number;
  settled: boolean;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** The same text when the rollback happens and on every later look, so status does not flap. */
function rolledBackMessage(reason: string): string {
  return `rolled back: ${reason}; the patch is not re-applied to this template`;
}

function podName(pod: Pod): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`;
}

export class WorkloadRemediator implements Remediator {
  private readonly states = new Map<string, PolicyState>();
  private readonly gitOpsManagers: readonly string[];
  private readonly maxPatchAttempts: number;
  private readonly rolloutDeadlineMs: number;
  private readonly rolloutPollMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly revisitMs: number;
  private readonly retryMs: number;

  constructor(private readonly opts: WorkloadRemediatorOptions) {
    this.gitOpsManagers = opts.gitOpsManagers ?? GITOPS_MANAGERS;
    this.maxPatchAttempts = opts.maxPatchAttempts ?? 3;
    this.rolloutDeadlineMs = opts.rolloutDeadlineMs ?? DEFAULT_ROLLOUT_DEADLINE_MS;
    this.rolloutPollMs = opts.rolloutPollMs ?? 2_000;
    this.backoff = opts.evictionBackoff ?? { initialMs: 5_000, maxMs: 300_000 };
    this.revisitMs = opts.revisitMs ?? 30_000;
    this.retryMs = opts.retryMs ?? 10_000;
  }

  forget(policyName: string): void {
    this.states.delete(policyName);
  }

  async remediate(active: ActivePolicy, workloads: WorkloadFindings[], signal?: AbortSignal): Promise<RemediationReport> {
    const policy = active.resolved;
    const state = this.stateFor(active);
    const ctx: Context = {
      active, policy, state, signal,
      enforce: policy.mode === 'Enforce',
      now: new Date(this.opts.clock.now()),
    };
    const { patchOwner, evict } = policy.remediation;
    // Only Enforce with patchOwner.rollback acts on rollouts; anything else stops watching them.
    if (!ctx.enforce || !patchOwner || patchOwner.rollback === false) state.rollouts.clear();

    const outcomes = new Map<string, WorkloadOutcome>();
    const problems = new Map<string, Problem>();
    let requeueAfterMs: number | undefined;
    const current = new Set<string>();
    const remediates = !ctx.enforce || patchOwner !== undefined || evict !== undefined;
    const sorted = [...workloads].sort((a, b) => workloadOutcomeKey(a.ref).localeCompare(workloadOutcomeKey(b.ref)));
    for (const w of remediates ? sorted : []) {
      const key = workloadOutcomeKey(w.ref);
      current.add(key);
      const result = await this.guarded(ctx, key, () => this.remediateWorkload(ctx, key, w));
      if (result.outcome) outcomes.set(key, result.outcome);
      if (result.problem) problems.set(key, result.problem);
      requeueAfterMs = minDefined(requeueAfterMs, result.requeueAfterMs);
    }
    // Rollouts of workloads that no longer violate (a StatefulSet replaces the old pod first) still need watching.
    for (const [key, watch] of [...state.rollouts]) {
      if (current.has(key)) continue;
      const result = await this.guarded(ctx, key, () => this.watchDetached(ctx, key, watch));
      if (result.problem) problems.set(key, result.problem);
      requeueAfterMs = minDefined(requeueAfterMs, result.requeueAfterMs);
    }
    state.prune(current);

    const report: RemediationReport = { outcomes, actions: { ...state.counts } };
    const degraded = ctx.enforce ? degradedState(problems) : undefined;
    if (degraded) report.degraded = degraded;
    if (requeueAfterMs !== undefined) report.requeueAfterMs = Math.max(100, requeueAfterMs);
    return report;
  }

  private stateFor(active: ActivePolicy): PolicyState {
    const name = active.object.metadata.name;
    const generation = active.object.metadata.generation ?? 0;
    let state = this.states.get(name);
    if (!state) {
      // Counts are "for the observed generation": pick up where a previous leader left them.
      const status = active.object.status;
      const seed = status?.observedGeneration === generation ? status.actions : undefined;
      state = new PolicyState(generation, seed, this.opts.clock);
      this.states.set(name, state);
    } else if (state.generation !== generation) {
      state.startGeneration(generation);
    }
    return state;
  }

  /** One workload's failure must not stop the others: report it and come back later. */
  private async guarded(ctx: Context, key: string, run: () => Promise<WorkloadResult>): Promise<WorkloadResult> {
    try {
      return await run();
    } catch (err) {
      if (isAbortError(err) || ctx.signal?.aborted) throw err;
      this.opts.logger.warn('remediation failed', { policy: ctx.policy.name, workload: key, err });
      const reason = isForbidden(err) ? Reasons.Forbidden : Reasons.PatchFailed;
      const message = truncateText(`remediation failed: ${messageOf(err)}`, MAX_MESSAGE_CHARS);
      return {
        outcome: { action: ctx.enforce ? 'Blocked' : 'Planned', message },
        problem: { reason, message },
        requeueAfterMs: this.retryMs,
        settled: false,
      };
    }
  }

  private async remediateWorkload(ctx: Context, key: string, w: WorkloadFindings): Promise<WorkloadResult> {
    const fingerprint = JSON.stringify(w.pods.map((p) => [p.pod.metadata.uid, p.findings.map(findingKey).sort(), p.driftFindings]));
    const memo = ctx.state.results.get(key);
    const nowMs = ctx.now.getTime();
    if (memo && memo.result.settled && memo.fingerprint === fingerprint && nowMs - memo.at < this.revisitMs && !ctx.state.rollouts.has(key)) {
      return memo.result;
    }
    const result = await this.computeWorkload(ctx, key, w);
    this.announceTransition(ctx, key, w.ref, memo?.result, result);
    ctx.state.results.set(key, { fingerprint, at: nowMs, result });
    return result;
  }

  private async computeWorkload(ctx: Context, key: string, w: WorkloadFindings): Promise<WorkloadResult> {
    const draft: Draft = { messages: [], problems: [], settled: true };
    const pods = w.pods.map((p) => ({ pod: p.pod, findings: p.findings.map(findingKey), driftFindings: p.driftFindings }));
    const ref = w.ref;

    if (ref.kind === 'Pod' && ref.apiVersion === 'v1') {
      draft.messages.push(`bare pod: no owner to patch; ${this.labelsPods(ctx) ? 'labelled only' : 'reported only'}`);
      await this.evictCandidates(ctx, key, ref, evictionCandidates(pods, undefined), draft);
      return this.finish(ctx, draft, 'Skipped');
    }
    if (!ref.resolved) {
      draft.messages.push(`owner ${ref.kind} ${ref.name} not resolved yet; waiting for the cache`);
      return this.finish(ctx, { ...draft, settled: false }, 'Skipped');
    }
    if (!PATCHABLE_KINDS.includes(ref.kind) && ref.kind !== 'Job') {
      draft.messages.push(`owner kind ${ref.kind} (${ref.apiVersion}) is not supported: not patched`);
      await this.evictCandidates(ctx, key, ref, evictionCandidates(pods, undefined), draft);
      return this.finish(ctx, draft, 'Skipped');
    }

    let live: Record<string, unknown>;
    try {
      live = await this.opts.api.getWorkload(ref, ctx.signal);
    } catch (err) {
      if (isNotFound(err)) return { settled: false }; // gone: its pods follow; nothing to report
      throw err;
    }
    const parsed = workloadFromObject(live);
    if ('error' in parsed) {
      draft.messages.push(`not patched: ${parsed.error}`);
      await this.evictCandidates(ctx, key, ref, evictionCandidates(pods, undefined), draft);
      return this.finish(ctx, draft, 'Skipped');
    }
    const owner = controllerOf((live['metadata'] ?? { name: ref.name }) as Pod['metadata']);
    if ((ref.kind === 'ReplicaSet' || ref.kind === 'Job') && owner) {
      draft.messages.push(`${ref.kind} is controlled by ${owner.kind} ${owner.name}, which would revert a patch: not patched`);
      return this.finish(ctx, draft, 'Skipped');
    }
    const target: ApplyTarget = {
      apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace, name: ref.name, podSpecPath: parsed.podSpecPath,
    };

    // 1. A rollout of our patch under watch: judge it first; a failure reverts, and nothing else happens now.
    const watch = ctx.state.rollouts.get(key) ?? this.resumeWatch(ctx, key, ref, target, live, parsed, pods);
    if (watch) {
      const judged = await this.judgeRollout(ctx, key, watch, live, draft);
      if (judged.revertedTo) return this.finish(ctx, draft, 'Blocked');
      live = judged.live;
    }

    // 2. The template: plan, then patch (Enforce) or report the plan (Audit).
    const workload = workloadFromObject(live) as Workload;
    const evaluation = evaluateWorkload(ctx.policy, workload, ctx.now);
    if (evaluation.outcome === 'error') {
      draft.messages.push(`template could not be evaluated: ${evaluation.error}`);
      return this.finish(ctx, draft, 'Skipped');
    }
    const plan = planRemediation(ctx.policy, workload, evaluation.findings);
    let templateAfter: Workload = workload;
    if (plan.patch.length > 0) {
      const patched = await this.patchTemplate(ctx, key, ref, target, live, workload, plan, draft);
      if (patched) {
        live = patched.live;
        templateAfter = patched.workload;
      }
    } else {
      this.describeCompliantTemplate(ctx, key, live, workload, plan, pods.length, draft);
    }

    // 3. Evictions: drifted pods, and pods the (possibly just patched) template would no longer produce.
    const afterEval = evaluateWorkload(ctx.policy, templateAfter, ctx.now);
    const stale = recreatesFromOwnerTemplate(ref.kind, replacesPodsOnTemplateChange(ref.kind, live)) && afterEval.outcome === 'evaluated';
    const candidates = evictionCandidates(pods, stale ? new Set(afterEval.findings.map(findingKey)) : undefined);
    await this.evictCandidates(ctx, key, ref, candidates, draft, live);

    const defaultAction: WorkloadAction = this.labelsPods(ctx) ? 'Labeled' : 'Skipped';
    return this.finish(ctx, draft, defaultAction);
  }

  private labelsPods(ctx: Context): boolean {
    return ctx.enforce && ctx.policy.remediation.label !== undefined;
  }

  /** Folds a draft into the workload's status entry. In Audit every entry is Planned. */
  private finish(ctx: Context, draft: Draft, fallback: WorkloadAction): WorkloadResult {
    const blocked = draft.problems.length > 0;
    const action: WorkloadAction = !ctx.enforce ? 'Planned' : blocked ? 'Blocked' : draft.action ?? fallback;
    const outcome: WorkloadOutcome = { action };
    const message = draft.messages.filter(Boolean).join('; ');
    if (message) outcome.message = truncateText(message, MAX_MESSAGE_CHARS);
    if (draft.patch) outcome.patch = truncateText(draft.patch, MAX_PATCH_CHARS);
    const result: WorkloadResult = { outcome, settled: draft.settled && draft.requeueAfterMs === undefined };
    const problem = ctx.enforce ? worstProblem(draft.problems) : undefined;
    if (problem) result.problem = problem;
    if (draft.requeueAfterMs !== undefined) result.requeueAfterMs = draft.requeueAfterMs;
    return result;
  }

  // ---- patchOwner ----------------------------------------------------------------------------------------

  private async patchTemplate(
    ctx: Context, key: string, ref: WorkloadRef, target: ApplyTarget, live: Record<string, unknown>,
    workload: Workload, plan: RemediationPlan, draft: Draft,
  ): Promise<{ live: Record<string, unknown>; workload: Workload } | undefined> {
    const patchOwner = ctx.policy.remediation.patchOwner;
    draft.patch = JSON.stringify(plan.patch);
    const annotations = annotationsOf(live);
    const liveHash = templateHash(workload.podSpec);
    const record = parsePatchRecord(annotations[ANNOTATION_PATCHED]);

    // Why Enforce would not patch, if it would not.
    let blocked: Problem | undefined;
    let derived: { fragment: TemplateFragment; previous: TemplateFragment } | undefined;
    if (ref.kind === 'Job') {
      draft.messages.push(`${plan.message}; not patched: a Job's pod template is immutable — fix its manifest`);
      return undefined;
    }
    if (annotations[ANNOTATION_ROLLED_BACK] === liveHash) {
      const why = annotations[ANNOTATION_ROLLBACK_REASON] ?? 'its rollout failed';
      blocked = { reason: Reasons.RolloutFailed, message: rolledBackMessage(why), event: 'PatchBlocked' };
    }
    const gitOps = blocked ? [] : gitOpsManagersOf(live, this.gitOpsManagers);
    if (gitOps.length > 0) {
      blocked = {
        reason: Reasons.GitOpsManaged, event: 'GitOpsManaged',
        message: `GitOpsManaged: the spec is managed by ${gitOps.join(', ')}; fix the source (the patch shows how)`,
      };
    }
    if (!blocked) {
      try {
        derived = fragmentFromPlan(workload.podSpec, workload.podSpecPath, plan.patch);
      } catch (err) {
        if (!(err instanceof FragmentError)) throw err;
        blocked = { reason: Reasons.PatchFailed, message: err.message, event: 'PatchFailed' };
      }
    }
    const hash = derived ? fragmentHash(derived.fragment) : undefined;
    const attempts = record && record.patch === hash ? record.attempts : 0;
    if (!blocked && attempts >= this.maxPatchAttempts) {
      const by = lastSpecWriter(live, FIELD_MANAGER);
      blocked = {
        reason: Reasons.PatchFailed, event: 'PatchBlocked',
        message: `our patch was reverted ${attempts} times${by ? ` (last change by ${by})` : ''}; not fighting over it`,
      };
    }

    if (!ctx.enforce) {
      const would = patchOwner ? 'would patch' : 'would patch (with remediation.patchOwner)';
      draft.messages.push(blocked ? `${plan.message}; Enforce would not patch: ${blocked.message}` : `${would}: ${plan.message}`);
      if (blocked || !patchOwner) return undefined;
      // Evictions in Audit are judged against the template as Enforce would leave it.
      const patchedObject = applyJsonPatch(live, plan.patch);
      return { live: patchedObject, workload: workloadFromObject(patchedObject) as Workload };
    }
    if (!patchOwner) {
      draft.messages.push(`${plan.message} (not patched: remediation.patchOwner is not enabled)`);
      return undefined;
    }
    if (blocked || !derived || !hash) {
      draft.messages.push(blocked?.message ?? 'not patched');
      if (blocked) draft.problems.push(blocked);
      return undefined;
    }

    const nextRecord: PatchRecord = {
      template: liveHash, patch: hash, attempts: attempts + 1, fragment: derived.fragment, previous: derived.previous,
    };
    // Restate everything we already own (other policies' and earlier fixes) so this apply removes nothing.
    const fragment = mergeFragments(ownedFragment(live, target.podSpecPath, FIELD_MANAGER), derived.fragment);
    const body = applyBody(target, fragment, { ...ownAnnotations(live), [ANNOTATION_PATCHED]: formatPatchRecord(nextRecord) });
    let applied: Record<string, unknown>;
    try {
      applied = await this.opts.api.applyWorkload(ref, body, ctx.signal);
    } catch (err) {
      if (isAbortError(err) || isNotFound(err)) throw err;
      const problem = this.apiProblem(err, 'patch');
      this.count(ctx, 'patch', 'failure');
      this.emit(ctx, ref, live, 'Warning', 'PatchFailed', 'Patch', problem.message);
      draft.messages.push(problem.message);
      draft.problems.push(problem);
      draft.requeueAfterMs = minDefined(draft.requeueAfterMs, this.retryMs);
      return undefined;
    }
    ctx.state.counts.patched++;
    this.count(ctx, 'patch', 'success');
    this.emit(ctx, ref, applied, 'Normal', 'Patched', 'Patch', `patched the pod template: ${plan.message}`);
    this.opts.logger.info('patched workload', { policy: ctx.policy.name, workload: key, attempt: nextRecord.attempts });
    const outcome: WorkloadOutcome = { action: 'Patched', message: plan.message, patch: draft.patch };
    ctx.state.patched.set(key, outcome);
    draft.action = 'Patched';
    draft.messages.push(plan.message);
    draft.settled = false;
    if (patchOwner.rollback !== false && this.watchable(ref.kind)) {
      ctx.state.rollouts.set(key, { ref, target, record: nextRecord, startedAt: ctx.now.getTime(), outcome });
      draft.requeueAfterMs = minDefined(draft.requeueAfterMs, this.rolloutPollMs);
    }
    const workload2 = workloadFromObject(applied);
    return { live: applied, workload: 'error' in workload2 ? workload : workload2 };
  }

  private watchable(kind: string): boolean {
    return kind === 'Deployment' || kind === 'StatefulSet' || kind === 'DaemonSet' || kind === 'ReplicaSet';
  }

  /** The template already complies with the plan: a rollout (ours or someone's) is replacing the pods. */
  private describeCompliantTemplate(
    ctx: Context, key: string, live: Record<string, unknown>, workload: Workload, plan: RemediationPlan, pods: number, draft: Draft,
  ): void {
    const ours = ctx.state.patched.get(key);
    const record = parsePatchRecord(annotationsOf(live)[ANNOTATION_PATCHED]);
    if (plan.unpatchable.length > 0) draft.messages.push(plan.message);
    if (ctx.enforce && ours) {
      draft.action = 'Patched';
      if (ours.patch) draft.patch = ours.patch;
      if (ours.message) draft.messages.unshift(ours.message);
      draft.messages.push(`waiting for ${pods} pod(s) to be replaced`);
      draft.settled = false;
    } else if (ctx.enforce && record && podCarriesFragment(workload.podSpec, record.fragment)) {
      // Patched before (this replica restarted since, or another one did it): report it, do not patch again.
      draft.action = 'Patched';
      draft.messages.push(`pod template already patched by ${FIELD_MANAGER}; waiting for ${pods} pod(s) to be replaced`);
      draft.settled = false;
    } else if (plan.unpatchable.length === 0) {
      draft.messages.push(`pod template complies; waiting for ${pods} pod(s) to be replaced`);
    }
  }

  /** After a restart the watch is gone from memory; the workload's record brings it back. */
  private resumeWatch(
    ctx: Context, key: string, ref: WorkloadRef, target: ApplyTarget, live: Record<string, unknown>, workload: Workload,
    pods: readonly { findings: string[] }[],
  ): RolloutWatch | undefined {
    const patchOwner = ctx.policy.remediation.patchOwner;
    if (!ctx.enforce || !patchOwner || patchOwner.rollback === false || !this.watchable(ref.kind)) return undefined;
    if (!replacesPodsOnTemplateChange(ref.kind, live) || pods.every((p) => p.findings.length === 0)) return undefined;
    const record = parsePatchRecord(annotationsOf(live)[ANNOTATION_PATCHED]);
    if (!record || !podCarriesFragment(workload.podSpec, record.fragment)) return undefined;
    const outcome: WorkloadOutcome = { action: 'Patched', message: `pod template patched by ${FIELD_MANAGER}` };
    const watch: RolloutWatch = { ref, target, record, startedAt: ctx.now.getTime(), outcome };
    ctx.state.rollouts.set(key, watch);
    return watch;
  }

  /** A watched rollout whose workload no longer has violating pods. */
  private async watchDetached(ctx: Context, key: string, watch: RolloutWatch): Promise<WorkloadResult> {
    let live: Record<string, unknown>;
    try {
      live = await this.opts.api.getWorkload(watch.ref, ctx.signal);
    } catch (err) {
      if (isNotFound(err)) {
        ctx.state.rollouts.delete(key);
        return { settled: true };
      }
      throw err;
    }
    const draft: Draft = { messages: [], problems: [], settled: true };
    await this.judgeRollout(ctx, key, watch, live, draft);
    const result = this.finish(ctx, draft, 'Patched');
    delete result.outcome; // not a violating workload: nothing to list in status
    return result;
  }

  private async judgeRollout(
    ctx: Context, key: string, watch: RolloutWatch, live: Record<string, unknown>, draft: Draft,
  ): Promise<{ live: Record<string, unknown>; revertedTo?: Record<string, unknown> }> {
    const workload = workloadFromObject(live);
    if ('error' in workload || !podCarriesFragment(workload.podSpec, watch.record.fragment)) {
      ctx.state.rollouts.delete(key); // our change is gone (edited or reverted by someone): nothing of ours to watch
      return { live };
    }
    const selector = selectorQuery(isRecord(live['spec']) ? live['spec']['selector'] : undefined);
    const pods = selector ? await this.opts.api.listPods(watch.ref.namespace, selector, ctx.signal) : [];
    const newPods = pods.filter((p) => {
      const meta = isRecord(p['metadata']) ? p['metadata'] : {};
      return meta['deletionTimestamp'] === undefined && podCarriesFragment(p['spec'], watch.record.fragment);
    });
    const verdict = rolloutVerdict({
      kind: watch.ref.kind, workload: live, newPods, startedAtMs: watch.startedAt, nowMs: ctx.now.getTime(),
      deadlineMs: this.rolloutDeadlineMs,
    });
    if (verdict.state === 'complete') {
      ctx.state.rollouts.delete(key);
      return { live };
    }
    if (verdict.state === 'progressing') {
      draft.requeueAfterMs = minDefined(draft.requeueAfterMs, this.rolloutPollMs);
      draft.settled = false;
      return { live };
    }
    return this.rollBack(ctx, key, watch, live, verdict.reason, draft);
  }

  /** Reverts exactly our change: our fields go, the values we replaced come back, the template is marked. */
  private async rollBack(
    ctx: Context, key: string, watch: RolloutWatch, live: Record<string, unknown>, reason: string, draft: Draft,
  ): Promise<{ live: Record<string, unknown>; revertedTo?: Record<string, unknown> }> {
    const owned = ownedFragment(live, watch.target.podSpecPath, FIELD_MANAGER);
    const fragment = mergeFragments(subtractFragment(owned, watch.record.fragment), watch.record.previous);
    const annotations = {
      ...ownAnnotations(live),
      [ANNOTATION_ROLLED_BACK]: watch.record.template,
      [ANNOTATION_ROLLBACK_REASON]: truncateText(reason, 256),
    };
    if (watch.outcome.patch) draft.patch = watch.outcome.patch;
    try {
      const reverted = await this.opts.api.applyWorkload(watch.ref, applyBody(watch.target, fragment, annotations), ctx.signal);
      ctx.state.rollouts.delete(key);
      ctx.state.patched.delete(key);
      ctx.state.counts.rolledBack++;
      this.count(ctx, 'rollback', 'success');
      const message = rolledBackMessage(truncateText(reason, 256));
      this.emit(ctx, watch.ref, reverted, 'Warning', 'RolledBack', 'Rollback', message);
      this.opts.logger.warn('rolled back patch', { policy: ctx.policy.name, workload: key, reason });
      draft.messages.push(message);
      draft.problems.push({ reason: Reasons.RolloutFailed, message });
      return { live: reverted, revertedTo: reverted };
    } catch (err) {
      if (isAbortError(err) || isNotFound(err)) throw err;
      this.count(ctx, 'rollback', 'failure');
      const problem = this.apiProblem(err, 'rollback');
      this.emit(ctx, watch.ref, live, 'Warning', 'RollbackFailed', 'Rollback', `${reason}; ${problem.message}`);
      draft.messages.push(`${reason}; ${problem.message}`);
      draft.problems.push({ reason: Reasons.RolloutFailed, message: `${reason}; ${problem.message}` });
      draft.requeueAfterMs = minDefined(draft.requeueAfterMs, this.retryMs);
      return { live, revertedTo: live };
    }
  }

  // ---- evict -----------------------------------------------------------------------------------------------

  private async evictCandidates(
    ctx: Context, key: string, ref: WorkloadRef, candidates: EvictionCandidate[], draft: Draft, live?: Record<string, unknown>,
  ): Promise<void> {
    const evict = ctx.policy.remediation.evict;
    if (!evict || candidates.length === 0) return;
    const barePods = evict.barePods === true;
    const planned: string[] = [];
    const evicted: string[] = [];
    const waiting: string[] = [];
    const refused: string[] = [];
    const never: string[] = [];
    const bucket = ctx.state.evictionBucket(evict.maxPerMinute ?? 5);
    for (const c of candidates) {
      const name = podName(c.pod);
      const blocker = evictionBlocker(c.pod, ref.kind, barePods);
      if (blocker) {
        if (c.cause === 'drift') never.push(`${c.pod.metadata.name} (${blocker})`);
        continue;
      }
      if (!ctx.enforce) {
        planned.push(name);
        continue;
      }
      const uid = c.pod.metadata.uid ?? name;
      if (ctx.state.wasEvicted(uid)) continue;
      const nowMs = this.opts.clock.now();
      const retry = ctx.state.evictionRetries.get(uid);
      if (retry && nowMs < retry.nextAt) {
        refused.push(retry.problem.message);
        draft.problems.push(retry.problem);
        draft.requeueAfterMs = minDefined(draft.requeueAfterMs, retry.nextAt - nowMs);
        continue;
      }
      if (!bucket.tryTake()) {
        waiting.push(name);
        draft.requeueAfterMs = minDefined(draft.requeueAfterMs, bucket.msUntilToken());
        continue;
      }
      try {
        await this.opts.api.evictPod(c.pod.metadata.namespace ?? ref.namespace, c.pod.metadata.name, c.pod.metadata.uid, ctx.signal);
      } catch (err) {
        bucket.refund();
        if (isAbortError(err)) throw err;
        // Gone, or replaced by a pod of the same name (the UID precondition failed): nothing left to evict.
        if (isNotFound(err) || isConflict(err)) continue;
        const attempts = (retry?.attempts ?? 0) + 1;
        const delay = Math.max(
          Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (attempts - 1)),
          (retryAfterSecondsOf(err) ?? 0) * 1000,
        );
        const problem: Problem = isTooManyRequests(err)
          ? { reason: Reasons.EvictionBlocked, message: `eviction of ${name} refused (${messageOf(err)}); retrying with backoff` }
          : isForbidden(err)
            ? { reason: Reasons.Forbidden, message: `eviction of ${name} forbidden: ${messageOf(err)}` }
            : { reason: Reasons.EvictionBlocked, message: `eviction of ${name} failed: ${messageOf(err)}; retrying with backoff` };
        ctx.state.evictionRetries.set(uid, { attempts, nextAt: nowMs + delay, problem });
        this.count(ctx, 'evict', isTooManyRequests(err) ? 'blocked' : 'failure');
        this.emit(ctx, ref, live, 'Warning', isTooManyRequests(err) ? 'EvictionBlocked' : 'EvictionFailed', 'Evict', problem.message);
        refused.push(problem.message);
        draft.problems.push(problem);
        draft.requeueAfterMs = minDefined(draft.requeueAfterMs, delay);
        continue;
      }
      ctx.state.evictionRetries.delete(uid);
      ctx.state.markEvicted(uid);
      ctx.state.counts.evicted++;
      this.count(ctx, 'evict', 'success');
      const why = c.cause === 'drift' ? `drifted (${c.detail.join(', ')})` : `stale replica (template fixes ${c.detail.join(', ')})`;
      this.emit(ctx, ref, live, 'Normal', 'Evicted', 'Evict', `evicted pod ${name}: ${why}`);
      this.opts.logger.info('evicted pod', { policy: ctx.policy.name, workload: key, pod: name, cause: c.cause });
      evicted.push(name);
    }
    if (planned.length > 0) draft.messages.push(`would evict ${listSome(planned)}`);
    if (evicted.length > 0) {
      draft.messages.push(`evicted ${listSome(evicted)}`);
      draft.action = 'Evicted';
      draft.settled = false;
    }
    if (waiting.length > 0) {
      const message = `${waiting.length} pod(s) waiting for the eviction budget (${bucket.rate}/min)`;
      draft.messages.push(message);
      draft.problems.push({ reason: Reasons.RateLimited, message });
    }
    if (refused.length > 0) {
      draft.messages.push(...new Set(refused));
      draft.settled = false;
    }
    if (never.length > 0) draft.messages.push(`not evicted: ${listSome(never)}`);
  }

  // ---- reporting -------------------------------------------------------------------------------------------

  private apiProblem(err: unknown, what: 'patch' | 'rollback'): Problem {
    if (isForbidden(err)) return { reason: Reasons.Forbidden, message: `${what} forbidden: ${messageOf(err)}` };
    return { reason: Reasons.PatchFailed, message: truncateText(`${what} failed: ${messageOf(err)}`, MAX_MESSAGE_CHARS) };
  }

  private count(ctx: Context, action: string, result: string): void {
    this.opts.metrics.actions.inc({ policy: ctx.policy.name, action, result });
  }

  /** Planned and blocked outcomes are announced when they change, not on every reconcile. */
  private announceTransition(ctx: Context, key: string, ref: WorkloadRef, before: WorkloadResult | undefined, after: WorkloadResult): void {
    const same = before?.outcome?.action === after.outcome?.action && before?.outcome?.message === after.outcome?.message;
    if (same || !after.outcome) return;
    if (!ctx.enforce && after.outcome.action === 'Planned' && after.outcome.patch) this.count(ctx, 'patch', 'planned');
    if (ctx.enforce && after.problem?.event) {
      this.count(ctx, 'patch', 'blocked');
      this.emit(ctx, ref, undefined, 'Warning', after.problem.event, 'Patch', after.problem.message);
    }
  }

  /** An Event on the workload and on the policy. */
  private emit(ctx: Context, ref: WorkloadRef, live: Record<string, unknown> | undefined, type: EventType, reason: string, action: string, note: string): void {
    const meta = live && isRecord(live['metadata']) ? live['metadata'] : {};
    const workload: ObjectReference = { apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace, name: ref.name };
    if (typeof meta['uid'] === 'string') workload.uid = meta['uid'];
    this.opts.events.record(workload, type, reason, action, note);
    const policy: ObjectReference = { apiVersion: API_VERSION, kind: KIND, name: ctx.policy.name };
    if (ctx.active.object.metadata.uid) policy.uid = ctx.active.object.metadata.uid;
    this.opts.events.record(policy, type, reason, action, `${ref.kind} ${ref.namespace}/${ref.name}: ${note}`);
  }
}
