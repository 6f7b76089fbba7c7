// The shipped artefact, end to end: the operator's container image (built by hack/image/build.sh), started
// with testcontainers as a hardened pod would run it, against the suite's real control plane. Proves the
// image runs unprivileged on a read-only root and still does its job: labels a privileged pod, writes
// status, honours its finalizer, and exits cleanly on SIGTERM as PID 1.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ContainerRuntimeClient } from 'testcontainers';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import type { PolicyStatus } from '../support/workloads.js';
import { buildImage, containerRuntime, E2E_IMAGE, KUBECONFIG_IN_CONTAINER, OperatorContainer } from './operator-container.js';

const NS = 'e2e-image';
const POLICY = 'e2e-label';
const NONROOT = '65532';
/** What podman and Docker grant a container unless told otherwise (both grant these; Docker a few more). */
const RUNTIME_DEFAULT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];

interface PodView { name: string; labels: Record<string, string>; annotations: Record<string, string> }

async function pods(): Promise<PodView[]> {
  const out = JSON.parse(await kubectlOk(['-n', NS, 'get', 'pods', '-o', 'json'])) as {
    items: { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }[];
  };
  return out.items.map((p) => ({ name: p.metadata.name, labels: p.metadata.labels ?? {}, annotations: p.metadata.annotations ?? {} }));
}

async function policyStatus(): Promise<PolicyStatus> {
  const out = JSON.parse(await kubectlOk(['get', 'imp', POLICY, '-o', 'json'])) as { status?: PolicyStatus };
  return out.status ?? {};
}

/** A bare pod that kwok "runs"; the image is never pulled. */
function podManifest(name: string, securityContext: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: name } },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27', securityContext }] },
  });
}

/** Fields of `/proc/<pid>/status` ("Uid:\t65532\t65532..." → ["65532", "65532", ...]). */
function procStatusField(status: string, field: string): string[] {
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
  return line ? line.slice(field.length + 1).trim().split(/\s+/) : [];
}

describe('operator container image (e2e)', function () {
  let runtime: ContainerRuntimeClient | undefined;
  let operator: OperatorContainer | undefined;

  before(async function () {
    this.timeout(10 * 60_000);
    const found = await containerRuntime();
    if (!found.client) {
      const message = `no container runtime reachable: ${found.reason ?? 'unknown'}; ` +
        'run `eval "$(bash hack/image/podman-setup.sh)"` (as root) to get one';
      // CI sets the runtime up first (.ci/run), so there a missing runtime is a failure, not a skip.
      if (process.env.CI === 'true') throw new Error(message);
      console.warn(`    skipping the e2e tier: ${message}`);
      this.skip();
    }
    runtime = found.client;
    process.stderr.write(`${await buildImage()}\n`);

    await installCrd();
    await kubectlOk(['create', 'namespace', NS]);
    await kubectlOk(['apply', '-f', '-'], { input: podManifest('e2e-privileged', { privileged: true, readOnlyRootFilesystem: true }) });
    await kubectlOk(['apply', '-f', '-'], { input: podManifest('e2e-compliant', { readOnlyRootFilesystem: true }) });
    await eventually('both pods running on kwok nodes', async () => {
      const out = await kubectlOk(['-n', NS, 'get', 'pods', '--field-selector=status.phase=Running', '-o', 'name']);
      return out.trim().split('\n').filter(Boolean).length === 2 ? true : undefined;
    }, 60_000);

    operator = await new OperatorContainer(cluster().info.kubeconfig).start();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && operator) console.error(operator.logs(40));
  });

  after(async function () {
    this.timeout(120_000);
    // Policies go first, while the operator still runs: its finalizer would otherwise hold them.
    if (operator) await kubectl(['delete', 'imp', POLICY, '--ignore-not-found', '--wait=true', '--timeout=30s']);
    await operator?.stop();
    if (runtime) await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  });

  it('is configured to run as uid 65532, read-only, without capabilities or privilege escalation', async function () {
    if (!runtime || !operator) throw new Error('no operator container');
    const image = await runtime.container.dockerode.getImage(E2E_IMAGE).inspect();
    expect(image.Config.User, 'image USER').to.equal(`${NONROOT}:${NONROOT}`);
    expect(image.Config.Entrypoint).to.deep.equal(['/usr/local/bin/node', '--max-semi-space-size=4', '/app/dist/src/cli/main.js']);

    const info = await runtime.container.inspect(runtime.container.getById(operator.id));
    expect(info.State.Running).to.equal(true);
    expect(info.Config.User, 'container user (from the image, not overridden)').to.equal(`${NONROOT}:${NONROOT}`);
    // dockerode types some of these loosely; this is what the Docker API returns.
    const host = info.HostConfig as { ReadonlyRootfs?: boolean; Privileged?: boolean; CapAdd?: string[] | null; CapDrop?: string[] | null; SecurityOpt?: string[] | null };
    expect(host.ReadonlyRootfs, 'read-only root').to.equal(true);
    // Docker reports the "ALL" it was given; podman reports the capabilities that "ALL" removed from its defaults.
    const dropped = (host.CapDrop ?? []).map((c) => c.toUpperCase().replace(/^CAP_/, ''));
    if (!dropped.includes('ALL')) expect(dropped, 'dropped capabilities').to.include.members(RUNTIME_DEFAULT_CAPABILITIES);
    expect(host.CapAdd ?? []).to.deep.equal([]);
    expect(host.SecurityOpt?.some((o) => o.startsWith('no-new-privileges'))).to.equal(true);
    expect(host.Privileged).to.equal(false);
    expect(info.Mounts.find((m) => m.Destination === KUBECONFIG_IN_CONTAINER)?.RW, 'kubeconfig mount writable').to.equal(false);
  });

  it('really runs as uid 65532 with a read-only root, no capabilities and no_new_privs (the kernel\'s view)', async function () {
    if (!runtime || !operator) throw new Error('no operator container');
    // The image has no shell to exec `id` in; the kernel shows the container's PID 1 from the host instead.
    const { State } = await runtime.container.inspect(runtime.container.getById(operator.id));
    const proc = `/proc/${State.Pid}`;
    if (!State.Pid || !existsSync(`${proc}/status`)) {
      console.warn(`    container process ${State.Pid} is not visible from this host (remote runtime?)`);
      this.skip();
    }
    const status = await readFile(`${proc}/status`, 'utf8');
    const mountinfo = await readFile(`${proc}/mountinfo`, 'utf8').catch(() => '');
    const hostUid = process.getuid?.();
    if (hostUid === 0) {
      // Rootful runtime: no user namespace, so host and container uids agree (rootless would map them).
      expect(procStatusField(status, 'Uid'), 'real/effective/saved/fs uid').to.deep.equal([NONROOT, NONROOT, NONROOT, NONROOT]);
      expect(procStatusField(status, 'Gid'), 'gids').to.deep.equal([NONROOT, NONROOT, NONROOT, NONROOT]);
    }
    expect(procStatusField(status, 'CapEff')[0], 'effective capabilities').to.match(/^0+$/);
    expect(procStatusField(status, 'CapBnd')[0], 'bounding set').to.match(/^0+$/);
    expect(procStatusField(status, 'NoNewPrivs')[0]).to.equal('1');
    // mountinfo: "id parent dev root mountpoint options ..." with mount points relative to the container.
    const mounts = mountinfo.split('\n').filter(Boolean).map((l) => l.split(' '));
    const root = mounts.filter((m) => m[4] === '/').at(-1);
    expect(root?.[5]?.split(','), 'root mount options').to.include('ro');
    const tmp = mounts.filter((m) => m[4] === '/tmp').at(-1);
    expect(tmp?.[5]?.split(','), '/tmp mount options').to.include('rw');
  });

  it('labels the privileged pod under an Enforce+label policy and leaves the compliant one alone', async function () {
    await kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: POLICY },
        spec: { mode: 'Enforce', match: { namespaces: [NS] }, remediation: { label: {} } },
      }),
    });
    const list = await eventually('privileged pod labelled by the containerised operator', async () => {
      const ps = await pods();
      return ps.find((p) => p.name === 'e2e-privileged')?.labels['immutability.dev/violation'] === 'true' ? ps : undefined;
    }, 30_000);
    expect(list.find((p) => p.name === 'e2e-privileged')?.annotations['immutability.dev/violations']).to.equal('app:privileged');
    const compliant = list.find((p) => p.name === 'e2e-compliant');
    expect(compliant?.labels['immutability.dev/violation']).to.equal(undefined);
    expect(compliant?.annotations['immutability.dev/violations']).to.equal(undefined);
    // The runtime's log stream trails the process by a few hundred milliseconds.
    await eventually('the operator to log its action', () =>
      Promise.resolve(operator?.logEntries().some((e) => e.msg === 'pod metadata applied') ? true : undefined), 10_000);
  });

  it('writes the policy status', async function () {
    const status = await eventually('status with counts', async () => {
      const s = await policyStatus();
      return s.matchedPods === 2 && s.violatingPods === 1 ? s : undefined;
    });
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
    expect(status.conditions?.find((c) => c.type === 'Compliant')).to.include({ status: 'False', reason: 'ViolationsFound' });
    expect(status.violations?.map((v) => `${v.namespace}/${v.kind}/${v.name}:${v.pods}:${v.action}`)).to.deep.equal([
      `${NS}/Pod/e2e-privileged:1:Labeled`,
    ]);
    expect(status.violations?.[0]?.findings).to.deep.equal(['app:privileged']);
  });

  it('removes its labels when the policy is deleted while it runs (finalizer)', async function () {
    await kubectlOk(['delete', 'imp', POLICY, '--wait=true', '--timeout=30s']);
    const list = await pods();
    expect(list.filter((p) => p.labels['immutability.dev/violation'] !== undefined)).to.have.length(0);
    expect(list.filter((p) => p.annotations['immutability.dev/violations'] !== undefined)).to.have.length(0);
  });

  it('exits 0 on SIGTERM although node is PID 1', async function () {
    this.timeout(60_000);
    const code = await operator?.stop(20_000);
    operator = undefined;
    // 137 would mean the runtime had to SIGKILL it after the grace period: PID 1 ignores unhandled signals.
    expect(code).to.equal(0);
  });
});
