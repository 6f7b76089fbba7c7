// owners-N (issue 9): N violating Deployments, each with a ReplicaSet and a pod (owner references as the
// controller-manager sets them), the operator synced: time from an Audit policy's creation to its first
// status listing all N workloads, then from switching it to Enforce with patchOwner until every
// Deployment's pod template is patched.
import { createOwned, ownedNames } from '../lib/objects.js';
import { Operator, operatorRunInfo } from '../lib/operator.js';
import { type Result, type ScenarioContext, type ScenarioFamily, numberAfter } from '../lib/scenario.js';
import { requestDelta } from '../lib/cluster.js';
import { ObjectWatch, until } from '../lib/watch.js';

type DeploymentTemplate = { spec: { template: { spec: { containers: { securityContext?: { readOnlyRootFilesystem?: boolean } }[] } } } };

const round1 = (x: number): number => Math.round(x * 10) / 10;
/** Generous: a loaded 2-core machine patches a few hundred Deployments a second at worst. */
const timeoutMs = (count: number): number => Math.max(120_000, count * 60);

const NS = 'bench-owners';
const POLICY = 'bench-owners';

async function owners(ctx: ScenarioContext, count: number): Promise<Result> {
  const { cluster } = ctx;
  await cluster.ensureNamespace(NS);
  const createStart = performance.now();
  await createOwned(cluster.http, NS, ownedNames(count, 1, true), 16);
  const createSeconds = (performance.now() - createStart) / 1000;
  // Metrics without authentication: `synced` reads the operator's queue depths from them.
  const operator = await Operator.create(cluster.kubeconfig, ['--metrics-auth', 'none']);
  operator.start();
  try {
    // The timers start once the operator leads, its caches have synced and its start-up work is done (until
    // 2026-11-30 21:45 after a fixed 5 s, which a loaded box or 5,000 Deployments did not always give it).
    const syncedMs = await operator.synced(timeoutMs(count));
    const base = { match: { namespaces: [NS] }, remediation: { patchOwner: { writablePaths: ['/tmp'] } } };
    await cluster.applyPolicy(POLICY, { ...base, mode: 'Audit' });
    const auditStatusMs = await until('first Audit status', timeoutMs(count), 50, async () =>
      (await cluster.policyStatus(POLICY))['violatingWorkloads'] === count);
    // Patches are seen through a watch: polling a LIST of every Deployment would itself keep the API server
    // busy serialising thousands of objects (~230 ms each at 1,000), slowing down what it measures.
    const patched = await ObjectWatch.start(cluster.http, `/apis/apps/v1/namespaces/${NS}/deployments`, (d: DeploymentTemplate) =>
      d.spec.template.spec.containers.every((c) => c.securityContext?.readOnlyRootFilesystem === true));
    const requestsBefore = await cluster.requestCounts();
    const cpuBefore = { operator: await operator.cpuSeconds(), apiServer: await cluster.apiServerCpuSeconds() };
    const enforceStart = performance.now();
    await cluster.applyPolicy(POLICY, { ...base, mode: 'Enforce' });
    const lastPatched = await patched.waitFor(count, timeoutMs(count));
    patched.stop();
    if (lastPatched === null) console.error(`all Deployments patched: ${patched.seen.size} of ${count} within ${timeoutMs(count)} ms`);
    // What the Enforce phase cost: requests by verb and resource (the benchmark's own watch and policy apply
    // included), and CPU seconds — which a loaded machine stretches in time but does not inflate.
    const enforceCpuSeconds = {
      operator: round1(await operator.cpuSeconds() - cpuBefore.operator),
      apiServer: round1(await cluster.apiServerCpuSeconds() - cpuBefore.apiServer),
    };
    const enforceRequests = requestDelta(requestsBefore, await cluster.requestCounts());
    return { scenario: `owners-${count}`, operator: operatorRunInfo(), deployments: count, createSeconds: Math.round(createSeconds),
      syncedMs, auditStatusMs, enforcePatchedMs: lastPatched === null ? null : Math.round(lastPatched - enforceStart), rssMiB: await operator.rssMiB(),
      enforceCpuSeconds, enforceRequests };
  } finally {
    await operator.stop();
  }
}

export const ownersFamily: ScenarioFamily = {
  family: 'owners',
  usage: 'owners-<deployments>: violating Deployments, Audit status then Enforce patchOwner',
  all: ['owners-1000', 'owners-5000'],
  quick: [],
  run: (name, ctx) => owners(ctx, numberAfter('owners', name)),
};
