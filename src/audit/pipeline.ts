// One queue for every audit source: raw events go in (from the webhook or the log follower), drift
// observations come out. The queue is bounded and drained a slice at a time on later turns of the event loop:
// the webhook answers the API server at once and never waits for processing, a flood never holds the event
// loop (lease renewals, reconciles and the next requests get their turns), and what the webhook brings beyond
// `capacity` pending events is dropped and counted rather than growing memory without limit. The log follower
// instead waits for room before it reads on: the file is its buffer, so nothing from it is dropped.
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { SlicedQueue } from '../runtime/sliced-queue.js';
import { classifyAuditEvent, type DriftRecord, type PodRef } from './classify.js';
import { validateAuditEvent } from './event.js';
import { LRUCache } from 'lru-cache';

export type AuditSourceName = 'webhook' | 'log';

export interface AuditInput {
  source: AuditSourceName;
  raw: unknown;
}

/**
 * Whether a source waits for `room()` before handing in more (and so is never dropped): the log follower can
 * stop reading; kube-apiserver's webhook backend cannot be made to wait without blocking its own batches.
 */
const WAITS_FOR_ROOM: Record<AuditSourceName, boolean> = { webhook: false, log: true };

export interface AuditPipelineOptions {
  /** Called for each authorized exec/attach/ephemeral-container request, once per audit ID. */
  onDrift(pod: PodRef, record: DriftRecord): void;
  metrics: Pick<Metrics, 'auditEvents'>;
  logger: Logger;
  /** Events waiting for processing before new webhook events are dropped. Default 10000. */
  capacity?: number;
  /** Audit IDs remembered for de-duplication. Default 16384. */
  dedupCapacity?: number;
  /**
   * Events processed per turn of the event loop. Default 100 (a few milliseconds): between two slices the
   * webhook reads and answers what arrived, so a flood is taken in (and its overflow dropped) at the rate it
   * comes rather than at the rate it is processed.
   */
  slice?: number;
  /** Schedules the next slice; default setImmediate (tests pass their own). */
  schedule?: (fn: () => void) => void;
}

export class AuditPipeline {
  private readonly seen: LRUCache<string, true>;
  private readonly queue: SlicedQueue<AuditInput>;

  constructor(private readonly opts: AuditPipelineOptions) {
    this.seen = new LRUCache({ max: opts.dedupCapacity ?? 16_384 });
    this.queue = new SlicedQueue({
      capacity: opts.capacity ?? 10_000, slice: opts.slice ?? 100, process: (item) => this.process(item),
      ...(opts.schedule ? { schedule: opts.schedule } : {}),
    });
  }

  /**
   * Hands one raw event in; never throws, never blocks. A webhook event beyond the capacity is dropped and
   * counted; a log line is queued anyway, since the follower waited for `room()` before the read it came from.
   */
  push(source: AuditSourceName, raw: unknown): void {
    if (!this.queue.offer({ source, raw }, WAITS_FOR_ROOM[source])) this.count(source, 'dropped');
  }

  /** Resolves once the queue has room: a source that can hold back awaits it before reading more. */
  room(): Promise<void> {
    return this.queue.room();
  }

  /** Events waiting. */
  get depth(): number {
    return this.queue.depth;
  }

  /** Processes what is buffered and stops accepting events. */
  close(): void {
    this.queue.close();
  }

  private count(source: AuditSourceName, outcome: string): void {
    this.opts.metrics.auditEvents.inc({ source, outcome });
  }

  private process({ source, raw }: AuditInput): void {
    const { logger } = this.opts;
    const validated = validateAuditEvent(raw);
    if (!validated.ok) {
      this.count(source, 'malformed');
      logger.debug('malformed audit event skipped', { source, reason: validated.error });
      return;
    }
    const event = validated.value;
    const verdict = classifyAuditEvent(event);
    if (verdict.outcome === 'ignored') {
      this.count(source, 'ignored');
      return;
    }
    // The webhook may resend a batch after a timeout, and a long-running request is reported at both
    // ResponseStarted and ResponseComplete: the first report of an audit ID is the one that counts.
    if (this.seen.get(event.auditID)) {
      this.count(source, 'duplicate');
      return;
    }
    this.seen.set(event.auditID, true);
    const pod = `${verdict.pod.namespace}/${verdict.pod.name}`;
    switch (verdict.outcome) {
      case 'denied':
        this.count(source, 'denied');
        logger.info('denied pod access attempt (not drift)', { source, pod, what: verdict.what, user: verdict.who, auditID: event.auditID });
        return;
      case 'portforward':
        this.count(source, 'ignored');
        logger.info('pod port-forward (not drift)', { source, pod, user: verdict.who, auditID: event.auditID });
        return;
      case 'drift':
        this.count(source, 'accepted');
        logger.info('runtime drift observed', {
          source, pod, what: verdict.record.what, user: verdict.record.who, container: verdict.record.container,
          command: verdict.record.command, auditID: event.auditID,
        });
        this.opts.onDrift(verdict.pod, verdict.record);
        return;
    }
  }
}
