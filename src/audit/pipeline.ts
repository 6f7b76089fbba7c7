// One stream for every audit source: raw events go in (from the webhook or the log follower), drift
// observations come out. The stream is buffered and bounded: sources never wait for processing (the webhook
// answers the API server at once), and a flood beyond `capacity` pending events is dropped and counted rather
// than growing memory without limit.
import { Observable, Subject, asapScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { classifyAuditEvent, type DriftRecord, type PodRef } from './classify.js';
import { validateAuditEvent } from './event.js';
import { LRUCache } from 'lru-cache';

export type AuditSourceName = 'webhook' | 'log';

export interface AuditInput {
  source: AuditSourceName;
  raw: unknown;
}

/**
 * Collects items into arrays handed downstream on `scheduler` (not in the producer's call stack), holding at
 * most `capacity` items between flushes; items beyond that go to `onDrop`.
 */
export function boundedBatches<T>(capacity: number, onDrop: (item: T) => void, scheduler: SchedulerLike = asapScheduler): OperatorFunction<T, T[]> {
  return (source) => new Observable<T[]>((subscriber) => {
    let pending: T[] = [];
    let scheduled: Subscription | undefined;
    const flush = (): void => {
      scheduled = undefined;
      const batch = pending;
      pending = [];
      if (batch.length > 0) subscriber.next(batch);
    };
    const sub = source.subscribe({
      next(item) {
        if (pending.length >= capacity) {
          onDrop(item);
          return;
        }
        pending.push(item);
        scheduled ??= scheduler.schedule(flush);
      },
      error: (err: unknown) => subscriber.error(err),
      complete() {
        flush();
        subscriber.complete();
      },
    });
    return () => {
      sub.unsubscribe();
      scheduled?.unsubscribe();
    };
  });
}

export interface AuditPipelineOptions {
  /** Called for each authorized exec/attach/ephemeral-container request, once per audit ID. */
  onDrift(pod: PodRef, record: DriftRecord): void;
  metrics: Pick<Metrics, 'auditEvents'>;
  logger: Logger;
  /** Events waiting for processing before new ones are dropped. Default 10000. */
  capacity?: number;
  /** Audit IDs remembered for de-duplication. Default 16384. */
  dedupCapacity?: number;
  scheduler?: SchedulerLike;
}

export class AuditPipeline {
  private readonly input = new Subject<AuditInput>();
  private readonly seen: LRUCache<string, true>;
  private readonly subscription: Subscription;

  constructor(private readonly opts: AuditPipelineOptions) {
    this.seen = new LRUCache({ max: opts.dedupCapacity ?? 16_384 });
    this.subscription = this.input
      .pipe(boundedBatches(opts.capacity ?? 10_000, (item) => this.count(item.source, 'dropped'), opts.scheduler))
      .subscribe((batch) => {
        for (const item of batch) this.process(item);
      });
  }

  /** Hands one raw event in; never throws, never blocks. */
  push(source: AuditSourceName, raw: unknown): void {
    this.input.next({ source, raw });
  }

  /** Processes what is buffered and stops accepting events. */
  close(): void {
    this.input.complete();
    this.subscription.unsubscribe();
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
