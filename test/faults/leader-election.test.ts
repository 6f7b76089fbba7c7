// Scenarios 4, 5 and 24 (docs/reliability.md): two replicas with leader election. Who acted, and when, is
// read from the API server: every label write comes with a ViolationLabeled Event whose reportingInstance is
// the replica's identity and whose eventTime is when it acted; the Lease shows who held it.
import { expect } from 'chai';
import { report } from '../support/faults/report.js';
import {
  PRIVILEGED, apply, barePod, cleanup, condition, createNamespaces, isLabelled, items, livePods, policy, statusWhere,
  type Json,
} from '../support/workloads.js';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { OperatorProcess } from '../support/operator.js';

const NS = 'fault-leader';
const POLICY = 'fault-leader';
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/default/leases/immutability-operator';
/** The operator's defaults (src/runtime/leader-election.ts). */
const LEASE_DURATION_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
/**
 * Replicas renew and retry every second instead of every 2 s. A standby learns of the leader's last renewal
 * only at its next read, up to 2.2 retry periods later (client-go's jitter), and counts the lease duration
 * from then: with the default 2 s that alone is up to 4.4 s of the 5 s the issue allows above the lease
 * duration, and the takeover measured 16-19 s against the 20 s bound. With 1 s it is 2.2 s, leaving the
 * bound meaningful (a standby that waited one lease duration too long, or a retry period too many, fails it).
 */
const RETRY_PERIOD_ARGS = ['--leader-elect-retry-period-seconds', '1'];

interface Lease {
  metadata: { resourceVersion: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

async function lease(): Promise<Lease | undefined> {
  const res = await cluster().controlPlane.apiGet(LEASE);
  return res.status === 200 ? (JSON.parse(res.body) as Lease) : undefined;
}

/** When each replica acted, from the ViolationLabeled Events it wrote: identity → sorted eventTimes (ms). */
async function actsByReplica(): Promise<Map<string, number[]>> {
  const events = await items(['-n', NS, 'events.v1.events.k8s.io', '--field-selector', 'reason=ViolationLabeled']);
  const acts = new Map<string, number[]>();
  for (const e of events) {
    const who = String(e['reportingInstance']);
    const when = Date.parse(String(e['eventTime']));
    acts.set(who, [...(acts.get(who) ?? []), when]);
  }
  for (const times of acts.values()) times.sort((a, b) => a - b);
  return acts;
}

/** Creates a violating bare pod every `everyMs` until stopped: a steady demand for the leader to act. */
function podStream(prefix: string, everyMs: number): { stop: () => Promise<number> } {
  let n = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      await apply(barePod(NS, `${prefix}-${n++}`, PRIVILEGED));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return { stop: async () => { running = false; await loop; return n; } };
}

/** The replicas' own pods (POD_NAME / POD_NAMESPACE=default) that carry the leader label. */
async function labelledLeaders(): Promise<string[]> {
  const out = await kubectlOk(['-n', 'default', 'get', 'pods', '-l', 'immutability.dev/leader=true', '-o', 'jsonpath={.items[*].metadata.name}']);
  return out.trim().split(/\s+/).filter(Boolean).sort();
}

describe('faults: leader election', function () {
  const replicas: OperatorProcess[] = [];
  const start = async (identity: string): Promise<OperatorProcess> => {
    const op = await new OperatorProcess({ leaderElect: true, identity, args: RETRY_PERIOD_ARGS }).start();
    replicas.push(op);
    return op;
  };
  const identities = ['fault-a', 'fault-b', 'fault-c'];

  before(async function () {
    await installCrd();
    await createNamespaces([NS]);
    await kubectl(['-n', 'default', 'delete', 'lease', 'immutability-operator', '--ignore-not-found']);
    // Stand-ins for the replicas' own pods, which the leader labels (docs/audit.md: the Service routes to it).
    await apply(identities.map((name) => barePod('default', name)));
    await apply(policy(POLICY, [NS], { mode: 'Enforce', rules: { readOnlyRootFilesystem: false }, remediation: { label: {} } }));
  });

  after(async function () {
    this.timeout(120_000);
    for (const op of replicas) await op.stop();
    const cleaner = await new OperatorProcess().start();
    await cleanup([POLICY], [NS]);
    await cleaner.stop();
    await kubectl(['-n', 'default', 'delete', 'pod', ...identities, '--wait=false', '--ignore-not-found']);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const op of replicas) process.stderr.write(`${op.logFile}:\n${await op.logs(25)}\n`);
  });

  it('4: the standby takes over within lease duration + 5 s of a SIGKILL; a hijacked Lease stops the old leader within its renew deadline; never two acting at once', async function () {
    this.timeout(180_000);
    const a = await start('fault-a');
    await eventually('fault-a leads', async () => ((await lease())?.spec.holderIdentity === 'fault-a' ? true : undefined));
    const b = await start('fault-b');
    const stream = podStream('p', 700);
    try {
      await eventually('fault-a acting', async () => ((await actsByReplica()).get('fault-a')?.length ?? 0) >= 3 ? true : undefined);
      await eventually('fault-a labelled leader', async () => ((await labelledLeaders()).join() === 'fault-a' ? true : undefined));

      // 1. The leader crashes: the standby must act within lease duration + 5 s.
      const killedAt = Date.now();
      await a.kill();
      const takeover = await eventually('fault-b acting', async () => (await actsByReplica()).get('fault-b')?.[0], LEASE_DURATION_MS + 15_000);
      const takeoverMs = takeover - killedAt;
      expect(takeoverMs, 'standby acts within lease duration + 5 s').to.be.below(LEASE_DURATION_MS + 5_000);
      await eventually('fault-b labelled leader', async () => ((await labelledLeaders()).includes('fault-b') ? true : undefined));

      // 2. Another identity takes the Lease: fault-b must stop acting within its renew deadline, and the
      //    standby (fault-c) must not act while the hijacker's Lease is valid.
      await start('fault-c');
      // Read-modify-write against a leader renewing every second: a renewal in between is a 409; read again.
      const hijackedAt = await eventually('the Lease taken by another identity', async () => {
        const current = await lease();
        const at = Date.now();
        const res = await cluster().controlPlane.apiRequest('PUT', LEASE, {
          ...current, spec: { ...current?.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z'), leaseDurationSeconds: 20 },
        });
        if (res.status === 409) return undefined;
        expect(res.status, res.body).to.equal(200);
        return at;
      }, 10_000, 10);
      await eventually('fault-b exits after losing the Lease', () => Promise.resolve(b.exitCode !== undefined ? true : undefined), RENEW_DEADLINE_MS + 15_000);
      expect(b.exitCode, 'exit code after losing leadership').to.equal(1);
      const cFirst = await eventually('fault-c acting after the hijacker\'s Lease expired', async () => (await actsByReplica()).get('fault-c')?.[0], 60_000);
      await stream.stop();

      const acts = await actsByReplica();
      const aTimes = acts.get('fault-a') ?? [];
      const bTimes = acts.get('fault-b') ?? [];
      const cTimes = acts.get('fault-c') ?? [];
      const bLastAfterHijackMs = (bTimes.at(-1) ?? 0) - hijackedAt;
      expect(bLastAfterHijackMs, 'old leader stops within its renew deadline').to.be.below(RENEW_DEADLINE_MS + 1_000);
      expect(cFirst - hijackedAt, 'nobody acts while the intruder holds a valid Lease').to.be.at.least(20_000 - 1_000);
      // Never two at once: the three replicas' acting intervals are disjoint and in order.
      expect(aTimes.at(-1) ?? 0).to.be.below(bTimes[0] ?? Infinity);
      expect(bTimes.at(-1) ?? 0).to.be.below(cTimes[0] ?? Infinity);
      // Nothing lost, nothing done twice: every pod labelled, each by exactly one Event.
      const pods = await livePods(NS);
      expect(pods.every(isLabelled), 'every pod labelled').to.equal(true);
      const labelled = aTimes.length + bTimes.length + cTimes.length;
      expect(labelled, 'one ViolationLabeled Event per pod').to.equal(pods.length);
      report(4, {
        pods: pods.length, takeoverAfterKillMs: takeoverMs, oldLeaderLastActAfterHijackMs: bLastAfterHijackMs,
        standbyFirstActAfterHijackMs: cFirst - hijackedAt, actsA: aTimes.length, actsB: bTimes.length, actsC: cTimes.length,
      });
    } finally {
      await stream.stop();
    }
  });

  it('5: SIGTERM with actions in flight: the Lease is released within 1 s, no half-written status or labels', async function () {
    this.timeout(120_000);
    const leader = replicas.find((r) => r.exitCode === undefined && r.identity === 'fault-c');
    expect(leader, 'fault-c runs').to.not.equal(undefined);
    const standby = await start('fault-a');
    const burst: Json[] = [];
    for (let i = 0; i < 40; i++) burst.push(barePod(NS, `burst-${i}`, PRIVILEGED));
    await apply(burst);
    await eventually('labelling under way', async () => ((await livePods(NS)).some((p) => String(at(p, 'metadata', 'name')).startsWith('burst-') && isLabelled(p)) ? true : undefined), 30_000, 50);
    const termAt = Date.now();
    const stopped = leader?.stop();
    const releasedAfterMs = await eventually('Lease released', async () => {
      const l = await lease();
      return l && l.spec.holderIdentity !== 'fault-c' ? Date.now() - termAt : undefined;
    }, 10_000, 25);
    const exitCode = await stopped;
    expect(releasedAfterMs, 'Lease released within 1 s').to.be.below(1_000);
    expect(exitCode).to.equal(0);

    // The standby finishes the job; every labelled pod carries its label and its annotation together.
    await eventually('every pod labelled', async () => ((await livePods(NS)).every(isLabelled) ? true : undefined), 30_000);
    const pods = await livePods(NS);
    for (const p of pods) expect(at(p, 'metadata', 'annotations', 'immutability.dev/violations'), String(at(p, 'metadata', 'name'))).to.be.a('string');
    const status = await statusWhere(POLICY, 'status counts every pod', (s) => s.matchedPods === pods.length && s.violatingPods === pods.length, 30_000);
    expect(status.observedGeneration).to.equal(1);
    expect(condition(status, 'Compliant')?.reason).to.equal('ViolationsFound');
    const takeover = await eventually('fault-a leads', async () => ((await lease())?.spec.holderIdentity === 'fault-a' ? Date.now() - termAt : undefined), 10_000);
    expect(standby.pid).to.be.a('number');
    report(5, { podsInFlight: 40, leaseReleasedAfterMs: releasedAfterMs, standbyLeadsAfterMs: takeover, exitCode: exitCode ?? -1 });
  });
});
