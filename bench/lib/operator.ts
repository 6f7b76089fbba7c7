// The operator as a separate process, started with exactly the flags it ships with, and its memory over time.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../test/support/controlplane/binaries.js';
import { cpuSeconds } from '../../test/support/faults/process-sampler.js';
import { freePort } from '../../test/support/controlplane/ports.js';
import { round1 } from './stats.js';

export interface ShippedFlags {
  /** V8 flags: the image's entrypoint (Dockerfile) followed by the manifest's NODE_OPTIONS. */
  nodeFlags: string[];
  /** The container's args (config/manager/deployment.yaml). */
  args: string[];
  /** The container's memory limit in MiB, for the report. */
  memoryLimitMiB: number;
}

interface ManifestContainer {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  resources?: { limits?: { memory?: string } };
}

function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`unsupported memory quantity ${quantity}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

/**
 * Read from the files that ship, not copied here: a change to the manifest or the image is measured by the
 * next run without anyone remembering to update the benchmark.
 */
export function shippedFlags(root = repoRoot()): ShippedFlags {
  const docs = readFileSync(path.join(root, 'config', 'manager', 'deployment.yaml'), 'utf8').split(/^---$/m).map((d) => parse(d) as unknown);
  const deployment = docs.find((d): d is { kind: string; spec: { template: { spec: { containers: ManifestContainer[] } } } } =>
    typeof d === 'object' && d !== null && (d as { kind?: string }).kind === 'Deployment');
  const manager = deployment?.spec.template.spec.containers.find((c) => c.name === 'manager');
  if (!manager) throw new Error('config/manager/deployment.yaml has no manager container');
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
  const imageFlags = entrypoint.filter((a) => a.startsWith('--'));
  const nodeOptions = manager.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  return {
    nodeFlags: [...imageFlags, ...nodeOptions.split(/\s+/).filter(Boolean)],
    args: manager.args ?? [],
    memoryLimitMiB: mebibytes(manager.resources?.limits?.memory ?? '0Mi'),
  };
}

/**
 * The shipped args with their listen addresses moved to free loopback ports (where a pod has its own network
 * namespace, the benchmark shares the host's); nothing else changes.
 */
async function localArgs(args: readonly string[]): Promise<{ args: string[]; metricsPort: number; healthPort: number }> {
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const out = args.map((a) => a.startsWith('--metrics-bind-address=') ? `--metrics-bind-address=127.0.0.1:${metricsPort}`
    : a.startsWith('--health-probe-bind-address=') ? `--health-probe-bind-address=127.0.0.1:${healthPort}` : a);
  return { args: out, metricsPort, healthPort };
}

/** The namespace the shipped manifests run in: the leader Lease lives there. */
export const OPERATOR_NAMESPACE = 'immutability-system';

export interface RssSample { t: number; rssMiB: number }

export async function rssOf(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return round1(kb / 1024);
}

/** Samples a process's RSS on an interval; `t` is milliseconds since `origin`. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly pid: () => number | undefined, private readonly origin: number, private readonly intervalMs = 250) {}

  start(): this {
    const sample = (): void => void rssOf(this.pid()).then((rssMiB) => {
      if (!Number.isNaN(rssMiB)) this.samples.push({ t: Math.round(performance.now() - this.origin), rssMiB });
    }, () => undefined);
    sample();
    this.timer = setInterval(sample, this.intervalMs);
    return this;
  }

  stop(): RssSample[] {
    clearInterval(this.timer);
    return this.samples;
  }

  peak(fromMs = 0, toMs = Infinity): number {
    return this.samples.filter((s) => s.t >= fromMs && s.t <= toMs).reduce((m, s) => Math.max(m, s.rssMiB), 0);
  }
}

/** A node process of ours (the operator, the baseline labeller) that the benchmark starts and stops by PID. */
export class NodeProcess {
  protected child?: ChildProcess;
  startedAt = 0;
  sampler?: RssSampler;

  constructor(private readonly script: string, private readonly args: readonly string[], private readonly nodeFlags: readonly string[],
    private readonly env: Record<string, string> = {}) {
    this.logFile = path.join(tmpdir(), `bench-${path.basename(script, '.js')}-${process.pid}-${Date.now()}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Where its output goes (a file, as a container runtime would keep it): printed when the benchmark starts it. */
  readonly logFile: string;

  /** Starts the process and samples its RSS from that moment. */
  start(): void {
    this.startedAt = performance.now();
    const log = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [...this.nodeFlags, this.script, ...this.args], {
      stdio: ['ignore', log, log],
      // NODE_OPTIONS of the benchmark itself must not leak into what it measures.
      env: { ...process.env, NODE_OPTIONS: '', ...this.env },
    });
    closeSync(log);
    this.watchExit();
    this.sampler = new RssSampler(() => this.child?.pid, this.startedAt).start();
  }

  rssMiB(): Promise<number> {
    return rssOf(this.child?.pid);
  }

  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): Promise<number> {
    return Promise.resolve(cpuSeconds(this.child?.pid ?? NaN));
  }

  /** Stops it (SIGTERM) and removes its log unless BENCH_KEEP_LOGS is set. */
  async stop(): Promise<void> {
    this.sampler?.stop();
    const child = this.child;
    this.stopping = true;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    if (process.env.BENCH_KEEP_LOGS) console.error(`log of ${this.script}: ${this.logFile}`);
    else rmSync(this.logFile, { force: true });
  }

  get exited(): boolean {
    return this.child?.exitCode !== null && this.child?.exitCode !== undefined;
  }

  /** Set when the process ended by itself (not by `stop`): its exit code and when, in ms after its start. */
  unexpectedExit?: { code: number | null; signal: string | null; atMs: number };
  private stopping = false;

  private watchExit(): void {
    this.child?.once('exit', (code, signal) => {
      if (!this.stopping) this.unexpectedExit = { code, signal, atMs: Math.round(performance.now() - this.startedAt) };
    });
  }
}

/** Every sample of the operator's Prometheus text, as `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

export class Operator extends NodeProcess {
  private constructor(args: string[], nodeFlags: string[], readonly metricsPort: number) {
    super(path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), args, nodeFlags, { POD_NAMESPACE: OPERATOR_NAMESPACE });
  }

  /** Its metrics; only for an operator created with `--metrics-auth none` among `extraArgs`. */
  async metrics(): Promise<Map<string, number>> {
    return parseMetrics(await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text());
  }

  /**
   * Resolves once the operator leads and all its work queues have stayed empty for `quietMs`: the start-up
   * reconciles of what already exists are done, so what a scenario measures next is the steady state, not
   * the initial sync (a fixed sleep is too short for thousands of pods on a loaded box and wastes time
   * otherwise). Needs `--metrics-auth none`. Returns the milliseconds waited, or throws after `timeoutMs`.
   */
  async synced(timeoutMs = 120_000, quietMs = 1000): Promise<number> {
    const start = performance.now();
    let quietSince: number | undefined;
    while (performance.now() - start < timeoutMs) {
      const m = await this.metrics().catch(() => undefined);
      const leading = m?.get('immutability_operator_leader') === 1;
      const depths = m ? [...m].filter(([k]) => k.startsWith('immutability_operator_queue_depth{')) : [];
      // Queues exist once the caches have synced and this replica leads.
      const idle = leading && depths.length > 0 && depths.every(([, v]) => v === 0);
      const now = performance.now();
      if (!idle) quietSince = undefined;
      else if ((quietSince ??= now) <= now - quietMs) return Math.round(now - start);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the operator was not synced (leading, queues empty for ${quietMs} ms) within ${timeoutMs} ms; log: ${this.logFile}`);
  }

  /**
   * The operator with the shipped args and V8 flags, `extraArgs` after them (a repeated flag's last value
   * wins). BENCH_OPERATOR_ARGS / BENCH_OPERATOR_NODE_OPTIONS override for experiments; results record them.
   */
  static async create(kubeconfig: string, extraArgs: string[] = []): Promise<Operator> {
    const shipped = shippedFlags();
    const local = await localArgs(shipped.args);
    const override = process.env.BENCH_OPERATOR_ARGS?.split(' ').filter(Boolean) ?? [];
    const nodeFlags = process.env.BENCH_OPERATOR_NODE_OPTIONS !== undefined
      ? process.env.BENCH_OPERATOR_NODE_OPTIONS.split(' ').filter(Boolean) : shipped.nodeFlags;
    return new Operator([...local.args, '--kubeconfig', kubeconfig, ...extraArgs, ...override], nodeFlags, local.metricsPort);
  }
}

/** What the results record about how the operator ran. */
export function operatorRunInfo(): Record<string, unknown> {
  const shipped = shippedFlags();
  return {
    nodeFlags: process.env.BENCH_OPERATOR_NODE_OPTIONS ?? shipped.nodeFlags.join(' '),
    args: [...shipped.args, ...(process.env.BENCH_OPERATOR_ARGS?.split(' ').filter(Boolean) ?? [])].join(' '),
    memoryLimitMiB: shipped.memoryLimitMiB,
  };
}
