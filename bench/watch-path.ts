// The operator's read path in one process, without a cluster: pod watch lines (as owned-N's pods come back
// after a label write: the whole pod, JSON, managedFields of two managers) → the line decoder → the
// reflector (slim, intern, store, indexes) → the controller manager's pod-event keys. Prints CPU and GC per
// event over a cache of `--pods` pods, half of them changing by the violation label and annotation each
// round, as the backlog's labels do. For comparing changes to that path; owned-N measures the real thing.
//
//   node --max-semi-space-size=4 --max-old-space-size=160 dist/bench/watch-path.js [--pods 50000] [--rounds 6]
import { PerformanceObserver } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Pod } from '../src/api/kube.js';
import { createStores } from '../src/controllers/caches.js';
import { WATCHES } from '../src/controllers/manager.js';
import { Interner } from '../src/k8s/intern.js';
import { decodeWatchStream } from '../src/k8s/list-watch.js';
import { slimOwned, slimPod } from '../src/k8s/slim.js';
import { systemClock } from '../src/runtime/clock.js';
import type { ListWatchSource } from '../src/runtime/list-watch.js';
import { Reflector } from '../src/runtime/reflector.js';

const NS = 'bench-owned';
const PODS_PER_DEPLOYMENT = 10;

/** Pod `i` as kube-apiserver 1.36 serves it in owned-N (captured shape), labelled by the operator or not. */
function rawPod(i: number, rv: number, labelled: boolean): object {
  const d = Math.floor(i / PODS_PER_DEPLOYMENT);
  const rsUid = `7b7b1c51-9eb4-4c45-b266-${String(d).padStart(12, '0')}`;
  const creator = { manager: 'immutability-bench', operation: 'Update', apiVersion: 'v1', time: '2026-12-01T05:32:54Z', fieldsType: 'FieldsV1',
    fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} }, 'f:ownerReferences': { '.': {}, [`k:{"uid":"${rsUid}"}`]: {} } },
      'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {}, 'f:resources': {},
        'f:securityContext': { '.': {}, 'f:readOnlyRootFilesystem': {} }, 'f:terminationMessagePath': {}, 'f:terminationMessagePolicy': {} } },
      'f:dnsPolicy': {}, 'f:enableServiceLinks': {}, 'f:restartPolicy': {}, 'f:schedulerName': {}, 'f:securityContext': {}, 'f:terminationGracePeriodSeconds': {} } } };
  const operator = { manager: 'immutability-operator', operation: 'Apply', apiVersion: 'v1', time: '2026-12-01T05:33:34Z', fieldsType: 'FieldsV1',
    fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:immutability.dev/violations': {} }, 'f:labels': { 'f:immutability.dev/violation': {} } } } };
  return {
    kind: 'Pod', apiVersion: 'v1',
    metadata: {
      name: `web-${d}-1-${i % PODS_PER_DEPLOYMENT}`, namespace: NS, uid: `04905252-e116-4ccd-a598-${String(i).padStart(12, '0')}`,
      resourceVersion: String(rv), generation: 1, creationTimestamp: '2026-12-01T05:32:54Z',
      labels: labelled ? { app: `web-${d}`, 'immutability.dev/violation': 'true' } : { app: `web-${d}` },
      ...(labelled ? { annotations: { 'immutability.dev/violations': 'app:readOnlyRootFilesystem' } } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `web-${d}-1`, uid: rsUid, controller: true, blockOwnerDeletion: true }],
      managedFields: labelled ? [operator, creator] : [creator],
    },
    spec: {
      containers: [{ name: 'app', image: 'nginx:1.27', resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent', securityContext: { readOnlyRootFilesystem: d % 2 !== 0 } }],
      restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', securityContext: {}, schedulerName: 'default-scheduler',
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      priority: 0, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority',
    },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  };
}

/** One round of the violating pods' watch events, in 16 KiB chunks as a TLS socket hands them over. */
function round(pods: number, labelled: boolean, rv: number): Buffer[] {
  const lines: string[] = [];
  for (let i = 0; i < pods; i++) if (Math.floor(i / PODS_PER_DEPLOYMENT) % 2 === 0) lines.push(JSON.stringify({ type: 'MODIFIED', object: rawPod(i, rv + i, labelled) }));
  const all = Buffer.from(`${lines.join('\n')}\n`);
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += 16384) chunks.push(all.subarray(at, at + 16384));
  return chunks;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { pods: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '6' } } });
  const pods = Number(values.pods);
  const rounds = Number(values.rounds);
  const stores = createStores();
  const interner = new Interner();
  for (let d = 0; d < pods / PODS_PER_DEPLOYMENT; d++) {
    stores.replicaSets.upsert(slimOwned({ metadata: { name: `web-${d}-1`, namespace: NS, uid: `rs-${d}`,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: `web-${d}`, uid: `d-${d}`, controller: true }] } }, interner)!);
  }
  const podWatch = WATCHES[0]!;
  stores.pods.onChange((ev) => void podWatch.keys(ev, stores as Parameters<typeof podWatch.keys>[1]));
  const streams = [round(pods, true, 1_000_000), round(pods, false, 2_000_000)];
  const events = streams[0]!.reduce((n, c) => n + c.filter((b) => b === 10).length, 0);

  let gcMs = 0;
  const gc = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; });
  const measured = new Promise<string>((resolve) => {
    let watched = false;
    const source: ListWatchSource = {
      list: ({ limit, continueToken }) => {
        const from = Number(continueToken ?? 0);
        const to = Math.min(pods, from + limit);
        const items = [];
        for (let i = from; i < to; i++) items.push(rawPod(i, i + 1, false));
        return Promise.resolve({ items, resourceVersion: '1', ...(to < pods ? { continueToken: String(to) } : {}) });
      },
      watch: async (_opts, onEvent) => {
        if (watched) return new Promise<void>(() => undefined);
        watched = true;
        const feed = async (r: number): Promise<void> => {
          const chunks = streams[r % 2]!;
          await decodeWatchStream(Readable.from(chunks, { objectMode: false }), onEvent);
        };
        for (let r = 0; r < 2; r++) await feed(r); // warm-up
        gc.observe({ type: 'gc' });
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        for (let r = 0; r < rounds; r++) await feed(r);
        const wallMs = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        await new Promise((r) => setTimeout(r, 300)); // the last GC entries
        gc.disconnect();
        const n = events * rounds;
        resolve(JSON.stringify({ pods, events: n, cpuUsPerEvent: round2((cpu.user + cpu.system) / n), wallUsPerEvent: round2(1000 * wallMs / n),
          mainThreadGcUsPerEvent: round2(1000 * gcMs / n), heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) }));
        return new Promise<void>(() => undefined);
      },
    };
    const reflector = new Reflector<Pod>({ name: 'pods', source, store: stores.pods, transform: (raw, cached) => slimPod(raw, interner, cached), clock: systemClock });
    reflector.start(new AbortController().signal);
  });
  process.stdout.write(`${await measured}\n`);
  process.exit(0);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

await main();
