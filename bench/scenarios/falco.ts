// Falco alerts posted to the operator's /falco endpoint (docs/falco.md), on the same local control plane as
// the other scenarios (no scheduler or kwok: the pods stay Pending, which the operator does not mind).
//
//   falco-ingest-RxB  R alerts per second for the run's seconds, B alerts per request (newline-delimited, as
//                     Falcosidekick batches; B=1 is Falco's http_output), about 200 pods that an Audit policy
//                     with rules.falco governs, so that every alert is recorded and labels its pod. Reports
//                     the rate requests were answered at, the rate the operator processed alerts at (from its
//                     own counters, immutability_operator_falco_alerts_total), and whether any alert was lost:
//                     every alert of a 200 answer must be counted as processed, and 503 answers as overflow.
//   falco-latency-R   R alerts per second, one per request, each about a different pod; latency from posting
//                     the alert to a watch seeing the pod labelled immutability.dev/drift=falco.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubeHttp } from '../../src/k8s/http.js';
import { freePort } from '../../test/support/controlplane/ports.js';
import { falcoAlert, type FalcoRuleName } from '../../test/support/falco-alerts.js';
import { falcoClient, falcoFlags, prepareFalcoEndpoint } from '../../test/support/falco-endpoint.js';
import { createPods } from '../lib/objects.js';
import { Operator, operatorRunInfo } from '../lib/operator.js';
import type { Result, ScenarioContext, ScenarioFamily } from '../lib/scenario.js';
import { percentiles, round } from '../lib/stats.js';
import { LabelWatch } from '../lib/watch.js';

const NS = 'bench-falco';
const RULES: FalcoRuleName[] = ['Terminal shell in container', 'Read sensitive file untrusted', 'Drop and execute new binary in container'];

async function ensureSetup(http: KubeHttp): Promise<void> {
  await http.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } }).catch(() => undefined);
  await http.request('PATCH', '/apis/immutability.dev/v1alpha1/immutabilitypolicies/bench-falco', {
    query: { fieldManager: 'bench', force: true }, contentType: 'application/apply-patch+yaml',
    body: {
      apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'bench-falco' },
      spec: { mode: 'Audit', match: { namespaces: [NS] }, rules: { falco: true } },
    },
  });
}

/** The operator's own count of processed alerts, by outcome. */
async function alertCounters(operator: Operator): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [series, value] of await operator.metrics()) {
    const m = /^immutability_operator_falco_alerts_total\{outcome="([^"]+)"\}$/.exec(series);
    if (m) out[m[1]!] = value;
  }
  return out;
}

async function startOperator(kubeconfig: string, dir: string): Promise<{ operator: Operator; port: number; files: Awaited<ReturnType<typeof prepareFalcoEndpoint>> }> {
  const files = await prepareFalcoEndpoint(dir);
  const port = await freePort();
  const operator = await Operator.create(kubeconfig, [...falcoFlags(files, port), '--metrics-auth', 'none']);
  operator.start();
  await operator.synced();
  return { operator, port, files };
}

async function ingest(http: KubeHttp, kubeconfig: string, rate: number, batch: number, seconds: number): Promise<Result> {
  const podCount = 200;
  const pods = Array.from({ length: podCount }, (_, i) => ({ name: `falco-target-${i}`, violating: false }));
  await createPods(http, NS, pods, 16);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-falco-'));
  const { operator, port, files } = await startOperator(kubeconfig, dir);
  const client = await falcoClient(files, port, { maxSockets: 8 });
  const total = rate * seconds;
  // Bodies are made before the clock starts: the sender's JSON work is not the operator's.
  const base = Date.now();
  const bodies: string[] = [];
  for (let i = 0; i < total; i += batch) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(total, i + batch); j++) {
      lines.push(JSON.stringify(falcoAlert(RULES[j % RULES.length]!, { namespace: NS, pod: pods[j % podCount]!.name, container: 'app', time: new Date(base + j) })));
    }
    bodies.push(lines.join('\n'));
  }
  const answered = { ok: 0, overflow: 0, other: 0 };
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let r = 0; r < bodies.length; r++) {
    const due = start + (r * batch * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    const size = Math.min(batch, total - r * batch);
    inflight.push(client.post(bodies[r]!, { type: 'application/x-ndjson' }).then((res) => {
      if (res.status === 200) answered.ok += size;
      else if (res.status === 503) answered.overflow += size;
      else answered.other += size;
    }, () => { answered.other += size; }));
  }
  await Promise.all(inflight);
  const sentSeconds = (performance.now() - start) / 1000;
  let counters: Record<string, number> = {};
  let processedAt = NaN;
  const processed = (c: Record<string, number>): number => Object.entries(c).filter(([k]) => k !== 'overflow' && k !== 'refused').reduce((n, [, v]) => n + v, 0);
  for (const deadline = performance.now() + 60_000; performance.now() < deadline;) {
    counters = await alertCounters(operator);
    if (processed(counters) >= answered.ok) {
      processedAt = performance.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const rss = await operator.rssMiB();
  client.close();
  await operator.stop();
  await rm(dir, { recursive: true, force: true });
  const lost = answered.ok - processed(counters);
  return {
    scenario: `falco-ingest-${rate}x${batch}`, operator: operatorRunInfo(), targetRate: rate, alertsPerRequest: batch, alerts: total, pods: podCount,
    answeredRate: Math.round(total / sentSeconds), processedRate: Number.isNaN(processedAt) ? null : Math.round(answered.ok / ((processedAt - start) / 1000)),
    accepted200: answered.ok, refused503: answered.overflow, otherAnswers: answered.other, lost, counters, rssMiB: rss,
  };
}

async function latency(http: KubeHttp, kubeconfig: string, rate: number, seconds: number): Promise<Result> {
  const total = rate * seconds;
  const pods = Array.from({ length: total }, (_, i) => ({ name: `falco-latency-${i}`, violating: false }));
  await createPods(http, NS, pods, 16);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-falco-'));
  const { operator, port, files } = await startOperator(kubeconfig, dir);
  const client = await falcoClient(files, port, { maxSockets: 8 });
  const watch = new LabelWatch(http, NS, 'immutability.dev/drift=falco');
  await watch.start();
  const postedAt = new Map<string, number>();
  const start = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const name = pods[i]!.name;
    const body = JSON.stringify(falcoAlert(RULES[i % RULES.length]!, { namespace: NS, pod: name, container: 'app' }));
    postedAt.set(name, performance.now());
    inflight.push(client.post(body));
  }
  await Promise.all(inflight);
  const achievedRate = total / ((performance.now() - start) / 1000);
  const complete = await watch.waitFor(total, 30_000);
  const latencies = [...postedAt].map(([name, t]) => (watch.seen.get(name) ?? NaN) - t).filter((x) => !Number.isNaN(x));
  const rss = await operator.rssMiB();
  watch.stop();
  client.close();
  await operator.stop();
  await rm(dir, { recursive: true, force: true });
  return { scenario: `falco-latency-${rate}`, operator: operatorRunInfo(), targetRate: rate, achievedRate: Math.round(achievedRate * 10) / 10, alerts: total,
    labelled: latencies.length, complete, latencyMs: round(percentiles(latencies)), rssMiB: rss };
}

/** `falco-ingest-5000x50`, `falco-latency-100`. */
async function falcoScenario(ctx: ScenarioContext, scenario: string): Promise<Result> {
  const { http, kubeconfig } = ctx.cluster;
  await ensureSetup(http);
  const ingestMatch = /^falco-ingest-(\d+)x(\d+)$/.exec(scenario);
  if (ingestMatch) return ingest(http, kubeconfig, Number(ingestMatch[1]), Number(ingestMatch[2]), ctx.seconds);
  const latencyMatch = /^falco-latency-(\d+)$/.exec(scenario);
  if (latencyMatch) return latency(http, kubeconfig, Number(latencyMatch[1]), ctx.seconds);
  throw new Error(`unknown Falco scenario ${scenario} (falco-ingest-<rate>x<batch>, falco-latency-<rate>)`);
}

export const falco: ScenarioFamily = {
  family: 'falco',
  usage: 'falco-ingest-<alerts/s>x<per request>, falco-latency-<alerts/s>: Falco alerts posted to /falco',
  all: ['falco-ingest-5000x50', 'falco-latency-100'],
  quick: [],
  run: (name, ctx) => falcoScenario(ctx, name),
};
