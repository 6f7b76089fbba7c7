// The pod controller's own label writes come back through its watch; it takes an update that is exactly its own
// write arriving as seen, without a reconcile (PodReconciler.ownWriteArrived). These specs check on the real
// API server that this never swallows anything else: a pod whose labels change around our write — during it,
// right after it, or with our own label taken off by someone else — is evaluated again and ends labelled as
// its final state calls for.
import { expect } from 'chai';
import { loadKubeCredentials } from '../../src/k8s/kubeconfig.js';
import { ContentTypes, KubeHttp } from '../../src/k8s/http.js';
import { Paths } from '../../src/k8s/resources.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { withOperator } from '../support/operator-fixture.js';
import { apply, barePod, isLabelled, livePods, VIOLATION_LABEL, type Json } from '../support/workloads.js';

const NS = 'own-writes';
const POLICY = 'own-writes';
/** The policy governs only pods labelled so: taking the label off a pod takes it out of the policy. */
const SELECTED = { tier: 'front' };

const name = (pod: Json): string => String((pod['metadata'] as { name: string }).name);

describe('own label writes coming back through the watch', function () {
  this.timeout(180_000);
  withOperator({ namespaces: [NS], policies: [POLICY] });
  let http: KubeHttp;

  before(async function () {
    http = new KubeHttp(await loadKubeCredentials(cluster().info.kubeconfig));
    await apply({
      apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: POLICY },
      spec: { mode: 'Enforce', match: { namespaces: [NS], podSelector: { matchLabels: SELECTED } }, remediation: { label: {} } },
    });
  });

  after(() => http?.close());

  const setTier = (pod: string, tier: string | null): Promise<void> => http.write('PATCH', Paths.pod(NS, pod), {
    contentType: ContentTypes.mergePatch, body: { metadata: { labels: { tier } } },
  });

  /** Waits until exactly the pods in `labelled` carry our violation label, and the others neither it nor our annotation. */
  const settlesTo = (labelled: readonly string[]): Promise<Json[]> => eventually(`exactly ${labelled.length} pods labelled`, async () => {
    const pods = await livePods(NS);
    const ok = pods.every((p) => {
      const annotated = (p['metadata'] as { annotations?: Record<string, string> }).annotations?.['immutability.dev/violations'] !== undefined;
      return labelled.includes(name(p)) ? isLabelled(p) && annotated : !isLabelled(p) && !annotated;
    });
    return ok ? pods : undefined;
  }, 30_000);

  it('pods whose labels change while and right after they are labelled end as their last labels call for', async () => {
    const pods = Array.from({ length: 40 }, (_, i) => `racer-${i}`);
    // Created selected: the operator labels each as soon as it sees it. Without waiting, every other pod leaves
    // the policy, and every fourth comes back, while those writes and their watch events are under way.
    await Promise.all(pods.map((p) => http.write('POST', `/api/v1/namespaces/${NS}/pods`, { body: barePod(NS, p, undefined, SELECTED) })));
    const leaving = pods.filter((_, i) => i % 2 === 0);
    await Promise.all(leaving.map((p) => setTier(p, null)));
    const returning = pods.filter((_, i) => i % 4 === 0);
    await Promise.all(returning.map((p) => setTier(p, SELECTED.tier)));
    const selected = pods.filter((p) => !leaving.includes(p) || returning.includes(p));
    await settlesTo(selected);
  });

  it('a labelled pod that leaves the policy loses our label, and gets it back when it returns', async () => {
    await apply(barePod(NS, 'mover', undefined, SELECTED));
    await eventually('mover labelled', async () => ((await livePods(NS)).some((p) => name(p) === 'mover' && isLabelled(p)) ? true : undefined));
    await kubectlOk(['-n', NS, 'label', 'pod', 'mover', 'tier-']);
    const pods = await eventually('mover unlabelled', async () => {
      const list = await livePods(NS);
      return list.some((p) => name(p) === 'mover' && !isLabelled(p)) ? list : undefined;
    });
    expect(pods.find((p) => name(p) === 'mover')?.['metadata']).to.not.have.nested.property('annotations.immutability\\.dev/violations');
    await kubectlOk(['-n', NS, 'label', 'pod', 'mover', 'tier=front']);
    await eventually('mover labelled again', async () => ((await livePods(NS)).some((p) => name(p) === 'mover' && isLabelled(p)) ? true : undefined));
  });

  it('puts its label back when someone else takes it off', async () => {
    await kubectlOk(['-n', NS, 'label', 'pod', 'mover', `${VIOLATION_LABEL}-`]);
    await eventually('label written again', async () => ((await livePods(NS)).some((p) => name(p) === 'mover' && isLabelled(p)) ? true : undefined));
  });
});
