// Prometheus metrics. Every metric lives in a registry the caller passes in: prom-client's global default
// registry would leak state between tests and between operator instances in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'immutability_operator_';

// The values of the labels that dashboards and alerts match on. The counters below accept no other value (the
// compiler checks every call), and test/integration/monitoring.test.ts checks every matcher of
// config/monitoring/ against these lists: an alert on a value never counted could never fire.
/** Why a watch was restarted: a failed request (error), 410 Gone (gone), no event or bookmark for twice the
 * watch timeout (inactivity), or the stream ended, normally at its server-side timeout (closed). */
export const WATCH_RESTART_REASONS = ['error', 'gone', 'inactivity', 'closed'] as const;
export const REMEDIATION_ACTIONS = ['label', 'patch', 'rollback', 'evict'] as const;
/** gone: the action was for an object deleted or replaced by a namesake meanwhile (a label write refused by its uid precondition). */
export const ACTION_RESULTS = ['success', 'failure', 'planned', 'blocked', 'gone'] as const;
/** overflow: refused with 503, the queue was full; refused: the request failed authentication or was malformed. */
export const FALCO_ALERT_OUTCOMES = ['accepted', 'duplicate', 'not-a-pod', 'unknown-pod', 'uid-mismatch', 'overflow', 'refused'] as const;

/** A counter whose listed labels take only the values given for them. */
type ClosedCounter<Open extends string, Closed extends Record<string, string>> =
  Omit<Counter<Open | Extract<keyof Closed, string>>, 'inc'> & {
    inc(labels: Record<Open, string> & Closed, value?: number): void;
  };

/** Typed handles for everything the operator measures; label names are checked by the compiler. */
export interface Metrics {
  readonly registry: Registry;
  /** Seconds per reconcile; `result` is success | error | requeue. */
  readonly reconcileDuration: Histogram<'controller' | 'result'>;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  /** Keys waiting in the work queue (not counting keys being processed). */
  readonly queueDepth: Gauge<'controller'>;
  /** Keys given up on after exhausting their retries. */
  readonly queueDropped: Counter<'controller'>;
  /** Watch restarts by resource and reason (WATCH_RESTART_REASONS). */
  readonly watchRestarts: ClosedCounter<'resource', { reason: (typeof WATCH_RESTART_REASONS)[number] }>;
  /** Pods currently violating a policy. */
  readonly violations: Gauge<'policy'>;
  /** Pods currently showing runtime drift under a policy. */
  readonly driftedPods: Gauge<'policy'>;
  /** Remediation actions by policy, action (REMEDIATION_ACTIONS) and result (ACTION_RESULTS). */
  readonly actions: ClosedCounter<'policy', { action: (typeof REMEDIATION_ACTIONS)[number]; result: (typeof ACTION_RESULTS)[number] }>;
  /** Audit events received; `outcome` is accepted | malformed | duplicate | denied. */
  readonly auditEvents: Counter<'source' | 'outcome'>;
  /** Falco alerts by outcome (FALCO_ALERT_OUTCOMES). */
  readonly falcoAlerts: ClosedCounter<never, { outcome: (typeof FALCO_ALERT_OUTCOMES)[number] }>;
  /** 1 while this replica holds the leader lease, else 0. */
  readonly leader: Gauge;
  /** Compacting collections asked of V8 after a drained backlog (observability/heap-reclaim.ts). */
  readonly heapReclaims: Counter;
  /** V8 heap those reclaims gave back (committed bytes). */
  readonly heapReclaimedBytes: Counter;
  /** Drops the per-policy gauges of a deleted policy so that they stop being exported. */
  forgetPolicy(policy: string): void;
}

export interface MetricsOptions {
  /**
   * Also collect Node.js process metrics (CPU, memory, event-loop lag, GC) into the registry. They keep
   * their standard unprefixed names (`process_*`, `nodejs_*`) so that stock dashboards work. Default true.
   */
  defaultMetrics?: boolean;
}

// Reconciles are mostly cache reads and a few API calls: milliseconds, with a tail into seconds when the
// API server is slow or an eviction is retried.
const RECONCILE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(registry: Registry = new Registry(), opts: MetricsOptions = {}): Metrics {
  const registers = [registry];
  const reconcileDuration = new Histogram({
    name: `${METRIC_PREFIX}reconcile_duration_seconds`,
    help: 'Time taken by one reconcile, by controller and result.',
    labelNames: ['controller', 'result'] as const,
    buckets: RECONCILE_BUCKETS,
    registers,
  });
  const reconcileTotal = new Counter({
    name: `${METRIC_PREFIX}reconcile_total`,
    help: 'Reconciles run, by controller and result.',
    labelNames: ['controller', 'result'] as const,
    registers,
  });
  const queueDepth = new Gauge({
    name: `${METRIC_PREFIX}queue_depth`,
    help: 'Keys waiting in the work queue.',
    labelNames: ['controller'] as const,
    registers,
  });
  const queueDropped = new Counter({
    name: `${METRIC_PREFIX}queue_dropped_total`,
    help: 'Keys dropped from the work queue after too many failed retries.',
    labelNames: ['controller'] as const,
    registers,
  });
  const watchRestarts = new Counter({
    name: `${METRIC_PREFIX}watch_restarts_total`,
    help: 'Watch restarts, by resource and reason.',
    labelNames: ['resource', 'reason'] as const,
    registers,
  });
  const violations = new Gauge({
    name: `${METRIC_PREFIX}violating_pods`,
    help: 'Pods currently violating the policy (spec drift).',
    labelNames: ['policy'] as const,
    registers,
  });
  const driftedPods = new Gauge({
    name: `${METRIC_PREFIX}drifted_pods`,
    help: 'Pods currently showing runtime drift under the policy.',
    labelNames: ['policy'] as const,
    registers,
  });
  const actions = new Counter({
    name: `${METRIC_PREFIX}actions_total`,
    help: 'Remediation actions, by policy, action and result.',
    labelNames: ['policy', 'action', 'result'] as const,
    registers,
  });
  const auditEvents = new Counter({
    name: `${METRIC_PREFIX}audit_events_total`,
    help: 'Audit events received, by source and outcome.',
    labelNames: ['source', 'outcome'] as const,
    registers,
  });
  const falcoAlerts = new Counter({
    name: `${METRIC_PREFIX}falco_alerts_total`,
    help: 'Falco alerts received, by outcome (overflow: refused with 503 because the queue was full).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const leader = new Gauge({
    name: `${METRIC_PREFIX}leader`,
    help: '1 while this replica holds the leader lease, else 0.',
    registers,
  });
  leader.set(0);
  const heapReclaims = new Counter({
    name: `${METRIC_PREFIX}heap_reclaims_total`,
    help: 'Compacting garbage collections the operator asked of V8 after its work queues drained.',
    registers,
  });
  const heapReclaimedBytes = new Counter({
    name: `${METRIC_PREFIX}heap_reclaimed_bytes_total`,
    help: 'V8 heap (committed bytes) given back by those collections.',
    registers,
  });

  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
  }

  return {
    registry,
    reconcileDuration,
    reconcileTotal,
    queueDepth,
    queueDropped,
    watchRestarts,
    violations,
    driftedPods,
    actions,
    auditEvents,
    falcoAlerts,
    leader,
    heapReclaims,
    heapReclaimedBytes,
    forgetPolicy(policy: string): void {
      violations.remove({ policy });
      driftedPods.remove({ policy });
    },
  };
}
