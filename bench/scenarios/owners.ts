// owners-N (issue 9): N violating Deployments, each with a ReplicaSet and a pod (owner references as the
// controller-manager sets them), the operator synced: time from an Audit policy's creation to its first
// status listing all N workloads, then from switching it to Enforce with patchOwner until every
// Deployment's pod template is patched.
import { createOwned, ownedNames } from '../lib/objects.js';
import { Operator, operatorRunInfo } from '../lib/operator.js';
import { type Result, type ScenarioContext, type ScenarioFamily, numberAfter, sleep } from '../lib/scenario.js';
import { until } from '../lib/watch.js';

const NS = 'bench-owners';
const POLICY = 'bench-owners';

async function owners(ctx: ScenarioContext, count: number): Promise<Result> {
  const { cluster } = ctx;
  await cluster.ensureNamespace(NS);
  const createStart = performance.now();
  await createOwned(cluster.http, NS, ownedNames(count, 1, true), 16);
  const createSeconds = (performance.now() - createStart) / 1000;
  const operator = await Operator.create(cluster.kubeconfig);
  operator.start();
  try {
    await sleep(5000); // initial sync of the caches
    const base = { match: { namespaces: [NS] }, remediation: { patchOwner: { writablePaths: ['/tmp'] } } };
    await cluster.applyPolicy(POLICY, { ...base, mode: 'Audit' });
    const auditStatusMs = await until('first Audit status', 60_000, 50, async () =>
      (await cluster.policyStatus(POLICY))['violatingWorkloads'] === count);
    await cluster.applyPolicy(POLICY, { ...base, mode: 'Enforce' });
    const enforcePatchedMs = await until('all Deployments patched', 120_000, 100, async () => {
      const list = await cluster.http.request<{ items: { spec: { template: { spec: { containers: { securityContext?: { readOnlyRootFilesystem?: boolean } }[] } } } }[] }>(
        'GET', `/apis/apps/v1/namespaces/${NS}/deployments`);
      return list.items.filter((d) => d.spec.template.spec.containers.every((c) => c.securityContext?.readOnlyRootFilesystem === true)).length === count;
    });
    return { scenario: `owners-${count}`, operator: operatorRunInfo(), deployments: count, createSeconds: Math.round(createSeconds),
      auditStatusMs, enforcePatchedMs, rssMiB: await operator.rssMiB() };
  } finally {
    await operator.stop();
  }
}

export const ownersFamily: ScenarioFamily = {
  family: 'owners',
  usage: 'owners-<deployments>: violating Deployments, Audit status then Enforce patchOwner',
  all: ['owners-1000'],
  quick: [],
  run: (name, ctx) => owners(ctx, numberAfter('owners', name)),
};
