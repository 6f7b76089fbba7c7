// Benchmarks of the operator on the local control plane (`make bench`). Not a test: it measures and prints,
// and writes the numbers to bench/results/latest.json. Method and results: docs/benchmarks.md.
//
//   steady-N   create pods at N per second for a while, half of them violating; latency from the create
//              request's answer to the moment a watch sees the pod carry immutability.dev/violation=true
//   backlog-N  N pods exist before the operator starts; time from process start until every violating pod
//              is labelled and the policy's status counts all N; operator RSS at the end
//   falco-ingest-RxB, falco-latency-R   Falco alerts posted to /falco (bench/falco.ts)
//   owners-N   N violating Deployments, each with a ReplicaSet and a pod (owner references as the
//              controller-manager sets them), the operator synced: time from an Audit policy's creation to
//              its first status listing all N workloads, then from switching it to Enforce with patchOwner
//              until every Deployment's pod template is patched
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp, ContentTypes } from '../src/k8s/http.js';
import { ControlPlane } from '../test/support/controlplane/controlplane.js';
import { controlPlaneBinaries, repoRoot } from '../test/support/controlplane/binaries.js';
import { falcoScenario } from './falco.js';

const NS = 'bench';
/**
 * The V8 flags the operator runs with when deployed: the image's entrypoint flag (Dockerfile) plus the
 * manifests' NODE_OPTIONS (config/manager/deployment.yaml). Measured here the same way.
 */
const OPERATOR_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=160';
const LABEL = 'immutability.dev/violation';
const IDLE_SETTLE_MS = 15_000;

export interface Percentiles { count: number; p50: number; p90: number; p99: number; max: number }

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

function pod(name: string, violating: boolean): object {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'bench' } },
    spec: {
      containers: [{
        name: 'app', image: 'nginx:1.27',
        securityContext: violating ? { readOnlyRootFilesystem: false } : { readOnlyRootFilesystem: true },
      }],
    },
  };
}

/** Watches pods in a namespace and records when each is first seen matching `selector` (a label). */
export class LabelWatch {
  readonly seen = new Map<string, number>();
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];

  constructor(private readonly http: KubeHttp, private readonly ns = NS, private readonly selector = `${LABEL}=true`) {}

  async start(): Promise<void> {
    const list = await this.http.request<{ metadata: { resourceVersion: string } }>('GET', `/api/v1/namespaces/${this.ns}/pods`, { query: { limit: 1 } });
    void this.loop(list.metadata.resourceVersion);
  }

  private async loop(resourceVersion: string): Promise<void> {
    let rv = resourceVersion;
    while (!this.abort.signal.aborted) {
      try {
        const res = await this.http.stream(`/api/v1/namespaces/${this.ns}/pods`, {
          query: { watch: true, resourceVersion: rv, labelSelector: this.selector, allowWatchBookmarks: true, timeoutSeconds: 600 },
          signal: this.abort.signal,
        });
        let buf = '';
        for await (const chunk of res) {
          buf += (chunk as Buffer).toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const ev = JSON.parse(buf.slice(0, nl)) as { type: string; object: { metadata: { name: string; resourceVersion: string } } };
            buf = buf.slice(nl + 1);
            rv = ev.object.metadata.resourceVersion;
            if ((ev.type === 'ADDED' || ev.type === 'MODIFIED') && !this.seen.has(ev.object.metadata.name)) {
              this.seen.set(ev.object.metadata.name, performance.now());
              this.waiters.forEach((w) => w());
            }
          }
        }
      } catch {
        if (this.abort.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async waitFor(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.seen.size < count) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
      this.waiters = [];
    }
    return true;
  }

  stop(): void {
    this.abort.abort();
  }
}

export class Operator {
  private child?: ChildProcess;
  startedAt = 0;
  /** `args` are added after the defaults (a repeated flag's last value wins). */
  constructor(private readonly kubeconfig: string, private readonly args: string[] = []) {}

  start(): void {
    this.startedAt = performance.now();
    this.child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), 'run',
      '--kubeconfig', this.kubeconfig, '--metrics-bind-address', '0', '--health-probe-bind-address', '0',
      '--log-level', 'warn', ...this.args, ...(process.env.BENCH_OPERATOR_ARGS?.split(' ').filter(Boolean) ?? [])], { stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: process.env.BENCH_OPERATOR_NODE_OPTIONS ?? OPERATOR_NODE_OPTIONS } });
  }

  async rssMiB(): Promise<number> {
    const status = await readFile(`/proc/${this.child?.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return Math.round((kb / 1024) * 10) / 10;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

export async function createPods(http: KubeHttp, names: { name: string; violating: boolean }[], concurrency: number, ns = NS): Promise<Map<string, number>> {
  const createdAt = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < names.length) {
      const item = names[next++]!;
      await http.request('POST', `/api/v1/namespaces/${ns}/pods`, { body: { ...pod(item.name, item.violating), metadata: { name: item.name, namespace: ns, labels: { app: 'bench' } } } });
      createdAt.set(item.name, performance.now());
    }
  }));
  return createdAt;
}

export async function deleteAllPods(http: KubeHttp, ns = NS): Promise<void> {
  await http.request('DELETE', `/api/v1/namespaces/${ns}/pods`, { query: { gracePeriodSeconds: 0 }, timeoutMs: 120_000 });
  for (;;) {
    const list = await http.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/pods`, { query: { limit: 1 } });
    if (list.items.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function applyPolicy(http: KubeHttp): Promise<void> {
  await http.request('PATCH', '/apis/immutability.dev/v1alpha1/immutabilitypolicies/bench', {
    query: { fieldManager: 'bench', force: true }, contentType: ContentTypes.apply,
    body: { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'bench' },
      spec: { mode: 'Enforce', match: { namespaces: [NS] }, remediation: { label: {} } } },
  });
}

async function policyMatched(http: KubeHttp): Promise<number> {
  const p = await http.request<{ status?: { matchedPods?: number } }>('GET', '/apis/immutability.dev/v1alpha1/immutabilitypolicies/bench');
  return p.status?.matchedPods ?? 0;
}

async function steady(http: KubeHttp, kubeconfig: string, rate: number, seconds: number): Promise<Record<string, unknown>> {
  const operator = new Operator(kubeconfig);
  operator.start();
  await new Promise((r) => setTimeout(r, 3000)); // initial sync
  const watch = new LabelWatch(http);
  await watch.start();
  const total = rate * seconds;
  const createdAt = new Map<string, number>();
  const start = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const name = `steady-${rate}-${i}`;
    const violating = i % 2 === 0;
    inflight.push(http.request('POST', `/api/v1/namespaces/${NS}/pods`, { body: pod(name, violating) })
      .then(() => { if (violating) createdAt.set(name, performance.now()); }));
  }
  await Promise.all(inflight);
  const achievedRate = total / ((performance.now() - start) / 1000);
  const complete = await watch.waitFor(createdAt.size, 30_000);
  const latencies = [...createdAt].map(([name, t]) => (watch.seen.get(name) ?? NaN) - t).filter((x) => !Number.isNaN(x));
  const rss = await operator.rssMiB();
  watch.stop();
  await operator.stop();
  await deleteAllPods(http);
  return { scenario: `steady-${rate}`, targetRate: rate, achievedRate: Math.round(achievedRate * 10) / 10, pods: total,
    violating: createdAt.size, labelled: latencies.length, complete, latencyMs: round(percentiles(latencies)), rssMiB: rss };
}

async function backlog(http: KubeHttp, kubeconfig: string, count: number): Promise<Record<string, unknown>> {
  const names = Array.from({ length: count }, (_, i) => ({ name: `backlog-${count}-${i}`, violating: i % 2 === 0 }));
  const createStart = performance.now();
  await createPods(http, names, 16);
  const createSeconds = (performance.now() - createStart) / 1000;
  const watch = new LabelWatch(http);
  await watch.start();
  const operator = new Operator(kubeconfig);
  operator.start();
  const violating = names.filter((n) => n.violating).length;
  const labelled = await watch.waitFor(violating, 120_000);
  const labelledMs = performance.now() - operator.startedAt;
  let statusMs = NaN;
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if ((await policyMatched(http)) === count) {
      statusMs = performance.now() - operator.startedAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const rss = await operator.rssMiB();
  // V8 returns memory after a burst only once it is idle; the settled figure is what a cluster steadily pays.
  await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
  const rssSettled = await operator.rssMiB();
  watch.stop();
  await operator.stop();
  await deleteAllPods(http);
  return { scenario: `backlog-${count}`, pods: count, violating, createSeconds: Math.round(createSeconds),
    allLabelledMs: labelled ? Math.round(labelledMs) : null, statusCountsAllMs: Number.isNaN(statusMs) ? null : Math.round(statusMs), rssMiB: rss, rssSettledMiB: rssSettled };
}

const OWNERS_NS = 'bench-owners';

/** A Deployment → ReplicaSet → Pod chain, created the way the controller-manager would (we run none). */
async function createOwnedChain(http: KubeHttp, name: string): Promise<void> {
  const labels = { app: name };
  const template = { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
  const owner = (o: { apiVersion: string; kind: string; metadata: { name: string; uid: string } }): object[] =>
    [{ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true, blockOwnerDeletion: true }];
  const deployment = await http.request<{ apiVersion: string; kind: string; metadata: { name: string; uid: string } }>(
    'POST', `/apis/apps/v1/namespaces/${OWNERS_NS}/deployments`,
    { body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels }, spec: { replicas: 1, selector: { matchLabels: labels }, template } } });
  const rs = await http.request<{ apiVersion: string; kind: string; metadata: { name: string; uid: string } }>(
    'POST', `/apis/apps/v1/namespaces/${OWNERS_NS}/replicasets`,
    { body: { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${name}-1`, labels, ownerReferences: owner(deployment) },
      spec: { replicas: 1, selector: { matchLabels: labels }, template } } });
  await http.request('POST', `/api/v1/namespaces/${OWNERS_NS}/pods`,
    { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-1-x`, labels, ownerReferences: owner(rs) }, spec: template.spec } });
}

async function ownersPolicy(http: KubeHttp, spec: object): Promise<void> {
  await http.request('PATCH', '/apis/immutability.dev/v1alpha1/immutabilitypolicies/bench-owners', {
    query: { fieldManager: 'bench', force: true }, contentType: ContentTypes.apply,
    body: { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'bench-owners' }, spec },
  });
}

async function until(what: string, timeoutMs: number, intervalMs: number, check: () => Promise<boolean>): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check()) return Math.round(performance.now() - start);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  console.error(`${what}: not reached within ${timeoutMs} ms`);
  return null;
}

async function owners(http: KubeHttp, kubeconfig: string, count: number): Promise<Record<string, unknown>> {
  await http.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OWNERS_NS } } });
  const names = Array.from({ length: count }, (_, i) => `web-${i}`);
  const createStart = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < names.length) await createOwnedChain(http, names[next++]!);
  }));
  const createSeconds = (performance.now() - createStart) / 1000;
  const operator = new Operator(kubeconfig);
  operator.start();
  await new Promise((r) => setTimeout(r, 5000)); // initial sync of the caches
  const base = { match: { namespaces: [OWNERS_NS] }, remediation: { patchOwner: { writablePaths: ['/tmp'] } } };
  await ownersPolicy(http, { ...base, mode: 'Audit' });
  const auditStatusMs = await until('first Audit status', 60_000, 50, async () => {
    const p = await http.request<{ status?: { violatingWorkloads?: number } }>('GET', '/apis/immutability.dev/v1alpha1/immutabilitypolicies/bench-owners');
    return p.status?.violatingWorkloads === count;
  });
  await ownersPolicy(http, { ...base, mode: 'Enforce' });
  const enforcePatchedMs = await until('all Deployments patched', 120_000, 100, async () => {
    const list = await http.request<{ items: { spec: { template: { spec: { containers: { securityContext?: { readOnlyRootFilesystem?: boolean } }[] } } } }[] }>(
      'GET', `/apis/apps/v1/namespaces/${OWNERS_NS}/deployments`);
    return list.items.filter((d) => d.spec.template.spec.containers.every((c) => c.securityContext?.readOnlyRootFilesystem === true)).length === count;
  });
  const rss = await operator.rssMiB();
  await operator.stop();
  await http.request('DELETE', '/apis/immutability.dev/v1alpha1/immutabilitypolicies/bench-owners');
  return { scenario: `owners-${count}`, deployments: count, createSeconds: Math.round(createSeconds), auditStatusMs, enforcePatchedMs, rssMiB: rss };
}

export function round(p: Percentiles): Percentiles {
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { count: p.count, p50: r(p.p50), p90: r(p.p90), p99: r(p.p99), max: r(p.max) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    scenarios: { type: 'string', default: 'steady-20,steady-100,backlog-1000,backlog-10000,owners-1000' },
    seconds: { type: 'string', default: '30' },
    // The figures of one set of scenarios go to their own file, so a partial run keeps the others' results.
    results: { type: 'string', default: 'latest.json' },
  } });
  const binDir = await controlPlaneBinaries({ onProgress: (l) => console.error(l) });
  // No scheduler, controller-manager or kwok: pods stay Pending, so the operator's work is all that is measured.
  const cp = new ControlPlane({ binDir, nodes: 0, scheduler: false, controllerManager: false,
    extraApiServerFlags: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=500'] });
  const stop = (): void => void cp.stop().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  const info = await cp.start();
  const results: Record<string, unknown>[] = [];
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfig);
    const http = new KubeHttp(kc);
    const crd = await readFile(path.join(repoRoot(), 'crds', 'immutability.dev_immutabilitypolicies.yaml'), 'utf8');
    const { parse } = await import('yaml');
    await http.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: parse(crd) as object });
    await new Promise((r) => setTimeout(r, 3000)); // CRD established
    await http.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
    await applyPolicy(http);
    for (const scenario of (values.scenarios ?? '').split(',').filter(Boolean)) {
      const [kind, n] = scenario.split('-');
      const result = kind === 'falco'
        ? await falcoScenario(http, info.kubeconfig, scenario, Number(values.seconds))
        : kind === 'steady'
          ? await steady(http, info.kubeconfig, Number(n), Number(values.seconds))
          : kind === 'owners' ? await owners(http, info.kubeconfig, Number(n))
          : await backlog(http, info.kubeconfig, Number(n));
      console.log(JSON.stringify(result));
      results.push(result);
    }
    http.close();
  } finally {
    await cp.stop();
  }
  const out = path.join(repoRoot(), 'bench', 'results');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, values.results ?? 'latest.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
