// Runs the operator the way users do: the built CLI as a separate process against the test control plane.
// Specs start one, drive the cluster with kubectl, and stop it (SIGTERM) or kill it (SIGKILL) to test
// restarts and leader hand-over.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './controlplane/binaries.js';
import { freePort } from './controlplane/ports.js';
import { cluster } from './integration-hooks.js';
import { parseSamples, sumOf, type Sample } from './faults/prometheus.js';
import { shippedFlags } from '../../bench/lib/operator.js';

/**
 * NODE_OPTIONS for the V8 flags the operator is deployed with (the image's entrypoint and the manifest's
 * NODE_OPTIONS), read from the files that ship: memory under a flood or churn is judged with its real limits.
 */
export const DEPLOYED_NODE_OPTIONS = shippedFlags().nodeFlags.join(' ');

export interface OperatorOptions {
  /** Extra flags for `run`. */
  args?: string[];
  /** Serve the suite's audit webhook (only one operator at a time may). */
  auditWebhook?: boolean;
  leaderElect?: boolean;
  identity?: string;
  /** Kubeconfig the operator runs with; default: the suite's admin kubeconfig. */
  kubeconfig?: string;
  /**
   * Serve /metrics on a free loopback port: 'open' without authentication (for reading counters), 'kube'
   * with the shipped TokenReview + SubjectAccessReview check. Default: no metrics endpoint.
   */
  metrics?: 'open' | 'kube';
  /** NODE_OPTIONS for the operator, e.g. the deployed heap limits (config/manager/deployment.yaml). */
  nodeOptions?: string;
}

let counter = 0;

export class OperatorProcess {
  private child?: ChildProcess;
  private exited?: Promise<number | null>;
  private log?: WriteStream;
  readonly logFile: string;
  healthPort = 0;
  metricsPort = 0;

  constructor(private opts: OperatorOptions = {}) {
    this.logFile = path.join(tmpdir(), `immutability-operator-${process.pid}-${++counter}.log`);
  }

  /** `late` adds options known only once the suite has set up (a proxy's kubeconfig, a ServiceAccount token). */
  async start(late: OperatorOptions = {}): Promise<this> {
    this.opts = { ...this.opts, ...late };
    const { info, audit } = cluster();
    this.healthPort = await freePort();
    const args = [
      path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), 'run',
      '--kubeconfig', this.opts.kubeconfig ?? info.kubeconfig,
      '--health-probe-bind-address', `127.0.0.1:${this.healthPort}`,
      '--log-format', 'json', '--log-level', 'debug',
      '--status-interval-ms', '300',
    ];
    if (this.opts.metrics) {
      this.metricsPort = await freePort();
      args.push('--metrics-bind-address', `127.0.0.1:${this.metricsPort}`, '--metrics-auth', this.opts.metrics === 'open' ? 'none' : 'kube');
    } else {
      args.push('--metrics-bind-address', '0');
    }
    if (this.opts.leaderElect) args.push('--leader-elect', '--leader-election-namespace', 'default');
    if (this.opts.auditWebhook) {
      args.push('--audit-webhook-bind-address', `127.0.0.1:${audit.port}`,
        '--audit-tls-cert-file', audit.serverCert, '--audit-tls-key-file', audit.serverKey,
        '--audit-client-ca-file', audit.caFile);
    }
    args.push(...(this.opts.args ?? []));
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const env = {
      ...process.env, POD_NAME: this.opts.identity ?? `operator-${counter}`, POD_NAMESPACE: 'default',
      ...(this.opts.nodeOptions ? { NODE_OPTIONS: this.opts.nodeOptions } : {}),
    };
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    this.child = child;
    await this.waitReady();
    return this;
  }

  private async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null) throw new Error(`operator exited early:\n${await this.logs(30)}`);
      const res = await fetch(`http://127.0.0.1:${this.healthPort}/readyz`).catch(() => undefined);
      if (res?.status === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`operator not ready within ${timeoutMs} ms:\n${await this.logs(30)}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get identity(): string | undefined {
    return this.opts.identity;
  }

  /** Undefined while it runs (or before it started); its exit code (null after a signal) once it ended by itself. */
  get exitCode(): number | null | undefined {
    if (!this.child) return undefined;
    return this.child.exitCode === null && this.child.signalCode === null ? undefined : this.child.exitCode;
  }

  /** Graceful stop (SIGTERM): releases the Lease and drains. Resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  /** Crash (SIGKILL): no cleanup at all, as after an OOM kill or node loss. */
  async kill(): Promise<number | null> {
    return this.signal('SIGKILL');
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    if (!this.child || !this.exited) return null;
    this.child.kill(sig);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    await new Promise<void>((r) => (this.log ? this.log.end(r) : r()));
    this.child = undefined;
    return code;
  }

  /** The operator's own /metrics (needs `metrics: 'open'`), parsed. */
  async metrics(): Promise<Sample[]> {
    if (this.opts.metrics !== 'open') throw new Error('start the operator with metrics: open to read its metrics');
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    if (res.status !== 200) throw new Error(`operator /metrics answered ${res.status}`);
    return parseSamples(await res.text());
  }

  /** Sum of one of the operator's metrics over the samples whose labels include `match`. */
  async metric(name: string, match: Record<string, string | RegExp> = {}): Promise<number> {
    return sumOf(await this.metrics(), name, match);
  }

  /** Parsed JSON log lines (non-JSON lines are kept as `{ msg: line }`). */
  async logEntries(): Promise<Record<string, unknown>[]> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return { msg: line };
      }
    });
  }

  async logs(lines = 50): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }
}
