// What the generated ValidatingAdmissionPolicy costs a request: server-side dry-run creates (what
// `kubectl apply --dry-run=server` sends) of 1,000 Deployments in three phases: without an admission policy,
// with a minimal hand-written one-rule policy (no privileged containers, as one would write it by hand: the
// cost of any ValidatingAdmissionPolicy on pod templates, whoever generates it), and with the policy and
// binding an ImmutabilityPolicy with every spec rule, exemptions and spec.admission generates. The phases
// alternate in rounds (default 4 × 250 each), so that load from other processes on a shared machine falls
// on all of them alike instead of on whichever phase ran last.
// Not a test: it measures and prints p50/p99 per phase and writes bench/results/admission-latest.json.
// Method and results: docs/benchmarks.md. Run: `node dist/bench/admission.js` (a fresh local control plane),
// or with `--kubeconfig` against a running one.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { ADMISSION_FIELD_MANAGER } from '../src/api/types.js';
import { ContentTypes, KubeHttp } from '../src/k8s/http.js';
import { resolvePolicy } from '../src/policy/index.js';
import { generateValidation } from '../src/policy/admission/validating-policy.js';
import { ControlPlane } from '../test/support/controlplane/controlplane.js';
import { cpuSeconds } from '../test/support/faults/process-sampler.js';
import { EVERY_SPEC_RULE } from '../test/support/parity-manifests.js';
import { correlate, parseGcTrace } from './lib/gctrace.js';
import type { Sample } from './lib/gctrace.js';
import { percentiles } from './lib/stats.js';
import { controlPlaneBinaries, repoRoot } from '../test/support/controlplane/binaries.js';

const NS = 'bench-admission';
const ADMISSION = '/apis/admissionregistration.k8s.io/v1';

function deployment(i: number): object {
  const securityContext = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `web-${i}`, namespace: NS },
    spec: {
      selector: { matchLabels: { app: `web-${i}` } },
      template: {
        metadata: { labels: { app: `web-${i}` } },
        spec: {
          initContainers: [{ name: 'setup', image: 'busybox:1.36', securityContext }],
          containers: [{ name: 'nginx', image: 'nginx:1.27', securityContext }, { name: 'sidecar', image: 'envoy:1.30', securityContext }],
        },
      },
    },
  };
}

/** CPU seconds a process has used; undefined without a pid (a control plane this run did not start). */
function apiServerCpuSeconds(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : cpuSeconds(pid);
}

interface AdmissionPair { policy: Record<string, unknown>; binding: Record<string, unknown> }

/** The smallest useful policy on the same kinds: no privileged container, written as one would by hand. */
function minimalPolicy(namespace: string): AdmissionPair {
  const name = 'bench-minimal';
  const containers = "(object.kind == 'Pod' ? object.spec : object.spec.template.spec).containers";
  return {
    policy: {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
          { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] },
        ] },
        validations: [{ expression: `${containers}.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged != true)`, message: 'privileged' }],
      },
    },
    binding: {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name },
      spec: { policyName: name, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } },
    },
  };
}

/** Milliseconds on CLOCK_MONOTONIC, the clock Go's runtime and /proc's start times count on too. */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

async function dryRunCreates(http: KubeHttp, count: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const startMs = monotonicMs();
    await http.write('POST', `/apis/apps/v1/namespaces/${NS}/deployments`, { query: { dryRun: 'All' }, body: deployment(i) });
    samples.push({ startMs, latencyMs: monotonicMs() - startMs });
  }
  return samples;
}

/**
 * Bytes kube-apiserver's Go runtime has allocated since it started (`go_memstats_alloc_bytes_total`): what
 * paces its garbage collector. Reading /metrics allocates too, the same amount before every phase.
 */
async function apiServerAllocatedBytes(http: KubeHttp): Promise<number> {
  const res = await http.stream('/metrics', { accept: 'text/plain' });
  let text = '';
  for await (const chunk of res) text += String(chunk);
  const m = /^go_memstats_alloc_bytes_total ([\d.e+]+)$/m.exec(text);
  if (!m) throw new Error('kube-apiserver /metrics has no go_memstats_alloc_bytes_total');
  return Number(m[1]);
}

/** When a process started, in ms since boot (/proc/<pid>/stat field 22, in clock ticks of 10 ms). */
function processStartMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) * 10;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' }, count: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '4' },
      // GODEBUG=gctrace=1 for the control plane this run starts: its collections laid over the latencies.
      gctrace: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const rounds = Number(values.rounds);
  const loadBefore = loadavg();
  let controlPlane: ControlPlane | undefined;
  let kubeconfig = values.kubeconfig;
  if (values.gctrace && kubeconfig !== undefined) throw new Error('--gctrace needs a control plane this run starts (no --kubeconfig)');
  if (kubeconfig === undefined) {
    // Inherited by the control plane's processes; GOGC and the like pass through the same way.
    if (values.gctrace) process.env['GODEBUG'] = [process.env['GODEBUG'], 'gctrace=1'].filter(Boolean).join(',');
    controlPlane = new ControlPlane({ binDir: await controlPlaneBinaries({ onProgress: (l) => process.stderr.write(`${l}\n`) }), nodes: 1 });
    kubeconfig = (await controlPlane.start()).kubeconfig;
  }
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const http = new KubeHttp(kc);
    await http.write('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } }).catch(() => undefined);
    await dryRunCreates(http, 50); // warm-up: connections, caches

    const policy = resolvePolicy('bench', {
      mode: 'Enforce',
      match: { namespaces: [NS] },
      rules: EVERY_SPEC_RULE,
      exemptions: [
        { containers: ['legacy-*'], rules: ['readOnlyRootFilesystem'], reason: 'bench' },
        { images: ['registry.example.com/legacy/*'], reason: 'bench' },
      ],
      admission: { action: 'Deny' },
    });
    const generated = generateValidation(policy, '00000000-0000-0000-0000-000000000000', new Date());
    const minimal = minimalPolicy(NS);
    // The API server loads and unloads a policy asynchronously: wait until a violating request is (not) refused.
    const waitUntilRefusing = async (refusing: boolean): Promise<void> => {
      for (let tries = 0; ; tries++) {
        const refused = await http.write('POST', `/api/v1/namespaces/${NS}/pods`, {
          query: { dryRun: 'All' },
          body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe' }, spec: { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] } },
        }).then(() => false, () => true);
        if (refused === refusing) return;
        if (tries > 100) throw new Error(`the admission policy never ${refusing ? 'took effect' : 'went away'}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    // The controller-manager type-checks a new policy and writes its status, and the API server then compiles
    // the policy again: both are the install's cost, not a request's (the slowest requests of a round came
    // 60-130 requests after the install before this wait). Measure once they are done.
    const waitUntilTypeChecked = async (name: string): Promise<void> => {
      for (let tries = 0; ; tries++) {
        const vap = await http.request<{ metadata: { generation?: number }; status?: { observedGeneration?: number; typeChecking?: object } }>(
          'GET', `${ADMISSION}/validatingadmissionpolicies/${name}`);
        if (vap.status?.typeChecking !== undefined && vap.status.observedGeneration === vap.metadata.generation) break;
        if (tries > 100) throw new Error(`the controller-manager never type-checked ${name}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 1000));
    };
    const install = async ({ policy: vap, binding }: AdmissionPair): Promise<void> => {
      for (const [resource, body] of [['validatingadmissionpolicies', vap], ['validatingadmissionpolicybindings', binding]] as const) {
        const metadata = { ...(body['metadata'] as object), ownerReferences: undefined };
        await http.write('PATCH', `${ADMISSION}/${resource}/${String((body['metadata'] as { name: string }).name)}`, {
          query: { fieldManager: ADMISSION_FIELD_MANAGER, force: true }, contentType: ContentTypes.apply, body: { ...body, metadata },
        });
      }
      await waitUntilRefusing(true);
      await waitUntilTypeChecked(String((vap['metadata'] as { name: string }).name));
    };
    const uninstall = async ({ policy: vap, binding }: AdmissionPair): Promise<void> => {
      for (const [resource, body] of [['validatingadmissionpolicybindings', binding], ['validatingadmissionpolicies', vap]] as const) {
        await http.write('DELETE', `${ADMISSION}/${resource}/${String((body['metadata'] as { name: string }).name)}`).catch(() => undefined);
      }
      await waitUntilRefusing(false);
    };
    const phases = { without: [] as Sample[], minimal: [] as Sample[], generated: [] as Sample[] };
    // kube-apiserver's CPU time per request: what the policy costs, much less disturbed than latency by other
    // processes competing for the same cores (only when this run started the control plane).
    const apiServer = controlPlane?.pidOf('kube-apiserver');
    const cpu = { without: 0, minimal: 0, generated: 0 };
    const allocated = { without: 0, minimal: 0, generated: 0 };
    const measured = async (phase: keyof typeof phases, n: number): Promise<void> => {
      const allocatedBefore = await apiServerAllocatedBytes(http);
      const before = apiServerCpuSeconds(apiServer);
      phases[phase].push(...await dryRunCreates(http, n));
      const after = apiServerCpuSeconds(apiServer);
      allocated[phase] += (await apiServerAllocatedBytes(http)) - allocatedBefore;
      if (before !== undefined && after !== undefined) cpu[phase] += after - before;
    };
    const perRound = Math.ceil(count / rounds);
    for (let round = 0; round < rounds; round++) {
      await measured('without', perRound);
      for (const [phase, pair] of [['minimal', minimal], ['generated', generated]] as const) {
        await install(pair);
        await dryRunCreates(http, 20); // not measured: the switch itself is not what this measures
        await measured(phase, perRound);
        await uninstall(pair);
        await dryRunCreates(http, 20);
      }
    }

    const latencies = (phase: keyof typeof phases): number[] => phases[phase].map((s) => s.latencyMs);
    const p = { without: percentiles(latencies('without')), minimal: percentiles(latencies('minimal')), generated: percentiles(latencies('generated')) };
    let gc: object | undefined;
    if (values.gctrace && controlPlane !== undefined && apiServer !== undefined) {
      const log = await readFile(path.join(controlPlane.info.workDir, 'logs', 'kube-apiserver.log'), 'utf8');
      const cycles = parseGcTrace(log, processStartMs(apiServer));
      // The start time's 10 ms resolution and the runtime's own start-up: the slack for the clocks' alignment.
      gc = Object.fromEntries(Object.entries(phases).map(([phase, samples]) => [phase, correlate(samples, cycles, 15)]));
    }
    const result = {
      when: new Date().toISOString(),
      count,
      rounds,
      loadAverage: { before: loadBefore.map((l) => Number(l.toFixed(2))), after: loadavg().map((l) => Number(l.toFixed(2))) },
      withoutPolicyMs: p.without,
      minimalPolicyMs: p.minimal,
      withPolicyMs: p.generated,
      p99DifferenceMs: p.generated.p99 - p.without.p99,
      p50DifferenceMs: p.generated.p50 - p.without.p50,
      minimalP99DifferenceMs: p.minimal.p99 - p.without.p99,
      minimalP50DifferenceMs: p.minimal.p50 - p.without.p50,
      // Raw latencies in request order (each phase's rounds one after another), to see where the tail lies.
      samplesMs: Object.fromEntries(Object.entries(phases).map(([phase, samples]) => [phase, samples.map((s) => Math.round(s.latencyMs * 100) / 100)])),
      ...(gc === undefined ? {} : { kubeApiServerGc: gc }),
      // Garbage the API server made per request (a /metrics read's own included, alike in every phase).
      apiServerAllocatedKbPerRequest: Object.fromEntries(Object.entries(allocated).map(([phase, bytes]) => [phase, Math.round(bytes / 1024 / phases[phase as keyof typeof phases].length)])),
      ...(apiServer === undefined ? {} : {
        apiServerCpuMsPerRequest: Object.fromEntries(Object.entries(cpu).map(([phase, seconds]) => [phase, (seconds * 1000) / phases[phase as keyof typeof phases].length])),
      }),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const dir = path.join(repoRoot(), 'bench', 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'admission-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await controlPlane?.stop();
  }
}

await main();
