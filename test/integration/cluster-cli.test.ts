// `make cluster-up` / `make cluster-down` (test/support/controlplane/cli.js), as the README tells users to run
// them: a control plane of its own in the background, its kubeconfig, and kubectl and helm linked into bin/
// so that `export KUBECONFIG=...; .cluster/bin/helm install ...` works. Run in a directory of its own
// (IMMUTABILITY_CLUSTER_DIR), beside the tier's control plane, never in the work tree's .cluster/.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { repoRoot } from '../support/controlplane/binaries.js';

const run = promisify(execFile);
const CLI = path.join(repoRoot(), 'dist', 'test', 'support', 'controlplane', 'cli.js');

describe('make cluster-up / cluster-down', function () {
  this.timeout(240_000);
  let dir: string;
  const cli = (command: string): Promise<{ stdout: string; stderr: string }> =>
    run(process.execPath, [CLI, command], { env: { ...process.env, IMMUTABILITY_CLUSTER_DIR: dir }, timeout: 200_000 });

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), 'cluster-cli-'));
  });

  after(async function () {
    await cli('down').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('starts a control plane with its kubeconfig, links kubectl and helm into bin/, and stops it', async function () {
    const up = await cli('up');
    expect(up.stdout).to.include(`kubectl, helm: ${path.join(dir, 'bin')}/`);
    expect((await cli('status')).stdout).to.match(/^running \(pid \d+\)/);
    const env = { ...process.env, KUBECONFIG: path.join(dir, 'kubeconfig') };
    const kubectl = path.join(dir, 'bin', 'kubectl');
    const helm = path.join(dir, 'bin', 'helm');
    expect((await run(kubectl, ['get', '--raw', '/readyz'], { env })).stdout).to.equal('ok');
    expect((await run(helm, ['version', '--short'], { env })).stdout).to.match(/^v3\.22\.0/);
    expect((await run(helm, ['list', '-A', '-o', 'json'], { env })).stdout.trim()).to.equal('[]');

    const { pid } = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as { pid: number };
    expect((await cli('down')).stdout).to.include('local control plane stopped');
    expect(() => process.kill(pid, 0), 'the supervisor has exited').to.throw();
    // `status` exits 3 (nothing to report) once the cluster is gone.
    const after = await cli('status').then(() => 0, (err: { code?: number }) => err.code);
    expect(after).to.equal(3);
  });
});
