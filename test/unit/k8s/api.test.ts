import { expect } from 'chai';
import { FIELD_MANAGER } from '../../../src/api/types.js';
import { podMetadataApply } from '../../../src/k8s/api.js';

describe('k8s/api podMetadataApply', () => {
  const intent = { labels: { 'immutability.dev/violation': 'true' }, annotations: { 'immutability.dev/violations': 'nginx:privileged' } };

  it('applies exactly the intent, pinned to the pod by its uid', () => {
    const { method, path, opts } = podMetadataApply({ namespace: 'shop', name: 'web-0', uid: 'uid-1' }, intent);
    expect(method).to.equal('PATCH');
    expect(path).to.equal('/api/v1/namespaces/shop/pods/web-0');
    expect(opts.query).to.deep.equal({ fieldManager: FIELD_MANAGER, force: true });
    expect(opts.body).to.deep.equal({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: 'shop', uid: 'uid-1', ...intent } });
  });

  it('names no uid when none is known (no empty precondition), and writes under another field manager when asked', () => {
    const { opts } = podMetadataApply({ namespace: 'shop', name: 'web-0' }, intent, 'bench-ceiling');
    expect(opts.body).to.deep.equal({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: 'shop', ...intent } });
    expect(opts.query).to.deep.equal({ fieldManager: 'bench-ceiling', force: true });
  });
});
