// Runtime drift end to end: kube-apiserver's audit backends (webhook with mutual TLS, and the log file) feed
// the operator, which labels exec'd/attached/debugged pods, reports them in status and, under an Enforce
// policy with `evict`, replaces them. There is no kubelet: exec fails after authorization, but the API server
// audits the attempt, which is what counts.
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Exec, KubeConfig } from '@kubernetes/client-node';
import { eventList, execEvent, postAudit } from '../support/audit-client.js';
import { issueCertificate } from '../support/controlplane/certs.js';
import { cluster } from '../support/integration-hooks.js';
import { DRIFT_LABEL, deployment, driftLabelled, pod, pods, runningPods, type PodView } from '../support/drift.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { withOperator } from '../support/operator-fixture.js';

const NS = 'drift-a'; // governed by the drift policy
const OTHER = 'drift-b'; // not matched by any policy
const EVICT_NS = 'drift-e'; // governed by an Enforce policy with evict
const LABEL = DRIFT_LABEL;
const MAX_BODY = 64 * 1024;

function driftPolicy(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name },
    // Only runtime rules: the debug container (no securityContext) must not turn drift into a spec violation.
    spec: { rules: { exec: true, ephemeralContainers: true, readOnlyRootFilesystem: false }, ...spec },
  });
}


describe('runtime drift from audit events', function () {
  this.timeout(60_000);
  let shells: PodView[] = [];
  let client: { cert: Buffer; key: Buffer };
  let workDir: string;

  before(async function () {
    // A client certificate from the CA the operator trusts for API server clients.
    const { audit } = cluster();
    workDir = await mkdtemp(path.join(tmpdir(), 'drift-spec-'));
    const caDir = path.dirname(audit.caFile);
    const pair = await issueCertificate(workDir, { cert: audit.caFile, key: path.join(caDir, 'ca.key') }, 'spec-client', '/CN=spec-client');
    client = { cert: await readFile(pair.cert), key: await readFile(pair.key) };
  });

  const operator = withOperator({
    namespaces: [NS, OTHER, EVICT_NS],
    policies: ['drift-watch', 'drift-evict'],
    beforeStart: async () => {
      await kubectlOk(['apply', '-f', '-'], { input: deployment(NS, 'shell', 9) });
      await kubectlOk(['apply', '-f', '-'], { input: deployment(OTHER, 'bystander', 1) });
      await kubectlOk(['apply', '-f', '-'], { input: deployment(EVICT_NS, 'replaceable', 1) });
      shells = await runningPods(NS, 9);
      await runningPods(OTHER, 1);
      await runningPods(EVICT_NS, 1);
    },
    operator: { auditWebhook: true, args: ['--audit-max-body-bytes', String(MAX_BODY)] },
  });

  before(async function () {
    await kubectlOk(['apply', '-f', '-'], { input: driftPolicy('drift-watch', { mode: 'Audit', match: { namespaces: [NS] } }) });
  });

  after(async function () {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('labels a pod after a real kubectl exec (which fails without a kubelet) and records who, when and what', async function () {
    const target = shells[0]!;
    const res = await kubectl(['-n', NS, 'exec', target.name, '-c', 'app', '--request-timeout=10s', '--', 'ls', '/etc'], { timeoutMs: 20_000 });
    expect(res.code, 'exec cannot succeed without a kubelet').to.not.equal(0);
    const { details } = await driftLabelled(NS, target.name, 'exec');
    expect(details.events).to.have.length(1);
    expect(details.events[0]).to.include({ what: 'exec', who: 'local-admin', container: 'app', command: 'ls /etc' });
    expect(Date.now() - Date.parse(details.events[0]!.when)).to.be.below(60_000);
  });

  it('labels a pod after an exec through client-node\'s Exec (WebSocket)', async function () {
    const target = shells[1]!;
    const kc = new KubeConfig();
    kc.loadFromFile(cluster().info.kubeconfig);
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    // The API server upgrades the WebSocket, then cannot reach a kubelet: the exec ends in a failure status
    // or a closed socket, never in success.
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('pending'), 15_000);
      const done = (v: string): void => {
        clearTimeout(timer);
        resolve(v);
      };
      new Exec(kc).exec(NS, target.name, 'app', ['sh'], sink, sink, null, false, (status) => done(status.status ?? 'unknown'))
        .then((ws) => (ws as unknown as { on(e: string, f: () => void): void }).on('close', () => done('closed')), () => done('failed'));
    });
    expect(outcome).to.not.equal('Success');
    const { details } = await driftLabelled(NS, target.name, 'exec');
    expect(details.events[0]).to.include({ what: 'exec', command: 'sh', container: 'app' });
  });

  it('labels a pod after kubectl cp (an exec of tar)', async function () {
    const target = shells[2]!;
    const local = path.join(workDir, 'payload.txt');
    await writeFile(local, 'tampering\n');
    const res = await kubectl(['-n', NS, 'cp', '-c', 'app', local, `${target.name}:/tmp/payload.txt`, '--request-timeout=10s'], { timeoutMs: 20_000 });
    expect(res.code).to.not.equal(0);
    // kubectl cp execs `test -d` on the destination first, then `tar`.
    const details = await eventually('the tar exec recorded', async () => {
      const { details: d } = await driftLabelled(NS, target.name, 'exec');
      return d.events.some((e) => /^tar /.test(e.command ?? '')) ? d : undefined;
    }, 20_000);
    expect(details.events.every((e) => e.what === 'exec' && e.container === 'app')).to.equal(true);
  });

  it('labels a pod after kubectl debug adds an ephemeral container', async function () {
    const target = shells[3]!;
    await kubectlOk(['-n', NS, 'debug', target.name, '--image=busybox:1.36', '--container=debugger', '--', 'sleep', '1d']);
    // The pod update (spec evidence) may label the pod before the audit batch arrives (up to 1 s later).
    const details = await eventually('the ephemeral-container patch recorded', async () => {
      const { details: d } = await driftLabelled(NS, target.name, 'ephemeral');
      return d.events.some((e) => e.what === 'ephemeralcontainers' && e.who === 'local-admin') ? d : undefined;
    }, 20_000);
    expect(details.ephemeralContainers).to.deep.equal(['debugger']);
  });

  it('reports drifted pods in status: driftedPods and Compliant=False/DriftDetected, per workload', async function () {
    const status = await eventually('status shows drift', async () => {
      const out = JSON.parse(await kubectlOk(['get', 'imp', 'drift-watch', '-o', 'json'])) as {
        status?: { driftedPods?: number; conditions?: { type: string; status: string; reason: string }[]; violations?: { name: string; findings: string[] }[] };
      };
      return (out.status?.driftedPods ?? 0) >= 4 ? out.status : undefined;
    }, 20_000);
    expect(status?.conditions?.find((c) => c.type === 'Compliant')).to.include({ status: 'False', reason: 'DriftDetected' });
    const shell = status?.violations?.find((v) => v.name === 'shell');
    expect(shell?.findings).to.include.members(['app:exec', 'debugger:ephemeralContainers']);
    const events = await kubectlOk(['-n', NS, 'get', 'events', '--field-selector', 'reason=DriftDetected', '-o', 'name']);
    expect(events.trim()).to.not.equal('');
  });

  it('does not label a pod that no policy matches, though its exec was seen', async function () {
    const [bystander] = await pods(OTHER);
    await kubectl(['-n', OTHER, 'exec', bystander!.name, '--request-timeout=10s', '--', 'id'], { timeoutMs: 20_000 });
    // An exec into a governed pod afterwards: once it is labelled, the earlier event was processed too.
    const target = shells[4]!;
    await kubectl(['-n', NS, 'exec', target.name, '--request-timeout=10s', '--', 'id'], { timeoutMs: 20_000 });
    await driftLabelled(NS, target.name, 'exec');
    expect((await operator.logEntries()).some((e) => e.msg === 'runtime drift observed' && e.pod === `${OTHER}/${bystander!.name}`)).to.equal(true);
    expect((await pod(OTHER, bystander!.name))?.labels[LABEL]).to.equal(undefined);
  });

  it('refuses unauthenticated posts (no client certificate, wrong token) with 401 and oversized ones with 413', async function () {
    const body = eventList([execEvent(NS, shells[7]!.name, 'unauth-1', 'intruder')]);
    expect(await postAudit(body)).to.equal(401);
    expect(await postAudit(body, { headers: { Authorization: 'Bearer not-the-token' } })).to.equal(401);
    expect(await postAudit(Buffer.alloc(MAX_BODY + 1, 0x20), client)).to.equal(413);
    expect(await postAudit('{"kind":"EventList"}', client)).to.equal(400);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await pod(NS, shells[7]!.name))?.labels[LABEL]).to.equal(undefined);
  });

  it('skips malformed items but keeps the valid ones of the same batch, and processes a replayed auditID once', async function () {
    const target = shells[5]!;
    const valid = execEvent(NS, target.name, 'replayed-audit-id-0001', 'replayer');
    const batch = eventList([{ auditID: 'broken' }, 'not an event', valid, { ...valid, stage: 'Nonsense', auditID: 'x' }]);
    expect(await postAudit(batch, client)).to.equal(200);
    expect(await postAudit(eventList([valid]), client)).to.equal(200);
    const { details } = await driftLabelled(NS, target.name, 'exec');
    expect(details.count).to.equal(1);
    expect(details.events).to.have.length(1);
    expect(details.events[0]).to.include({ id: 'replayed-audit-id-0001', who: 'replayer', command: 'id' });
    const entries = await operator.logEntries();
    expect(entries.filter((e) => e.msg === 'runtime drift observed' && e.auditID === 'replayed-audit-id-0001')).to.have.length(1);
    expect(entries.filter((e) => e.msg === 'malformed audit event skipped').length).to.be.at.least(3);
  });

  it('replaces an exec\'d Deployment pod under an Enforce policy with evict', async function () {
    const [before] = await runningPods(EVICT_NS, 1);
    await kubectlOk(['apply', '-f', '-'], {
      input: driftPolicy('drift-evict', { mode: 'Enforce', match: { namespaces: [EVICT_NS] }, remediation: { label: {}, evict: {} } }),
    });
    await kubectl(['-n', EVICT_NS, 'exec', before!.name, '--request-timeout=10s', '--', 'sh'], { timeoutMs: 20_000 });
    const fresh = await eventually('the drifted pod replaced by a fresh one', async () => {
      const list = await pods(EVICT_NS);
      return list.length === 1 && list[0]!.uid !== before!.uid ? list[0] : undefined;
    }, 30_000);
    expect(fresh?.labels[LABEL]).to.equal(undefined);
  });

  it('labels a pod exec\'d through the kubelet API via nodes/proxy (kubectl get --raw)', async function () {
    const target = shells[8]!;
    expect(target.nodeName, 'the pod is bound to a kwok node').to.be.a('string');
    // The API server authorizes nodes/proxy, audits the request, then cannot reach a kubelet (kwok has none).
    const res = await kubectl(['get', '--raw', `/api/v1/nodes/${target.nodeName!}/proxy/exec/${NS}/${target.name}/app?command=sh&input=1&output=1&tty=1`, '--request-timeout=10s'], { timeoutMs: 20_000 });
    expect(res.code).to.not.equal(0);
    const { details } = await driftLabelled(NS, target.name, 'exec');
    expect(details.events[0]).to.include({ what: 'exec', who: 'local-admin', container: 'app', command: 'sh', via: `nodes/${target.nodeName!}/proxy/exec` });
  });

  it('detects an exec from the audit log file when the operator runs with --audit-log-file only', async function () {
    await operator.stop();
    await operator.start({ auditWebhook: false, args: ['--audit-log-file', cluster().audit.logFile] });
    const target = shells[6]!;
    expect((await pod(NS, target.name))?.labels[LABEL]).to.equal(undefined);
    await kubectl(['-n', NS, 'exec', target.name, '--request-timeout=10s', '--', 'cat', '/etc/passwd'], { timeoutMs: 20_000 });
    const { details } = await driftLabelled(NS, target.name, 'exec');
    expect(details.events[0]).to.include({ command: 'cat /etc/passwd' });
    // The labels written by the first operator survived its restart: state lives on the pods.
    expect((await pod(NS, shells[0]!.name))?.labels[LABEL]).to.equal('exec');
  });
});
