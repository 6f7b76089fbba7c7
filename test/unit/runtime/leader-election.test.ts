import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import { StatusError } from '../../../src/runtime/errors.js';
import { LeaderElector, type Lease, type LeaseClient } from '../../../src/runtime/leader-election.js';

/** An in-memory lease store with resourceVersion-based optimistic concurrency, like the API server. */
class FakeLeases implements LeaseClient {
  private lease: Lease | undefined;
  private rv = 0;
  /** When set, every call fails with it (an unreachable API server). */
  outage: Error | undefined;
  writes: Lease[] = [];

  get(_ns: string, _name: string): Promise<Lease | undefined> {
    if (this.outage) return Promise.reject(this.outage);
    return Promise.resolve(this.lease && structuredClone(this.lease));
  }

  create(_ns: string, lease: Lease): Promise<Lease> {
    if (this.outage) return Promise.reject(this.outage);
    if (this.lease) return Promise.reject(new StatusError(409, 'already exists', 'AlreadyExists'));
    return Promise.resolve(this.store(lease));
  }

  replace(_ns: string, _name: string, lease: Lease): Promise<Lease> {
    if (this.outage) return Promise.reject(this.outage);
    if (!this.lease) return Promise.reject(new StatusError(404, 'not found', 'NotFound'));
    if (lease.metadata.resourceVersion !== this.lease.metadata.resourceVersion) {
      return Promise.reject(new StatusError(409, 'the object has been modified', 'Conflict'));
    }
    return Promise.resolve(this.store(lease));
  }

  holder(): string | undefined {
    return this.lease?.spec.holderIdentity;
  }

  private store(lease: Lease): Lease {
    this.lease = structuredClone({ ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } });
    this.writes.push(structuredClone(this.lease));
    return structuredClone(this.lease);
  }
}

interface Candidate {
  elector: LeaderElector;
  abort: AbortController;
  run: Promise<void>;
  log: string[];
  leaderSignal?: AbortSignal;
}

function candidate(identity: string, client: LeaseClient, clock: FakeClock, extra: { releaseOnCancel?: boolean } = {}): Candidate {
  const abort = new AbortController();
  const c: Partial<Candidate> & { log: string[] } = { log: [] };
  c.elector = new LeaderElector({
    client,
    namespace: 'ops',
    name: 'operator-lock',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    clock,
    random: () => 0,
    onStartedLeading: (signal) => {
      c.log.push(`started@${clock.now()}`);
      c.leaderSignal = signal;
    },
    onStoppedLeading: () => c.log.push(`stopped@${clock.now()}`),
    ...extra,
  });
  c.abort = abort;
  c.run = c.elector.run(abort.signal);
  return c as Candidate;
}

describe('LeaderElector', () => {
  it('creates the lease when there is none and leads; a second candidate stays standby', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock);
    await clock.flush();
    const b = candidate('b', leases, clock);
    await clock.advance(60_000);

    expect(a.elector.isLeader()).to.equal(true);
    expect(b.elector.isLeader()).to.equal(false);
    expect(leases.holder()).to.equal('a');
    expect(a.log).to.deep.equal(['started@0']);
    expect(b.log).to.deep.equal([]);
    expect(b.elector.observedLeader()).to.equal('a');
    // renewals every retry period keep the lease fresh
    const renewals = leases.writes.filter((w) => w.spec.holderIdentity === 'a').length;
    expect(renewals).to.be.at.least(29);

    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.run, b.run]);
  });

  it('only one of two simultaneous candidates wins the race', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock);
    const b = candidate('b', leases, clock);
    await clock.advance(30_000);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).to.have.length(1);
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.run, b.run]);
  });

  it('a standby takes over once the leader stops renewing, judged by its own clock', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock, { releaseOnCancel: false });
    await clock.flush();
    const b = candidate('b', leases, clock);
    await clock.advance(10_000);
    expect(b.elector.isLeader()).to.equal(false);

    // The leader dies without releasing: its lease is last renewed at t=10 s.
    a.abort.abort();
    await a.run;
    const diedAt = clock.now();
    await clock.advance(14_000);
    expect(b.elector.isLeader()).to.equal(false); // lease not yet expired for b
    await clock.advance(4_000);
    expect(b.elector.isLeader()).to.equal(true);
    expect(leases.holder()).to.equal('b');
    const tookOverAt = Number(b.log[0]!.split('@')[1]);
    expect(tookOverAt - diedAt).to.be.within(15_000, 15_000 + 2_000);
    expect(leases.writes.at(-1)!.spec.leaseTransitions).to.equal(1);
    b.abort.abort();
    await b.run;
  });

  it('a standby whose next retry would come after the lease expires tries at the expiry instead', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock, { releaseOnCancel: false });
    await clock.flush();
    // The most jitter client-go allows: every retry of b waits 2 s × 2.2.
    const abort = new AbortController();
    const started: number[] = [];
    const b = new LeaderElector({
      client: leases, namespace: 'ops', name: 'operator-lock', identity: 'b', leaseDurationMs: 15_000, renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000, clock, random: () => 1, onStartedLeading: () => started.push(clock.now()), onStoppedLeading: () => undefined,
    });
    const run = b.run(abort.signal);
    await clock.advance(3_000);
    a.abort.abort();
    await a.run;
    // b saw a's last renewal (t=2 s) at its retry at t=4.4 s: the lease expires for b at 19.4 s. Its jittered
    // retries (t=8.8, 13.2, 17.6, 22 s) would take it only at 22 s.
    await clock.advance(25_000);
    expect(started).to.have.length(1);
    expect(started[0]).to.be.within(19_400, 19_500);
    abort.abort();
    await run;
  });

  it('a leader that reads the Lease held by another identity stops at once, not at its renew deadline', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock);
    await clock.flush();
    await clock.advance(5_000);
    // Someone else takes the Lease (a hijack, or a replica that judged it expired under clock trouble).
    const current = (await leases.get('ops', 'operator-lock'))!;
    const hijackedAt = clock.now();
    await leases.replace('ops', 'operator-lock', { ...current, spec: { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 20 } });
    await clock.advance(12_000);
    expect(a.elector.isLeader()).to.equal(false);
    const stoppedAt = Number(a.log.find((l) => l.startsWith('stopped'))!.split('@')[1]);
    // Its next renewal (every 2 s) fails on the stale version, re-reads, and sees the intruder.
    expect(stoppedAt - hijackedAt).to.be.at.most(2_000);
    expect(leases.holder()).to.equal('intruder');
    await a.run;
  });

  it('release on shutdown clears the holder so a standby takes over at its next attempt', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock);
    await clock.flush();
    const b = candidate('b', leases, clock);
    await clock.advance(5_000);

    a.abort.abort();
    await a.run;
    expect(a.log).to.deep.equal(['started@0', 'stopped@5000']);
    expect(a.leaderSignal!.aborted).to.equal(true);
    expect(leases.holder()).to.equal(undefined);

    await clock.advance(2_000);
    expect(b.elector.isLeader()).to.equal(true);
    b.abort.abort();
    await b.run;
  });

  it('release() can be called by the owner after draining work', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock, { releaseOnCancel: false });
    await clock.advance(3_000);
    await a.elector.release();
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.leaderSignal!.aborted).to.equal(true);
    expect(leases.holder()).to.equal(undefined);
    await a.run; // run ends once leadership is gone
  });

  it('stops leading when renewals fail for the renew deadline, before the lease expires for others', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock);
    await clock.advance(4_000); // renewed at 2 s and 4 s
    leases.outage = new Error('connect ECONNREFUSED');
    let ended = false;
    void a.run.then(() => (ended = true));
    await clock.advance(11_000);
    expect(a.elector.isLeader()).to.equal(true); // still within the deadline
    await clock.advance(1_000);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.leaderSignal!.aborted).to.equal(true);
    // 6 s round start + 10 s deadline: before the lease (last renewed at 4 s) expires for others at 19 s.
    expect(a.log).to.deep.equal(['started@0', 'stopped@16000']);
    await clock.flush();
    expect(ended).to.equal(true);
  });

  it('treats a renewal that hangs past the deadline as a failure', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock);
    await clock.advance(2_000);
    leases.replace = () => new Promise<Lease>(() => undefined);
    leases.get = () => new Promise<Lease | undefined>(() => undefined);
    await clock.advance(12_000);
    expect(a.elector.isLeader()).to.equal(false);
    await a.run;
  });

  it('recovers from a transient renewal failure without losing leadership', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    const a = candidate('a', leases, clock);
    await clock.advance(2_000);
    leases.outage = new Error('timeout');
    await clock.advance(6_000);
    leases.outage = undefined;
    await clock.advance(20_000);
    expect(a.elector.isLeader()).to.equal(true);
    expect(a.log).to.deep.equal(['started@0']);
    a.abort.abort();
    await a.run;
  });

  it('hands the lease straight back if an acquisition lands after shutdown began', async () => {
    const clock = new FakeClock(0);
    const leases = new FakeLeases();
    let letCreateFinish!: () => void;
    const gate = new Promise<void>((r) => (letCreateFinish = r));
    const realCreate = leases.create.bind(leases);
    leases.create = async (ns, lease) => {
      await gate;
      return realCreate(ns, lease);
    };
    const a = candidate('a', leases, clock);
    await clock.flush();
    a.abort.abort();
    letCreateFinish();
    await a.run;
    expect(a.log).to.deep.equal([]);
    expect(leases.writes.map((w) => w.spec.holderIdentity)).to.deep.equal(['a', undefined]);
  });

  it('rejects inconsistent timing', () => {
    const base = {
      client: new FakeLeases(),
      namespace: 'n',
      name: 'l',
      identity: 'i',
      clock: new FakeClock(0),
      onStartedLeading: () => undefined,
      onStoppedLeading: () => undefined,
    };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).to.throw(RangeError);
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).to.throw(RangeError);
  });
});
