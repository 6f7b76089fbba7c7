import { expect } from 'chai';
import { FIELD_MANAGER } from '../../../src/api/types.js';
import { Interner } from '../../../src/k8s/intern.js';
import { gitOpsManagersOf, lastSpecWriter, ownedFragment } from '../../../src/remediation/managed-fields.js';
import { observedGeneration, rolloutVerdict, selectorQuery } from '../../../src/remediation/rollout.js';
import { slimWorkload, WorkloadCache, type CachedWorkload, type CachedWorkloadKind } from '../../../src/remediation/workload-cache.js';
import { templateHash, templateHashOf } from '../../../src/remediation/workload-record.js';
import { Store } from '../../../src/runtime/store.js';
import { objectKey } from '../../../src/runtime/list-watch.js';

type Obj = Record<string, unknown>;

/** A Deployment as the API server sends it: defaults, several writers' managedFields, status, others' annotations. */
function rawDeployment(resourceVersion = '10'): Obj {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: {
      name: 'web', namespace: 'shop', uid: 'web-uid', resourceVersion, generation: 2,
      labels: { app: 'web' },
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}',
        'deployment.kubernetes.io/revision': '2',
        'immutability.dev/patched': '{"template":"t","patch":"p","attempts":1,"fragment":{},"previous":{}}',
      },
      managedFields: [
        { manager: 'kubectl-client-side-apply', operation: 'Update', time: '2026-01-01T00:00:00Z', fieldsV1: { 'f:spec': { 'f:replicas': {} }, 'f:metadata': {} } },
        { manager: 'argocd-controller', operation: 'Apply', time: '2026-01-01T00:00:01Z', fieldsV1: { 'f:spec': { 'f:template': {} } } },
        { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', time: '2026-01-01T00:00:02Z', fieldsV1: { 'f:status': {} } },
        { manager: FIELD_MANAGER, operation: 'Apply', time: '2026-01-01T00:00:03Z', fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': {
          'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:name': {}, 'f:securityContext': { 'f:readOnlyRootFilesystem': {} },
            'f:volumeMounts': { 'k:{"mountPath":"/tmp"}': { '.': {}, 'f:mountPath': {}, 'f:name': {} } } } },
          'f:volumes': { 'k:{"name":"immutability-tmp-tmp"}': { '.': {}, 'f:emptyDir': {}, 'f:name': {} } },
        } } } } },
      ],
    },
    spec: {
      replicas: 3, progressDeadlineSeconds: 30, revisionHistoryLimit: 10, selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{
            name: 'app', image: 'nginx:1.27', imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log',
            env: [{ name: 'A', value: 'b' }], resources: { limits: { memory: '64Mi' } },
            securityContext: { readOnlyRootFilesystem: true },
            volumeMounts: [{ name: 'immutability-tmp-tmp', mountPath: '/tmp' }],
          }],
          volumes: [{ name: 'immutability-tmp-tmp', emptyDir: {} }],
          restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler',
        },
      },
    },
    status: {
      observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3, readyReplicas: 3,
      conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'long text', lastUpdateTime: 'x' }],
    },
  };
}

function stores(): Record<CachedWorkloadKind, Store<CachedWorkload>> {
  const store = (): Store<CachedWorkload> => new Store<CachedWorkload>((o) => objectKey(o.metadata));
  return { Deployment: store(), StatefulSet: store(), DaemonSet: store(), CronJob: store() };
}

const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' };

describe('remediation/workload-cache', () => {
  describe('slimWorkload', () => {
    it('keeps what remediation reads, with the same answers as the full object', () => {
      const raw = rawDeployment();
      const slim = slimWorkload(raw, 'Deployment') as unknown as Obj;
      const podSpecPath = '/spec/template/spec';
      expect(ownedFragment(slim, podSpecPath, FIELD_MANAGER)).to.deep.equal(ownedFragment(raw, podSpecPath, FIELD_MANAGER));
      expect(gitOpsManagersOf(slim)).to.deep.equal(gitOpsManagersOf(raw)).and.deep.equal(['argocd-controller']);
      expect(lastSpecWriter(slim, FIELD_MANAGER)).to.equal(lastSpecWriter(raw, FIELD_MANAGER));
      expect(templateHashOf(slim, {})).to.equal(templateHash((raw['spec'] as { template: { spec: unknown } }).template.spec));
      expect(observedGeneration(slim)).to.equal(true);
      expect(selectorQuery((slim['spec'] as Obj)['selector'])).to.equal('app=web');
      const verdict = (o: Obj): unknown => rolloutVerdict({ kind: 'Deployment', workload: o, newPods: [], startedAtMs: 0, nowMs: 1 });
      expect(verdict(slim)).to.deep.equal(verdict(raw)).and.deep.equal({ state: 'complete' });
      expect(slim['metadata']).to.include({ uid: 'web-uid', resourceVersion: '10', generation: 2 });
    });

    it('drops what nobody reads: others\' annotations and field sets, template metadata, unread spec and status', () => {
      const slim = slimWorkload(rawDeployment(), 'Deployment') as CachedWorkload;
      expect(slim.metadata.annotations).to.deep.equal({ 'immutability.dev/patched': '{"template":"t","patch":"p","attempts":1,"fragment":{},"previous":{}}' });
      // The controller-manager's status entry reaches nothing anybody reads: gone.
      expect(slim.metadata.managedFields?.map((e) => [e.manager, e.fieldsV1])).to.deep.equal([
        ['kubectl-client-side-apply', { 'f:spec': {} }], ['argocd-controller', { 'f:spec': {} }],
        [FIELD_MANAGER, (rawDeployment()['metadata'] as { managedFields: { fieldsV1: unknown }[] }).managedFields[3]?.fieldsV1]]);
      expect(slim.status?.['conditions']).to.deep.equal([{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }]);
      expect(slim.spec).to.have.keys('selector', 'replicas', 'progressDeadlineSeconds', 'template');
      expect(slim.spec['template']).to.have.keys('spec');
      expect(JSON.stringify(slim)).to.not.match(/env|resources|imagePullPolicy|lastUpdateTime|long text|last-applied/);
      expect(Object.isFrozen(slim.spec['template'])).to.equal(true);
    });

    it('takes the kind from its reflector: the items of a LIST carry none', () => {
      const { kind: _kind, apiVersion: _apiVersion, ...listItem } = rawDeployment();
      const slim = slimWorkload(listItem, 'Deployment');
      expect(slim).to.include({ apiVersion: 'apps/v1', kind: 'Deployment' });
      expect(slim?.metadata.name).to.equal('web');
    });

    it('finds a CronJob\'s template under its job template, and leaves out objects without one', () => {
      const cronJob = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'ns', resourceVersion: '5' },
        spec: { schedule: '@daily', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'job', image: 'busybox' }] } } } } } };
      const slim = slimWorkload(cronJob, 'CronJob') as unknown as { spec: { jobTemplate: { spec: { template: { spec: unknown } } } } };
      expect(slim.spec.jobTemplate.spec.template.spec).to.deep.equal({ containers: [{ name: 'job', image: 'busybox' }] });
      expect(slimWorkload({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: {} }, 'Deployment')).to.equal(undefined);
    });

    it('shares one pod spec between workloads with the same template', () => {
      const interner = new Interner();
      const a = slimWorkload(rawDeployment(), 'Deployment', interner) as CachedWorkload;
      const other = rawDeployment();
      (other['metadata'] as Obj)['name'] = 'web-2';
      const b = slimWorkload(other, 'Deployment', interner) as CachedWorkload;
      expect((a.spec['template'] as Obj)['spec']).to.equal((b.spec['template'] as Obj)['spec']);
    });
  });

  describe('WorkloadCache', () => {
    it('serves the cached copy, or our newer write of it until the watch delivers that write or a later one', () => {
      const s = stores();
      const cache = new WorkloadCache(s);
      expect(cache.get(ref)).to.equal(undefined);
      s.Deployment.upsert(slimWorkload(rawDeployment('10'), 'Deployment') as CachedWorkload);
      expect((cache.get(ref)?.['metadata'] as Obj)['resourceVersion']).to.equal('10');
      cache.remember(rawDeployment('12'));
      expect((cache.get(ref)?.['metadata'] as Obj)['resourceVersion']).to.equal('12');
      s.Deployment.upsert(slimWorkload(rawDeployment('11'), 'Deployment') as CachedWorkload); // an older event still on its way
      expect((cache.get(ref)?.['metadata'] as Obj)['resourceVersion']).to.equal('12');
      s.Deployment.upsert(slimWorkload(rawDeployment('12'), 'Deployment') as CachedWorkload);
      expect(cache.pendingWrites).to.equal(0);
      expect((cache.get(ref)?.['metadata'] as Obj)['resourceVersion']).to.equal('12');
    });

    it('forgets our write of a workload deleted since, and never serves one the cache does not hold', () => {
      const s = stores();
      const cache = new WorkloadCache(s);
      cache.remember(rawDeployment('12'));
      expect(cache.get(ref), 'not cached: read with a GET').to.equal(undefined);
      s.Deployment.upsert(slimWorkload(rawDeployment('10'), 'Deployment') as CachedWorkload);
      cache.remember(rawDeployment('12'));
      s.Deployment.delete('shop/web');
      expect(cache.pendingWrites).to.equal(0);
      expect(cache.get(ref)).to.equal(undefined);
    });

    it('answers only for the kinds and API versions it caches', () => {
      const s = stores();
      const cache = new WorkloadCache(s);
      s.Deployment.upsert(slimWorkload(rawDeployment(), 'Deployment') as CachedWorkload);
      expect(cache.get({ ...ref, kind: 'ReplicaSet' })).to.equal(undefined);
      expect(cache.get({ ...ref, apiVersion: 'apps/v1beta2' })).to.equal(undefined);
      expect(cache.get(ref)).to.not.equal(undefined);
    });
  });
});
