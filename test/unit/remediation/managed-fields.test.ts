import { expect } from 'chai';
import { gitOpsManagersOf, lastSpecWriter, ownedFragment } from '../../../src/remediation/managed-fields.js';

const containerKey = 'k:{"name":"nginx"}';
const sidecarKey = 'k:{"name":"sidecar"}';

function deployment(managedFields: unknown[]): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', managedFields },
    spec: {
      template: {
        spec: {
          containers: [
            {
              name: 'nginx', image: 'nginx:1.27',
              securityContext: { readOnlyRootFilesystem: true, privileged: false, runAsUser: 101 },
              volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'immutability-tmp-tmp', mountPath: '/tmp', readOnly: false }],
            },
            { name: 'sidecar', image: 'envoy', securityContext: { readOnlyRootFilesystem: true } },
          ],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'd' } }, { name: 'immutability-tmp-tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

const created = {
  manager: 'kubectl-create', operation: 'Update', apiVersion: 'apps/v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1',
  fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { [containerKey]: { '.': {}, 'f:image': {}, 'f:name': {} } } } } } },
};
const ours = {
  manager: 'immutability-operator', operation: 'Apply', apiVersion: 'apps/v1', time: '2026-01-02T00:00:00Z', fieldsType: 'FieldsV1',
  fieldsV1: {
    'f:metadata': { 'f:annotations': { 'f:immutability.dev/patched': {} } },
    'f:spec': { 'f:template': { 'f:spec': {
      'f:containers': {
        [containerKey]: {
          '.': {}, 'f:name': {},
          'f:securityContext': { 'f:readOnlyRootFilesystem': {}, 'f:privileged': {} },
          'f:volumeMounts': { 'k:{"mountPath":"/tmp"}': { '.': {}, 'f:mountPath': {}, 'f:name': {} } },
        },
        [sidecarKey]: { '.': {}, 'f:name': {} },
        'k:{"name":"gone"}': { '.': {}, 'f:name': {}, 'f:securityContext': { 'f:privileged': {} } },
      },
      'f:volumes': { 'k:{"name":"immutability-tmp-tmp"}': { '.': {}, 'f:emptyDir': { 'f:sizeLimit': {} }, 'f:name': {} } },
    } } },
  },
};
const status = {
  manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', time: '2026-01-03T00:00:00Z',
  fieldsV1: { 'f:status': { 'f:replicas': {} } },
};

describe('remediation/managed-fields', () => {
  describe('ownedFragment', () => {
    it('extracts the template fields a manager owns, with their live values, keyed by name and mountPath', () => {
      expect(ownedFragment(deployment([created, ours, status]), '/spec/template/spec', 'immutability-operator')).to.deep.equal({
        containers: [{
          name: 'nginx',
          securityContext: { readOnlyRootFilesystem: true, privileged: false },
          volumeMounts: [{ mountPath: '/tmp', name: 'immutability-tmp-tmp' }],
        }],
        volumes: [{ name: 'immutability-tmp-tmp', emptyDir: { sizeLimit: '64Mi' } }],
      });
    });

    it('is empty for a manager that applied nothing, or only updated', () => {
      expect(ownedFragment(deployment([created, status]), '/spec/template/spec', 'immutability-operator')).to.deep.equal({});
      expect(ownedFragment(deployment([created]), '/spec/template/spec', 'kubectl-create')).to.deep.equal({});
    });

    it('follows a CronJob job template path', () => {
      const cronJob = {
        metadata: { name: 'c', managedFields: [{
          manager: 'immutability-operator', operation: 'Apply',
          fieldsV1: { 'f:spec': { 'f:jobTemplate': { 'f:spec': { 'f:template': { 'f:spec': {
            'f:containers': { 'k:{"name":"job"}': { 'f:name': {}, 'f:securityContext': { 'f:privileged': {} } } },
          } } } } } },
        }] },
        spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'job', securityContext: { privileged: false } }] } } } } },
      };
      expect(ownedFragment(cronJob, '/spec/jobTemplate/spec/template/spec', 'immutability-operator'))
        .to.deep.equal({ containers: [{ name: 'job', securityContext: { privileged: false } }] });
    });
  });

  describe('gitOpsManagersOf', () => {
    const spec = { 'f:spec': { 'f:replicas': {} } };
    const cases: { name: string; entries: unknown[]; expected: string[] }[] = [
      { name: 'Flux kustomize-controller applying the spec', entries: [{ manager: 'kustomize-controller', operation: 'Apply', fieldsV1: spec }], expected: ['kustomize-controller'] },
      { name: 'Argo CD updating the spec', entries: [{ manager: 'argocd-application-controller', operation: 'Update', fieldsV1: spec }], expected: ['argocd-application-controller'] },
      { name: 'Helm and Flux helm-controller', entries: [{ manager: 'helm', operation: 'Update', fieldsV1: spec }, { manager: 'helm-controller', operation: 'Apply', fieldsV1: spec }], expected: ['helm', 'helm-controller'] },
      { name: 'a GitOps manager owning only metadata', entries: [{ manager: 'argocd-controller', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': {} } } }], expected: [] },
      { name: 'a GitOps manager writing status only', entries: [{ manager: 'kustomize-controller', operation: 'Update', subresource: 'status', fieldsV1: spec }], expected: [] },
      { name: 'kubectl and the operator itself', entries: [created, ours], expected: [] },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.expected.join(', ') || 'none'}`, () => {
        expect(gitOpsManagersOf({ metadata: { managedFields: c.entries } })).to.deep.equal(c.expected);
      });
    }
    it('honours a configured manager list', () => {
      const obj = { metadata: { managedFields: [{ manager: 'my-deployer', operation: 'Apply', fieldsV1: spec }] } };
      expect(gitOpsManagersOf(obj)).to.deep.equal([]);
      expect(gitOpsManagersOf(obj, ['my-deployer'])).to.deep.equal(['my-deployer']);
    });
  });

  it('names the latest other writer of the spec (who reverted us, usually)', () => {
    const later = { ...created, manager: 'kubectl-edit', time: '2026-01-05T00:00:00Z' };
    expect(lastSpecWriter(deployment([created, ours, later, status]), 'immutability-operator')).to.equal('kubectl-edit');
    expect(lastSpecWriter(deployment([ours]), 'immutability-operator')).to.equal(undefined);
  });
});
