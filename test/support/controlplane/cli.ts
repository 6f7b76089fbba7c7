// `make cluster-up` / `make cluster-down`: a long-lived local control plane in `.cluster/`.
//   up     reuse a running cluster, or start a supervisor in the background and wait until it is ready
//   serve  the supervisor: runs the control plane in the foreground until SIGTERM/SIGINT
//   down   stop the supervisor (which tears the cluster down) and wait for it
//   status print whether a cluster runs and where its kubeconfig is
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, unlink, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlPlaneBinaries, repoRoot } from './binaries.js';
import { ControlPlane } from './controlplane.js';
import { prepareLocalAudit } from './local-audit.js';
import { falcoAlert } from '../falco-alerts.js';
import { prepareFalcoEndpoint } from '../falco-endpoint.js';

interface ClusterState {
  pid: number;
  ready: boolean;
  error?: string;
  kubeconfig?: string;
  server?: string;
}

const clusterDir = process.env.IMMUTABILITY_CLUSTER_DIR ?? path.join(repoRoot(), '.cluster');
const stateFile = path.join(clusterDir, 'state.json');
/** Built with the control plane and linked into .cluster/bin/ for users of the local cluster. */
const USER_TOOLS = ['kubectl', 'helm'];

async function readState(): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function up(): Promise<number> {
  const state = await readState();
  if (state && alive(state.pid) && state.ready) {
    console.log(`local control plane already running (pid ${state.pid}); kubeconfig: ${state.kubeconfig}`);
    return 0;
  }
  await mkdir(clusterDir, { recursive: true });
  await rm(stateFile, { force: true });
  // Build (or find cached) binaries in the foreground so progress shows in the terminal.
  const binDir = await controlPlaneBinaries({ onProgress: (l) => console.error(l) });
  const logFd = openSync(path.join(clusterDir, 'controlplane.log'), 'a');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, IMMUTABILITY_CONTROLPLANE_BIN_DIR: binDir },
  });
  child.unref();
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const s = await readState();
    if (s?.error) {
      console.error(`local control plane failed to start: ${s.error}`);
      return 1;
    }
    if (s?.ready) {
      console.log(`local control plane ready at ${s.server}`);
      console.log(`  export KUBECONFIG=${s.kubeconfig}`);
      console.log(`  kubectl, helm: ${path.join(clusterDir, 'bin')}/`);
      return 0;
    }
    if (!alive(child.pid ?? -1)) break;
  }
  console.error(`local control plane did not become ready; see ${path.join(clusterDir, 'controlplane.log')}`);
  return 1;
}

async function serve(): Promise<number> {
  const binDir = await controlPlaneBinaries();
  const audit = await prepareLocalAudit(path.join(clusterDir, 'audit'));
  const cp = new ControlPlane({
    binDir,
    workDir: path.join(clusterDir, 'state'),
    nodes: 2,
    audit: audit.apiServer,
    log: (m) => console.log(`[controlplane] ${m}`),
  });
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void cp.stop().finally(async () => {
      await rm(path.join(clusterDir, 'state'), { recursive: true, force: true });
      await rm(stateFile, { force: true });
      process.exit(0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  try {
    await rm(path.join(clusterDir, 'state'), { recursive: true, force: true });
    const info = await cp.start();
    const kubeconfig = path.join(clusterDir, 'kubeconfig');
    await copyFile(info.kubeconfig, kubeconfig);
    await mkdir(path.join(clusterDir, 'bin'), { recursive: true });
    for (const tool of USER_TOOLS) {
      const link = path.join(clusterDir, 'bin', tool);
      await unlink(link).catch(() => undefined);
      await symlink(path.join(binDir, tool), link);
    }
    await writeFile(stateFile, JSON.stringify({ pid: process.pid, ready: true, kubeconfig, server: info.server }));
  } catch (err) {
    await writeFile(stateFile, JSON.stringify({ pid: process.pid, ready: false, error: (err as Error).message }));
    shutdown();
    return 1;
  }
  await new Promise(() => undefined); // run until signalled
  return 0;
}

async function down(): Promise<number> {
  const state = await readState();
  if (!state || !alive(state.pid)) {
    console.log('no local control plane is running');
    await rm(stateFile, { force: true });
    return 0;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (alive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (alive(state.pid)) {
    process.kill(state.pid, 'SIGKILL');
    console.error('control plane supervisor did not stop in time; killed');
    return 1;
  }
  console.log('local control plane stopped');
  return 0;
}

async function status(): Promise<number> {
  const state = await readState();
  if (state && alive(state.pid) && state.ready) {
    console.log(`running (pid ${state.pid}) at ${state.server}; KUBECONFIG=${state.kubeconfig}`);
    return 0;
  }
  console.log('not running');
  return existsSync(stateFile) ? 1 : 3;
}

/**
 * `make run`'s Falco endpoint: TLS files in .cluster/falco, the bearer token in .cluster/falco-token (made
 * once, kept across runs so a configured sender keeps working), and a real-format "Terminal shell in
 * container" alert about a demo nginx pod whose name is left as POD_NAME for the printed curl line.
 */
async function falco(): Promise<number> {
  const dir = path.join(clusterDir, 'falco');
  if (!existsSync(path.join(dir, 'server.crt')) || !existsSync(path.join(clusterDir, 'falco-token'))) {
    await prepareFalcoEndpoint(dir, path.join(clusterDir, 'falco-token'));
  }
  const alert = falcoAlert('Terminal shell in container', { namespace: 'demo', pod: 'POD_NAME', container: 'nginx' });
  await writeFile(path.join(dir, 'alert.json'), `${JSON.stringify(alert)}\n`);
  return 0;
}

const commands: Record<string, () => Promise<number>> = { up, serve, down, status, falco };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: cli.js up|serve|down|status|falco');
  process.exit(2);
}
command().then((code) => {
  if (process.argv[2] !== 'serve') process.exit(code);
}, (err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
