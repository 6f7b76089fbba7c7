// patchOwner: fixing a workload's pod template by server-side apply — or, in Audit, saying exactly what
// Enforce would apply. The operator holds back where patching would only start a fight: a GitOps tool owns
// the spec, the same change was already reverted too often, or this very template's patch was rolled back.
// Every apply restates all template fields we already own, so it never removes an earlier fix.
import { FIELD_MANAGER, Reasons } from '../api/types.js';
import { isAbortError, isNotFound } from '../k8s/errors.js';
import type { WorkloadRef } from '../k8s/owners.js';
import type { Logger } from '../observability/logger.js';
import { applyJsonPatch, workloadFromObject, type RemediationPlan, type Workload } from '../policy/index.js';
import type { WorkloadOutcome } from '../policy/status.js';
import type { ActionReporter } from './action-reporter.js';
import { isStaleWrite, recordingPolicy, type RemediationApi, type RemediationContext } from './context.js';
import { applyBody, mergeFragments, type ApplyTarget } from './fragment.js';
import { gitOpsManagersOf, lastSpecWriter, ownedFragment } from './managed-fields.js';
import { apiProblem, type Problem } from './outcome.js';
import { podCarriesFragment } from './rollout.js';
import { rolledBackMessage } from './rollout-guard.js';
import type { WorkloadDraft } from './workload-draft.js';
import {
  ANNOTATION_ACTIONS, ANNOTATION_PATCHED, ANNOTATION_ROLLBACK_REASON, ANNOTATION_ROLLED_BACK, annotationsOf, countsOf, formatPatchRecord,
  fragmentHash, ownAnnotations, parsePatchRecord, templateHashOf, withAction, type PatchRecord,
} from './workload-record.js';

type Obj = Record<string, unknown>;

/** Why Enforce would not patch this template, or the change it would apply. */
export type PatchDecision =
  | { blocked: Problem }
  | {
    blocked?: undefined;
    /** The record our apply would leave on the workload (its attempt counter already counts this apply). */
    record: PatchRecord;
  };

/** Decides from the live workload alone, so Audit and Enforce (and every replica) come to the same answer. Pure. */
export function patchDecision(
  live: Obj, workload: Workload, plan: RemediationPlan, gitOpsManagers: readonly string[], maxAttempts: number,
): PatchDecision {
  const annotations = annotationsOf(live);
  const template = templateHashOf(live, workload.podSpec);
  if (annotations[ANNOTATION_ROLLED_BACK] === template) {
    const why = annotations[ANNOTATION_ROLLBACK_REASON] ?? 'its rollout failed';
    return { blocked: { reason: Reasons.RolloutFailed, message: rolledBackMessage(why), event: 'PatchBlocked' } };
  }
  const gitOps = gitOpsManagersOf(live, gitOpsManagers);
  if (gitOps.length > 0) {
    return { blocked: {
      reason: Reasons.GitOpsManaged, event: 'GitOpsManaged',
      message: `GitOpsManaged: the spec is managed by ${gitOps.join(', ')}; fix the source (the patch shows how)`,
    } };
  }
  const patch = fragmentHash(plan.fragment);
  const earlier = parsePatchRecord(annotations[ANNOTATION_PATCHED]);
  // The same change recorded again means it was reverted since: count the attempts, and stop at the bound.
  const attempts = earlier && earlier.patch === patch ? earlier.attempts : 0;
  if (attempts >= maxAttempts) {
    const by = lastSpecWriter(live, FIELD_MANAGER);
    return { blocked: {
      reason: Reasons.PatchFailed, event: 'PatchBlocked',
      message: `our patch was reverted ${attempts} times${by ? ` (last change by ${by})` : ''}; not fighting over it`,
    } };
  }
  return { record: { template, patch, attempts: attempts + 1, fragment: plan.fragment, previous: plan.previous } };
}

export interface OwnerPatcherOptions {
  api: RemediationApi;
  reporter: ActionReporter;
  logger: Logger;
  /** Field managers whose ownership of a workload's spec blocks live patches. */
  gitOpsManagers: readonly string[];
  /** Applies of the same change before we stop fighting whoever reverts it. */
  maxPatchAttempts: number;
}

export interface PatchedTemplate {
  /** The workload after our apply (Enforce), or as Enforce would leave it (Audit). */
  live: Obj;
  workload: Workload;
  /** Set when this pass applied the patch: the rollout to watch. */
  applied?: { record: PatchRecord; outcome: WorkloadOutcome };
}

export class OwnerPatcher {
  constructor(private readonly opts: OwnerPatcherOptions) {}

  /**
   * Applies the plan's patch to the owner's template (Enforce) or describes it (Audit). Returns the template
   * the pods will be recreated from, or undefined when it stays as it is.
   */
  async patch(
    ctx: RemediationContext, key: string, ref: WorkloadRef, target: ApplyTarget, live: Obj, workload: Workload,
    plan: RemediationPlan, draft: WorkloadDraft,
  ): Promise<PatchedTemplate | undefined> {
    const patchOwner = ctx.policy.remediation.patchOwner;
    draft.patch = JSON.stringify(plan.patch);
    if (ref.kind === 'Job') {
      draft.messages.push(`${plan.message}; not patched: a Job's pod template is immutable — fix its manifest`);
      return undefined;
    }
    const decision = patchDecision(live, workload, plan, this.opts.gitOpsManagers, this.opts.maxPatchAttempts);

    if (!ctx.enforce) {
      const would = patchOwner ? 'would patch' : 'would patch (with remediation.patchOwner)';
      draft.messages.push(decision.blocked ? `${plan.message}; Enforce would not patch: ${decision.blocked.message}` : `${would}: ${plan.message}`);
      plan.warnings.forEach((warning) => draft.addWarning(warning));
      if (decision.blocked || !patchOwner) return undefined;
      // Evictions in Audit are judged against the template as Enforce would leave it.
      const patchedObject = applyJsonPatch(live, plan.patch);
      return { live: patchedObject, workload: workloadFromObject(patchedObject) as Workload };
    }
    if (!patchOwner) {
      draft.messages.push(`${plan.message} (not patched: remediation.patchOwner is not enabled)`);
      return undefined;
    }
    if (decision.blocked) {
      draft.addProblem(decision.blocked);
      return undefined;
    }
    return this.apply(ctx, key, ref, target, live, workload, plan, decision.record, draft);
  }

  /** The template already complies with the plan: a rollout (ours or someone's) is replacing the pods. */
  describeCompliant(
    ctx: RemediationContext, key: string, live: Obj, workload: Workload, plan: RemediationPlan, pods: number, draft: WorkloadDraft,
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

  private async apply(
    ctx: RemediationContext, key: string, ref: WorkloadRef, target: ApplyTarget, live: Obj, workload: Workload,
    plan: RemediationPlan, record: PatchRecord, draft: WorkloadDraft,
  ): Promise<PatchedTemplate | undefined> {
    // Restate everything we already own (other policies' and earlier fixes) so this apply removes nothing.
    const fragment = mergeFragments(ownedFragment(live, target.podSpecPath, FIELD_MANAGER), record.fragment);
    // The patch and its count go in the same write: the count is what the cluster records, not what we remember.
    const counted = withAction(annotationsOf(live), recordingPolicy(ctx), 'patched');
    const body = applyBody(target, fragment, {
      ...ownAnnotations(live), [ANNOTATION_PATCHED]: formatPatchRecord(record), [ANNOTATION_ACTIONS]: counted.value,
    }, live);
    let applied: Obj;
    try {
      applied = await this.opts.api.applyWorkload(ref, body, ctx.signal);
    } catch (err) {
      // Stale: the workload changed, went or was replaced since `live` was read (withLatestWorkload decides again).
      if (isAbortError(err) || isNotFound(err) || isStaleWrite(err)) throw err;
      const problem = apiProblem(err, 'patch');
      this.opts.reporter.record(ctx, { ref, live, action: 'patch', result: 'failure', type: 'Warning', reason: 'PatchFailed', note: problem.message });
      draft.addProblem(problem);
      draft.fail(err);
      return undefined;
    }
    ctx.state.recorded.set(key, countsOf(counted.entry));
    this.opts.reporter.record(ctx, {
      ref, live: applied, action: 'patch', result: 'success', type: 'Normal', reason: 'Patched', note: `patched the pod template: ${plan.message}`,
    });
    this.opts.logger.info('patched workload', { policy: ctx.policy.name, workload: key, attempt: record.attempts });
    const outcome: WorkloadOutcome = { action: 'Patched', message: plan.message, patch: draft.patch };
    ctx.state.patched.set(key, outcome);
    draft.action = 'Patched';
    draft.messages.push(plan.message);
    draft.settled = false;
    const after = workloadFromObject(applied);
    return { live: applied, workload: 'error' in after ? workload : after, applied: { record, outcome } };
  }
}
