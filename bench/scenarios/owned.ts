// owned-N: N pods owned by N/10 Deployments (ReplicaSets and pods created by the benchmark with owner
// references; no controller-manager), every other Deployment violating. In one run, on the same pods:
//   1. ceiling   a bare client applies the operator's label write to the violating pods, 64 in flight, for
//                30 s: the API server's own rate for this work on this machine, now, taken over the span in
//                which all 64 writers had work (not over their drain once the pods or the window ran out)
//   2. baseline  bench/baseline-labeller.ts (client-node's makeInformer, full objects) labels them
//   3. operator  the operator with the shipped flags: start → every violating pod labelled and the policy
//                status complete; label rate; RSS sampled every 250 ms, peak, and settled after 20 s idle
// Every writer is observed alike: a LabelWatch of the benchmark (selector `<its label>=true`) reads each of its
// writes as the API server sends it, which costs kube-apiserver and the box CPU per write; until 2026-12-01 only
// the operator's phase had one, a cost its writes paid and the ceiling's did not.
// The ceiling and the labellers also record the CPU per write of kube-apiserver and of the writing process
// (from /proc, over the ceiling run and from a labeller's first label to its last): where a gap to the ceiling
// goes on a machine whose cores they share. The ceiling's writer is this process, so its `client` figure holds
// the writes and the reading of its label watch; a labeller's `benchmark` figure is this process's CPU in its
// phase (its label watch and the status polls), beside the labeller's own.
// Each writes its own label key, so each finds all the work still to do, and gives back its fields after its
// phase (server-side apply of no fields), so each finds the pods as the first did. BENCH_OWNED_PARTS (default
// "ceiling,baseline,operator") runs a subset, for experiments. Memory per pod is (RSS with the pods
// − RSS of the same process on the empty cluster) / N, for the operator and the baseline alike.
// Three more ceilings are experiments, run only when BENCH_OWNED_PARTS names them (before the baseline and the
// operator, in the order named, each with its own key and manager, released after it as the others): `merge` writes the same label change as a JSON
// merge patch instead of server-side apply (what apply itself costs the API server); `podwatch` is the ceiling
// with a second watch, of all pods, as the operator's cache has (what the operator's watch costs it);
// `loaded` is `podwatch` beside a process that keeps BENCH_BURN_SHARE (default 0.35) of a core busy, as the
// operator's own CPU does in its phase (what sharing the cores with the operator costs kube-apiserver).
// BENCH_APISERVER_PPROF=<dir> takes a CPU profile of kube-apiserver in each writer's phase (after its first
// write and 1 s more, for BENCH_APISERVER_PPROF_SECONDS, default 8), with the writes and the API server's
// requests (apiserver_request_total) over the same span: `go tool pprof` compares them per write.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../../test/support/controlplane/binaries.js';
import type { PodIdentity } from '../../src/k8s/api.js';
import { applyLabel, createOwned, fieldManagers, inParallel, mergeLabel, ownedNames, podUids, releaseFields, type OwnedWorkloads } from '../lib/objects.js';
import { NodeProcess, Operator, OPERATOR_NAMESPACE, operatorRunInfo, type RssSample } from '../lib/operator.js';
import { requestDelta, type BenchCluster } from '../lib/cluster.js';
import { cpuSeconds } from '../../test/support/faults/process-sampler.js';
import { type Result, type ScenarioContext, type ScenarioFamily, numberAfter, sleep } from '../lib/scenario.js';
import { fullPoolRate, perSecond, round1, spanRate } from '../lib/stats.js';
import { LabelWatch, LABEL_VIOLATION, ObjectWatch } from '../lib/watch.js';

const NS = 'bench-owned';
const POLICY = 'bench';
const PODS_PER_DEPLOYMENT = 10;
const CEILING_CONCURRENCY = 64;
const CEILING_MS = 30_000;
const SETTLE_MS = 20_000;
/** A labeller that has not labelled every pod by then is reported as not done (null). */
const LABELLING_TIMEOUT_MS = 20 * 60_000;
const EMPTY_SETTLE_MS = 6_000;
const BASELINE_LABEL = 'bench.immutability.dev/baseline';
const CEILING_LABEL = 'bench.immutability.dev/ceiling';
const CEILING_MANAGER = 'bench-ceiling';
const PPROF_DELAY_MS = 1_000;
/** bench/baseline-labeller.ts's field manager. */
const BASELINE_MANAGER = 'baseline-labeller';

/** RSS of a process on the empty cluster: what it costs before the first pod. */
async function emptyRss(proc: NodeProcess): Promise<number> {
  proc.start();
  try {
    await sleep(EMPTY_SETTLE_MS);
    return await proc.rssMiB();
  } finally {
    await proc.stop();
  }
}

interface Ceiling {
  /** Writes answered over the whole run, and its length: from the start to the last answer. */
  writes: number; concurrency: number; seconds: number;
  /** Writes per second while every one of the `concurrency` writers had work (fullPool): what the labellers' rates are compared with. */
  ratePerSec: number;
  /**
   * The span of ratePerSec (fullPoolRate): from the answer of the first `concurrency` writes (sent together at
   * the start) to the moment the first writer found no work left, because every violating pod had been taken
   * (`endedBy: 'pods'`; at 50,000 pods after 28.7-29.5 s) or the window had closed (`'window'`), and the
   * writes answered in it. After it fewer writes are in flight until the last answer.
   */
  fullPool: { seconds: number; writes: number; endedBy: 'pods' | 'window' };
  /** writes / seconds, start and drain included: what ratePerSec was in results before 2026-12-01 11:30. */
  overallRatePerSec: number;
  /** Writes answered in each second of the run: its start and its drain, to see. */
  answersPerSecond: number[];
  /**
   * CPU per write of kube-apiserver and of the writing client over the whole ceiling run. The client is this
   * process: the writes and the reading of its label watch (a labeller's phase reports its watch apart).
   */
  cpuMsPerWrite: { apiServer: number; client: number };
  /** Writes the ceiling's label watch saw, as the labellers' watches see theirs. */
  watched: number;
  /** kube-apiserver's requests over the run, by verb and resource (apiserver_request_total). */
  requests?: Record<string, number>;
  pprof?: ProfileWindow;
  /** `loaded`: the share of a core the burner beside it kept busy. */
  burnShare?: number;
}

/** A bare writer of the ceiling's label change: the ceiling itself, or one of the experiments beside it. */
interface CeilingWriter {
  part: string;
  label: string;
  manager: string;
  write(http: BenchCluster['http'], pod: PodIdentity): Promise<void>;
  /** Gives the writer's fields back on a pod it wrote. */
  release(http: BenchCluster['http'], name: string): Promise<void>;
  /** A second watch, of all pods in the cluster, reading every event as the operator's pod cache does. */
  watchAllPods?: boolean;
  /** A process beside it keeping this share of a core busy (BENCH_BURN_SHARE). */
  burn?: boolean;
}

const ssaWriter = (part: string, watchAllPods = false, burn = false): CeilingWriter => {
  const label = part === 'ceiling' ? CEILING_LABEL : `bench.immutability.dev/${part}`;
  const manager = part === 'ceiling' ? CEILING_MANAGER : `bench-${part}`;
  return { part, label, manager, watchAllPods, burn, write: (http, pod) => applyLabel(http, pod, label, manager),
    release: (http, name) => releaseFields(http, NS, name, manager) };
};
const CEILING_WRITERS: readonly CeilingWriter[] = [
  ssaWriter('ceiling'),
  { part: 'merge', label: 'bench.immutability.dev/merge', manager: 'bench-merge',
    write: (http, pod) => mergeLabel(http, pod, 'bench.immutability.dev/merge', 'bench-merge'),
    release: (http, name) => mergeLabel(http, { namespace: NS, name }, 'bench.immutability.dev/merge', 'bench-merge', true) },
  ssaWriter('podwatch', true),
  ssaWriter('loaded', true, true),
];

/**
 * A process keeping `share` of a core busy in 10 ms periods (busy, then idle): a stand-in for the operator's
 * own CPU beside kube-apiserver, without its requests.
 */
function burner(share: number): ChildProcess {
  const script = `const busy = ${share * 10}; const tick = () => { const t = performance.now(); while (performance.now() - t < busy); setTimeout(tick, ${10 - share * 10}); }; tick();`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

/**
 * The API server's rate for the operator's label write, now: a bare client writing to the violating pods
 * with CEILING_CONCURRENCY in flight, for CEILING_MS or until every pod is written. Its rate is taken while
 * all its writers had work (fullPoolRate): not over the bunched first answers, nor over the drain once the
 * pods or the window ran out, when fewer writes are in flight. Observed as the labellers are: a LabelWatch
 * with its label's selector reads every write meanwhile.
 */
async function ceiling(ctx: ScenarioContext, w: OwnedWorkloads, written: string[], writer: CeilingWriter): Promise<Ceiling> {
  // The operator's write names the pod's uid (from its cache): the ceiling's does too, read before it starts.
  const uids = await podUids(ctx.cluster.http, NS);
  const podOf = (name: string): PodIdentity => {
    const uid = uids.get(name);
    if (uid === undefined) throw new Error(`ceiling: pod ${NS}/${name} was not listed`);
    return { namespace: NS, name, uid };
  };
  const pods = w.violatingPods;
  const watch = new LabelWatch(ctx.cluster.http, NS, `${writer.label}=true`);
  await watch.start();
  const allPods = writer.watchAllPods ? await ObjectWatch.start(ctx.cluster.http, '/api/v1/pods', () => false) : undefined;
  const burnShare = Number(process.env.BENCH_BURN_SHARE ?? 0.35);
  const burning = writer.burn ? burner(burnShare) : undefined;
  const before = await ctx.cluster.requestCounts();
  const apiServer = ctx.cluster.controlPlane.pidOf('kube-apiserver');
  const cpu0 = { apiServer: apiServer === undefined ? NaN : cpuSeconds(apiServer), client: process.cpuUsage() };
  const start = performance.now();
  const answeredAtMs: number[] = [];
  let firstIdleMs: number | undefined;
  let next = 0;
  let done = false;
  const profile = profileWindow(ctx, `owned-${w.pods.length}-${writer.part}`, watch, () => done);
  await Promise.all(Array.from({ length: Math.min(CEILING_CONCURRENCY, pods.length) }, async () => {
    while (next < pods.length && performance.now() - start <= CEILING_MS) {
      const p = pods[next++]!;
      await writer.write(ctx.cluster.http, podOf(p.name));
      answeredAtMs.push(performance.now());
      written.push(p.name);
    }
    firstIdleMs ??= performance.now();
  }));
  done = true;
  const end = performance.now();
  const seconds = (end - start) / 1000;
  const client = process.cpuUsage(cpu0.client);
  const apiServerSeconds = apiServer === undefined ? NaN : cpuSeconds(apiServer) - cpu0.apiServer;
  const writes = answeredAtMs.length;
  const full = fullPoolRate({ concurrency: CEILING_CONCURRENCY, startMs: start, answeredAtMs, firstIdleMs: firstIdleMs ?? end });
  // The last writes' events are read after this (not counted, as a labeller's are counted up to its last label).
  await watch.waitFor(writes, 5_000);
  watch.stop();
  allPods?.stop();
  burning?.kill();
  const pprof = await profile;
  return { writes, concurrency: CEILING_CONCURRENCY, seconds: round1(seconds), ratePerSec: full.ratePerSec ?? NaN,
    fullPool: { seconds: full.seconds, writes: full.writes, endedBy: next < pods.length ? 'window' : 'pods' },
    overallRatePerSec: Math.round(writes / seconds), answersPerSecond: perSecond(start, answeredAtMs),
    cpuMsPerWrite: { apiServer: msPer(apiServerSeconds, writes), client: msPer((client.user + client.system) / 1e6, writes) },
    watched: watch.seen.size, requests: requestDelta(before, await ctx.cluster.requestCounts()), ...(pprof ? { pprof } : {}),
    ...(burning ? { burnShare } : {}) };
}

interface ProfileWindow {
  file: string; seconds: number; writes: number;
  /** kube-apiserver's CPU per write over the profile's span (from /proc). */
  apiServerCpuMsPerWrite: number;
  /** Whether the writer was still writing when the profile ended (else the span holds idle time). */
  writingThroughout: boolean;
  requests: Record<string, number>;
}

/**
 * With BENCH_APISERVER_PPROF=<dir>: once `watch` has seen a first write and PPROF_DELAY_MS more, a CPU profile of
 * kube-apiserver for BENCH_APISERVER_PPROF_SECONDS (default 8) to <dir>/<name>.pprof, with the
 * writes the watch saw and the requests kube-apiserver served over the same span. Undefined without the
 * variable, or when the phase ends before its first write.
 */
async function profileWindow(ctx: ScenarioContext, name: string, watch: LabelWatch, ended: () => boolean): Promise<ProfileWindow | undefined> {
  const dir = process.env.BENCH_APISERVER_PPROF;
  if (!dir) return undefined;
  const seconds = Number(process.env.BENCH_APISERVER_PPROF_SECONDS ?? 8);
  while (watch.seen.size === 0) {
    if (ended()) return undefined;
    await sleep(20);
  }
  await sleep(PPROF_DELAY_MS);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.pprof`);
  const before = await ctx.cluster.requestCounts();
  const apiServer = ctx.cluster.controlPlane.pidOf('kube-apiserver');
  const cpu0 = apiServer === undefined ? NaN : cpuSeconds(apiServer);
  const seen0 = watch.seen.size;
  await ctx.cluster.apiServerCpuProfile(seconds, file);
  const writes = watch.seen.size - seen0;
  const cpu = apiServer === undefined ? NaN : cpuSeconds(apiServer) - cpu0;
  const writingThroughout = !ended();
  const requests = requestDelta(before, await ctx.cluster.requestCounts());
  console.error(`${name}: kube-apiserver profile ${file}, ${writes} writes in ${seconds} s`);
  return { file, seconds, writes, apiServerCpuMsPerWrite: msPer(cpu, writes), writingThroughout, requests };
}

const msPer = (seconds: number, count: number): number => Math.round((seconds * 1000 / count) * 1000) / 1000;

interface CpuPerLabel {
  apiServer: number;
  labeller: number;
  /** This process: the label watch that tells a label went out, and the status polls. */
  benchmark: number;
}
type CpuSample = { t: number } & CpuPerLabel;

/** CPU seconds of kube-apiserver, a labeller and this process over time, to tell whose work a labelling span was. */
class CpuSampler {
  readonly samples: CpuSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly apiServer: number | undefined, private readonly labeller: () => number | undefined) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 250);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * perLabel over each quarter of the labels, in order: whether the start of a phase (the operator's initial
   * LISTs, their garbage) costs more per label than its steady part.
   */
  perLabelByQuarter(times: readonly number[]): (CpuPerLabel | null)[] {
    const q = Math.floor(times.length / 4);
    return q < 2 ? [] : [0, 1, 2, 3].map((i) => this.perLabel(times.slice(i * q, i === 3 ? times.length : (i + 1) * q + 1)));
  }

  /** Milliseconds of CPU per label of each process between the first and the last label (nearest samples). */
  perLabel(times: readonly number[]): CpuPerLabel | null {
    const first = times[0];
    const last = times.at(-1);
    if (first === undefined || last === undefined || times.length < 2) return null;
    const at = (t: number): CpuSample | undefined =>
      this.samples.reduce<CpuSample | undefined>((best, s) => best === undefined || Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best, undefined);
    const a = at(first);
    const b = at(last);
    if (!a || !b || a === b) return null;
    return { apiServer: msPer(b.apiServer - a.apiServer, times.length), labeller: msPer(b.labeller - a.labeller, times.length),
      benchmark: msPer(b.benchmark - a.benchmark, times.length) };
  }

  private sample(): void {
    const pid = this.labeller();
    const own = process.cpuUsage();
    try {
      this.samples.push({ t: performance.now(), apiServer: this.apiServer === undefined ? NaN : cpuSeconds(this.apiServer),
        labeller: pid === undefined ? NaN : cpuSeconds(pid), benchmark: (own.user + own.system) / 1e6 });
    } catch {
      // the labeller has just exited; its last sample stands
    }
  }
}

interface LabellerRun {
  allLabelledMs: number | null; labelRatePerSec: number | null; labelled: number; rssPeakMiB: number; rssSettledMiB: number | null;
  /** CPU per label of kube-apiserver, of the labeller itself and of this process, from its first label to its last. */
  cpuMsPerLabel?: CpuPerLabel | null;
  /** The same over each quarter of the labels. */
  cpuMsPerLabelByQuarter?: (CpuPerLabel | null)[];
  rssSeries: RssSample[];
  /** The process ended by itself before the work was done (the operator exits when it loses its Lease). */
  unexpectedExit?: { code: number | null; signal: string | null; atMs: number };
}

/** Starts `proc`, waits for every violating pod to carry `selector`, then for it to settle. */
async function labellerRun(ctx: ScenarioContext, proc: NodeProcess, selector: string, w: OwnedWorkloads,
  extra?: (startedAt: number, exited: () => boolean, watch: LabelWatch) => Promise<Record<string, unknown>>): Promise<LabellerRun & Record<string, unknown>> {
  const watch = new LabelWatch(ctx.cluster.http, NS, selector);
  await watch.start();
  proc.start();
  const cpu = new CpuSampler(ctx.cluster.controlPlane.pidOf('kube-apiserver'), () => proc.pid);
  try {
    const exited = (): boolean => proc.unexpectedExit !== undefined;
    const extraResult = extra?.(proc.startedAt, exited, watch);
    const complete = await watch.waitFor(w.violatingPods.length, LABELLING_TIMEOUT_MS, exited);
    const times = watch.times();
    const allLabelledMs = complete ? Math.round((times.at(-1) ?? NaN) - proc.startedAt) : null;
    const more = (await extraResult) ?? {};
    watch.stop();
    cpu.stop();
    const busyUntil = performance.now() - proc.startedAt;
    if (!exited()) await sleep(SETTLE_MS);
    const rssSeries = proc.sampler?.samples ?? [];
    return { allLabelledMs, labelRatePerSec: spanRate(times), labelled: times.length, cpuMsPerLabel: cpu.perLabel(times),
      cpuMsPerLabelByQuarter: cpu.perLabelByQuarter(times), rssPeakMiB: proc.sampler?.peak(0, busyUntil) ?? NaN,
      rssSettledMiB: exited() ? null : await proc.rssMiB(), rssSeries: [...rssSeries], ...more,
      ...(proc.unexpectedExit ? { unexpectedExit: proc.unexpectedExit } : {}) };
  } finally {
    cpu.stop();
    await proc.stop();
  }
}

interface Released { pods: number; seconds: number; leftBehind: number }

/**
 * After a writer's phase, gives back its fields on the pods it wrote (releaseFields), so the next writer finds
 * them as the first did: until 2026-12-01 the operator, writing last, applied to pods carrying the ceiling's and
 * the baseline's managedFields entries and cost kube-apiserver 3.1 ms per label against the ceiling's 2.2 ms.
 * `leftBehind`: sampled pods still naming the manager afterwards (0 expected).
 */
async function release(ctx: ScenarioContext, pods: readonly string[], writer: Pick<CeilingWriter, 'manager' | 'release'>): Promise<Released> {
  const manager = writer.manager;
  const start = performance.now();
  await inParallel(pods, CEILING_CONCURRENCY, (name) => writer.release(ctx.cluster.http, name));
  const seconds = round1((performance.now() - start) / 1000);
  const sample = pods.filter((_, i) => i % Math.max(1, Math.floor(pods.length / 20)) === 0);
  let leftBehind = 0;
  for (const name of sample) if ((await fieldManagers(ctx.cluster.http, NS, name)).includes(manager)) leftBehind++;
  console.error(`owned: ${manager}'s fields released on ${pods.length} pods in ${seconds} s; ${leftBehind} of ${sample.length} sampled still name it`);
  return { pods: pods.length, seconds, leftBehind };
}

async function owned(ctx: ScenarioContext, count: number): Promise<Result> {
  const { cluster } = ctx;
  const w = ownedNames(Math.ceil(count / PODS_PER_DEPLOYMENT), PODS_PER_DEPLOYMENT);
  const pods = w.pods.length;
  await cluster.ensureNamespace(NS);
  await cluster.applyPolicy(POLICY, { mode: 'Enforce', match: { namespaces: [NS] }, remediation: { label: {} } });
  const baselineProc = (): NodeProcess =>
    new NodeProcess(path.join(repoRoot(), 'dist', 'bench', 'baseline-labeller.js'), [cluster.kubeconfig, BASELINE_LABEL], []);

  const parts = new Set((process.env.BENCH_OWNED_PARTS ?? 'ceiling,baseline,operator').split(','));
  const empty = { operatorMiB: await emptyRss(await Operator.create(cluster.kubeconfig)),
    baselineMiB: parts.has('baseline') ? await emptyRss(baselineProc()) : NaN };

  const createStart = performance.now();
  await createOwned(cluster.http, NS, w, 32);
  const createSeconds = round1((performance.now() - createStart) / 1000);
  console.error(`owned-${count}: ${pods} pods created in ${createSeconds} s`);

  const ceilings: Record<string, Ceiling> = {};
  const released: Record<string, Released> = {};
  // In the order BENCH_OWNED_PARTS names them: the first writer after the pods' creation may pay for it.
  const writers = [...parts].flatMap((part) => CEILING_WRITERS.filter((c) => c.part === part));
  for (const writer of writers) {
    const written: string[] = [];
    ceilings[writer.part] = await ceiling(ctx, w, written, writer);
    console.error(`owned-${count}: ${writer.part} ${JSON.stringify(ceilings[writer.part])}`);
    released[writer.part] = await release(ctx, written, writer);
  }
  const apiCeiling: Ceiling = ceilings['ceiling']
    ?? { writes: 0, concurrency: 0, seconds: 0, ratePerSec: NaN, fullPool: { seconds: 0, writes: 0, endedBy: 'pods' }, overallRatePerSec: NaN,
      answersPerSecond: [], cpuMsPerWrite: { apiServer: NaN, client: NaN }, watched: 0 };

  const baseline = parts.has('baseline') ? await labellerRun(ctx, baselineProc(), `${BASELINE_LABEL}=true`, w)
    : { allLabelledMs: null, labelRatePerSec: null, labelled: 0, rssPeakMiB: NaN, rssSettledMiB: NaN, rssSeries: [] };
  console.error(`owned-${count}: baseline labelled all in ${baseline.allLabelledMs} ms`);
  if (parts.has('baseline')) {
    released.baseline = await release(ctx, w.violatingPods.map((p) => p.name),
      { manager: BASELINE_MANAGER, release: (http, name) => releaseFields(http, NS, name, BASELINE_MANAGER) });
  }

  const before = await cluster.requestCounts();
  // The operator's Lease renewals, by watching its namespace's Leases: apiserver_request_total's PUT leases also
  // counts kube-apiserver's own identity Lease in kube-system.
  const leases = await ObjectWatch.start(cluster.http, `/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases`, () => true);
  const operator = await Operator.create(cluster.kubeconfig);
  const ours = await labellerRun(ctx, operator, `${LABEL_VIOLATION}=true`, w, async (startedAt, exited, watch) => {
    const profile = profileWindow(ctx, `owned-${count}-operator`, watch, () => exited() || watch.seen.size >= w.violatingPods.length);
    let statusCompleteMs: number | null = null;
    for (const deadline = performance.now() + LABELLING_TIMEOUT_MS; performance.now() < deadline && !exited(); await sleep(100)) {
      const status = await cluster.policyStatus(POLICY).catch((): Record<string, unknown> => ({}));
      if (status['matchedPods'] === pods && status['violatingPods'] === w.violatingPods.length) {
        statusCompleteMs = Math.round(performance.now() - startedAt);
        break;
      }
    }
    const pprof = await profile;
    return { statusCompleteMs, ...(pprof ? { pprof } : {}) };
  });
  const requests = requestDelta(before, await cluster.requestCounts());
  leases.stop();
  const leaseRenewals = [...leases.modified.values()].reduce((a, b) => a + b, 0);

  const perPodKiB = (settled: number | null, idle: number): number | null =>
    settled === null ? null : Math.round(((settled - idle) * 1024 / pods) * 100) / 100;
  const ourPerPod = perPodKiB(ours.rssSettledMiB, empty.operatorMiB);
  const baselinePerPod = perPodKiB(baseline.rssSettledMiB, empty.baselineMiB);
  const statusComplete = ours['statusCompleteMs'] as number | null;
  const doneMs = ours.allLabelledMs === null || statusComplete === null ? null : Math.max(ours.allLabelledMs, statusComplete);
  return {
    scenario: `owned-${count}`, operator: operatorRunInfo(), pods, deployments: w.deployments, violatingPods: w.violatingPods.length,
    createSeconds, apiCeiling, ...(ceilings['merge'] ? { mergeCeiling: ceilings['merge'] } : {}),
    ...(ceilings['podwatch'] ? { podWatchCeiling: ceilings['podwatch'] } : {}),
    ...(ceilings['loaded'] ? { loadedCeiling: ceilings['loaded'] } : {}), released, emptyRssMiB: empty,
    operatorRun: { ...ours, doneMs, requests, leaseRenewals, perPodKiB: ourPerPod,
      labelRateOfCeiling: ours.labelRatePerSec === null ? null : Math.round((ours.labelRatePerSec / apiCeiling.ratePerSec) * 100) / 100 },
    baselineRun: { ...baseline, perPodKiB: baselinePerPod },
    ratios: {
      memoryPerPod: ourPerPod === null || baselinePerPod === null ? null : Math.round((ourPerPod / baselinePerPod) * 100) / 100,
      time: doneMs !== null && baseline.allLabelledMs !== null ? Math.round((doneMs / baseline.allLabelledMs) * 100) / 100 : null,
    },
  };
}

export const ownedFamily: ScenarioFamily = {
  family: 'owned',
  usage: 'owned-<pods>: pods of Deployments (10 each), API ceiling, makeInformer baseline and operator on the same pods',
  all: ['owned-50000', 'owned-100000'],
  quick: ['owned-5000'],
  run: (name, ctx) => owned(ctx, numberAfter('owned', name)),
};
