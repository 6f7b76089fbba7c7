// Watching the rollout of a patch we applied, and undoing it when the rollout fails (`patchOwner.rollback`,
// default on). Only Enforce watches. The watch lives in memory, but everything needed to resume or revert it
// is on the workload (the patch record annotation), so a restarted operator picks a Deployment's rollout up
// again and never re-applies a rolled-back patch to the same template.
import { FIELD_MANAGER, Reasons } from '../api/types.js';
import { isAbortError, isNotFound } from '../k8s/errors.js';
import type { WorkloadRef } from '../k8s/owners.js';
import type { Logger } from '../observability/logger.js';
import { workloadFromObject, type Workload } from '../policy/index.js';
import { isRecord } from '../runtime/json.js';
import type { WorkloadOutcome } from '../policy/status.js';
import type { ActionReporter } from './action-reporter.js';
import { isStaleWrite, recordingPolicy, withLatestWorkload, type RemediationApi, type RemediationContext } from './context.js';
import { applyBody, mergeFragments, subtractFragment, type ApplyTarget } from './fragment.js';
import { ownedFragment } from './managed-fields.js';
import { apiProblem } from './outcome.js';
import type { RolloutWatch, WorkloadResult } from './policy-state.js';
import { observedGeneration, podCarriesFragment, replacesPodsOnTemplateChange, rolloutVerdict, selectorQuery } from './rollout.js';
import { truncateText } from './status-text.js';
import { WorkloadDraft } from './workload-draft.js';
import {
  ANNOTATION_ACTIONS, ANNOTATION_PATCHED, ANNOTATION_ROLLBACK_REASON, ANNOTATION_ROLLED_BACK, annotationsOf, countsOf, ownAnnotations,
  parsePatchRecord, withAction,
} from './workload-record.js';

type Obj = Record<string, unknown>;

/** The same text when the rollback happens and on every later look, so status does not flap. */
export function rolledBackMessage(reason: string): string {
  return `rolled back: ${reason}; the patch is not re-applied to this template`;
}

/** Kinds whose pods change after a template patch; a CronJob's next Job is nothing to watch. */
function watchable(kind: string): boolean {
  return kind === 'Deployment' || kind === 'StatefulSet' || kind === 'DaemonSet' || kind === 'ReplicaSet';
}

export interface RolloutGuardOptions {
  api: RemediationApi;
  reporter: ActionReporter;
  logger: Logger;
  /** Rollout deadline for kinds without progressDeadlineSeconds. */
  deadlineMs: number;
  /** How often a rollout being watched is looked at. */
  pollMs: number;
}

/** The controller-manager marks ProgressDeadlineExceeded shortly after the deadline; look just after that. */
const DEADLINE_SLACK_MS = 2_000;
/** Sparsest look at a rollout under watch. */
const MAX_POLL_MS = 60_000;

export interface JudgedRollout {
  /** The workload as it is after judging (reverted, when the rollback went through). */
  live: Obj;
  /** The rollout failed (and was rolled back, or the rollback is being retried): nothing else happens now. */
  failed: boolean;
}

export class RolloutGuard {
  constructor(private readonly opts: RolloutGuardOptions) {}

  /** Only Enforce with patchOwner.rollback acts on rollouts. */
  enabled(ctx: RemediationContext): boolean {
    const patchOwner = ctx.policy.remediation.patchOwner;
    return ctx.enforce && patchOwner !== undefined && patchOwner.rollback;
  }

  /** Starts watching the rollout of a patch just applied. */
  watch(ctx: RemediationContext, key: string, watch: Omit<RolloutWatch, 'startedAt'>, draft: WorkloadDraft): void {
    if (!this.enabled(ctx) || !watchable(watch.ref.kind)) return;
    ctx.state.rollouts.set(key, { ...watch, startedAt: ctx.now.getTime() });
    draft.requeueWithin(this.opts.pollMs);
  }

  /** Judges the rollout of our patch to this workload, if one is under watch (or resumable after a restart). */
  async judgeOngoing(
    ctx: RemediationContext, key: string, ref: WorkloadRef, target: ApplyTarget, live: Obj, workload: Workload,
    pods: readonly { findings: string[] }[], draft: WorkloadDraft,
  ): Promise<JudgedRollout> {
    const watch = ctx.state.rollouts.get(key) ?? this.resume(ctx, key, ref, target, live, workload, pods);
    if (!watch) return { live, failed: false };
    return this.judge(ctx, key, watch, live, draft);
  }

  /** A watched rollout whose workload no longer has violating pods (a StatefulSet replaces the old pod first). */
  async judgeDetached(ctx: RemediationContext, key: string, watch: RolloutWatch): Promise<WorkloadResult> {
    const { api } = this.opts;
    return withLatestWorkload<WorkloadResult>(api, watch.ref, api.cachedWorkload?.(watch.ref), ctx.signal, async (live) => {
      const draft = new WorkloadDraft();
      await this.judge(ctx, key, watch, live, draft);
      const result = draft.result(ctx.enforce, 'Patched');
      delete result.outcome; // not a violating workload: nothing to list in status
      return result;
    }, () => {
      ctx.state.rollouts.delete(key);
      return { settled: true };
    });
  }

  /** After a restart the watch is gone from memory; the workload's record brings it back. */
  private resume(
    ctx: RemediationContext, key: string, ref: WorkloadRef, target: ApplyTarget, live: Obj, workload: Workload,
    pods: readonly { findings: string[] }[],
  ): RolloutWatch | undefined {
    if (!this.enabled(ctx) || !watchable(ref.kind)) return undefined;
    if (!replacesPodsOnTemplateChange(ref.kind, live) || pods.every((p) => p.findings.length === 0)) return undefined;
    const record = parsePatchRecord(annotationsOf(live)[ANNOTATION_PATCHED]);
    if (!record || !podCarriesFragment(workload.podSpec, record.fragment)) return undefined;
    const outcome: WorkloadOutcome = { action: 'Patched', message: `pod template patched by ${FIELD_MANAGER}` };
    const watch: RolloutWatch = { ref, target, record, startedAt: ctx.now.getTime(), outcome };
    ctx.state.rollouts.set(key, watch);
    return watch;
  }

  /**
   * When to look at a progressing rollout again. Its pods' events bring the workload back as it moves; this
   * only covers what no event of ours announces (the workload's own status, its deadline). The delay grows
   * with the rollout's age — a few looks early, when most rollouts finish, then sparse ones — and lands on the
   * deadline, so a thousand rollouts under watch cost a few dozen GETs a second, not five hundred.
   */
  private nextLook(watch: RolloutWatch, live: Obj, nowMs: number): number {
    const spec = isRecord(live['spec']) ? live['spec'] : {};
    const progressDeadlineSeconds = typeof spec['progressDeadlineSeconds'] === 'number' ? spec['progressDeadlineSeconds'] : undefined;
    const deadlineMs = watch.ref.kind === 'Deployment' ? (progressDeadlineSeconds ?? 600) * 1000 + DEADLINE_SLACK_MS : this.opts.deadlineMs;
    const age = nowMs - watch.startedAt;
    const untilDeadline = watch.startedAt + deadlineMs - nowMs;
    const next = Math.max(this.opts.pollMs, Math.min(age, MAX_POLL_MS));
    return untilDeadline > 0 ? Math.min(next, untilDeadline) : next;
  }

  private async judge(ctx: RemediationContext, key: string, watch: RolloutWatch, live: Obj, draft: WorkloadDraft): Promise<JudgedRollout> {
    const workload = workloadFromObject(live);
    if ('error' in workload || !podCarriesFragment(workload.podSpec, watch.record.fragment)) {
      ctx.state.rollouts.delete(key); // our change is gone (edited or reverted by someone): nothing of ours to watch
      return { live, failed: false };
    }
    // Until the workload's controller has seen our template, no pod can carry it: the pods are not read.
    const selector = observedGeneration(live) ? selectorQuery(isRecord(live['spec']) ? live['spec']['selector'] : undefined) : undefined;
    const pods = selector ? await this.opts.api.listPods(watch.ref.namespace, selector, ctx.signal) : [];
    const newPods = pods.filter((p) => {
      const meta = isRecord(p['metadata']) ? p['metadata'] : {};
      return meta['deletionTimestamp'] === undefined && podCarriesFragment(p['spec'], watch.record.fragment);
    });
    const verdict = rolloutVerdict({
      kind: watch.ref.kind, workload: live, newPods, startedAtMs: watch.startedAt, nowMs: ctx.now.getTime(),
      deadlineMs: this.opts.deadlineMs,
    });
    if (verdict.state === 'complete') {
      ctx.state.rollouts.delete(key);
      return { live, failed: false };
    }
    if (verdict.state === 'progressing') {
      draft.requeueWithin(this.nextLook(watch, live, ctx.now.getTime()));
      draft.settled = false;
      return { live, failed: false };
    }
    return { live: await this.rollBack(ctx, key, watch, live, verdict.reason, draft), failed: true };
  }

  /**
   * Reverts exactly our change: our fields go, the values we replaced come back, the template is marked.
   * Returns the workload as it is afterwards.
   */
  private async rollBack(ctx: RemediationContext, key: string, watch: RolloutWatch, live: Obj, reason: string, draft: WorkloadDraft): Promise<Obj> {
    const owned = ownedFragment(live, watch.target.podSpecPath, FIELD_MANAGER);
    const fragment = mergeFragments(subtractFragment(owned, watch.record.fragment), watch.record.previous);
    const counted = withAction(annotationsOf(live), recordingPolicy(ctx), 'rolledBack');
    const annotations = {
      ...ownAnnotations(live),
      [ANNOTATION_ROLLED_BACK]: watch.record.template,
      [ANNOTATION_ROLLBACK_REASON]: truncateText(reason, 256),
      [ANNOTATION_ACTIONS]: counted.value,
    };
    if (watch.outcome.patch) draft.patch = watch.outcome.patch;
    try {
      const reverted = await this.opts.api.applyWorkload(watch.ref, applyBody(watch.target, fragment, annotations, live), ctx.signal);
      ctx.state.rollouts.delete(key);
      ctx.state.patched.delete(key);
      ctx.state.recorded.set(key, countsOf(counted.entry));
      const message = rolledBackMessage(truncateText(reason, 256));
      this.opts.reporter.record(ctx, {
        ref: watch.ref, live: reverted, action: 'rollback', result: 'success', type: 'Warning', reason: 'RolledBack', note: message,
      });
      this.opts.logger.warn('rolled back patch', { policy: ctx.policy.name, workload: key, reason });
      draft.addProblem({ reason: Reasons.RolloutFailed, message });
      return reverted;
    } catch (err) {
      // Stale: the workload changed, went or was replaced since `live` was read (withLatestWorkload judges again).
      if (isAbortError(err) || isNotFound(err) || isStaleWrite(err)) throw err;
      const message = `${reason}; ${apiProblem(err, 'rollback').message}`;
      this.opts.reporter.record(ctx, {
        ref: watch.ref, live, action: 'rollback', result: 'failure', type: 'Warning', reason: 'RollbackFailed', note: message,
      });
      draft.addProblem({ reason: Reasons.RolloutFailed, message });
      draft.fail(err);
      return live;
    }
  }
}
