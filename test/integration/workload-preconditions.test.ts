// Remediation reads workloads from a watch cache, which can be behind the API server. What makes that safe is
// the API server's own answer to the uid and resourceVersion an apply body carries (fragment.ts applyBody):
// proven here on the real kube-apiserver, since a fake would only repeat our assumption. A body computed from
// an outdated read is refused with 409 and changes nothing; one for a workload deleted since is refused with
// 409 and creates nothing (server-side apply creates what does not exist); one from a fresh read (uid, no
// resourceVersion) for a workload replaced by a namesake since is refused with 422 on metadata.uid. Each is a
// stale write (isStaleWrite) that withLatestWorkload decides again on what the workload is now.
import { expect } from 'chai';
import { FIELD_MANAGER } from '../../src/api/types.js';
import type { KubeApi } from '../../src/k8s/api.js';
import { isConflict, isGoneOrReplaced, isNotFound } from '../../src/k8s/errors.js';
import type { KubeHttp } from '../../src/k8s/http.js';
import { isStaleWrite, withLatestWorkload } from '../../src/remediation/context.js';
import { applyBody, type ApplyTarget } from '../../src/remediation/fragment.js';
import { adminApiIn, refusal } from '../support/fixtures.js';
import { kubectl, kubectlOk } from '../support/kubectl.js';

type Json = Record<string, unknown>;

const NS = 'workload-preconditions';
const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name: 'web' };
const target: ApplyTarget = { ...ref, podSpecPath: '/spec/template/spec' };
const readOnlyRoot = { containers: [{ name: 'nginx', securityContext: { readOnlyRootFilesystem: true } }] };

function meta(obj: Json): Json {
  return obj['metadata'] as Json;
}


describe('workload writes carry the read they were computed from', function () {
  this.timeout(120_000);
  let http: KubeHttp;
  let api: KubeApi;

  const createWeb = (): Promise<string> => kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
    spec: { replicas: 0, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } },
  }) });
  /** The Deployment deleted (and gone) and created again under the same name, with a new uid. */
  const replaceWeb = async (): Promise<void> => {
    await kubectlOk(['-n', NS, 'delete', 'deployment', 'web', '--wait=true']);
    await createWeb();
  };
  /** A fresh read as withLatestWorkload hands it on: without its resourceVersion, conditional on the uid alone. */
  const unconditional = (read: Json): Json => {
    const { resourceVersion: _dropped, ...metadata } = meta(read);
    return { ...read, metadata };
  };

  before(async function () {
    api = await adminApiIn(NS);
    http = api.http;
    await createWeb();
  });

  after(async function () {
    http?.close();
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
  });

  it('an apply computed from an outdated read is refused with 409 and changes nothing', async function () {
    // The controller-manager writes a new Deployment's status meanwhile: a read and an apply from it succeed
    // once no status write comes between them (that the write is refused when one does is the point below).
    let read: Json = {};
    let applied: Json = {};
    for (let attempt = 1; ; attempt++) {
      read = await api.getWorkload(ref);
      try {
        applied = await api.applyWorkload(ref, applyBody(target, readOnlyRoot, { 'immutability.dev/actions': '{}' }, read));
        break;
      } catch (err) {
        if (!isConflict(err) || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    expect(meta(applied)['resourceVersion']).to.not.equal(meta(read)['resourceVersion']);

    const err = await refusal(api.applyWorkload(ref, applyBody(target, readOnlyRoot, { 'immutability.dev/actions': '{"stale":1}' }, read)));
    expect(isConflict(err), String(err)).to.equal(true);
    // (The controller-manager writes the status meanwhile: the resourceVersion moves on, our annotation does not.)
    const after = await api.getWorkload(ref);
    expect((meta(after)['annotations'] as Json)['immutability.dev/actions']).to.equal('{}');
    expect((meta(after)['managedFields'] as Json[]).some((e) => e['manager'] === FIELD_MANAGER)).to.equal(true);
  });

  it('an apply for a workload deleted since its read is refused with 409 and creates nothing', async function () {
    const read = await api.getWorkload(ref);
    await kubectlOk(['-n', NS, 'delete', 'deployment', 'web', '--wait=true']);
    const err = await refusal(api.applyWorkload(ref, applyBody(target, readOnlyRoot, {}, read)));
    expect(isConflict(err), String(err)).to.equal(true);
    expect(isNotFound(await refusal(api.getWorkload(ref)))).to.equal(true);
  });

  it('an apply from a fresh read (uid only) for a workload replaced by a namesake since is refused on metadata.uid', async function () {
    await createWeb();
    const read = unconditional(await api.getWorkload(ref));
    await replaceWeb();
    const err = await refusal(api.applyWorkload(ref, applyBody(target, readOnlyRoot, { 'immutability.dev/actions': '{"old":1}' }, read)));
    expect(isGoneOrReplaced(err), String(err)).to.equal(true);
    expect(isStaleWrite(err)).to.equal(true);
    const now = await api.getWorkload(ref);
    expect(meta(now)['uid']).to.not.equal(meta(read)['uid']);
    expect((meta(now)['annotations'] as Json | undefined)?.['immutability.dev/actions']).to.equal(undefined);
  });

  it('withLatestWorkload decides a stale pass again on a fresh read, and leaves a namesake that replaced it meanwhile alone', async function () {
    // A cached copy of the workload before it was replaced: refused, then the pass runs once more on a fresh read.
    const cached = await api.getWorkload(ref);
    await replaceWeb();
    const seen: string[] = [];
    const annotate = async (live: Json): Promise<string> => {
      seen.push(String(meta(live)['uid']));
      await api.applyWorkload(ref, applyBody(target, readOnlyRoot, { 'immutability.dev/actions': '{"fresh":1}' }, live));
      return 'applied';
    };
    expect(await withLatestWorkload(api, ref, cached, undefined, annotate, () => 'gone')).to.equal('applied');
    const current = await api.getWorkload(ref);
    expect(seen).to.deep.equal([meta(cached)['uid'], meta(current)['uid']]);
    expect((meta(current)['annotations'] as Json)['immutability.dev/actions']).to.equal('{"fresh":1}');

    // Replaced again between the fresh read and the write: nothing is written to the namesake, and the pass
    // resolves as for a workload that is gone (the namesake's own watch event brings its key back).
    let passes = 0;
    const outcome = await withLatestWorkload(api, ref, current, undefined, async (live) => {
      passes++;
      await replaceWeb(); // before each write: the cached copy's, then the fresh read's
      await api.applyWorkload(ref, applyBody(target, readOnlyRoot, { 'immutability.dev/actions': '{"late":1}' }, live));
      return 'applied';
    }, () => 'gone');
    expect(outcome).to.equal('gone');
    expect(passes).to.equal(2);
    const namesake = await api.getWorkload(ref);
    expect((meta(namesake)['annotations'] as Json | undefined)?.['immutability.dev/actions']).to.equal(undefined);
  });
});
