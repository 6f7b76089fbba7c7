// The operator's label write asks kube-apiserver for the answer as metadata only (podMetadataApply). That the
// server honours the Accept on a PATCH, and still answers failures with a Status whose reason and message reach
// the reconciler (422 makes it stop retrying; its message goes into the LabelFailed Event), is the API server's
// behaviour: proven here on the real one, since a fake would only repeat our assumption.
import { expect } from 'chai';
import { FIELD_MANAGER } from '../../src/api/types.js';
import { podMetadataApply, type KubeApi } from '../../src/k8s/api.js';
import { isConflict, isUnprocessable } from '../../src/k8s/errors.js';
import type { KubeHttp } from '../../src/k8s/http.js';
import { adminApiIn, refusal } from '../support/fixtures.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';

const NS = 'label-write';
const intent = { labels: { 'immutability.dev/violation': 'true' }, annotations: { 'immutability.dev/violations': 'readOnlyRootFilesystem' } };


describe('the label write on the real kube-apiserver', function () {
  this.timeout(60_000);
  let http: KubeHttp;
  let api: KubeApi;

  before(async function () {
    api = await adminApiIn(NS);
    http = api.http;
    // Admitted once the controller-manager has made the namespace's default ServiceAccount.
    await eventually('the pod created', async () => (await kubectl(['apply', '-f', '-'], { input: JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: NS },
      spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] },
    }) })).code === 0 || undefined);
  });

  after(async function () {
    http?.close();
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
  });

  it('lands the labels, and the answer the API server sends for it is the pod\'s metadata only', async function () {
    await api.applyPodMetadata(NS, 'web', intent);
    const pod = JSON.parse(await kubectlOk(['get', 'pod', 'web', '-n', NS, '-o', 'json'])) as { metadata: typeof intent };
    expect(pod.metadata.labels).to.include(intent.labels);
    expect(pod.metadata.annotations).to.include(intent.annotations);
    // The same request, its answer read rather than drained.
    const { method, path, opts } = podMetadataApply(NS, 'web', intent);
    const answer = await http.request<Record<string, unknown>>(method, path, opts);
    expect(answer).to.include({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' });
    expect(answer).to.not.have.any.keys('spec', 'status');
    expect((answer['metadata'] as typeof intent).labels).to.include(intent.labels);
  });

  it('a refused write still carries the Status reason and message: 422 for invalid metadata', async function () {
    const tooBig = { ...intent, annotations: { 'immutability.dev/violations': 'x'.repeat(300 * 1024) } };
    const err = await refusal(api.applyPodMetadata(NS, 'web', tooBig));
    expect(isUnprocessable(err)).to.equal(true);
    expect(err.reason).to.equal('Invalid');
    expect(err.message).to.match(/metadata\.annotations: Too long/);
  });

  it('and 409 for a conflict with another field manager (the same request without force)', async function () {
    const other = podMetadataApply(NS, 'web', { labels: { 'immutability.dev/violation': 'false' }, annotations: {} }, 'someone-else');
    await http.write(other.method, other.path, other.opts);
    const { method, path, opts } = podMetadataApply(NS, 'web', intent);
    const err = await refusal(http.write(method, path, { ...opts, query: { fieldManager: FIELD_MANAGER } }));
    expect(isConflict(err)).to.equal(true);
    expect(err.reason).to.equal('Conflict');
    expect(err.message).to.include('conflict with "someone-else"');
  });
});
