// Audit events posted to the operator's webhook as kube-apiserver's batch backend does (EventList bodies,
// mutual TLS with a client certificate), on a policy with the runtime rules (exec, ephemeral containers).
//
//   audit-ingest-R   R events/s for the run's seconds in batches of 400 (the API server's default batch
//                    size): 1 in 100 an exec into one of 200 governed pods, the rest the reads and writes an
//                    audit stream is mostly made of. Reports the rate requests were answered at and the rate
//                    the operator processed events at (its own immutability_operator_audit_events_total).
//   audit-latency-R  R execs/s, one per batch, each into a different pod: latency from posting the event to a
//                    watch seeing the pod labelled immutability.dev/drift=exec.
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../test/support/controlplane/certs.js';
import { freePort } from '../../test/support/controlplane/ports.js';
import { createPods } from '../lib/objects.js';
import { Operator, operatorRunInfo } from '../lib/operator.js';
import { type Result, type ScenarioContext, type ScenarioFamily, numberAfter, sleep } from '../lib/scenario.js';
import { percentiles, round, round1 } from '../lib/stats.js';
import { LabelWatch, until } from '../lib/watch.js';
import { pacedCreates } from './bare.js';

const NS = 'bench-audit';
const BATCH = 400;
const TARGETS = 200;

interface Webhook { post(body: string): Promise<number>; close(): void }

async function startOperator(ctx: ScenarioContext, dir: string): Promise<{ operator: Operator; webhook: Webhook }> {
  const ca = await createCertificateAuthority(dir, 'ca', 'bench-audit-ca');
  const server = await issueCertificate(dir, ca, 'server', '/CN=immutability-operator-audit', { sans: ['IP:127.0.0.1'] });
  const client = await issueCertificate(dir, ca, 'client', '/CN=kube-apiserver-audit');
  const port = await freePort();
  const operator = await Operator.create(ctx.cluster.kubeconfig, [
    '--audit-webhook-bind-address', `127.0.0.1:${port}`, '--audit-tls-cert-file', server.cert, '--audit-tls-key-file', server.key,
    '--audit-client-ca-file', ca.cert, '--metrics-auth', 'none']);
  operator.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: await readFile(ca.cert), cert: await readFile(client.cert), key: await readFile(client.key) });
  const webhook: Webhook = {
    post: (body) => new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/audit', method: 'POST', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(body);
    }),
    close: () => agent.destroy(),
  };
  await operator.synced();
  return { operator, webhook };
}

async function auditCounters(operator: Operator): Promise<number> {
  let total = 0;
  for (const [series, value] of await operator.metrics()) if (series.startsWith('immutability_operator_audit_events_total{')) total += value;
  return total;
}

function event(i: number, now: string, exec?: string): Record<string, unknown> {
  const base = { level: 'Metadata', auditID: `bench-${i}`, stage: 'ResponseComplete', user: { username: 'system:serviceaccount:apps:web' },
    responseStatus: { code: 200 }, requestReceivedTimestamp: now, stageTimestamp: now };
  if (exec !== undefined) {
    return { ...base, verb: 'create', user: { username: 'alice' }, requestURI: `/api/v1/namespaces/${NS}/pods/${exec}/exec?command=sh&container=app&stdin=true`,
      objectRef: { resource: 'pods', namespace: NS, name: exec, apiVersion: 'v1', subresource: 'exec' }, responseStatus: { code: 101 } };
  }
  const kinds = [['get', 'configmaps'], ['list', 'pods'], ['update', 'leases'], ['watch', 'endpointslices'], ['patch', 'deployments']] as const;
  const [verb, resource] = kinds[i % kinds.length]!;
  return { ...base, verb, requestURI: `/api/v1/namespaces/apps/${resource}/x-${i % 50}`, objectRef: { resource, namespace: 'apps', name: `x-${i % 50}`, apiVersion: 'v1' } };
}

const eventList = (items: unknown[]): string => JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });

async function setup(ctx: ScenarioContext, pods: number): Promise<string[]> {
  await ctx.cluster.ensureNamespace(NS);
  await ctx.cluster.applyPolicy('bench-audit', { mode: 'Audit', match: { namespaces: [NS] }, rules: { exec: true, ephemeralContainers: true, readOnlyRootFilesystem: false } });
  const names = Array.from({ length: pods }, (_, i) => `audit-target-${i}`);
  await createPods(ctx.cluster.http, NS, names.map((name) => ({ name, violating: false })), 16);
  return names;
}

async function ingest(ctx: ScenarioContext, rate: number): Promise<Result> {
  const targets = await setup(ctx, TARGETS);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-audit-'));
  const { operator, webhook } = await startOperator(ctx, dir);
  try {
    const total = rate * ctx.seconds;
    // Bodies are made before the clock starts: the sender's JSON work is not the operator's.
    const now = new Date().toISOString();
    const bodies: string[] = [];
    for (let i = 0; i < total; i += BATCH) {
      bodies.push(eventList(Array.from({ length: Math.min(BATCH, total - i) }, (_, j) =>
        event(i + j, now, (i + j) % 100 === 0 ? targets[((i + j) / 100) % TARGETS] : undefined))));
    }
    const before = await auditCounters(operator);
    const answers = new Map<number, number>();
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    for (let b = 0; b < bodies.length; b++) {
      const wait = start + (b * BATCH * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      inflight.push(webhook.post(bodies[b]!).then((status) => void answers.set(status, (answers.get(status) ?? 0) + 1)));
    }
    await Promise.all(inflight);
    const answeredSeconds = (performance.now() - start) / 1000;
    let processed = 0;
    const processedMs = await until('every audit event counted', 60_000, 50, async () => (processed = (await auditCounters(operator)) - before) >= total);
    return { scenario: `audit-ingest-${rate}`, operator: operatorRunInfo(), targetRate: rate, events: total, batch: BATCH,
      answeredRate: Math.round(total / answeredSeconds), processed,
      processedRate: processedMs === null ? null : Math.round(total / ((performance.now() - start) / 1000)),
      answers: Object.fromEntries(answers), rssMiB: await operator.rssMiB(), rssPeakMiB: operator.sampler?.peak() ?? null };
  } finally {
    webhook.close();
    await operator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function latency(ctx: ScenarioContext, rate: number): Promise<Result> {
  const total = rate * ctx.seconds;
  const targets = await setup(ctx, total);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-audit-'));
  const { operator, webhook } = await startOperator(ctx, dir);
  const watch = new LabelWatch(ctx.cluster.http, NS, 'immutability.dev/drift=exec');
  await watch.start();
  try {
    const postedAt = new Map<string, number>();
    const { achievedRate } = await pacedCreates(total, rate, async (i) => {
      const name = targets[i]!;
      postedAt.set(name, performance.now());
      await webhook.post(eventList([event(i, new Date().toISOString(), name)]));
    });
    const complete = await watch.waitFor(total, 30_000);
    const latencies = [...postedAt].map(([name, t]) => (watch.seen.get(name) ?? NaN) - t).filter((x) => !Number.isNaN(x));
    return { scenario: `audit-latency-${rate}`, operator: operatorRunInfo(), targetRate: rate, achievedRate, execs: total,
      labelled: latencies.length, complete, latencyMs: round(percentiles(latencies)), latencySamplesMs: latencies.map(round1),
      rssMiB: await operator.rssMiB() };
  } finally {
    watch.stop();
    webhook.close();
    await operator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const auditFamily: ScenarioFamily = {
  family: 'audit',
  usage: 'audit-ingest-<events/s>, audit-latency-<execs/s>: audit events posted to the webhook',
  all: ['audit-ingest-10000', 'audit-latency-100'],
  quick: ['audit-latency-100'],
  run: (name, ctx) => name.startsWith('audit-ingest-') ? ingest(ctx, numberAfter('audit-ingest', name)) : latency(ctx, numberAfter('audit-latency', name)),
};
