// A real, local Kubernetes control plane for tests and `make run`: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (fake nodes that run pods without a kubelet), on free
// loopback ports with generated certificates. Modelled on controller-runtime's envtest.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createClusterPki, type CertPair, type ClusterPki } from './certs.js';
import { writeKubeconfig } from './kubeconfig.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './process.js';
import { repoRoot } from './binaries.js';

export interface ControlPlaneOptions {
  /** Directory with kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok. */
  binDir: string;
  /** Where state lives; a fresh temporary directory when absent (removed on stop). */
  workDir?: string;
  /** kwok Nodes to create; 0 starts no kwok. */
  nodes?: number;
  /** Start kube-controller-manager (Deployments → ReplicaSets → Pods, Jobs, evictions' disruption controller). */
  controllerManager?: boolean;
  /** Start kube-scheduler so pods are bound to kwok nodes. */
  scheduler?: boolean;
  audit?: { policyFile: string; webhookConfigFile?: string; logFile?: string };
  extraApiServerFlags?: string[];
  startTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface ControlPlaneInfo {
  workDir: string;
  kubeconfig: string;
  server: string;
  caFile: string;
  binDir: string;
}

const APISERVER_READY_TIMEOUT_MS = 90_000;

export class ControlPlane {
  private readonly processes = new Map<string, ManagedProcess>();
  private readonly ownsWorkDir: boolean;
  private workDir = '';
  private pki?: ClusterPki;
  private apiServerPort = 0;
  private apiServerArgs: string[] = [];
  private stopped = false;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.ownsWorkDir = opts.workDir === undefined;
  }

  /** The process id of one component (e.g. 'kube-apiserver'), for benchmarks that read its CPU time. */
  pidOf(name: string): number | undefined {
    return this.processes.get(name)?.pid;
  }

  get info(): ControlPlaneInfo {
    return {
      workDir: this.workDir,
      kubeconfig: path.join(this.workDir, 'admin.kubeconfig'),
      server: `https://127.0.0.1:${this.apiServerPort}`,
      caFile: this.pki?.ca.cert ?? '',
      binDir: this.opts.binDir,
    };
  }

  get certificates(): ClusterPki {
    if (!this.pki) throw new Error('control plane not started');
    return this.pki;
  }

  async start(): Promise<ControlPlaneInfo> {
    const log = this.opts.log ?? (() => undefined);
    this.workDir = this.opts.workDir ?? (await mkdtemp(path.join(tmpdir(), 'immutability-cp-')));
    await mkdir(path.join(this.workDir, 'logs'), { recursive: true });
    try {
      log(`generating certificates in ${this.workDir}`);
      this.pki = await createClusterPki(await ensureDir(path.join(this.workDir, 'pki')));
      await this.startEtcd();
      log('etcd ready');
      await this.startApiServer();
      log(`kube-apiserver ready at ${this.info.server}`);
      const kubeconfigs = await this.writeComponentKubeconfigs();
      if (this.opts.controllerManager ?? true) await this.startControllerManager(kubeconfigs.controllerManager);
      if (this.opts.scheduler ?? true) await this.startScheduler(kubeconfigs.scheduler);
      const nodes = this.opts.nodes ?? 1;
      if (nodes > 0) {
        await this.startKwok(kubeconfigs.kwok);
        await this.createNodes(nodes);
      }
      if (this.opts.controllerManager ?? true) {
        await this.waitFor('controller-manager to create the default ServiceAccount', async () =>
          (await this.apiGet('/api/v1/namespaces/default/serviceaccounts/default')).status === 200);
      }
      log('control plane ready');
      return this.info;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Reverse start order: clients first, etcd last, so nothing logs storms of connection errors.
    for (const name of ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
      await this.processes.get(name)?.stop();
    }
    if (this.ownsWorkDir && this.workDir) await rm(this.workDir, { recursive: true, force: true });
  }

  /**
   * Stops and starts kube-apiserver on the same port, for tests of watch recovery. `kill` crashes it
   * (SIGKILL) instead of a graceful stop; `whileDown` runs between the two.
   */
  async restartApiServer(downtimeMs = 0, opts: { kill?: boolean; whileDown?: () => Promise<void> } = {}): Promise<void> {
    const apiServer = this.processes.get('kube-apiserver');
    await (opts.kill ? apiServer?.kill() : apiServer?.stop());
    if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
    await opts.whileDown?.();
    await this.launchApiServer();
  }

  get apiServerAddress(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.apiServerPort };
  }

  private process(name: string, command: string, args: string[]): ManagedProcess {
    const proc = new ManagedProcess(name, path.join(this.opts.binDir, command), args,
      path.join(this.workDir, 'logs', `${name}.log`));
    this.processes.set(name, proc);
    proc.start();
    return proc;
  }

  private async startEtcd(): Promise<void> {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const url = `http://127.0.0.1:${clientPort}`;
    this.process('etcd', 'etcd', [
      `--data-dir=${path.join(this.workDir, 'etcd')}`,
      `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync', '--log-level=warn',
    ]);
    this.etcdUrl = url;
    await this.waitFor('etcd', async () => {
      const res = await fetch(`${url}/health`).catch(() => undefined);
      return res?.ok === true;
    }, 'etcd');
  }

  private etcdUrl = '';

  private async startApiServer(): Promise<void> {
    const pki = this.certificates;
    this.apiServerPort = await freePort();
    const args = [
      `--etcd-servers=${this.etcdUrl}`,
      `--cert-dir=${path.join(this.workDir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.apiServer.cert}`, `--tls-private-key-file=${pki.apiServer.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      `--secure-port=${this.apiServerPort}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true',
      '--authorization-mode=RBAC',
      // Pods here never mount tokens (kwok runs no kubelet); without this plugin a pod created right after its
      // namespace does not race the controller-manager creating the namespace's default ServiceAccount.
      '--disable-admission-plugins=ServiceAccount',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccount.publicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
      '--endpoint-reconciler-type=none',
    ];
    const audit = this.opts.audit;
    if (audit) {
      args.push(`--audit-policy-file=${audit.policyFile}`);
      if (audit.webhookConfigFile) {
        // Small batches delivered within a second: drift detection latency is bounded by this wait.
        args.push(`--audit-webhook-config-file=${audit.webhookConfigFile}`, '--audit-webhook-mode=batch',
          '--audit-webhook-batch-max-wait=1s', '--audit-webhook-initial-backoff=1s');
      }
      if (audit.logFile) args.push(`--audit-log-path=${audit.logFile}`, '--audit-log-maxsize=100', '--audit-log-maxbackup=2');
    }
    args.push(...(this.opts.extraApiServerFlags ?? []));
    this.apiServerArgs = args;
    await this.launchApiServer();
  }

  private async launchApiServer(): Promise<void> {
    this.process('kube-apiserver', 'kube-apiserver', this.apiServerArgs);
    await this.waitFor('kube-apiserver', async () => (await this.apiGet('/readyz')).status === 200,
      'kube-apiserver', APISERVER_READY_TIMEOUT_MS);
  }

  private async writeComponentKubeconfigs(): Promise<Record<'controllerManager' | 'scheduler' | 'kwok', string>> {
    const pki = this.certificates;
    const write = async (name: string, client: CertPair, user: string): Promise<string> => {
      const file = path.join(this.workDir, `${name}.kubeconfig`);
      await writeKubeconfig(file, { server: this.info.server, caFile: pki.ca.cert, client, user });
      return file;
    };
    await write('admin', pki.admin, 'local-admin');
    return {
      controllerManager: await write('controller-manager', pki.controllerManager, 'system:kube-controller-manager'),
      scheduler: await write('scheduler', pki.scheduler, 'system:kube-scheduler'),
      kwok: await write('kwok', pki.kwok, 'kwok'),
    };
  }

  private async startControllerManager(kubeconfig: string): Promise<void> {
    const pki = this.certificates;
    this.process('kube-controller-manager', 'kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      `--secure-port=${await freePort()}`, '--bind-address=127.0.0.1', '--leader-elect=false',
      `--service-account-private-key-file=${pki.serviceAccount.privateKey}`, `--root-ca-file=${pki.ca.cert}`,
      `--cert-dir=${path.join(this.workDir, 'kcm-certs')}`,
      // Fast reactions keep tests short; these are the envtest-style knobs for a single-node test cluster.
      '--concurrent-deployment-syncs=10', '--concurrent-replicaset-syncs=10',
      // kwok nodes send no kubelet heartbeats; node lifecycle must still lift the not-ready taint, never evict.
      '--node-monitor-grace-period=1h',
      '--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle,-route',
    ]);
  }

  private async startScheduler(kubeconfig: string): Promise<void> {
    this.process('kube-scheduler', 'kube-scheduler', [
      `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      `--secure-port=${await freePort()}`, '--bind-address=127.0.0.1', '--leader-elect=false',
      `--cert-dir=${path.join(this.workDir, 'scheduler-certs')}`,
    ]);
  }

  private async startKwok(kubeconfig: string): Promise<void> {
    this.process('kwok', 'kwok', [
      `--kubeconfig=${kubeconfig}`, '--manage-all-nodes=true',
      `--config=${path.join(repoRoot(), 'hack', 'controlplane', 'kwok.yaml')}`,
      `--server-address=127.0.0.1:${await freePort()}`,
    ]);
  }

  private async createNodes(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const name = `kwok-node-${i}`;
      const node = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
        },
        status: {
          // Room for the 10k-pod benchmark without scheduling failures.
          allocatable: { cpu: '1000', memory: '4Ti', pods: '20000' },
          capacity: { cpu: '1000', memory: '4Ti', pods: '20000' },
        },
      };
      const res = await this.apiRequest('POST', '/api/v1/nodes', node);
      if (res.status !== 201 && res.status !== 409) throw new Error(`creating node ${name}: HTTP ${res.status} ${res.body}`);
    }
    await this.waitFor('kwok to mark nodes Ready', async () => {
      const res = await this.apiGet('/api/v1/nodes');
      if (res.status !== 200) return false;
      const list = JSON.parse(res.body) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
      return list.items.length >= count && list.items.every((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 'kwok');
  }

  apiGet(p: string): Promise<{ status: number; body: string }> {
    return this.apiRequest('GET', p);
  }

  /** A request as the admin user, for harness bookkeeping; tests use kubectl and the real client. */
  apiRequest(method: string, p: string, body?: unknown): Promise<{ status: number; body: string }> {
    const pki = this.certificates;
    return new Promise((resolve) => {
      Promise.all([readFile(pki.ca.cert), readFile(pki.admin.cert), readFile(pki.admin.key)]).then(([ca, cert, key]) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = request({
          host: '127.0.0.1', port: this.apiServerPort, path: p, method, ca, cert, key, timeout: 5000,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        }, (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve({ status: 0, body: '' }));
        req.end(payload);
      }, () => resolve({ status: 0, body: '' }));
    });
  }

  private async waitFor(what: string, ready: () => Promise<boolean>, processName?: string,
    timeoutMs = this.opts.startTimeoutMs ?? 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.stopped) throw new Error(`control plane stopped while waiting for ${what}`);
      const proc = processName ? this.processes.get(processName) : undefined;
      if (proc?.exitStatus !== undefined) {
        throw new Error(`${proc.name} exited (${proc.exitStatus}) while waiting for ${what}:\n${await proc.tail()}`);
      }
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        const detail = proc ? `\n${proc.name} log:\n${await proc.tail()}` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Writes an audit webhook kubeconfig for kube-apiserver: the receiver's URL, its CA and our client cert. */
export async function writeAuditWebhookKubeconfig(file: string, opts: { url: string; caFile: string; client: CertPair }): Promise<void> {
  const b64 = async (f: string): Promise<string> => (await readFile(f)).toString('base64');
  await writeFile(file, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'audit-receiver', cluster: { server: opts.url, 'certificate-authority-data': await b64(opts.caFile) } }],
    users: [{ name: 'kube-apiserver', user: { 'client-certificate-data': await b64(opts.client.cert), 'client-key-data': await b64(opts.client.key) } }],
    contexts: [{ name: 'audit', context: { cluster: 'audit-receiver', user: 'kube-apiserver' } }],
    'current-context': 'audit',
  }), { mode: 0o600 });
}
