// Kubernetes Events (events.k8s.io/v1) for the policy and the workloads the operator acts on, so that
// `kubectl describe` and `kubectl events` show what was done and why.
//
// Recording is fire-and-forget: a reconcile never waits for, or fails because of, an Event. Failures are
// logged, never thrown and never left as unhandled rejections.
//
// De-duplication: an Event identical to one emitted less than `dedupWindowMs` ago (same object, type,
// reason, action and note) is not sent. The suppressed repeats are not lost: the next time the same Event
// is recorded after the window, it is sent with `series.count` = the number of occurrences it stands for
// (the suppressed ones plus itself) and `series.lastObservedTime`. A global token bucket bounds the write
// rate on top, so a storm (every pod of a large cluster violating at once) cannot flood the API server;
// Events over the budget are dropped and logged at debug level.
import { LRUCache } from 'lru-cache';
import type { KubeHttp } from '../k8s/http.js';
import { Paths } from '../k8s/resources.js';
import { TokenBucket } from '../runtime/token-bucket.js';
import type { Logger } from './logger.js';

export const REPORTING_CONTROLLER = 'immutability.dev/operator';
/** Where Events about cluster-scoped objects (ImmutabilityPolicy, Namespace) go, as the API requires. */
export const CLUSTER_SCOPED_EVENT_NAMESPACE = 'default';

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  /** Absent for cluster-scoped objects. */
  namespace?: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

/** An events.k8s.io/v1 Event as sent on the wire; times are RFC 3339 with microseconds. */
export interface EventBody {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  regarding: ObjectReference;
  type: EventType;
  reason: string;
  action: string;
  note: string;
  series?: { count: number; lastObservedTime: string };
}

/** The one API call the recorder makes; a port so that tests use a fake. */
export interface EventSink {
  create(namespace: string, event: EventBody): Promise<void>;
}

export interface EventRecorderOptions {
  sink: EventSink;
  /**
   * Short component name, e.g. 'immutability-operator'; it labels the recorder's own log lines. It is not
   * written into Events: events.k8s.io/v1 rejects `deprecatedSource` on create ("needs to be unset"), and
   * `kubectl` shows `reportingController` instead.
   */
  component?: string;
  /** reportingInstance: this replica's pod name. */
  instance: string;
  clock: { now(): number };
  logger: Logger;
  /** Identical Events within this window are collapsed. Default 5 minutes. */
  dedupWindowMs?: number;
  /** Global write budget: a bucket of `burst` Events refilled at `perSecond`. Default 50 and 2. */
  rateLimit?: { burst: number; perSecond: number };
  /** Bound on remembered Events for de-duplication. Default 4096. */
  maxTracked?: number;
}

interface Emitted {
  lastEmittedAt: number;
  /** Occurrences suppressed since the last emission. */
  suppressed: number;
}

// API validation limits for events.k8s.io/v1.
const MAX_NOTE_BYTES = 1024;
const MAX_REASON_OR_ACTION = 128;
const MAX_INSTANCE = 128;
const MAX_NAME = 253;

export class EventRecorder {
  private readonly sink: EventSink;
  private readonly instance: string;
  private readonly clock: { now(): number };
  private readonly logger: Logger;
  private readonly windowMs: number;
  /**
   * Entries live for two windows after their last emission, so that a repeat shortly after the window still
   * reports its series count; beyond that, or past the size bound (least recently recorded first), they go.
   */
  private readonly emitted: LRUCache<string, Emitted>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly bucket: TokenBucket;
  private sequence = 0;

  constructor(opts: EventRecorderOptions) {
    this.sink = opts.sink;
    this.instance = truncateChars(opts.instance, MAX_INSTANCE);
    this.clock = opts.clock;
    this.logger = opts.logger.child({ component: opts.component ?? 'immutability-operator', subsystem: 'events' });
    this.windowMs = opts.dedupWindowMs ?? 5 * 60_000;
    this.bucket = new TokenBucket({ ratePerSec: opts.rateLimit?.perSecond ?? 2, burst: opts.rateLimit?.burst ?? 50, clock: opts.clock });
    // ttlResolution 0: read the injected clock on every look-up rather than caching it for a real millisecond.
    this.emitted = new LRUCache({ max: opts.maxTracked ?? 4096, ttl: 2 * this.windowMs, ttlResolution: 0, perf: opts.clock });
  }

  record(regarding: ObjectReference, type: EventType, reason: string, action: string, note: string): void {
    const now = this.clock.now();
    const key = JSON.stringify([
      regarding.apiVersion,
      regarding.kind,
      regarding.namespace ?? '',
      regarding.name,
      regarding.uid ?? '',
      type,
      reason,
      action,
      note,
    ]);
    const previous = this.emitted.get(key);
    if (previous && now - previous.lastEmittedAt < this.windowMs) {
      previous.suppressed++;
      return;
    }
    if (!this.bucket.tryTake()) {
      this.logger.debug('event dropped by rate limit', { reason, kind: regarding.kind, name: regarding.name });
      return;
    }
    const count = (previous?.suppressed ?? 0) + 1;
    this.emitted.set(key, { lastEmittedAt: now, suppressed: 0 });
    this.send(this.build(regarding, type, reason, action, note, now, count));
  }

  /** Resolves when every Event recorded so far has been written or has failed (for shutdown and tests). */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.all(this.inFlight);
    }
  }

  private build(
    regarding: ObjectReference,
    type: EventType,
    reason: string,
    action: string,
    note: string,
    now: number,
    count: number,
  ): EventBody {
    const namespace = regarding.namespace || CLUSTER_SCOPED_EVENT_NAMESPACE;
    const eventTime = microTime(now);
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: this.eventName(regarding.name, now), namespace },
      eventTime,
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      regarding: compactReference(regarding),
      type,
      reason: truncateChars(reason, MAX_REASON_OR_ACTION),
      action: truncateChars(action, MAX_REASON_OR_ACTION),
      note: truncateBytes(note, MAX_NOTE_BYTES),
      ...(count > 1 ? { series: { count, lastObservedTime: eventTime } } : {}),
    };
  }

  private send(event: EventBody): void {
    const write = this.sink
      .create(event.metadata.namespace, event)
      .catch((err: unknown) => {
        this.logger.warn('could not record event', {
          reason: event.reason,
          kind: event.regarding.kind,
          namespace: event.regarding.namespace,
          name: event.regarding.name,
          err,
        });
      })
      .finally(() => this.inFlight.delete(write));
    this.inFlight.add(write);
  }

  // Like client-go: `<object name>.<hex timestamp>`, unique per replica thanks to a sequence in the low bits.
  private eventName(objectName: string, now: number): string {
    const stamp = (BigInt(now) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16);
    const prefix = objectName.slice(0, MAX_NAME - stamp.length - 1).replace(/[-.]+$/, '');
    return `${prefix}.${stamp}`;
  }
}

/**
 * The EventSink of a real cluster: the operator's one HTTP path (its keep-alive connections; a client of its
 * own would open a TLS connection per Event). EventBody is already the wire form, times in microseconds.
 */
export function eventsSink(http: Pick<KubeHttp, 'write'>): EventSink {
  return {
    async create(namespace, event) {
      await http.write('POST', Paths.events(namespace), { body: event });
    },
  };
}

export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/Z$/, '000Z');
}

function compactReference(ref: ObjectReference): ObjectReference {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    name: ref.name,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
    ...(ref.uid ? { uid: ref.uid } : {}),
  };
}

function truncateChars(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max);
}

function truncateBytes(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value) <= maxBytes) {
    return value;
  }
  const ellipsis = '...';
  let out = value.slice(0, maxBytes);
  while (Buffer.byteLength(out) + ellipsis.length > maxBytes) {
    out = out.slice(0, -1);
  }
  return out + ellipsis;
}
