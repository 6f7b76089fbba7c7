// Scenarios 17, 20, 21 and 24 (docs/reliability.md): hostile or broken input — to the audit webhook, as
// policies through kubectl, as specs only the operator can reject, and to /metrics. Each gets a clear
// refusal, and nothing that arrives after it is lost.
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { eventList, execEvent, postAudit, type AuditClient } from '../support/audit-client.js';
import { createCertificateAuthority, issueCertificate } from '../support/controlplane/certs.js';
import { freePort } from '../support/controlplane/ports.js';
import { falcoAlert } from '../support/falco-alerts.js';
import { falcoClient, falcoFlags, prepareFalcoEndpoint, type FalcoClient } from '../support/falco-endpoint.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import {
  apply, barePod, condition, isLabelled, items, livePods, policy, statusWhere, waitForRunningPods, type Json,
} from '../support/workloads.js';
import { CRD_FILE, installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { parseAllDocuments, stringify } from 'yaml';
import { withOperator } from '../support/operator-fixture.js';
import { installOperatorRbac } from '../support/service-account.js';

const DRIFT_LABEL = 'immutability.dev/drift';

/** The CRD as an older release shipped it: the same schema without its CEL rules and patterns. */
async function laxerCrd(): Promise<string> {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) if (k !== 'x-kubernetes-validations' && k !== 'pattern') out[k] = strip(v);
    return out;
  };
  const docs = parseAllDocuments(await readFile(CRD_FILE, 'utf8')).map((d) => d.toJS() as unknown).filter(Boolean);
  return docs.map((d) => stringify(strip(d))).join('---\n');
}

describe('faults: bad input', function () {
  let workDir: string;
  let falcoFiles: Awaited<ReturnType<typeof prepareFalcoEndpoint>>;
  let falcoPort: number;
  let falco: FalcoClient;

  before(async function () {
    workDir = await mkdtemp(path.join(tmpdir(), 'fault-bad-input-'));
    falcoFiles = await prepareFalcoEndpoint(path.join(workDir, 'falco'));
    falcoPort = await freePort();
  });
  // Scenario 21 swaps in a laxer CRD; should it fail midway, the real one must be back before the fixture deletes the policies.
  after(async function () {
    falco.close();
    await installCrd();
  });

  const operator = withOperator({
    namespaces: ['fault-audit', 'fault-invalid', 'fault-odd', 'fault-falco'],
    policies: ['fault-audit', 'fault-invalid-key', 'fault-invalid-value', 'fault-valid', 'fault-odd', 'fault-falco'],
    operator: () => ({ auditWebhook: true, metrics: 'open', args: falcoFlags(falcoFiles, falcoPort) }),
  });

  before(async function () {
    falco = await falcoClient(falcoFiles, falcoPort);
  });
  after(async function () {
    await rm(workDir, { recursive: true, force: true });
  });

  it('17: audit webhook bad input gets a clear 4xx, and a later real exec is still acted on', async function () {
    this.timeout(180_000);
    const ns = 'fault-audit';
    await apply(policy('fault-audit', [ns], { mode: 'Enforce', rules: { exec: true, readOnlyRootFilesystem: false }, remediation: { label: {} } }));
    await apply(barePod(ns, 'target', { readOnlyRootFilesystem: true }));
    await waitForRunningPods(ns, 1);

    const { audit } = cluster();
    const trusted = await issueCertificate(workDir, { cert: audit.caFile, key: path.join(path.dirname(audit.caFile), 'ca.key') }, 'trusted', '/CN=trusted');
    const otherCa = await createCertificateAuthority(workDir, 'other-ca', 'some-other-ca');
    const foreign = await issueCertificate(workDir, otherCa, 'foreign', '/CN=kube-apiserver-audit');
    const load = async (pair: { cert: string; key: string }): Promise<AuditClient> => ({ cert: await readFile(pair.cert), key: await readFile(pair.key) });
    const client = await load(trusted);
    const valid = eventList([execEvent(ns, 'ghost', 'valid-1', 'alice')]);
    const cap = 4 * 1024 * 1024; // the operator's default --audit-max-body-bytes
    const nested = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)); // 64 MiB of spaces in ~64 KiB
    const batch = eventList(Array.from({ length: 10_000 }, (_, i) => execEvent(ns, `ghost-${i}`, `batch-${i}`, 'mallory')));
    const cases: { name: string; body: string | Buffer; client?: AuditClient; expect: number[] }[] = [
      { name: 'no credentials', body: valid, expect: [401] },
      { name: 'client certificate from another CA', body: valid, client: await load(foreign), expect: [0, 401] },
      { name: 'wrong token', body: valid, client: { headers: { Authorization: 'Bearer not-the-token' } }, expect: [401] },
      { name: 'body over the cap', body: Buffer.alloc(cap + 1, 0x20), client, expect: [413] },
      { name: 'gzip bomb', body: bomb, client: { ...client, headers: { 'Content-Encoding': 'gzip' } }, expect: [413] },
      { name: 'invalid JSON', body: '{"kind":"EventList","items":[', client, expect: [400] },
      { name: 'wrong kind', body: JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: [] }), client, expect: [400] },
      { name: 'deep nesting', body: nested, client, expect: [400] },
      { name: '10k events in one batch', body: batch, client, expect: [413] },
    ];
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    const answers: Record<string, number> = {};
    for (const c of cases) {
      const status = await postAudit(c.body, c.client);
      answers[c.name] = status;
      expect(c.expect, `${c.name}: HTTP ${status}`).to.include(status);
    }
    expect(operator.exitCode, 'still running').to.equal(undefined);
    const used = usage();

    // A real exec through kube-apiserver (it fails without a kubelet, but is audited) is still acted on.
    const execAt = Date.now();
    await kubectl(['-n', ns, 'exec', 'target', '--', 'id'], { timeoutMs: 20_000 });
    await eventually('drift label after the exec', async () => {
      const pod = (await livePods(ns)).find((p) => at(p, 'metadata', 'name') === 'target');
      return at(pod, 'metadata', 'labels', DRIFT_LABEL) === 'exec' ? true : undefined;
    }, 30_000);
    const labelledAfterMs = Date.now() - execAt;
    const ghosts = (await livePods(ns)).filter((p) => String(at(p, 'metadata', 'name')).startsWith('ghost'));
    expect(ghosts).to.have.length(0);
    const malformed = await operator.metric('immutability_operator_audit_events_total', { outcome: 'malformed' });
    report(17, {
      refused: Object.values(answers).filter((s) => s !== 200).length, foreignCa: answers['client certificate from another CA'] ?? -1,
      batch10k: answers['10k events in one batch'] ?? -1, batchBytes: batch.length,
      execLabelledAfterMs: labelledAfterMs, cpuSeconds: used.cpuSeconds, malformedEvents: malformed,
    });
  });

  it('20: malformed policies through kubectl are rejected by the API server, naming the field', async function () {
    const doc = (name: string, spec: Json): string => JSON.stringify({ apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name }, spec });
    const cases: { name: string; spec: Json; error: RegExp }[] = [
      { name: 'mode', spec: { mode: 'Block' }, error: /spec\.mode.*Unsupported value/s },
      { name: 'rule type', spec: { rules: { readOnlyRootFilesystem: 'yes' } }, error: /spec\.rules\.readOnlyRootFilesystem/ },
      { name: 'unknown field', spec: { rulez: {} }, error: /unknown field "spec\.rulez"/ },
      { name: 'namespace glob', spec: { match: { namespaces: ['Not_A_Namespace'] } }, error: /spec\.match\.namespaces\[0\]/ },
      { name: 'too many namespaces', spec: { match: { namespaces: Array.from({ length: 65 }, (_, i) => `ns-${i}`) } }, error: /spec\.match\.namespaces.*(Too many|must have at most)/s },
      { name: 'selector operator', spec: { match: { podSelector: { matchExpressions: [{ key: 'app', operator: 'Near', values: ['x'] }] } } }, error: /spec\.match\.podSelector\.matchExpressions\[0\]\.operator/ },
      { name: 'selector values for Exists', spec: { match: { podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] } } }, error: /spec\.match\.podSelector\.matchExpressions\[0\].*values must be/s },
      { name: 'exemption without reason', spec: { exemptions: [{ containers: ['app'] }] }, error: /spec\.exemptions\[0\]\.reason/ },
      { name: 'blank reason', spec: { exemptions: [{ containers: ['app'], reason: '   ' }] }, error: /spec\.exemptions\[0\]\.reason.*blank/s },
      { name: 'exemption waiving everything', spec: { exemptions: [{ reason: 'all' }] }, error: /spec\.exemptions\[0\].*at least one of/s },
      { name: 'unknown rule in an exemption', spec: { exemptions: [{ rules: ['noRoot'], reason: 'x' }] }, error: /spec\.exemptions\[0\]\.rules\[0\].*Unsupported value/s },
      { name: 'expires', spec: { exemptions: [{ containers: ['app'], reason: 'x', expires: 'next tuesday' }] }, error: /spec\.exemptions\[0\]\.expires/ },
      { name: 'relative writable path', spec: { remediation: { patchOwner: { writablePaths: ['tmp'] } } }, error: /spec\.remediation\.patchOwner\.writablePaths\[0\]/ },
      { name: 'dot-dot writable path', spec: { remediation: { patchOwner: { writablePaths: ['/var/../etc'] } } }, error: /spec\.remediation\.patchOwner\.writablePaths\[0\]/ },
      { name: 'size limit', spec: { remediation: { patchOwner: { emptyDirSizeLimit: 'lots' } } }, error: /spec\.remediation\.patchOwner\.emptyDirSizeLimit/ },
      { name: 'eviction rate', spec: { remediation: { evict: { maxPerMinute: 5000 } } }, error: /spec\.remediation\.evict\.maxPerMinute/ },
    ];
    let rejected = 0;
    for (const c of cases) {
      const res = await kubectl(['apply', '--validate=strict', '-f', '-'], { input: doc(`fault-malformed-${rejected}`, c.spec) });
      expect(res.code, `${c.name} accepted`).to.not.equal(0);
      expect(res.stderr, c.name).to.match(c.error);
      rejected++;
    }
    // The same through an edit of a valid policy: the API server refuses the patch and the policy is unchanged.
    await kubectlOk(['apply', '-f', '-'], { input: doc('fault-malformed-edit', { mode: 'Audit' }) });
    const patch = await kubectl(['patch', 'imp', 'fault-malformed-edit', '--type=merge', '-p', '{"spec":{"mode":"Sometimes"}}']);
    expect(patch.code).to.not.equal(0);
    expect(patch.stderr).to.match(/spec\.mode/);
    expect(await kubectlOk(['get', 'imp', 'fault-malformed-edit', '-o', 'jsonpath={.spec.mode}'])).to.equal('Audit');
    await kubectlOk(['delete', 'imp', 'fault-malformed-edit', '--timeout=30s']);
    report(20, { kinds: cases.length + 1, rejected: rejected + 1 });
  });

  // Since the admission work (issue 10) put every semantic check into the CRD's CEL rules, the API server
  // rejects each spec the operator would call invalid (scenario 20). Policies stored before that, under an
  // older and laxer CRD, stay stored when the CRD is upgraded: the operator must still refuse them itself.
  it('21: specs stored under an older, laxer CRD that the operator cannot use: Ready=False/InvalidSpec, other policies unaffected', async function () {
    this.timeout(180_000);
    const ns = 'fault-invalid';
    await apply(barePod(ns, 'writable'));
    const enforce = { mode: 'Enforce', remediation: { label: {} } };
    const invalid = [
      { ...policy('fault-invalid-key', [ns], enforce), spec: { ...enforce, match: { namespaces: [ns], podSelector: { matchLabels: { 'not a valid key!': 'x' } } } } },
      { ...policy('fault-invalid-value', [ns], enforce), spec: { ...enforce, match: { namespaces: [ns], namespaceSelector: { matchLabels: { team: 'spaces are not allowed' } } } } },
    ];
    // Today's CRD refuses both; the older one (no CEL rules, no patterns) stores them; then the upgrade.
    for (const p of invalid) expect((await kubectl(['apply', '-f', '-'], { input: JSON.stringify(p) })).code, 'refused by the current CRD').to.not.equal(0);
    const laxer = path.join(workDir, 'crd-laxer.yaml');
    await writeFile(laxer, await laxerCrd());
    await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', laxer]);
    await eventually('the laxer CRD accepts them', async () => ((await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: invalid }) })).code === 0 ? true : undefined), 30_000, 500);
    await installCrd();
    await apply(policy('fault-valid', [ns], enforce));
    // Still stored after the upgrade, exactly as written.
    expect(await kubectlOk(['get', 'imp', 'fault-invalid-value', '-o', 'jsonpath={.spec.match.namespaceSelector.matchLabels.team}'])).to.equal('spaces are not allowed');
    for (const name of ['fault-invalid-key', 'fault-invalid-value']) {
      const s = await statusWhere(name, `${name} Ready=False`, (x) => condition(x, 'Ready')?.status === 'False', 30_000);
      expect(condition(s, 'Ready')?.reason, name).to.equal('InvalidSpec');
      expect(condition(s, 'Ready')?.message, name).to.match(/matchLabels|label/i);
    }
    const valid = await statusWhere('fault-valid', 'the valid policy Ready and counting', (s) => condition(s, 'Ready')?.status === 'True' && s.violatingPods === 1, 30_000);
    expect(valid.matchedPods).to.equal(1);
    await eventually('the pod labelled by the valid policy', async () => ((await livePods(ns)).every(isLabelled) ? true : undefined));
    const annotations = String(at((await livePods(ns))[0], 'metadata', 'annotations', 'immutability.dev/violations'));
    expect(annotations).to.equal('app:readOnlyRootFilesystem');
    report(21, { invalidPolicies: 2, storedUnder: 'CRD without CEL rules and patterns, then upgraded', reason: 'InvalidSpec', validPolicyViolating: valid.violatingPods ?? -1 });
  });

  it('22: pathological pods (100 containers, annotations at the size limit, the longest names) are evaluated or skipped with a reason, never a crash', async function () {
    this.timeout(180_000);
    const ns = 'fault-odd';
    const privileged = { privileged: true, readOnlyRootFilesystem: false };
    const container = (name: string): Json => ({ name, image: 'nginx:1.27', securityContext: privileged });
    const longName = `p${'o'.repeat(61)}d`; // 63: pod names used as hostnames stay within a DNS label
    const longContainer = `c${'x'.repeat(62)}`;
    const pods: Json[] = [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'many-containers', namespace: ns },
        spec: { initContainers: Array.from({ length: 20 }, (_, i) => container(`init-${i}`)), containers: Array.from({ length: 80 }, (_, i) => container(`app-${i}`)) } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: longName, namespace: ns, labels: { [`example.com/${'k'.repeat(63)}`]: 'v'.repeat(63) } },
        spec: { containers: [container(longContainer)] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unicode.and.dots', namespace: ns, annotations: { 'example.com/note': '🙂 ünïcödé multi\nline' } },
        spec: { containers: [container('app')] } },
    ];
    await apply(pods);
    // Someone else's annotations 10 bytes short of the API server's 256 KiB limit: ours cannot fit. Created,
    // not applied: kubectl apply would copy them into its last-applied annotation and hit the limit itself.
    const blobKey = 'example.com/blob';
    await kubectlOk(['create', '-f', '-'], { input: JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'huge-annotations', namespace: ns, annotations: { [blobKey]: 'x'.repeat(256 * 1024 - blobKey.length - 10) } },
      spec: { containers: [container('app')] },
    }) });
    await waitForRunningPods(ns, pods.length + 1, undefined, 120_000);
    const logFrom = (await operator.logEntries()).length;
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    await apply(policy('fault-odd', [ns], { mode: 'Enforce', remediation: { label: {} } }));
    const status = await statusWhere('fault-odd', 'all four counted', (x) => x.matchedPods === 4 && x.violatingPods === 4, 60_000);
    await eventually('the three that fit labelled', async () => {
      const labelled = (await livePods(ns)).filter(isLabelled).map((p) => String(at(p, 'metadata', 'name'))).sort();
      return JSON.stringify(labelled) === JSON.stringify(['many-containers', longName, 'unicode.and.dots'].sort()) ? true : undefined;
    }, 60_000);
    const many = (await livePods(ns)).find((p) => at(p, 'metadata', 'name') === 'many-containers');
    const listed = String(at(many, 'metadata', 'annotations', 'immutability.dev/violations')).split(',');
    // The one that cannot take our metadata: skipped with a reason (a Warning Event naming the API server's
    // refusal), not retried until the pod changes.
    const skipped = await eventually('a LabelFailed Event on huge-annotations', async () => {
      const events = await items(['-n', ns, 'events.v1.events.k8s.io', '--field-selector', 'regarding.name=huge-annotations']);
      return events.find((e) => e['reason'] === 'LabelFailed');
    }, 60_000);
    await new Promise((r) => setTimeout(r, 10_000));
    const used = usage();
    const entries = (await operator.logEntries()).slice(logFrom);
    const failedWrites = entries.filter((e) => e['msg'] === 'reconcile failed' || e['msg'] === 'pod metadata refused').length;
    expect(operator.exitCode, 'still running').to.equal(undefined);
    expect(listed.length, '100 containers × their findings listed').to.be.at.least(100);
    expect(String(skipped['note'])).to.match(/metadata\.annotations|Too long|too long/i);
    expect(failedWrites, 'the refused write not retried in a loop').to.be.at.most(2);
    expect(used.cpuShare, 'CPU share').to.be.below(0.2);
    report(22, {
      pods: pods.length + 1, evaluated: status.matchedPods ?? -1, labelled: 3, skippedWithReason: 1, findingsOn100Containers: listed.length,
      refusedWrites: failedWrites, cpuShare: used.cpuShare, logLines: used.logLines,
    });
  });

  it('25: Falco endpoint bad input gets a clear 4xx, nothing of a refused request is kept, and a later alert is acted on', async function () {
    this.timeout(180_000);
    const ns = 'fault-falco';
    await apply(policy('fault-falco', [ns], { mode: 'Enforce', rules: { falco: true, readOnlyRootFilesystem: false }, remediation: { label: {} } }));
    await apply(barePod(ns, 'target', { readOnlyRootFilesystem: true }));
    const [target] = await waitForRunningPods(ns, 1);
    const about = { namespace: ns, pod: 'target', container: 'app', uid: String(at(target, 'metadata', 'uid')) };
    const otherCa = await createCertificateAuthority(workDir, 'falco-other-ca', 'some-other-ca');
    const foreign = await issueCertificate(workDir, otherCa, 'falco-foreign', '/CN=falco');
    const valid = JSON.stringify(falcoAlert('Terminal shell in container', about));
    const cap = 12 * 1024 * 1024; // Falco's k8saudit bound per request, the endpoint's default
    const ghost = (i: number): string => JSON.stringify(falcoAlert('Read sensitive file untrusted', { namespace: ns, pod: `ghost-${i}`, container: 'app' }));
    const batch = Array.from({ length: 10_000 }, (_, i) => ghost(i)).join('\n');
    const oversizedBatch = batch.length > cap ? batch : `${batch}\n${'\n'.repeat(cap - batch.length + 1)}`;
    const cases: { name: string; body: string | Buffer; opts?: Parameters<FalcoClient['post']>[1]; expect: number[]; names?: RegExp }[] = [
      { name: 'no credentials', body: valid, opts: { auth: 'none' }, expect: [401] },
      { name: 'client certificate from another CA', body: valid, opts: { auth: { cert: await readFile(foreign.cert), key: await readFile(foreign.key) } }, expect: [0, 401] },
      { name: 'wrong token', body: valid, opts: { auth: { token: 'not-the-token' } }, expect: [401] },
      { name: 'body over the cap', body: Buffer.alloc(64 * 1024, 0x20), opts: { declaredLength: cap + 1 }, expect: [0, 413] },
      { name: 'gzip bomb', body: gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), opts: { headers: { 'Content-Encoding': 'gzip' } }, expect: [413] },
      { name: 'invalid JSON', body: '{"rule":"Terminal shell in container",', expect: [400], names: /not JSON/ },
      { name: 'wrong kind (an audit EventList)', body: eventList([execEvent(ns, 'target', 'x', 'alice')]), expect: [400], names: /rule/ },
      { name: 'a field of the wrong type', body: JSON.stringify({ ...JSON.parse(valid), priority: 7 }), expect: [400], names: /priority/ },
      { name: 'deep nesting', body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, expect: [400] },
      { name: 'one alert over 256 KiB', body: JSON.stringify({ ...JSON.parse(valid), output: 'x'.repeat(300 * 1024) }), expect: [413], names: /256|262144/ },
      { name: 'a good batch with one bad line', body: `${ghost(1)}\n${valid}\n{"rule":3}`, expect: [400], names: /line 3: rule/ },
      { name: 'wrong media type', body: valid, opts: { type: 'text/plain' }, expect: [415] },
      { name: `10k alerts in one batch over the cap (${Math.round(oversizedBatch.length / 1024 / 1024)} MiB)`, body: oversizedBatch, opts: { type: 'application/x-ndjson' }, expect: [0, 413] },
    ];
    const acceptedBefore = await operator.metric('immutability_operator_falco_alerts_total', { outcome: /accepted|unknown-pod|duplicate|uid-mismatch|not-a-pod/ });
    const usage = sampleUsage(operator.pid ?? 0, operator.logFile);
    const answers: Record<string, number> = {};
    for (const c of cases) {
      const res = await falco.post(c.body, c.opts).catch(() => ({ status: 0, message: undefined }));
      answers[c.name] = res.status;
      expect(c.expect, `${c.name}: HTTP ${res.status} ${res.message ?? ''}`).to.include(res.status);
      if (c.names) expect(res.message, c.name).to.match(c.names);
    }
    const used = usage();
    expect(operator.exitCode, 'still running').to.equal(undefined);
    // All or nothing: not one alert of a refused request was processed (the batch's good line included).
    const processed = (await operator.metric('immutability_operator_falco_alerts_total', { outcome: /accepted|unknown-pod|duplicate|uid-mismatch|not-a-pod/ })) - acceptedBefore;
    expect(processed, 'alerts kept from refused requests').to.equal(0);
    expect(at((await livePods(ns))[0], 'metadata', 'labels', 'immutability.dev/drift')).to.equal(undefined);

    const sentAt = Date.now();
    expect((await falco.post(valid)).status).to.equal(200);
    await eventually('drift label after the valid alert', async () => (at((await livePods(ns))[0], 'metadata', 'labels', 'immutability.dev/drift') === 'falco' ? true : undefined), 30_000, 100);
    const refused = await operator.metric('immutability_operator_falco_alerts_total', { outcome: 'refused' });
    report(25, {
      cases: cases.length, refused: Object.values(answers).filter((x) => x !== 200).length, foreignCa: answers['client certificate from another CA'] ?? -1,
      labelledAfterMs: Date.now() - sentAt, cpuSeconds: used.cpuSeconds, refusedMetric: refused,
    });
  });
});

describe('faults: /metrics authentication', function () {
  const accounts = ['fault-scraper', 'fault-nobody'];

  before(async function () {
    await installOperatorRbac();
    for (const sa of accounts) await kubectl(['-n', 'default', 'create', 'serviceaccount', sa]);
    await kubectl(['create', 'clusterrolebinding', 'fault-scraper', '--clusterrole=immutability-operator-metrics-reader', '--serviceaccount=default:fault-scraper']);
  });

  const operator = withOperator({ operator: { metrics: 'kube' } });

  after(async function () {
    await kubectl(['delete', 'clusterrolebinding', 'fault-scraper', '--ignore-not-found']);
    await kubectl(['-n', 'default', 'delete', 'serviceaccount', ...accounts, '--ignore-not-found']);
  });

  it('24: /metrics without a token is 401, with a token lacking RBAC 403, with the metrics-reader role 200', async function () {
    const token = async (sa: string): Promise<string> => (await kubectlOk(['-n', 'default', 'create', 'token', sa, '--duration=10m'])).trim();
    const scrape = async (bearer?: string): Promise<number> => (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`, {
      headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
    })).status;
    const answers = {
      none: await scrape(),
      garbage: await scrape('not-a-token'),
      noRbac: await scrape(await token('fault-nobody')),
      reader: await eventually('the reader binding known to the authorizer', async () => {
        const s = await scrape(await token('fault-scraper'));
        return s === 200 ? s : undefined;
      }, 15_000, 500),
    };
    expect(answers).to.deep.equal({ none: 401, garbage: 401, noRbac: 403, reader: 200 });
    report(24, answers);
  });
});
