// One fresh control plane per scenario: no scenario inherits another's objects, its request counters start
// at zero, and cleanup is tearing it down (a deletecollection of 50k pods timed out with HTTP 504; stopping
// etcd and removing its directory takes a second whatever it holds).
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { ContentTypes, KubeHttp } from '../../src/k8s/http.js';
import { ControlPlane, type ControlPlaneInfo } from '../../test/support/controlplane/controlplane.js';
import { controlPlaneBinaries, repoRoot } from '../../test/support/controlplane/binaries.js';
import { OPERATOR_NAMESPACE } from './operator.js';

export interface ClusterOptions {
  /** kube-apiserver flags on top of the benchmark's defaults. */
  apiServerFlags?: string[];
  audit?: ConstructorParameters<typeof ControlPlane>[0]['audit'];
}

/**
 * No scheduler, controller-manager or kwok: pods stay Pending and nothing but the benchmark and the operator
 * writes, so the operator's work is all that is measured. The in-flight limits are kube-apiserver's defaults
 * doubled-and-a-half, as on a control plane sized for 150k pods.
 */
const API_SERVER_FLAGS = ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=500'];

export class BenchCluster {
  private constructor(private readonly cp: ControlPlane, readonly info: ControlPlaneInfo, readonly http: KubeHttp,
    private readonly auditLog?: string) {}

  get kubeconfig(): string {
    return this.info.kubeconfig;
  }

  /** kube-apiserver's audit log, when the scenario asked for one. */
  get auditLogFile(): string | undefined {
    return this.auditLog;
  }

  get controlPlane(): ControlPlane {
    return this.cp;
  }

  static async start(opts: ClusterOptions = {}): Promise<BenchCluster> {
    const binDir = await controlPlaneBinaries({ onProgress: (l) => console.error(l) });
    const cp = new ControlPlane({ binDir, nodes: 0, scheduler: false, controllerManager: false, audit: opts.audit,
      extraApiServerFlags: [...API_SERVER_FLAGS, ...(opts.apiServerFlags ?? [])] });
    const info = await cp.start();
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfig);
    const cluster = new BenchCluster(cp, info, new KubeHttp(kc, { userAgent: 'immutability-bench' }), opts.audit?.logFile);
    try {
      await cluster.installCrd();
      await cluster.ensureNamespace(OPERATOR_NAMESPACE);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async stop(): Promise<void> {
    this.http.close();
    await this.cp.stop();
  }

  async ensureNamespace(name: string): Promise<void> {
    await this.http.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } })
      .catch((err: unknown) => { if ((err as { code?: number }).code !== 409) throw err; });
  }

  async applyPolicy(name: string, spec: object): Promise<void> {
    await this.http.request('PATCH', `/apis/immutability.dev/v1alpha1/immutabilitypolicies/${name}`, {
      query: { fieldManager: 'bench', force: true }, contentType: ContentTypes.apply,
      body: { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name }, spec },
    });
  }

  async policyStatus(name: string): Promise<Record<string, unknown>> {
    const p = await this.http.request<{ status?: Record<string, unknown> }>('GET', `/apis/immutability.dev/v1alpha1/immutabilitypolicies/${name}`);
    return p.status ?? {};
  }

  /** kube-apiserver's apiserver_request_total, by `verb resource[/subresource]`. */
  async requestCounts(): Promise<Map<string, number>> {
    return parseRequestCounts(await this.metrics());
  }

  /** CPU seconds kube-apiserver has used so far (its process_cpu_seconds_total). */
  async apiServerCpuSeconds(): Promise<number> {
    return Number(/^process_cpu_seconds_total (\S+)$/m.exec(await this.metrics())?.[1] ?? NaN);
  }

  /**
   * A CPU profile of kube-apiserver over the next `seconds`, written to `file` (Go's pprof format, for
   * `go tool pprof`): its /debug/pprof/profile, served to the admin credentials (profiling is kube-apiserver's
   * default and the control plane leaves it on).
   */
  async apiServerCpuProfile(seconds: number, file: string): Promise<void> {
    await pipeline(await this.http.stream('/debug/pprof/profile', { query: { seconds } }), createWriteStream(file));
  }

  private async metrics(): Promise<string> {
    const res = await this.http.stream('/metrics');
    let text = '';
    for await (const chunk of res) text += (chunk as Buffer).toString();
    return text;
  }

  private async installCrd(): Promise<void> {
    const crd = parse(await readFile(path.join(repoRoot(), 'crds', 'immutability.dev_immutabilitypolicies.yaml'), 'utf8')) as object;
    await this.http.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    for (let i = 0; i < 100; i++) {
      const ok = await this.http.request('GET', '/apis/immutability.dev/v1alpha1/immutabilitypolicies').then(() => true, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the ImmutabilityPolicy CRD was never served');
  }
}

/** Sums apiserver_request_total over codes and scopes, keyed by `VERB resource[/subresource]`. */
export function parseRequestCounts(metrics: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of metrics.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const labels: Record<string, string> = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (!labels['resource']) continue; // non-resource URLs: /metrics, /readyz — the benchmark's own probes
    const key = `${labels['verb']} ${labels['resource']}${labels['subresource'] ? `/${labels['subresource']}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

/** What changed between two `requestCounts` (only the non-zero differences). */
export function requestDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}
