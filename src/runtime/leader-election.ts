import { childAbortController } from './abort.js';
import type { Clock, Timer } from './clock.js';
import { statusCodeOf } from './errors.js';
import { errorFields, noopLogger, type Logger } from './logger.js';
import { yieldToEventLoop } from './yield.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** RFC 3339 timestamps; informational only — expiry is judged by our own clock, never by these. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** The parts of a coordination.k8s.io/v1 Lease that leader election uses. */
export interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/**
 * Storage for the lease. `replace` must be conditional on `metadata.resourceVersion` (optimistic concurrency)
 * and fail with status 409 when it is stale; `create` fails with 409 when the lease already exists.
 */
export interface LeaseClient {
  get(namespace: string, name: string): Promise<Lease | undefined>;
  create(namespace: string, lease: Lease): Promise<Lease>;
  replace(namespace: string, name: string, lease: Lease): Promise<Lease>;
}

export interface LeaderElectorOptions {
  client: LeaseClient;
  namespace: string;
  name: string;
  /** Unique per process, e.g. the pod name plus a random suffix. */
  identity: string;
  /** How long a standby waits, from when it last saw the lease change, before taking it over. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failing renewal before it stops leading. Default 10 s. */
  renewDeadlineMs?: number;
  /** Interval between renewals and between acquisition attempts. Default 2 s. */
  retryPeriodMs?: number;
  clock: Clock;
  logger?: Logger;
  /** Called when this process becomes leader; `signal` aborts when it stops leading for any reason. */
  onStartedLeading(signal: AbortSignal): void;
  /** Called once when leadership ends (lost, released, or shut down). */
  onStoppedLeading(): void;
  /** Called whenever the observed holder changes (including to ourselves, or to nobody as ''). */
  onNewLeader?(identity: string): void;
  /** Release the lease when the `run` signal aborts; default true. Set false to call `release()` yourself. */
  releaseOnCancel?: boolean;
  random?: () => number;
}

type Attempt = 'held' | 'taken' | 'failed';

/** client-go's JitterFactor for acquisition retries. */
const ACQUIRE_JITTER = 1.2;

/**
 * Lease-based leader election with client-go semantics:
 *  - a lease is free when it has no holder, or when it has not changed for its `leaseDurationSeconds` as
 *    measured by OUR clock from the moment we observed the change (tolerates clock skew between nodes);
 *  - the leader renews every retry period; if renewals keep failing for `renewDeadlineMs` it stops leading at
 *    once (before the lease can expire for others), aborting the signal given to `onStartedLeading`; unlike
 *    client-go it also stops as soon as it reads the lease held by another identity (nothing to wait for);
 *  - a standby watching a valid lease retries the moment it expires, if that comes before its next retry;
 *  - a 409 on create/replace just means another candidate won the race;
 *  - `release()` clears the holder so a standby takes over on its next attempt instead of waiting out the
 *    lease.
 * There is no fencing: work done by a deposed leader may overlap briefly with the new one, so actions must be
 * idempotent.
 *
 * `run` resolves when leadership ends or the signal aborts; it does not campaign again (as in client-go, the
 * caller should then exit so that a fresh process rejoins with clean state).
 */
export class LeaderElector {
  private readonly opts: LeaderElectorOptions;
  private readonly logger: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly random: () => number;

  private observed: Lease | undefined;
  private observedSpecJson = '';
  private observedTime = 0;
  private reportedLeader: string | undefined;
  private leading = false;
  private leader: { controller: AbortController; dispose: () => void } | undefined;
  private inflight: Promise<unknown> = Promise.resolve();
  private running = false;
  /** The renewal round that ran out of time: how many attempts it made, over how long. */
  private lostRound: { attempts: number; elapsedMs: number } | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.logger = opts.logger ?? noopLogger;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.random = opts.random ?? Math.random;
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new RangeError('leaseDurationMs must be greater than renewDeadlineMs');
    }
    if (this.renewDeadlineMs <= ACQUIRE_JITTER * this.retryPeriodMs) {
      throw new RangeError(`renewDeadlineMs must be greater than ${ACQUIRE_JITTER} × retryPeriodMs`);
    }
    if (this.leaseDurationMs < 1000) throw new RangeError('leaseDurationMs must be at least 1000');
  }

  /** True between `onStartedLeading` and `onStoppedLeading`. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last observed ('' when nobody holds the lease, undefined before the first read). */
  observedLeader(): string | undefined {
    return this.observed ? (this.observed.spec.holderIdentity ?? '') : undefined;
  }

  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error('LeaderElector.run is already running');
    this.running = true;
    try {
      const acquired = await this.acquire(signal);
      if (!acquired) {
        // An acquisition may have landed just as we were told to stop: hand the lease straight back.
        if (signal.aborted && (this.opts.releaseOnCancel ?? true)) await this.release();
        return;
      }
      const leaderSignal = this.startLeading(signal);
      const outcome = await this.renewLoop(leaderSignal);
      if (outcome === 'lost') {
        this.logger.warn('failed to renew lease within the renew deadline; stopping leading', { ...this.fields(), ...this.lostRound });
      } else if (outcome === 'taken') {
        this.logger.warn('lease taken over by another holder; stopping leading', { ...this.fields(), leader: this.observedLeader() });
      }
      this.stopLeading();
      if (signal.aborted && (this.opts.releaseOnCancel ?? true)) await this.release();
    } finally {
      this.running = false;
    }
  }

  /**
   * Stops leading (if leading) and clears the holder so that a standby takes over on its next attempt. Safe to
   * call at any time; failures are logged (the lease then simply expires).
   */
  async release(): Promise<void> {
    this.stopLeading();
    // Let an in-flight renewal land first so our write does not race it; a hung one is not waited for long.
    await this.withinDeadline(
      this.inflight.then(
        () => true,
        () => true,
      ),
      this.retryPeriodMs,
      false,
    );
    const current = this.observed;
    if (!current || current.spec.holderIdentity !== this.opts.identity) return;
    const now = this.isoNow();
    const released: Lease = {
      metadata: { ...current.metadata },
      spec: {
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        ...(current.spec.leaseTransitions === undefined ? {} : { leaseTransitions: current.spec.leaseTransitions }),
      },
    };
    try {
      this.setObserved(await this.opts.client.replace(this.opts.namespace, this.opts.name, released));
      this.logger.info('released lease', this.fields());
    } catch (err) {
      this.logger.warn('failed to release lease; it will expire instead', { ...this.fields(), ...errorFields(err) });
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    this.logger.info('attempting to acquire lease', this.fields());
    while (!signal.aborted) {
      const attempt = await this.track(this.tryAcquireOrRenew());
      if (signal.aborted) return false;
      if (attempt === 'held') {
        this.logger.info('acquired lease', this.fields());
        return true;
      }
      let wait = this.retryPeriodMs * (1 + ACQUIRE_JITTER * this.random());
      // Watching a valid lease of another holder: try again the moment it expires if that comes first, so a
      // takeover costs the lease duration and not up to a further jittered retry period on top.
      if (attempt === 'taken') wait = Math.min(wait, Math.max(0, this.msUntilObservedExpiry(this.opts.clock.now())) + 1);
      await this.opts.clock.sleep(wait, signal);
    }
    return false;
  }

  private startLeading(signal: AbortSignal): AbortSignal {
    this.leader = childAbortController(signal);
    this.leading = true;
    try {
      this.opts.onStartedLeading(this.leader.controller.signal);
    } catch (err) {
      this.logger.warn('onStartedLeading failed', { ...this.fields(), ...errorFields(err) });
    }
    return this.leader.controller.signal;
  }

  private stopLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    this.leader?.controller.abort();
    this.leader?.dispose();
    this.leader = undefined;
    this.logger.info('stopped leading', this.fields());
    try {
      this.opts.onStoppedLeading();
    } catch (err) {
      this.logger.warn('onStoppedLeading failed', { ...this.fields(), ...errorFields(err) });
    }
  }

  /**
   * Renews every retry period; 'lost' when a renewal round ran past the renew deadline, 'taken' as soon as the
   * lease is seen held by another identity.
   */
  private async renewLoop(leaderSignal: AbortSignal): Promise<'lost' | 'taken' | 'stopped'> {
    const { clock } = this.opts;
    for (;;) {
      await clock.sleep(this.retryPeriodMs, leaderSignal);
      if (leaderSignal.aborted) return 'stopped';
      const started = clock.now();
      const deadline = started + this.renewDeadlineMs;
      for (let attempts = 1; ; attempts++) {
        const remaining = deadline - clock.now();
        if (remaining <= 0) {
          this.lostRound = { attempts: attempts - 1, elapsedMs: clock.now() - started };
          return 'lost';
        }
        const attempt = await this.withinDeadline(this.track(this.tryAcquireOrRenew()), remaining, 'failed');
        if (leaderSignal.aborted) return 'stopped';
        if (attempt === 'held') {
          // Half the deadline gone on one renewal: the warning comes before the lease is lost, with the figure.
          const tookMs = clock.now() - started;
          if (tookMs > this.renewDeadlineMs / 2) this.logger.warn('slow lease renewal', { ...this.fields(), tookMs, attempts, renewDeadlineMs: this.renewDeadlineMs });
          break;
        }
        // Another holder's valid lease is no transient failure: it leads now. Waiting out the renew deadline
        // (as client-go does) would only leave two replicas acting for that long.
        if (attempt === 'taken') return 'taken';
        await clock.sleep(Math.min(this.retryPeriodMs, deadline - clock.now()), leaderSignal);
        if (leaderSignal.aborted) return 'stopped';
      }
    }
  }

  /**
   * `attempt`'s result, or `onTimeout` if it has not finished within `ms` (a hung request counts as a failure).
   * An event loop that was held up (a long job, a garbage-collection pause) runs its due timers before it
   * reads its sockets: the timeout waits one turn more, so that an answer that arrived meanwhile is read
   * first. Counting such a renewal is safe: the API server accepted it against the Lease's resourceVersion,
   * so nobody else had taken the Lease.
   */
  private withinDeadline<T>(attempt: Promise<T>, ms: number, onTimeout: T): Promise<T> {
    const { clock } = this.opts;
    let timer: Timer | undefined;
    const timeout = new Promise<T>((resolve) => {
      timer = clock.setTimeout(() => void yieldToEventLoop().then(() => resolve(onTimeout)), ms);
    });
    return Promise.race([attempt, timeout]).finally(() => {
      if (timer !== undefined) clock.clearTimeout(timer);
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight = p;
    return p;
  }

  /**
   * One client-go `tryAcquireOrRenew`: 'held' when we hold the lease afterwards, 'taken' when another holder's
   * lease is valid (as read just now), 'failed' for anything else (an error, a lost race). Never throws.
   */
  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { client, namespace, name, identity, clock } = this.opts;
    const now = clock.now();
    const nowIso = new Date(now).toISOString();
    const desired: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: nowIso,
      renewTime: nowIso,
    };

    // Fast path: the leader renews optimistically against the version it wrote last time.
    const mine = this.observed;
    if (mine && this.observedHolderIsMe() && this.leaseValid(now)) {
      try {
        const renewed = await client.replace(namespace, name, {
          metadata: { ...mine.metadata },
          spec: { ...desired, acquireTime: mine.spec.acquireTime, leaseTransitions: mine.spec.leaseTransitions ?? 0 },
        });
        this.setObserved(renewed);
        return 'held';
      } catch (err) {
        this.logger.debug('optimistic lease renewal failed; re-reading', { ...this.fields(), ...errorFields(err) });
      }
    }

    let current: Lease | undefined;
    try {
      current = await client.get(namespace, name);
    } catch (err) {
      this.logger.warn('failed to read lease', { ...this.fields(), ...errorFields(err) });
      return 'failed';
    }
    if (!current) {
      try {
        this.setObserved(
          await client.create(namespace, { metadata: { name, namespace }, spec: { ...desired, leaseTransitions: 0 } }),
        );
        return 'held';
      } catch (err) {
        this.logWriteFailure('failed to create lease', err);
        return 'failed';
      }
    }

    this.observe(current);
    const holder = current.spec.holderIdentity ?? '';
    if (holder !== '' && holder !== identity && this.leaseValid(clock.now())) return 'taken';

    const spec: LeaseSpec =
      holder === identity
        ? { ...desired, acquireTime: current.spec.acquireTime, leaseTransitions: current.spec.leaseTransitions ?? 0 }
        : { ...desired, leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 };
    try {
      this.setObserved(await client.replace(namespace, name, { metadata: { ...current.metadata }, spec }));
      return 'held';
    } catch (err) {
      this.logWriteFailure('failed to update lease', err);
      return 'failed';
    }
  }

  private logWriteFailure(msg: string, err: unknown): void {
    // 409: another candidate wrote first — an ordinary lost race, not worth a warning.
    if (statusCodeOf(err) === 409) this.logger.debug(msg, { ...this.fields(), ...errorFields(err) });
    else this.logger.warn(msg, { ...this.fields(), ...errorFields(err) });
  }

  /** Remembers a lease read from the server; the expiry clock restarts only if its spec changed. */
  private observe(lease: Lease): void {
    const specJson = JSON.stringify(lease.spec);
    if (specJson !== this.observedSpecJson) {
      this.observedSpecJson = specJson;
      this.observedTime = this.opts.clock.now();
    }
    this.observed = lease;
    this.reportTransition();
  }

  /** Remembers a lease we just wrote. */
  private setObserved(lease: Lease): void {
    this.observed = lease;
    this.observedSpecJson = JSON.stringify(lease.spec);
    this.observedTime = this.opts.clock.now();
    this.reportTransition();
  }

  private reportTransition(): void {
    const holder = this.observed?.spec.holderIdentity ?? '';
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    this.logger.info('observed new leader', { ...this.fields(), leader: holder });
    try {
      this.opts.onNewLeader?.(holder);
    } catch (err) {
      this.logger.warn('onNewLeader failed', { ...this.fields(), ...errorFields(err) });
    }
  }

  private observedHolderIsMe(): boolean {
    return this.observed?.spec.holderIdentity === this.opts.identity;
  }

  private leaseValid(now: number): boolean {
    return this.msUntilObservedExpiry(now) > 0;
  }

  private msUntilObservedExpiry(now: number): number {
    const durationSec = this.observed?.spec.leaseDurationSeconds ?? 0;
    return this.observedTime + durationSec * 1000 - now;
  }

  private isoNow(): string {
    return new Date(this.opts.clock.now()).toISOString();
  }

  private fields(): Record<string, unknown> {
    return { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity };
  }
}
