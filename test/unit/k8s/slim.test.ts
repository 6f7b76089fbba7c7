import { expect } from 'chai';
import { ANNOTATION_DRIFT, ANNOTATION_VIOLATIONS, LABEL_VIOLATION } from '../../../src/api/types.js';
import { Interner } from '../../../src/k8s/intern.js';
import { slimMeta, slimNamespace, slimOwned, slimPod, slimPodSpec } from '../../../src/k8s/slim.js';

/** A Pod as the API server returns it, with the noise the cache must drop. */
function rawPod(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-7d9-abcde',
      namespace: 'shop',
      uid: 'u-1',
      resourceVersion: '42',
      generation: 1,
      creationTimestamp: '2026-01-01T00:00:00Z',
      generateName: 'web-7d9-',
      labels: { app: 'web', [LABEL_VIOLATION]: 'true' },
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': '{"huge":"json"}',
        [ANNOTATION_VIOLATIONS]: 'nginx:privileged',
        [ANNOTATION_DRIFT]: '{"count":1}',
      },
      ownerReferences: [{
        apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9', uid: 'rs-uid', controller: true, blockOwnerDeletion: true,
      }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } }],
      finalizers: ['x'],
    },
    spec: {
      nodeName: 'node-1',
      serviceAccountName: 'default',
      os: { name: 'linux' },
      securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'nginx',
        image: 'nginx:1.27',
        args: ['-g', 'daemon off;'],
        env: [{ name: 'A', value: 'b' }],
        resources: { limits: { cpu: '1' } },
        securityContext: { readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } },
        volumeMounts: [{ name: 'cache', mountPath: '/var/cache/nginx', readOnly: false, subPath: 'x' }],
      }],
      initContainers: [{ name: 'init', image: 'busybox', command: ['true'] }],
      ephemeralContainers: [{ name: 'debugger', image: 'busybox', targetContainerName: 'nginx' }],
      volumes: [
        { name: 'cache', emptyDir: { sizeLimit: '64Mi' } },
        { name: 'cfg', configMap: { name: 'cfg' } },
        { name: 'logs', hostPath: { path: '/var/log', type: 'Directory' } },
      ],
      hostUsers: false,
      tolerations: [{ key: 'k', operator: 'Exists' }],
    },
    status: {
      phase: 'Running',
      podIP: '10.0.0.1',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'nginx', ready: true }],
    },
  };
}

describe('k8s/slim slimPod', () => {
  it('keeps what evaluation, matching and owner resolution read, and nothing else', () => {
    expect(slimPod(rawPod())).to.deep.equal({
      metadata: {
        name: 'web-7d9-abcde',
        namespace: 'shop',
        uid: 'u-1',
        generation: 1,
        labels: { app: 'web', [LABEL_VIOLATION]: 'true' },
        annotations: { [ANNOTATION_VIOLATIONS]: 'nginx:privileged', [ANNOTATION_DRIFT]: '{"count":1}' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9', uid: 'rs-uid', controller: true }],
      },
      spec: {
        containers: [{
          name: 'nginx',
          image: 'nginx:1.27',
          securityContext: { readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } },
          volumeMounts: [{ name: 'cache', mountPath: '/var/cache/nginx', readOnly: false }],
        }],
        initContainers: [{ name: 'init', image: 'busybox' }],
        ephemeralContainers: [{ name: 'debugger', image: 'busybox' }],
        volumes: [{ name: 'cache', emptyDir: { sizeLimit: '64Mi' } }, { name: 'cfg' }, { name: 'logs', hostPath: { path: '/var/log', type: 'Directory' } }],
        hostUsers: false,
        securityContext: { runAsNonRoot: true, runAsUser: 1000 },
        os: { name: 'linux' },
        nodeName: 'node-1',
      },
      status: { phase: 'Running' },
    });
  });

  it('drops resourceVersion: a change to nothing we keep is no change of the cached pod', () => {
    const a = slimPod(rawPod())!;
    const raw = rawPod();
    (raw.metadata as Record<string, unknown>).resourceVersion = '43';
    expect(a.metadata).to.not.have.property('resourceVersion');
    expect(slimPod(raw)).to.deep.equal(a);
  });

  it('is frozen, so that no reader can edit what other pods share', () => {
    const pod = slimPod(rawPod())!;
    expect(Object.isFrozen(pod) && Object.isFrozen(pod.metadata) && Object.isFrozen(pod.spec.containers[0]!.securityContext)).to.equal(true);
    expect(() => { (pod.metadata.labels as Record<string, string>)['x'] = 'y'; }).to.throw(TypeError);
  });

  it('shares one copy of the spec, labels, owner references and namespace between pods of one workload', () => {
    const interner = new Interner();
    const second = rawPod();
    (second.metadata as Record<string, unknown>).name = 'web-7d9-fghij';
    const [a, b] = [slimPod(rawPod(), interner)!, slimPod(second, interner)!];
    expect(b.metadata.name).to.equal('web-7d9-fghij');
    expect(a.spec).to.equal(b.spec);
    expect(a.metadata.labels).to.equal(b.metadata.labels);
    expect(a.metadata.ownerReferences).to.equal(b.metadata.ownerReferences);
    expect(a.status).to.equal(b.status);
    expect(slimPod(rawPod())).to.deep.equal(a); // interning changes no value
  });

  it('is the cached pod itself when an event changed nothing it keeps (resourceVersion, managedFields, status)', () => {
    const interner = new Interner();
    const cached = slimPod(rawPod(), interner)!;
    const raw = rawPod();
    const meta = raw.metadata as Record<string, unknown>;
    meta.resourceVersion = '43';
    meta.managedFields = [{ manager: 'someone-else', operation: 'Apply' }];
    (raw.status as Record<string, unknown>).podIP = '10.0.0.2';
    expect(slimPod(raw, interner, cached)).to.equal(cached);
  });

  it('keeps the cached parts that did not change and takes the new ones that did', () => {
    const interner = new Interner();
    const cached = slimPod(rawPod(), interner)!;
    const raw = rawPod();
    const meta = raw.metadata as Record<string, unknown>;
    meta.labels = { app: 'web', [LABEL_VIOLATION]: 'true', extra: 'x' };
    meta.annotations = { [ANNOTATION_VIOLATIONS]: 'nginx:privileged,nginx:readOnlyRootFilesystem' };
    const next = slimPod(raw, interner, cached)!;
    expect(next).to.not.equal(cached);
    expect(next).to.deep.equal(slimPod(raw)); // reuse changes no value
    expect(next.spec).to.equal(cached.spec);
    expect(next.status).to.equal(cached.status);
    expect(next.metadata.ownerReferences).to.equal(cached.metadata.ownerReferences);
    expect(next.metadata.labels).to.deep.equal(meta.labels);
    expect(next.metadata.annotations).to.deep.equal({ [ANNOTATION_VIOLATIONS]: 'nginx:privileged,nginx:readOnlyRootFilesystem' });
    expect(Object.isFrozen(next) && Object.isFrozen(next.metadata) && Object.isFrozen(next.metadata.labels)).to.equal(true);
  });

  it('sees every change of what it keeps, whatever the cached pod', () => {
    const cached = slimPod(rawPod(), new Interner())!;
    const changes: Array<(raw: Record<string, unknown>) => void> = [
      (r) => { (r.metadata as Record<string, unknown>).deletionTimestamp = '2026-01-02T00:00:00Z'; },
      (r) => { (r.metadata as Record<string, unknown>).uid = 'u-2'; },
      (r) => { (r.metadata as Record<string, unknown>).ownerReferences = []; },
      (r) => { delete (r.metadata as Record<string, unknown>).labels; },
      (r) => { (r.metadata as Record<string, unknown>).annotations = {}; },
      (r) => { (r.spec as { containers: Array<Record<string, unknown>> }).containers[0]!.image = 'nginx:1.28'; },
      (r) => { (r.status as Record<string, unknown>).phase = 'Succeeded'; },
      (r) => { (r.metadata as Record<string, unknown>).generation = 2; },
    ];
    for (const change of changes) {
      const raw = rawPod();
      change(raw);
      const next = slimPod(raw, new Interner(), cached);
      expect(next).to.not.equal(cached);
      expect(next).to.deep.equal(slimPod(raw));
    }
  });

  it('drops managedFields, foreign annotations and every status field but phase', () => {
    const pod = slimPod(rawPod())!;
    expect(pod.metadata).to.not.have.property('managedFields');
    expect(pod.metadata.annotations).to.not.have.property('kubectl.kubernetes.io/last-applied-configuration');
    expect(pod.status).to.deep.equal({ phase: 'Running' });
  });

  it('leaves annotations out when only foreign ones exist', () => {
    const raw = rawPod();
    (raw.metadata as Record<string, unknown>).annotations = { 'example.com/x': 'y', 'immutability.devx/y': 'z' };
    expect(slimPod(raw)!.metadata).to.not.have.property('annotations');
  });

  it('drops non-string values of our own annotations', () => {
    const raw = rawPod();
    (raw.metadata as Record<string, unknown>).annotations = { [ANNOTATION_VIOLATIONS]: 7 };
    expect(slimPod(raw)!.metadata).to.not.have.property('annotations');
  });

  it('leaves status out when phase is absent or not a string', () => {
    for (const status of [undefined, {}, { phase: 3 }, 'Running', null]) {
      const raw = { ...rawPod(), status };
      expect(slimPod(raw), JSON.stringify(status)).to.not.have.property('status');
    }
  });

  it('does not mutate the raw input', () => {
    const raw = rawPod();
    const before = JSON.stringify(raw);
    slimPod(raw);
    expect(JSON.stringify(raw)).to.equal(before);
  });

  const malformed: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a string', 'pod'],
    ['an array', [rawPod()]],
    ['no metadata', { spec: { containers: [] } }],
    ['metadata without a name', { metadata: { namespace: 'a' }, spec: { containers: [] } }],
    ['a non-string name', { metadata: { name: 5 }, spec: { containers: [] } }],
    ['metadata as an array', { metadata: [], spec: { containers: [] } }],
    ['no spec', { metadata: { name: 'p' } }],
    ['spec not an object', { metadata: { name: 'p' }, spec: 'x' }],
    ['spec as an array', { metadata: { name: 'p' }, spec: [] }],
  ];
  for (const [name, raw] of malformed) {
    it(`returns undefined for ${name}`, () => {
      expect(slimPod(raw)).to.equal(undefined);
    });
  }
});

describe('k8s/slim slimMeta', () => {
  it('keeps only typed fields it knows and drops wrongly typed ones', () => {
    expect(slimMeta({
      name: 'n', namespace: 7, uid: false, resourceVersion: 1, generation: '2', labels: ['x'], ownerReferences: 'x',
      deletionTimestamp: 0, creationTimestamp: 'y',
    })).to.deep.equal({ name: 'n' });
  });

  it('keeps deletionTimestamp (a terminating pod is not reconciled)', () => {
    expect(slimMeta({ name: 'n', deletionTimestamp: '2026-01-01T00:00:00Z' })).to.deep.equal({ name: 'n', deletionTimestamp: '2026-01-01T00:00:00Z' });
  });

  it('keeps our own annotations by default and none with annotations: "none"', () => {
    const raw = { name: 'n', annotations: { [ANNOTATION_VIOLATIONS]: 'c:privileged', other: 'x' } };
    expect(slimMeta(raw)?.annotations).to.deep.equal({ [ANNOTATION_VIOLATIONS]: 'c:privileged' });
    expect(slimMeta(raw, { annotations: 'own' })?.annotations).to.deep.equal({ [ANNOTATION_VIOLATIONS]: 'c:privileged' });
    expect(slimMeta(raw, { annotations: 'none' })).to.not.have.property('annotations');
  });

  it('keeps owner references with only apiVersion, kind, name, uid, controller, dropping non-objects', () => {
    const meta = slimMeta({
      name: 'n',
      ownerReferences: [
        { apiVersion: 'v1', kind: 'A', name: 'a', uid: '1', blockOwnerDeletion: true },
        null,
        'rs',
        { apiVersion: 'apps/v1', kind: 'B', name: 'b', uid: '2', controller: false },
      ],
    });
    expect(meta?.ownerReferences).to.deep.equal([
      { apiVersion: 'v1', kind: 'A', name: 'a', uid: '1' },
      { apiVersion: 'apps/v1', kind: 'B', name: 'b', uid: '2', controller: false },
    ]);
  });

  it('keeps an empty owner reference list as empty', () => {
    expect(slimMeta({ name: 'n', ownerReferences: [] })?.ownerReferences).to.deep.equal([]);
  });

  for (const [name, raw] of [['undefined', undefined], ['null', null], ['an array', []], ['no name', {}], ['a numeric name', { name: 1 }]] as const) {
    it(`returns undefined for ${name}`, () => {
      expect(slimMeta(raw)).to.equal(undefined);
    });
  }
});

describe('k8s/slim slimPodSpec', () => {
  it('keeps container securityContext as given, even when malformed, so evaluation can report it', () => {
    const spec = slimPodSpec({ containers: [{ name: 'c', securityContext: 'oops' }] });
    expect(spec).to.deep.equal({ containers: [{ name: 'c', securityContext: 'oops' }] });
  });

  it('keeps a container without a name (evaluation reports it as unevaluable) but drops non-object entries', () => {
    expect(slimPodSpec({ containers: [{ image: 'x' }, null, 'c', 7] })).to.deep.equal({ containers: [{ image: 'x' }] });
  });

  it('leaves out init and ephemeral containers, volumes, securityContext, os and nodeName when absent or mistyped', () => {
    expect(slimPodSpec({
      containers: [{ name: 'c' }], initContainers: 'x', ephemeralContainers: {}, volumes: 'v', securityContext: [], os: 'linux', nodeName: 1,
    })).to.deep.equal({ containers: [{ name: 'c' }] });
  });

  it('keeps empty init and ephemeral lists as empty', () => {
    expect(slimPodSpec({ containers: [], initContainers: [], ephemeralContainers: [] }))
      .to.deep.equal({ containers: [], initContainers: [], ephemeralContainers: [] });
  });

  it('keeps only name, emptyDir and hostPath of volumes, dropping non-object entries', () => {
    expect(slimPodSpec({ containers: [], volumes: [{ name: 'a', hostPath: { path: '/' } }, null, { name: 'b', emptyDir: {} }, { name: 'c', secret: { secretName: 's' } }] }))
      .to.deep.equal({ containers: [], volumes: [{ name: 'a', hostPath: { path: '/' } }, { name: 'b', emptyDir: {} }, { name: 'c' }] });
  });

  it('keeps only runAsNonRoot and runAsUser of the pod securityContext', () => {
    expect(slimPodSpec({ containers: [], securityContext: { runAsUser: 0, fsGroup: 1, sysctls: [] } }))
      .to.deep.equal({ containers: [], securityContext: { runAsUser: 0 } });
  });

  it('keeps the Windows marker', () => {
    expect(slimPodSpec({ containers: [], os: { name: 'windows' } })?.os).to.deep.equal({ name: 'windows' });
  });

  it('keeps only name, mountPath and readOnly of volume mounts', () => {
    expect(slimPodSpec({ containers: [{ name: 'c', volumeMounts: [{ name: 'v', mountPath: '/tmp', readOnly: true, mountPropagation: 'None' }] }] }))
      .to.deep.equal({ containers: [{ name: 'c', volumeMounts: [{ name: 'v', mountPath: '/tmp', readOnly: true }] }] });
  });

  it('drops non-object volume mounts like every other list', () => {
    expect(slimPodSpec({ containers: [{ name: 'c', volumeMounts: [null, { name: 'v', mountPath: '/tmp' }] }] }))
      .to.deep.equal({ containers: [{ name: 'c', volumeMounts: [{ name: 'v', mountPath: '/tmp' }] }] });
  });

  it('returns undefined when containers is missing or not a list', () => {
    expect(slimPodSpec({})).to.equal(undefined);
    expect(slimPodSpec({ containers: 'nginx' })).to.equal(undefined);
  });

  for (const [name, raw] of [['undefined', undefined], ['null', null], ['a string', 's'], ['an array', [{ name: 'c' }]]] as const) {
    it(`returns undefined for ${name}`, () => {
      expect(slimPodSpec(raw)).to.equal(undefined);
    });
  }
});

describe('k8s/slim slimOwned', () => {
  it('keeps the metadata owner resolution needs, without annotations', () => {
    expect(slimOwned({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: 'web-7d9', namespace: 'shop', uid: 'rs-uid', resourceVersion: '9', labels: { app: 'web' },
        annotations: { [ANNOTATION_VIOLATIONS]: 'x', 'deployment.kubernetes.io/revision': '3' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true, blockOwnerDeletion: true }],
        managedFields: [{ manager: 'm' }],
      },
      spec: { replicas: 3, template: { spec: { containers: [{ name: 'nginx' }] } } },
      status: { replicas: 3 },
    })).to.deep.equal({
      metadata: {
        name: 'web-7d9', namespace: 'shop', uid: 'rs-uid', labels: { app: 'web' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true }],
      },
    });
  });

  for (const [name, raw] of [['undefined', undefined], ['null', null], ['an array', []], ['no metadata', { spec: {} }], ['a nameless metadata', { metadata: {} }]] as const) {
    it(`returns undefined for ${name}`, () => {
      expect(slimOwned(raw)).to.equal(undefined);
    });
  }
});

describe('k8s/slim slimNamespace', () => {
  it('keeps name and labels only', () => {
    expect(slimNamespace({
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: 'shop', uid: 'u', labels: { env: 'prod' }, annotations: { a: 'b' }, managedFields: [] },
      spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
    })).to.deep.equal({ metadata: { name: 'shop', labels: { env: 'prod' } } });
  });

  it('leaves labels out when absent or not an object', () => {
    expect(slimNamespace({ metadata: { name: 'shop' } })).to.deep.equal({ metadata: { name: 'shop' } });
    expect(slimNamespace({ metadata: { name: 'shop', labels: ['x'] } })).to.deep.equal({ metadata: { name: 'shop' } });
  });

  for (const [name, raw] of [
    ['undefined', undefined], ['null', null], ['an array', []], ['no metadata', {}], ['metadata not an object', { metadata: 'x' }],
    ['no name', { metadata: { labels: {} } }], ['a numeric name', { metadata: { name: 3 } }],
  ] as const) {
    it(`returns undefined for ${name}`, () => {
      expect(slimNamespace(raw)).to.equal(undefined);
    });
  }
});
