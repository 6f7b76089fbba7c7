// A supervised child process of the control plane: output to a log file, its own process group so that
// stopping it also stops anything it spawned, and a stop that escalates from SIGTERM to SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

export class ManagedProcess {
  private child?: ChildProcess;
  private log?: WriteStream;
  private exited?: Promise<void>;
  private exitInfo?: string;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly logFile: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  start(): void {
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(this.command, this.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: this.env });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exitInfo = undefined;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
      child.on('error', (err) => {
        this.exitInfo = `failed to start: ${err.message}`;
        resolve();
      });
    });
    this.child = child;
    // Children live in their own process groups, so they would outlive a harness that exits without
    // stopping them (an uncaught error, process.exit). Only SIGKILL of the harness still escapes this.
    process.once('exit', this.killOnExit);
  }

  private readonly killOnExit = (): void => {
    if (this.child) signalGroup(this.child, 'SIGKILL');
  };

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Undefined while running; otherwise how it ended. */
  get exitStatus(): string | undefined {
    return this.exitInfo;
  }

  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    if (this.exitInfo === undefined) {
      signalGroup(child, 'SIGTERM');
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
      ]);
      if (timedOut) signalGroup(child, 'SIGKILL');
      await this.exited;
    }
    // Stragglers in the group (e.g. grandchildren) must not outlive the cluster.
    signalGroup(child, 'SIGKILL');
    process.removeListener('exit', this.killOnExit);
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.child = undefined;
  }

  /** Crash (SIGKILL to the group, no grace): what an OOM kill or a lost node does to it. */
  async kill(): Promise<void> {
    if (this.child && this.exitInfo === undefined) signalGroup(this.child, 'SIGKILL');
    await this.stop();
  }

  /** The last lines of its log, for error messages that explain why a component did not come up. */
  async tail(lines = 20): Promise<string> {
    try {
      const text = await readFile(this.logFile, 'utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}
