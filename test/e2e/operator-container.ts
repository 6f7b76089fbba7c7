// Runs the operator's container image the way a hardened Deployment does — read-only root, every
// capability dropped, no privilege escalation, a tmpfs at /tmp, the kubeconfig mounted read-only — with
// testcontainers, against the suite's local control plane. The container shares the host's network: the
// control plane listens on 127.0.0.1 only.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  GenericContainer, getContainerRuntimeClient,
  type BoundPorts, type ContainerRuntimeClient, type StartedTestContainer, type WaitStrategy,
} from 'testcontainers';
import { repoRoot } from '../support/controlplane/binaries.js';
import { freePort } from '../support/controlplane/ports.js';

export const E2E_IMAGE = process.env.E2E_IMAGE ?? 'immutability-operator:e2e';
/** Where the image's operator reads its kubeconfig (as a Secret volume would be mounted). */
export const KUBECONFIG_IN_CONTAINER = '/etc/immutability/kubeconfig';

const DEFAULT_PODMAN_SOCKET = '/run/podman/podman.sock';

/**
 * Finds a container runtime for testcontainers, or explains why there is none. Defaults that only make
 * sense here are filled in when unset: the socket hack/image/podman-setup.sh serves, and no Ryuk (its image
 * cannot be pulled where no registry is reachable; the specs remove their own containers).
 */
export async function containerRuntime(timeoutMs = 20_000): Promise<{ client?: ContainerRuntimeClient; reason?: string }> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  if (process.env.DOCKER_HOST === undefined && existsSync(DEFAULT_PODMAN_SOCKET)) {
    process.env.DOCKER_HOST = `unix://${DEFAULT_PODMAN_SOCKET}`;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return { client: await Promise.race([getContainerRuntimeClient(), timeout]) };
  } catch (err) {
    return { reason: `${err instanceof Error ? err.message : String(err)} (DOCKER_HOST=${process.env.DOCKER_HOST ?? 'unset'})` };
  } finally {
    clearTimeout(timer);
  }
}

/** Builds (or confirms up to date) the image with hack/image/build.sh; quick when nothing changed. */
export async function buildImage(): Promise<string> {
  const { stderr } = await promisify(execFile)('bash', [path.join(repoRoot(), 'hack', 'image', 'build.sh')], {
    env: { ...process.env, IMAGE: E2E_IMAGE },
    timeout: 5 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stderr.trim();
}

/** Waits for /readyz on the host's loopback; fails fast, with the logs, if the container exits first. */
class ReadyzWaitStrategy implements WaitStrategy {
  private timeoutMs = 60_000;
  private timeoutSet = false;

  constructor(private readonly port: number, private readonly logs: () => string) {}

  async waitUntilReady(container: { inspect(): Promise<{ State: { Running: boolean; ExitCode: number } }> }, _ports: BoundPorts): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    while (Date.now() < deadline) {
      const { State } = await container.inspect();
      if (!State.Running) throw new Error(`operator container exited (code ${State.ExitCode}) before ready:\n${this.logs()}`);
      const res = await fetch(`http://127.0.0.1:${this.port}/readyz`).catch(() => undefined);
      if (res?.status === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`operator container not ready within ${this.timeoutMs} ms:\n${this.logs()}`);
  }

  withStartupTimeout(ms: number): this {
    this.timeoutMs = ms;
    this.timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }

  getStartupTimeout(): number {
    return this.timeoutMs;
  }
}

/** testcontainers has no builder method for a read-only root filesystem; the Docker API has the flag. */
class HardenedContainer extends GenericContainer {
  withReadOnlyRootFilesystem(): this {
    this.hostConfig.ReadonlyRootfs = true;
    return this;
  }
}

export class OperatorContainer {
  private started?: StartedTestContainer;
  private readonly output: string[] = [];
  private kubeconfigDir?: string;
  healthPort = 0;

  constructor(private readonly kubeconfig: string, private readonly extraArgs: string[] = []) {}

  get id(): string {
    if (!this.started) throw new Error('operator container not started');
    return this.started.getId();
  }

  async start(): Promise<this> {
    this.healthPort = await freePort();
    // The control plane's kubeconfig is private to root (0600); uid 65532 in the container must read its
    // copy. The copy is world-readable inside a private (0700) directory, so no other host user can reach it.
    this.kubeconfigDir = await mkdtemp(path.join(tmpdir(), 'immutability-e2e-'));
    const kubeconfig = path.join(this.kubeconfigDir, 'kubeconfig');
    await copyFile(this.kubeconfig, kubeconfig);
    await chmod(kubeconfig, 0o644);

    this.started = await new HardenedContainer(E2E_IMAGE)
      .withNetworkMode('host')
      .withReadOnlyRootFilesystem()
      .withDroppedCapabilities('ALL')
      .withSecurityOpt('no-new-privileges')
      .withTmpFs({ '/tmp': 'rw,noexec,nosuid,size=64m' })
      .withBindMounts([{ source: kubeconfig, target: KUBECONFIG_IN_CONTAINER, mode: 'ro' }])
      .withCommand([
        'run',
        '--kubeconfig', KUBECONFIG_IN_CONTAINER,
        '--metrics-bind-address', '0',
        '--health-probe-bind-address', `127.0.0.1:${this.healthPort}`,
        '--log-format', 'json', '--log-level', 'debug',
        '--status-interval-ms', '300',
        ...this.extraArgs,
      ])
      .withLogConsumer((stream: Readable) => {
        stream.on('data', (chunk: Buffer | string) => this.output.push(chunk.toString()));
      })
      .withWaitStrategy(new ReadyzWaitStrategy(this.healthPort, () => this.logs(40)))
      .withStartupTimeout(60_000)
      .start();
    return this;
  }

  /** The last `lines` lines the operator wrote (stdout and stderr). */
  logs(lines = 50): string {
    return this.output.join('').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Parsed JSON log lines (non-JSON lines are kept as `{ msg: line }`). */
  logEntries(): Record<string, unknown>[] {
    return this.output.join('').split('\n').filter(Boolean).map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return { msg: line };
      }
    });
  }

  /**
   * Graceful stop: SIGTERM to the operator (PID 1 of the container), then the exit code it chose. The
   * container is kept until its state is read, then removed.
   */
  async stop(graceMs = 15_000): Promise<number | undefined> {
    const started = this.started;
    this.started = undefined;
    try {
      if (!started) return undefined;
      const stopped = await started.stop({ timeout: graceMs, remove: false });
      const client = await getContainerRuntimeClient();
      const container = client.container.getById(stopped.getId());
      const { State } = await client.container.inspect(container);
      await client.container.remove(container, { removeVolumes: true });
      return State.ExitCode;
    } finally {
      if (this.kubeconfigDir) await rm(this.kubeconfigDir, { recursive: true, force: true });
      this.kubeconfigDir = undefined;
    }
  }
}
