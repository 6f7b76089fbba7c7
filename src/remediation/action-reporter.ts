// How remediation's actions become visible: counted in the actions metric per policy, and told as an Event
// on both the workload and the policy, so `kubectl events` on either one tells the whole story.
import { API_VERSION, KIND } from '../api/types.js';
import type { WorkloadRef } from '../k8s/owners.js';
import type { EventRecorder, EventType, ObjectReference } from '../observability/events.js';
import type { Metrics } from '../observability/metrics.js';
import { isRecord } from '../runtime/json.js';
import type { RemediationContext } from './context.js';
import type { WorkloadResult } from './policy-state.js';

export type ActionName = 'patch' | 'rollback' | 'evict';
export type ActionResult = 'success' | 'failure' | 'blocked' | 'planned';

/** The Event `action` field for each metric action. */
const EVENT_ACTION: Record<ActionName, string> = { patch: 'Patch', rollback: 'Rollback', evict: 'Evict' };

type Pass = Pick<RemediationContext, 'active' | 'policy'>;

export interface ActionRecord {
  ref: WorkloadRef;
  /** The live workload, when at hand: its uid makes the Event point at this incarnation. */
  live?: Record<string, unknown>;
  action: ActionName;
  result: ActionResult;
  type: EventType;
  reason: string;
  note: string;
}

export class ActionReporter {
  constructor(
    private readonly events: Pick<EventRecorder, 'record'>,
    private readonly metrics: Pick<Metrics, 'actions'>,
  ) {}

  count(ctx: Pass, action: ActionName, result: ActionResult): void {
    this.metrics.actions.inc({ policy: ctx.policy.name, action, result });
  }

  /** An action taken or refused: counted, and announced on the workload and on the policy. */
  record(ctx: Pass, r: ActionRecord): void {
    this.count(ctx, r.action, r.result);
    this.emit(ctx, r.ref, r.live, r.type, r.reason, EVENT_ACTION[r.action], r.note);
  }

  /**
   * Planned and blocked outcomes are announced when they change, not on every reconcile (they are states,
   * not actions, and would otherwise flood the metric and the Events).
   */
  announceTransition(ctx: Pass & Pick<RemediationContext, 'enforce'>, ref: WorkloadRef, before: WorkloadResult | undefined, after: WorkloadResult): void {
    const same = before?.outcome?.action === after.outcome?.action && before?.outcome?.message === after.outcome?.message;
    if (same || !after.outcome) return;
    if (!ctx.enforce && after.outcome.action === 'Planned' && after.outcome.patch) this.count(ctx, 'patch', 'planned');
    // Told before anyone switches to Enforce: the planned read-only root would break a known image.
    if (!ctx.enforce && after.warning && after.warning !== before?.warning) {
      this.emit(ctx, ref, undefined, 'Warning', 'WritablePathsMissing', EVENT_ACTION.patch, after.warning);
    }
    if (ctx.enforce && after.problem?.event) {
      this.record(ctx, { ref, action: 'patch', result: 'blocked', type: 'Warning', reason: after.problem.event, note: after.problem.message });
    }
  }

  private emit(ctx: Pass, ref: WorkloadRef, live: Record<string, unknown> | undefined, type: EventType, reason: string, action: string, note: string): void {
    const meta = live && isRecord(live['metadata']) ? live['metadata'] : {};
    const workload: ObjectReference = { apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace, name: ref.name };
    if (typeof meta['uid'] === 'string') workload.uid = meta['uid'];
    this.events.record(workload, type, reason, action, note);
    const policy: ObjectReference = { apiVersion: API_VERSION, kind: KIND, name: ctx.policy.name };
    if (ctx.active.object.metadata.uid) policy.uid = ctx.active.object.metadata.uid;
    this.events.record(policy, type, reason, action, `${ref.kind} ${ref.namespace}/${ref.name}: ${note}`);
  }
}
