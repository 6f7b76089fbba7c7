// Remediation for one policy: patch the owner workloads' pod templates (server-side apply), watch the
// rollout and roll a failed one back, evict drifted pods and stale replicas — or, in Audit mode, work out
// exactly that and report it as planned. Every step is safe to repeat: applies restate the same content
// (a no-op for the API server), the workload's annotations record what was done, evictions carry the pod's
// UID as a precondition. This module only orchestrates: which steps apply to a workload, in which order, and
// how their results fold into the policy's report. The steps are OwnerPatcher, RolloutGuard and Evictor.
import type { Pod } from '../api/kube.js';
import { Reasons } from '../api/types.js';

import type { ActivePolicy } from '../controllers/policy-set.js';
import { isAbortError, isForbidden, messageOf } from '../k8s/errors.js';
import { controllerOf, type WorkloadRef } from '../k8s/owners.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { evaluateWorkload, findingKey, planRemediation, workloadFromObject, type Workload } from '../policy/index.js';
import { workloadOutcomeKey, type WorkloadOutcome } from '../policy/status.js';
import type { Clock } from '../runtime/clock.js';
import { ActionReporter } from './action-reporter.js';
import {
  PATCHABLE_KINDS, withLatestWorkload, type RemediationApi, type RemediationContext, type RemediationReport, type WorkloadFindings,
} from './context.js';
import type { PodFindings } from './eviction.js';
import { Evictor } from './evictor.js';
import type { ApplyTarget } from './fragment.js';
import { GITOPS_MANAGERS } from './managed-fields.js';
import { degradedState, type Problem } from './outcome.js';
import { OwnerPatcher } from './patch-owner.js';
import { PolicyState, type WorkloadActionCounts, type WorkloadResult } from './policy-state.js';
import { DEFAULT_ROLLOUT_DEADLINE_MS } from './rollout.js';
import { RolloutGuard } from './rollout-guard.js';
import { MAX_MESSAGE_CHARS, truncateText } from './status-text.js';
import { WorkloadDraft } from './workload-draft.js';
import { countsOf, parseActionRecords, type ActionRecord } from './workload-record.js';

export type { RemediationApi, RemediationReport, WorkloadFindings } from './context.js';

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
  /** First look at a rollout being watched; later looks are sparser (RolloutGuard.nextLook). Default 2 s. */
  rolloutPollMs?: number;
  /** Backoff of refused evictions (PDB, 403, ...). Default 5 s doubling to 5 min. */
  evictionBackoff?: { initialMs: number; maxMs: number };
  /** Settled workloads with unchanged pods are re-read at most this often. Default 30 s. */
  revisitMs?: number;
}


export class WorkloadRemediator {
  private readonly states = new Map<string, PolicyState>();
  /** Action records by workload key and policy, as the cluster had them when this replica started leading. */
  private loaded = new Map<string, Map<string, ActionRecord>>();
  private readonly reporter: ActionReporter;
  private readonly patcher: OwnerPatcher;
  private readonly rollouts: RolloutGuard;
  private readonly evictor: Evictor;
  private readonly revisitMs: number;

  constructor(private readonly opts: WorkloadRemediatorOptions) {
    this.revisitMs = opts.revisitMs ?? 30_000;
    this.reporter = new ActionReporter(opts.events, opts.metrics);
    const deps = { api: opts.api, reporter: this.reporter, logger: opts.logger };
    this.patcher = new OwnerPatcher({
      ...deps,
      gitOpsManagers: opts.gitOpsManagers ?? GITOPS_MANAGERS,
      maxPatchAttempts: opts.maxPatchAttempts ?? 3,
    });
    this.rollouts = new RolloutGuard({
      ...deps,
      deadlineMs: opts.rolloutDeadlineMs ?? DEFAULT_ROLLOUT_DEADLINE_MS,
      pollMs: opts.rolloutPollMs ?? 2_000,
    });
    this.evictor = new Evictor({
      ...deps, clock: opts.clock,
      backoff: opts.evictionBackoff ?? { initialMs: 5_000, maxMs: 300_000 },
    });
  }

  forget(policyName: string): void {
    this.states.delete(policyName);
  }

  /**
   * Reads the action records of every workload the operator has written to (one LIST per kind), so that the
   * counts of each policy are those the cluster records — whatever a previous process or leader did before it
   * stopped, crashed or lost the lease. Called when this replica starts leading, before any reconcile.
   */
  async loadRecordedActions(signal?: AbortSignal): Promise<void> {
    const loaded = new Map<string, Map<string, ActionRecord>>();
    for (const w of await this.opts.api.listRemediatedWorkloads(signal)) {
      const records = parseActionRecords(w.annotations);
      if (records.size > 0) loaded.set(workloadOutcomeKey(w), records);
    }
    this.loaded = loaded;
    this.states.clear();
  }

  /**
   * Remediates one workload under one policy (`w` is what the policy finds in its pods; undefined when they
   * comply or are gone) and remembers the result for `report`. Returns undefined when there is nothing to
   * report. A failed API write is recorded as the workload's Blocked outcome and then thrown, so that the
   * queue runner — the one place for retries — backs the workload off and counts the error.
   */
  async remediateWorkload(active: ActivePolicy, key: string, w: WorkloadFindings | undefined, signal?: AbortSignal): Promise<WorkloadResult | undefined> {
    const policy = active.resolved;
    const state = this.stateFor(active);
    const ctx: RemediationContext = {
      active, policy, state, signal,
      enforce: policy.mode === 'Enforce',
      now: new Date(this.opts.clock.now()),
    };
    const { patchOwner, evict } = policy.remediation;
    if (!this.rollouts.enabled(ctx)) state.rollouts.clear();
    const remediates = !ctx.enforce || patchOwner !== undefined || evict !== undefined;
    let result: WorkloadResult | undefined;
    try {
      if (w && remediates) {
        result = await this.remediateOnce(ctx, key, w);
      } else {
        state.results.delete(key);
        // Rollouts of workloads that no longer violate (a StatefulSet replaces the old pod first) still need watching.
        const watch = state.rollouts.get(key);
        if (watch) result = await this.rollouts.judgeDetached(ctx, key, watch);
        if (!state.rollouts.has(key)) state.patched.delete(key);
      }
    } catch (err) {
      if (isAbortError(err) || signal?.aborted) throw err;
      const reason = isForbidden(err) ? Reasons.Forbidden : Reasons.PatchFailed;
      const message = truncateText(`remediation failed: ${messageOf(err)}`, MAX_MESSAGE_CHARS);
      result = { problem: { reason, message }, settled: false, failure: err instanceof Error ? err : new Error(String(err)) };
      if (w) result.outcome = { action: ctx.enforce ? 'Blocked' : 'Planned', message };
    }
    // A pass that began under an older generation (the spec changed meanwhile) must not leave its result as
    // the new generation's: the key is queued again and recomputed.
    const current = state.generation === (active.object.metadata.generation ?? 0);
    if (result && current) state.results.set(key, { fingerprint: result.settled ? fingerprintOf(w) : '', at: ctx.now.getTime(), result });
    if (result?.failure !== undefined) throw result.failure;
    return result;
  }

  /** What remediation did or would do for the policy's workloads, from the results remembered so far. */
  report(active: ActivePolicy): RemediationReport {
    const state = this.stateFor(active);
    const outcomes = new Map<string, WorkloadOutcome>();
    const problems = new Map<string, Problem>();
    for (const [key, { result }] of state.results) {
      if (result.outcome) outcomes.set(key, result.outcome);
      if (result.problem) problems.set(key, result.problem);
    }
    const report: RemediationReport = { outcomes, actions: { ...state.counts } };
    const degraded = active.resolved.mode === 'Enforce' ? degradedState(problems) : undefined;
    if (degraded) report.degraded = degraded;
    return report;
  }

  /** The result last remembered for a workload under a policy. */
  resultOf(policyName: string, key: string): WorkloadResult | undefined {
    return this.states.get(policyName)?.results.get(key)?.result;
  }

  private stateFor(active: ActivePolicy): PolicyState {
    const name = active.object.metadata.name;
    const generation = active.object.metadata.generation ?? 0;
    let state = this.states.get(name);
    if (!state) {
      // Counts are "for the observed generation" of this incarnation of the policy: the workloads' records.
      const uid = active.object.metadata.uid ?? '';
      const recorded = new Map<string, WorkloadActionCounts>();
      for (const [key, records] of this.loaded) {
        const r = records.get(name);
        if (r && r.uid === uid && r.generation === generation) recorded.set(key, countsOf(r));
      }
      const status = active.object.status;
      const statusEvicted = status?.observedGeneration === generation ? status.actions?.evicted ?? 0 : 0;
      state = new PolicyState(generation, recorded, statusEvicted, this.opts.clock);
      this.states.set(name, state);
    } else if (state.generation < generation) {
      // Only forward: a reconcile still running for the previous generation must not reset the new one.
      state.startGeneration(generation);
    }
    return state;
  }

  /** A settled result is reused while the pods and their findings stay the same, instead of re-reading the workload. */
  private async remediateOnce(ctx: RemediationContext, key: string, w: WorkloadFindings): Promise<WorkloadResult> {
    const fingerprint = fingerprintOf(w);
    const memo = ctx.state.results.get(key);
    const nowMs = ctx.now.getTime();
    if (memo && memo.result.settled && memo.fingerprint === fingerprint && nowMs - memo.at < this.revisitMs && !ctx.state.rollouts.has(key)) {
      return memo.result;
    }
    const result = await this.computeWorkload(ctx, key, w);
    this.reporter.announceTransition(ctx, w.ref, memo?.result, result);
    return result;
  }

  private async computeWorkload(ctx: RemediationContext, key: string, w: WorkloadFindings): Promise<WorkloadResult> {
    const draft = new WorkloadDraft();
    const pods: PodFindings[] = w.pods.map((p) => ({ pod: p.pod, findings: p.findings.map(findingKey), driftFindings: p.driftFindings }));
    const ref = w.ref;

    if (ref.kind === 'Pod' && ref.apiVersion === 'v1') {
      return this.notPatched(ctx, key, ref, pods, draft, `bare pod: no owner to patch; ${labelsPods(ctx) ? 'labelled only' : 'reported only'}`);
    }
    if (!ref.resolved) {
      draft.messages.push(`owner ${ref.kind} ${ref.name} not resolved yet; waiting for the cache`);
      draft.settled = false;
      return draft.result(ctx.enforce, 'Skipped');
    }
    if (!PATCHABLE_KINDS.includes(ref.kind) && ref.kind !== 'Job') {
      return this.notPatched(ctx, key, ref, pods, draft, `owner kind ${ref.kind} (${ref.apiVersion}) is not supported: not patched`);
    }

    // From the watch cache; a write refused because the cache was behind decides again on a fresh read.
    return withLatestWorkload<WorkloadResult>(this.opts.api, ref, this.opts.api.cachedWorkload?.(ref), ctx.signal,
      (live) => this.computeFrom(ctx, key, ref, pods, live),
      () => ({ settled: false })); // gone: its pods follow; nothing to report
  }

  /** One pass over the workload `live`: judge our rollout, patch the template (or plan it), evict. */
  private async computeFrom(
    ctx: RemediationContext, key: string, ref: WorkloadRef, pods: readonly PodFindings[], live: Record<string, unknown>,
  ): Promise<WorkloadResult> {
    const draft = new WorkloadDraft();
    const parsed = workloadFromObject(live);
    if ('error' in parsed) return this.notPatched(ctx, key, ref, pods, draft, `not patched: ${parsed.error}`);
    const owner = controllerOf((live['metadata'] ?? { name: ref.name }) as Pod['metadata']);
    if ((ref.kind === 'ReplicaSet' || ref.kind === 'Job') && owner) {
      draft.messages.push(`${ref.kind} is controlled by ${owner.kind} ${owner.name}, which would revert a patch: not patched`);
      return draft.result(ctx.enforce, 'Skipped');
    }
    const target: ApplyTarget = {
      apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace, name: ref.name, podSpecPath: parsed.podSpecPath,
    };

    // 1. A rollout of our patch under watch: judge it first; a failure reverts, and nothing else happens now.
    const rollout = await this.rollouts.judgeOngoing(ctx, key, ref, target, live, parsed, pods, draft);
    if (rollout.failed) return draft.result(ctx.enforce, 'Blocked');
    live = rollout.live;

    // 2. The template: plan, then patch (Enforce) or report the plan (Audit).
    const workload = workloadFromObject(live) as Workload;
    const evaluation = evaluateWorkload(ctx.policy, workload, ctx.now);
    if (evaluation.outcome === 'error') {
      draft.messages.push(`template could not be evaluated: ${evaluation.error}`);
      return draft.result(ctx.enforce, 'Skipped');
    }
    const plan = planRemediation(ctx.policy, workload, evaluation.findings);
    let templateAfter: Workload = workload;
    if (plan.patch.length > 0) {
      const patched = await this.patcher.patch(ctx, key, ref, target, live, workload, plan, draft);
      if (patched) {
        live = patched.live;
        templateAfter = patched.workload;
        if (patched.applied) this.rollouts.watch(ctx, key, { ref, target, ...patched.applied }, draft);
      }
    } else {
      this.patcher.describeCompliant(ctx, key, live, workload, plan, pods.length, draft);
    }

    // 3. Evictions: drifted pods, and pods the (possibly just patched) template would no longer produce.
    await this.evictor.evictDriftedOrStale(ctx, key, ref, pods, templateAfter, { live, target }, draft);
    return draft.result(ctx.enforce, labelsPods(ctx) ? 'Labeled' : 'Skipped');
  }

  /** The owner is not patched (`why`); drifted pods are still evicted — their replacements come fresh. */
  private async notPatched(
    ctx: RemediationContext, key: string, ref: WorkloadRef, pods: readonly PodFindings[], draft: WorkloadDraft, why: string,
  ): Promise<WorkloadResult> {
    draft.messages.push(why);
    await this.evictor.evictDrifted(ctx, key, ref, pods, draft);
    return draft.result(ctx.enforce, 'Skipped');
  }
}

/** What a settled result depends on: the workload's pods and what the policy finds in them. */
function fingerprintOf(w: WorkloadFindings | undefined): string {
  return JSON.stringify(w?.pods.map((p) => [p.pod.metadata.uid, p.findings.map(findingKey).sort(), p.driftFindings]) ?? []);
}

function labelsPods(ctx: RemediationContext): boolean {
  return ctx.enforce && ctx.policy.remediation.label !== undefined;
}
