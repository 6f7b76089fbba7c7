// writecost-N: what one remediation request costs kube-apiserver, by kind of request, on N Deployments each
// (issues 9 and 15: is server-side apply's managedFields bookkeeping what makes patching 1,000 Deployments
// CPU-bound, and would another kind of write be cheaper?). The same change to the pod template as the
// operator's patch (readOnlyRootFilesystem, an emptyDir at /tmp, our annotations and label):
//  - apply: the operator's server-side apply body (fragment.ts applyBody, with its uid and resourceVersion
//    preconditions), field manager immutability-operator, forced;
//  - strategic: the same fields as a strategic merge patch with the same resourceVersion precondition (what
//    an operator without field ownership would send; it cannot remove a field it set earlier, nor tell whose
//    a field is);
//  - get: a GET of the Deployment, what remediation did before each patch until the workload cache.
// 16 requests in flight, like the workload workers; kube-apiserver's CPU seconds (process_cpu_seconds_total)
// over each phase, divided by N. Nothing else runs against the control plane meanwhile.
import { FIELD_MANAGER } from '../../src/api/types.js';
import { ContentTypes } from '../../src/k8s/http.js';
import { applyBody } from '../../src/remediation/fragment.js';
import type { TemplateFragment } from '../../src/policy/index.js';
import { inParallel, podSpec } from '../lib/objects.js';
import { round1 } from '../lib/stats.js';
import { type Result, type ScenarioContext, type ScenarioFamily, numberAfter } from '../lib/scenario.js';

const NS = 'bench-write-cost';
const IN_FLIGHT = 16;
const MODES = ['get', 'apply', 'strategic'] as const;
type Mode = (typeof MODES)[number];

const fragment: TemplateFragment = {
  containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'immutability-tmp-tmp', mountPath: '/tmp' }] }],
  volumes: [{ name: 'immutability-tmp-tmp', emptyDir: {} }],
};
const annotations = { 'immutability.dev/actions': '{"bench":{"uid":"u","generation":1,"patched":1,"rolledBack":0,"evicted":0}}' };

interface Created { metadata: { name: string; uid: string; resourceVersion: string } }

async function writeCost(ctx: ScenarioContext, count: number): Promise<Result> {
  const { cluster } = ctx;
  const { http } = cluster;
  await cluster.ensureNamespace(NS);
  const created = new Map<Mode, Created[]>();
  for (const mode of MODES) {
    const items: Created[] = [];
    await inParallel(Array.from({ length: count }, (_, i) => i), IN_FLIGHT, async (i) => {
      const name = `${mode}-${i}`;
      const labels = { app: name };
      items[i] = await http.request<Created>('POST', `/apis/apps/v1/namespaces/${NS}/deployments`, { body: {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels },
        spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec(true) } },
      } });
    });
    created.set(mode, items);
  }
  const path = (name: string): string => `/apis/apps/v1/namespaces/${NS}/deployments/${name}`;
  const request: Record<Mode, (d: Created) => Promise<void>> = {
    get: (d) => http.write('GET', path(d.metadata.name)),
    apply: (d) => http.write('PATCH', path(d.metadata.name), {
      query: { fieldManager: FIELD_MANAGER, force: true }, contentType: ContentTypes.apply,
      body: applyBody({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name: d.metadata.name, podSpecPath: '/spec/template/spec' },
        fragment, annotations, d),
    }),
    strategic: (d) => http.write('PATCH', path(d.metadata.name), {
      query: { fieldManager: FIELD_MANAGER }, contentType: 'application/strategic-merge-patch+json',
      body: { metadata: { resourceVersion: d.metadata.resourceVersion, annotations, labels: { 'immutability.dev/remediated': 'true' } },
        spec: { template: { spec: fragment } } },
    }),
  };
  const phases: Record<string, unknown> = {};
  for (const mode of MODES) {
    const cpuBefore = await cluster.apiServerCpuSeconds();
    const start = performance.now();
    await inParallel(created.get(mode) ?? [], IN_FLIGHT, request[mode]);
    const seconds = (performance.now() - start) / 1000;
    const cpu = await cluster.apiServerCpuSeconds() - cpuBefore;
    phases[mode] = { requests: count, wallSeconds: round1(seconds), apiServerCpuSeconds: round1(cpu), apiServerCpuMsPerRequest: round1((cpu * 1000) / count) };
  }
  return { scenario: `writecost-${count}`, deployments: count, inFlight: IN_FLIGHT, phases };
}

export const writeCostFamily: ScenarioFamily = {
  family: 'writecost',
  usage: 'writecost-<deployments>: kube-apiserver CPU per GET, server-side apply and strategic merge patch of a Deployment',
  all: ['writecost-1000'],
  quick: [],
  run: (name, ctx) => writeCost(ctx, numberAfter('writecost', name)),
};
