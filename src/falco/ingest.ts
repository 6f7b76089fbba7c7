// Falco alerts from the endpoint to drift records. The endpoint only parses and hands whole requests to a
// bounded queue, so that a burst never holds Falco's connection while pods are looked up; a request that
// does not fit is refused (503, counted) rather than growing memory. The queue drains in slices on later
// turns of the event loop, leaving room for the controllers and the next requests.
//
// An alert becomes drift of a pod only if that pod exists now (the cache) and, when the alert names the pod's
// UID, it is the same pod: an alert about a pod that is gone, or about an earlier pod of the same name
// (StatefulSets reuse names), is accepted and ignored. Whether it counts (rules.falco, spec.falco, exemptions)
// is each policy's business, in the drift registry.
import type { Pod } from '../api/kube.js';
import type { DriftRecord, PodRef } from '../audit/classify.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { SlicedQueue } from '../runtime/sliced-queue.js';
import type { FalcoAlert } from './alert.js';

/** Characters of Falco's output line kept on the pod (the annotation holds several records in 4 KiB). */
export const MAX_OUTPUT_CHARS = 300;

export type AlertOutcome = 'accepted' | 'duplicate' | 'not-a-pod' | 'unknown-pod' | 'uid-mismatch';

export interface FalcoIngestOptions {
  pod(key: string): Pod | undefined;
  /** Remembers the record; false when its id was known already. */
  record(pod: PodRef, record: DriftRecord): boolean;
  metrics: Pick<Metrics, 'falcoAlerts'>;
  logger: Logger;
  /** Alerts waiting to be processed before requests are refused. Default 10000. */
  capacity?: number;
  /** Alerts processed per turn of the event loop. Default 500. */
  slice?: number;
  /** Schedules the next slice; default setImmediate (tests pass their own). */
  schedule?: (fn: () => void) => void;
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function driftRecordOf(alert: FalcoAlert): DriftRecord {
  const record: DriftRecord = {
    id: alert.id, what: 'falco', who: '', when: alert.time,
    rule: truncate(alert.rule, 200), priority: alert.priority, output: truncate(alert.output, MAX_OUTPUT_CHARS),
  };
  if (alert.container) record.container = alert.container;
  return record;
}

export class FalcoIngest {
  private readonly queue: SlicedQueue<FalcoAlert>;

  constructor(private readonly opts: FalcoIngestOptions) {
    this.queue = new SlicedQueue({
      capacity: opts.capacity ?? 10_000, slice: opts.slice ?? 500,
      process: (alert) => this.opts.metrics.falcoAlerts.inc({ outcome: this.process(alert) }),
      ...(opts.schedule ? { schedule: opts.schedule } : {}),
    });
  }

  /** Alerts waiting. */
  get depth(): number {
    return this.queue.depth;
  }

  /** Queues all of `alerts`, or none when they do not fit (the caller answers 503). */
  offer(alerts: readonly FalcoAlert[]): boolean {
    if (this.queue.offerAll(alerts)) return true;
    this.opts.metrics.falcoAlerts.inc({ outcome: 'overflow' }, alerts.length);
    return false;
  }

  /** Processes what is queued, then refuses new alerts. */
  close(): void {
    this.queue.close();
  }

  private process(alert: FalcoAlert): AlertOutcome {
    const { logger } = this.opts;
    if (!alert.pod) return 'not-a-pod';
    const key = `${alert.pod.namespace}/${alert.pod.name}`;
    const pod = this.opts.pod(key);
    if (!pod) {
      logger.debug('Falco alert about an unknown pod ignored', { pod: key, rule: alert.rule });
      return 'unknown-pod';
    }
    if (alert.pod.uid !== undefined && alert.pod.uid !== pod.metadata.uid) {
      logger.info('Falco alert about an earlier pod of the same name ignored', { pod: key, alertUid: alert.pod.uid, uid: pod.metadata.uid, rule: alert.rule });
      return 'uid-mismatch';
    }
    if (!this.opts.record({ namespace: alert.pod.namespace, name: alert.pod.name }, driftRecordOf(alert))) return 'duplicate';
    // Debug, not info: a rule firing on every process a miner spawns would flood the log; the metric and the
    // pod's DriftDetected Event say the same at a bounded rate.
    logger.debug('Falco alert recorded', { pod: key, rule: alert.rule, priority: alert.priority, container: alert.container, id: alert.id });
    return 'accepted';
  }
}
