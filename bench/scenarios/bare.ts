// Bare pods (no owners), half of them violating; one Enforce policy with `remediation.label`.
//
//   steady-N   create pods at N per second for the run's seconds; latency from the create request's answer
//              to the moment a watch sees the pod carry immutability.dev/violation=true
//   backlog-N  N pods exist before the operator starts; time from process start until every violating pod
//              is labelled and the policy's status counts all N; operator RSS at the end and settled
import { barePod, createPods } from '../lib/objects.js';
import { Operator, operatorRunInfo } from '../lib/operator.js';
import { type Result, type ScenarioContext, type ScenarioFamily, numberAfter, sleep } from '../lib/scenario.js';
import { percentiles, round, round1 } from '../lib/stats.js';
import { LabelWatch, until } from '../lib/watch.js';

const NS = 'bench';
/** V8 returns memory after a burst only once it is idle; the settled figure is what a cluster steadily pays. */
export const IDLE_SETTLE_MS = 15_000;

export async function labelPolicy(ctx: ScenarioContext, ns: string): Promise<void> {
  await ctx.cluster.ensureNamespace(ns);
  await ctx.cluster.applyPolicy('bench', { mode: 'Enforce', match: { namespaces: [ns] }, remediation: { label: {} } });
}

/**
 * Paces `total` creates at `rate` per second (requests in flight concurrently); returns when each violating
 * pod's create was answered.
 */
export async function pacedCreates(total: number, rate: number, create: (i: number) => Promise<void>): Promise<{ achievedRate: number }> {
  const start = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(create(i));
  }
  await Promise.all(inflight);
  return { achievedRate: round1(total / ((performance.now() - start) / 1000)) };
}

async function steady(ctx: ScenarioContext, rate: number): Promise<Result> {
  const { http } = ctx.cluster;
  await labelPolicy(ctx, NS);
  const operator = await Operator.create(ctx.cluster.kubeconfig);
  operator.start();
  try {
    await sleep(3000); // initial sync
    const watch = new LabelWatch(http, NS);
    await watch.start();
    const total = rate * ctx.seconds;
    const createdAt = new Map<string, number>();
    const { achievedRate } = await pacedCreates(total, rate, async (i) => {
      const name = `steady-${rate}-${i}`;
      const violating = i % 2 === 0;
      await http.write('POST', `/api/v1/namespaces/${NS}/pods`, { body: barePod(NS, name, violating) });
      if (violating) createdAt.set(name, performance.now());
    });
    const complete = await watch.waitFor(createdAt.size, 30_000);
    watch.stop();
    const latencies = [...createdAt].map(([name, t]) => (watch.seen.get(name) ?? NaN) - t).filter((x) => !Number.isNaN(x));
    return { scenario: `steady-${rate}`, operator: operatorRunInfo(), targetRate: rate, achievedRate, pods: total,
      violating: createdAt.size, labelled: latencies.length, complete, latencyMs: round(percentiles(latencies)),
      latencySamplesMs: latencies.map(round1), rssMiB: await operator.rssMiB() };
  } finally {
    await operator.stop();
  }
}

async function backlog(ctx: ScenarioContext, count: number): Promise<Result> {
  const { http } = ctx.cluster;
  await labelPolicy(ctx, NS);
  const pods = Array.from({ length: count }, (_, i) => ({ name: `backlog-${count}-${i}`, violating: i % 2 === 0 }));
  const createStart = performance.now();
  await createPods(http, NS, pods, 16);
  const createSeconds = (performance.now() - createStart) / 1000;
  const watch = new LabelWatch(http, NS);
  await watch.start();
  const operator = await Operator.create(ctx.cluster.kubeconfig);
  operator.start();
  try {
    const violating = pods.filter((n) => n.violating).length;
    const labelled = await watch.waitFor(violating, 180_000);
    const labelledMs = performance.now() - operator.startedAt;
    const statusMs = await until('status counting every pod', 60_000, 100, async () =>
      (await ctx.cluster.policyStatus('bench'))['matchedPods'] === count);
    const statusAtMs = performance.now() - operator.startedAt;
    const rss = await operator.rssMiB();
    await sleep(IDLE_SETTLE_MS);
    watch.stop();
    return { scenario: `backlog-${count}`, operator: operatorRunInfo(), pods: count, violating, createSeconds: Math.round(createSeconds),
      allLabelledMs: labelled ? Math.round(labelledMs) : null,
      statusCountsAllMs: statusMs === null ? null : Math.round(statusAtMs),
      rssMiB: rss, rssSettledMiB: await operator.rssMiB(), rssPeakMiB: operator.sampler?.peak() ?? null };
  } finally {
    await operator.stop();
  }
}

export const bare: ScenarioFamily = {
  family: 'steady',
  usage: 'steady-<pods/s>: bare pods created at a steady rate, create → label latency',
  all: ['steady-20', 'steady-100'],
  quick: ['steady-20'],
  run: (name, ctx) => steady(ctx, numberAfter('steady', name)),
};

export const backlogFamily: ScenarioFamily = {
  family: 'backlog',
  usage: 'backlog-<pods>: bare pods that exist before the operator starts, start → all labelled',
  all: ['backlog-1000', 'backlog-10000'],
  quick: ['backlog-1000'],
  run: (name, ctx) => backlog(ctx, numberAfter('backlog', name)),
};
