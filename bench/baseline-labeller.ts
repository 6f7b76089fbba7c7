// The baseline the operator is compared with (docs/benchmarks.md): the minimal pod labeller one writes with
// client-node's own informer — full V1Pod objects in makeInformer's cache, one patch per violating pod
// through CoreV1Api, at most 16 in flight (the operator's default pod workers). It labels what the
// operator's readOnlyRootFilesystem rule flags, with the same server-side apply of one label and one
// annotation, under the label key given as its second argument.
//
//   node dist/bench/baseline-labeller.js KUBECONFIG LABEL_KEY
import { CoreV1Api, KubeConfig, makeInformer, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';

const [kubeconfig, labelKey] = process.argv.slice(2);
if (!kubeconfig || !labelKey) {
  console.error('usage: baseline-labeller KUBECONFIG LABEL_KEY');
  process.exit(2);
}
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

const violates = (pod: V1Pod): boolean =>
  (pod.spec?.containers ?? []).some((c) => c.securityContext?.readOnlyRootFilesystem !== true);

const queue: V1Pod[] = [];
const queued = new Set<string>();
let running = 0;

function pump(): void {
  while (running < 16 && queue.length > 0) {
    const pod = queue.shift()!;
    const { name = '', namespace = '' } = pod.metadata ?? {};
    running++;
    core.patchNamespacedPod({
      name, namespace, fieldManager: 'baseline-labeller', force: true,
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { [labelKey!]: 'true' }, annotations: { [`${labelKey!}-rules`]: 'readOnlyRootFilesystem' } } },
    }, applyPatch).catch((err: unknown) => console.error(`patch ${namespace}/${name}: ${String(err)}`)).finally(() => {
      running--;
      queued.delete(`${namespace}/${name}`);
      pump();
    });
  }
}

function consider(pod: V1Pod): void {
  const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  if (!violates(pod) || pod.metadata?.labels?.[labelKey!] === 'true' || queued.has(key)) return;
  queued.add(key);
  queue.push(pod);
  pump();
}

const informer = makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
informer.on('add', consider);
informer.on('update', consider);
informer.on('error', (err: unknown) => {
  console.error(`informer: ${String(err)}`);
  setTimeout(() => void informer.start(), 1000);
});
process.once('SIGTERM', () => void informer.stop().then(() => process.exit(0)));
await informer.start();
