// Falco alerts end to end: real-format alerts (Falco's http_output json_output body, Falcosidekick's webhook
// body) posted over HTTPS to the operator's /falco endpoint, with the bearer token and with a client
// certificate, turn into the immutability.dev/drift=falco label, status, and under an Enforce policy with
// `evict`, a replacement pod. Filters (minimumPriority, rules), exemptions and unknown pods take no action;
// bad requests are refused and leave the endpoint working.
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../support/controlplane/ports.js';
import { DRIFT_LABEL, deployment, driftLabelled, pod, pods, runningPods, type PodView } from '../support/drift.js';
import { falcoAlert, falcosidekickAlert, hostAlert, type AlertTarget, type FalcoRuleName } from '../support/falco-alerts.js';
import { falcoClient, falcoFlags, prepareFalcoEndpoint, type FalcoClient } from '../support/falco-endpoint.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { withOperator } from '../support/operator-fixture.js';

const NS = 'falco-a'; // an Audit policy with Falco filters and an exemption
const EVICT_NS = 'falco-e'; // an Enforce policy with evict
const RULES: FalcoRuleName[] = ['Terminal shell in container', 'Read sensitive file untrusted', 'Drop and execute new binary in container'];

function policy(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name }, spec: { rules: { falco: true }, ...spec } });
}

const about = (p: PodView, o: Partial<AlertTarget> = {}): AlertTarget => ({ namespace: NS, pod: p.name, uid: p.uid, container: 'app', ...o });
const line = (...alerts: Record<string, unknown>[]): string => alerts.map((a) => JSON.stringify(a)).join('\n');

describe('runtime drift from Falco alerts', function () {
  this.timeout(60_000);
  let client: FalcoClient;
  let shells: PodView[] = [];
  let workDir: string;
  let endpoint: { files: Awaited<ReturnType<typeof prepareFalcoEndpoint>>; port: number };

  before(async function () {
    workDir = await mkdtemp(path.join(tmpdir(), 'falco-spec-'));
    endpoint = { files: await prepareFalcoEndpoint(workDir), port: await freePort() };
  });

  const operator = withOperator({
    namespaces: [NS, EVICT_NS],
    policies: ['falco-audit', 'falco-evict'],
    beforeStart: async () => {
      await kubectlOk(['apply', '-f', '-'], { input: deployment(NS, 'shell', 6, ['app', 'debug-sidecar']) });
      await kubectlOk(['apply', '-f', '-'], { input: deployment(EVICT_NS, 'by-token', 1) });
      await kubectlOk(['apply', '-f', '-'], { input: deployment(EVICT_NS, 'by-cert', 1) });
      shells = await runningPods(NS, 6);
      await runningPods(EVICT_NS, 2);
    },
    operator: () => ({ args: falcoFlags(endpoint.files, endpoint.port) }),
  });

  before(async function () {
    client = await falcoClient(endpoint.files, endpoint.port);
    await kubectlOk(['apply', '-f', '-'], {
      input: policy('falco-audit', {
        mode: 'Audit', match: { namespaces: [NS] },
        falco: { minimumPriority: 'Notice', rules: RULES },
        exemptions: [{ containers: ['debug-*'], rules: ['falco'], reason: 'OPS-7: the debug sidecar runs shells by design' }],
        remediation: { label: {}, evict: {} },
      }),
    });
    await kubectlOk(['apply', '-f', '-'], { input: policy('falco-evict', { mode: 'Enforce', match: { namespaces: [EVICT_NS] }, remediation: { label: {}, evict: {} } }) });
  });

  after(async function () {
    client?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('labels a pod after "Terminal shell in container" from http_output with the token, recording rule, priority, time and output', async function () {
    const target = shells[0]!;
    const alert = falcoAlert('Terminal shell in container', about(target));
    expect(await client.post(JSON.stringify(alert))).to.deep.equal({ status: 200 });
    const { details } = await driftLabelled(NS, target.name, 'falco');
    expect(details.events).to.have.length(1);
    expect(details.events[0]).to.include({ what: 'falco', rule: 'Terminal shell in container', priority: 'Notice', container: 'app', when: alert.time });
    expect(details.events[0]!.output).to.contain('A shell was spawned in a container with an attached terminal');
  });

  it('labels a pod after Falcosidekick posts "Read sensitive file untrusted" with a client certificate', async function () {
    const target = shells[1]!;
    const res = await client.post(JSON.stringify(falcosidekickAlert('Read sensitive file untrusted', about(target), '9d1c6f7e-2a51-4f7e-8b7e-3f0f9b1f4a10')), { auth: 'cert' });
    expect(res.status).to.equal(200);
    const { details } = await driftLabelled(NS, target.name, 'falco');
    expect(details.events[0]).to.include({ id: '9d1c6f7e-2a51-4f7e-8b7e-3f0f9b1f4a10', rule: 'Read sensitive file untrusted', priority: 'Warning' });
    expect(details.events[0]!.output).to.contain('Sensitive file opened for reading by non-trusted program');
  });

  it('labels a pod after "Drop and execute new binary in container" in a newline-delimited batch', async function () {
    const target = shells[2]!;
    const res = await client.post(line(hostAlert(), falcoAlert('Drop and execute new binary in container', about(target))), { type: 'application/x-ndjson' });
    expect(res.status).to.equal(200);
    const { details } = await driftLabelled(NS, target.name, 'falco');
    expect(details.events[0]).to.include({ rule: 'Drop and execute new binary in container', priority: 'Critical' });
  });

  it('counts the pods in status and, in Audit mode, shows the eviction it would carry out', async function () {
    const status = await eventually('status shows Falco drift', async () => {
      const out = JSON.parse(await kubectlOk(['get', 'imp', 'falco-audit', '-o', 'json'])) as {
        status?: { driftedPods?: number; conditions?: { type: string; status: string; reason: string }[]; violations?: { name: string; findings: string[]; action: string; message?: string }[] };
      };
      return (out.status?.driftedPods ?? 0) >= 3 ? out.status : undefined;
    }, 20_000);
    expect(status.driftedPods).to.equal(3);
    expect(status.conditions?.find((c) => c.type === 'Compliant')).to.include({ status: 'False', reason: 'DriftDetected' });
    const shell = status.violations?.find((v) => v.name === 'shell');
    expect(shell?.findings).to.include('app:falco');
    expect(shell?.action).to.equal('Planned');
    expect(shell?.message).to.match(/would evict/);
    expect(await pods(NS)).to.have.length(6); // nothing evicted in Audit mode
  });

  it('takes no action below minimumPriority, for an unlisted rule, an exempted container, a gone pod or an earlier pod of that name', async function () {
    const quiet = shells[3]!;
    // A rules override that lowers the priority would send this.
    const informational = { ...falcoAlert('Terminal shell in container', about(quiet)), priority: 'Informational' };
    const unlisted = falcoAlert('Contact K8S API Server From Container', about(quiet));
    const exempted = falcoAlert('Terminal shell in container', about(quiet, { container: 'debug-sidecar' }));
    const gone = falcoAlert('Terminal shell in container', about(quiet, { pod: 'shell-5d8f9c7b4-gone1' }));
    const earlier = falcoAlert('Drop and execute new binary in container', about(quiet, { uid: '00000000-0000-0000-0000-000000000001' }));
    for (const alert of [informational, unlisted, exempted, gone, earlier]) expect((await client.post(JSON.stringify(alert))).status).to.equal(200);
    // Alerts are processed in order: once a later one has labelled its pod, the ones above were judged.
    expect((await client.post(JSON.stringify(falcoAlert('Terminal shell in container', about(shells[4]!))))).status).to.equal(200);
    await driftLabelled(NS, shells[4]!.name, 'falco');
    expect((await pod(NS, quiet.name))?.labels[DRIFT_LABEL]).to.equal(undefined);
    const entries = await operator.logEntries();
    expect(entries.some((e) => e.msg === 'Falco alert about an unknown pod ignored' && e.pod === `${NS}/shell-5d8f9c7b4-gone1`)).to.equal(true);
    expect(entries.some((e) => e.msg === 'Falco alert about an earlier pod of the same name ignored' && e.pod === `${NS}/${quiet.name}`)).to.equal(true);
  });

  it('refuses unauthenticated, malformed and oversized posts, and a valid alert afterwards still works', async function () {
    const target = shells[5]!;
    const valid = JSON.stringify(falcoAlert('Terminal shell in container', about(target)));
    expect((await client.post(valid, { auth: 'none' })).status).to.equal(401);
    expect((await client.post(valid, { auth: { token: 'not-the-token' } })).status).to.equal(401);
    expect(await client.post(JSON.stringify({ ...falcoAlert('Terminal shell in container', about(target)), priority: 'Loud' })))
      .to.deep.equal({ status: 400, message: 'priority: "Loud" is not a Falco priority (Emergency … Debug)' });
    expect(await client.post(line(falcoAlert('Terminal shell in container', about(target)), { rule: 'x' })))
      .to.deep.include({ status: 400, message: 'line 2: priority: expected a string' });
    expect((await client.post('10:20:05.408091526: Notice A shell was spawned', { type: 'text/plain' })).status).to.equal(415);
    expect((await client.post('{', { declaredLength: 12 * 1024 * 1024 + 1 })).status).to.equal(413);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await pod(NS, target.name))?.labels[DRIFT_LABEL], 'refused requests did nothing').to.equal(undefined);
    expect((await client.post(valid)).status).to.equal(200);
    await driftLabelled(NS, target.name, 'falco');
  });

  for (const [deploymentName, auth] of [['by-token', 'token'], ['by-cert', 'cert']] as const) {
    it(`replaces the pod under an Enforce policy with evict (alert posted with the ${auth === 'token' ? 'token' : 'client certificate'})`, async function () {
      const before = (await pods(EVICT_NS)).find((p) => p.name.startsWith(`${deploymentName}-`))!;
      const alert = falcoAlert('Terminal shell in container', { namespace: EVICT_NS, pod: before.name, uid: before.uid, container: 'app' });
      expect((await client.post(JSON.stringify(alert), { auth })).status).to.equal(200);
      const fresh = await eventually('the pod replaced by a fresh one', async () => {
        const list = (await pods(EVICT_NS)).filter((p) => p.name.startsWith(`${deploymentName}-`));
        return list.length === 1 && list[0]!.uid !== before.uid ? list[0] : undefined;
      }, 30_000);
      expect(fresh.labels[DRIFT_LABEL]).to.equal(undefined);
    });
  }
});
