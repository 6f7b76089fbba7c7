// evict: drifted pods and stale replicas go through the Eviction API (PodDisruptionBudgets apply; the pod's
// UID is a precondition), at most `maxPerMinute` per policy. A refused eviction is retried per pod with
// backoff; a pod evicted a moment ago is never evicted twice. In Audit the same candidates are only listed.
import type { Pod } from '../api/kube.js';
import { isAbortError, isConflict, isForbidden, isNotFound, isTooManyRequests, messageOf, retryAfterSecondsOf } from '../k8s/errors.js';
import type { WorkloadRef } from '../k8s/owners.js';
import type { Logger } from '../observability/logger.js';
import { evaluateWorkload, findingKey, type Workload } from '../policy/index.js';
import { exponentialDelay } from '../runtime/backoff.js';
import type { Clock } from '../runtime/clock.js';
import type { ActionReporter } from './action-reporter.js';
import { FIELD_MANAGER, Reasons } from '../api/types.js';
import { errorFields } from '../runtime/logger.js';
import { PATCHABLE_KINDS, recordingPolicy, withLatestWorkload, type RemediationApi, type RemediationContext } from './context.js';
import { applyBody, type ApplyTarget } from './fragment.js';
import { ownedFragment } from './managed-fields.js';
import { ANNOTATION_ACTIONS, annotationsOf, countsOf, ownAnnotations, withAction } from './workload-record.js';
import {
  evictionBlocker, evictionCandidates, recreatesFromOwnerTemplate, type EvictionCandidate, type PodFindings,
} from './eviction.js';
import type { Problem } from './outcome.js';
import { replacesPodsOnTemplateChange } from './rollout.js';
import { listSome } from './status-text.js';
import type { TokenBucket } from '../runtime/token-bucket.js';
import type { WorkloadDraft } from './workload-draft.js';
import { objectKey } from '../runtime/list-watch.js';

type Obj = Record<string, unknown>;

/** The workload evicted pods belong to, as read in this pass, and where its pod template is. */
export interface RecordTarget {
  live: Obj;
  target: ApplyTarget;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** What a refused eviction means: 429 is a PodDisruptionBudget (usually) saying "not now"; 403 needs an admin. */
export function evictionRefusal(err: unknown, pod: string): { problem: Problem; blocked: boolean } {
  if (isTooManyRequests(err)) {
    return { blocked: true, problem: { reason: Reasons.EvictionBlocked, message: `eviction of ${pod} refused (${messageOf(err)}); retrying with backoff` } };
  }
  if (isForbidden(err)) return { blocked: false, problem: { reason: Reasons.Forbidden, message: `eviction of ${pod} forbidden: ${messageOf(err)}` } };
  return { blocked: false, problem: { reason: Reasons.EvictionBlocked, message: `eviction of ${pod} failed: ${messageOf(err)}; retrying with backoff` } };
}

/** Delay before the `attempts`-th retry: doubling up to the cap, but never sooner than the server asks. */
export function evictionRetryDelay(backoff: Backoff, attempts: number, err: unknown): number {
  return Math.max(exponentialDelay(attempts - 1, backoff), (retryAfterSecondsOf(err) ?? 0) * 1000);
}

function podName(pod: Pod): string {
  return objectKey(pod.metadata);
}

/** Pods by what became of them in one pass, for the workload's message. */
interface Tally {
  planned: string[];
  evicted: string[];
  /** Over the eviction budget. */
  waiting: string[];
  /** Messages of refusals, new or still backing off. */
  refused: string[];
  /** Candidates that must never be evicted, with the reason. */
  never: string[];
}

export interface EvictorOptions {
  api: RemediationApi;
  reporter: ActionReporter;
  logger: Logger;
  /** Reads the time per eviction: a pass may wait on the API server for a while. */
  clock: Pick<Clock, 'now'>;
  /** Backoff of refused evictions (PDB, 403, ...). */
  backoff: Backoff;
}

export class Evictor {
  constructor(private readonly opts: EvictorOptions) {}

  /** Drifted pods only: nothing is known about the template their replacements come from. */
  async evictDrifted(ctx: RemediationContext, key: string, ref: WorkloadRef, pods: readonly PodFindings[], draft: WorkloadDraft): Promise<void> {
    await this.evict(ctx, key, ref, evictionCandidates(pods, undefined), draft);
  }

  /**
   * Drifted pods, and pods `template` (the owner's template, possibly just patched) would no longer produce
   * where the controller will not replace them by itself.
   */
  async evictDriftedOrStale(
    ctx: RemediationContext, key: string, ref: WorkloadRef, pods: readonly PodFindings[], template: Workload, owner: RecordTarget, draft: WorkloadDraft,
  ): Promise<void> {
    const evaluation = evaluateWorkload(ctx.policy, template, ctx.now);
    const stale = recreatesFromOwnerTemplate(ref.kind, replacesPodsOnTemplateChange(ref.kind, owner.live)) && evaluation.outcome === 'evaluated';
    const candidates = evictionCandidates(pods, stale ? new Set(evaluation.findings.map(findingKey)) : undefined);
    await this.evict(ctx, key, ref, candidates, draft, owner);
  }

  /**
   * `owner`: the workload the pods belong to, when the operator writes to its kind — the evictions are then
   * recorded on it, else only counted in memory (bare pods, Jobs, unsupported kinds).
   */
  private async evict(
    ctx: RemediationContext, key: string, ref: WorkloadRef, candidates: EvictionCandidate[], draft: WorkloadDraft, owner?: RecordTarget,
  ): Promise<void> {
    const live = owner?.live;
    const evict = ctx.policy.remediation.evict;
    if (!evict || candidates.length === 0) return;
    const tally: Tally = { planned: [], evicted: [], waiting: [], refused: [], never: [] };
    const bucket = ctx.state.evictionBucket(evict.maxPerMinute);
    for (const c of candidates) {
      const blocker = evictionBlocker(c.pod, ref.kind, evict.barePods);
      if (blocker) {
        if (c.cause === 'drift') tally.never.push(`${c.pod.metadata.name} (${blocker})`);
        continue;
      }
      if (!ctx.enforce) tally.planned.push(podName(c.pod));
      else await this.evictOne(ctx, key, ref, c, bucket, tally, draft, live);
    }
    if (tally.planned.length > 0) draft.messages.push(`would evict ${listSome(tally.planned)}`);
    if (tally.evicted.length > 0) {
      await this.recordEvictions(ctx, key, ref, tally.evicted.length, owner);
      draft.messages.push(`evicted ${listSome(tally.evicted)}`);
      draft.action = 'Evicted';
      draft.settled = false;
    }
    if (tally.waiting.length > 0) {
      draft.addProblem({ reason: Reasons.RateLimited, message: `${tally.waiting.length} pod(s) waiting for the eviction budget (${bucket.burst}/min)` });
    }
    if (tally.refused.length > 0) {
      draft.messages.push(...new Set(tally.refused));
      draft.settled = false;
    }
    if (tally.never.length > 0) draft.messages.push(`not evicted: ${listSome(tally.never)}`);
  }

  private async evictOne(
    ctx: RemediationContext, key: string, ref: WorkloadRef, c: EvictionCandidate, bucket: TokenBucket, tally: Tally,
    draft: WorkloadDraft, live: Obj | undefined,
  ): Promise<void> {
    const name = podName(c.pod);
    const uid = c.pod.metadata.uid ?? name;
    if (ctx.state.wasEvicted(uid)) return;
    const nowMs = this.opts.clock.now();
    const retry = ctx.state.evictionRetries.get(uid);
    if (retry && nowMs < retry.nextAt) {
      tally.refused.push(retry.problem.message);
      draft.problems.push(retry.problem);
      draft.requeueWithin(retry.nextAt - nowMs);
      return;
    }
    if (!bucket.tryTake()) {
      tally.waiting.push(name);
      draft.requeueWithin(bucket.msUntilToken());
      return;
    }
    try {
      await this.opts.api.evictPod(c.pod.metadata.namespace ?? ref.namespace, c.pod.metadata.name, c.pod.metadata.uid, ctx.signal);
    } catch (err) {
      bucket.refund();
      if (isAbortError(err)) throw err;
      // Gone, or replaced by a pod of the same name (the UID precondition failed): nothing left to evict.
      if (isNotFound(err) || isConflict(err)) return;
      const attempts = (retry?.attempts ?? 0) + 1;
      const delay = evictionRetryDelay(this.opts.backoff, attempts, err);
      const { problem, blocked } = evictionRefusal(err, name);
      // The one log line of this failed write (the workload is not failed: its retry is paced here, per pod).
      this.opts.logger.warn('eviction refused', { policy: ctx.policy.name, workload: key, pod: name, attempts, retryInMs: delay, ...errorFields(err) });
      ctx.state.evictionRetries.set(uid, { attempts, nextAt: nowMs + delay, problem });
      this.opts.reporter.record(ctx, {
        ref, live, action: 'evict', result: blocked ? 'blocked' : 'failure', type: 'Warning',
        reason: blocked ? 'EvictionBlocked' : 'EvictionFailed', note: problem.message,
      });
      tally.refused.push(problem.message);
      draft.problems.push(problem);
      draft.requeueWithin(delay);
      return;
    }
    ctx.state.evictionRetries.delete(uid);
    ctx.state.markEvicted(uid);
    const why = c.cause === 'drift' ? `drifted (${c.detail.join(', ')})` : `stale replica (template fixes ${c.detail.join(', ')})`;
    this.opts.reporter.record(ctx, {
      ref, live, action: 'evict', result: 'success', type: 'Normal', reason: 'Evicted', note: `evicted pod ${name}: ${why}`,
    });
    this.opts.logger.info('evicted pod', { policy: ctx.policy.name, workload: key, pod: name, cause: c.cause });
    tally.evicted.push(name);
  }

  /**
   * Counts `n` evictions on the workload itself (its immutability.dev/actions annotation), restating our fields
   * so that the apply changes nothing else. Without a workload to write to, or when the write is refused, they
   * are counted in memory only (logged once with the reason; the evictions themselves stand).
   */
  private async recordEvictions(ctx: RemediationContext, key: string, ref: WorkloadRef, n: number, owner: RecordTarget | undefined): Promise<void> {
    if (!owner || !PATCHABLE_KINDS.includes(ref.kind)) {
      ctx.state.unrecordedEvictions += n;
      return;
    }
    const { api } = this.opts;
    try {
      // The count goes on the workload as read; if it changed since (409), on a fresh read of it.
      const recorded = await withLatestWorkload(api, ref, owner.live, ctx.signal, async (live) => {
        const counted = withAction(annotationsOf(live), recordingPolicy(ctx), 'evicted', n);
        const fragment = ownedFragment(live, owner.target.podSpecPath, FIELD_MANAGER);
        await api.applyWorkload(ref, applyBody(owner.target, fragment, { ...ownAnnotations(live), [ANNOTATION_ACTIONS]: counted.value }, live), ctx.signal);
        return counted.entry;
      }, () => undefined);
      if (recorded) ctx.state.recorded.set(key, countsOf(recorded));
      else ctx.state.unrecordedEvictions += n; // the workload is gone
    } catch (err) {
      if (isAbortError(err)) throw err;
      ctx.state.unrecordedEvictions += n;
      this.opts.logger.warn('could not record evictions on the workload', { policy: ctx.policy.name, workload: key, evicted: n, ...errorFields(err) });
    }
  }
}
