// Scenarios 18 and 19 (docs/reliability.md): the audit sources under abuse. A followed audit log file is
// rotated by rename, truncated, written in halves and salted with garbage, and no valid event may be lost or
// read twice; the audit webhook is flooded far past what the operator can process, and memory must stay
// bounded with the drops counted.
import { expect } from 'chai';
import { appendFile, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventList, execEvent } from '../support/audit-client.js';
import { issueCertificate } from '../support/controlplane/certs.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import { apply, barePod, cleanup, createNamespaces, livePods, policy, waitForRunningPods } from '../support/faults/workloads.js';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { OperatorProcess } from '../support/operator.js';

const DRIFT = 'immutability.dev/drift';
/** config/manager/deployment.yaml's NODE_OPTIONS plus the image's semi-space flag (as bench/run.ts runs it). */
const DEPLOYED_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=160';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const line = (ns: string, pod: string, id: string): string => `${JSON.stringify(execEvent(ns, pod, id, 'mallory'))}\n`;

async function driftCount(ns: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const p of await livePods(ns)) {
    const details = at(p, 'metadata', 'annotations', 'immutability.dev/drift-details');
    out.set(String(at(p, 'metadata', 'name')), at(p, 'metadata', 'labels', DRIFT) === 'exec' && typeof details === 'string' ? (JSON.parse(details) as { count: number }).count : 0);
  }
  return out;
}

/** Resident memory of a process in MiB, from /proc. */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

describe('faults: audit sources under abuse', function () {
  let operator: OperatorProcess | undefined;
  let workDir: string;
  const namespaces = ['fault-auditlog', 'fault-flood'];
  const policies = ['fault-auditlog', 'fault-flood'];

  before(async function () {
    await installCrd();
    await createNamespaces(namespaces);
    workDir = await mkdtemp(path.join(tmpdir(), 'fault-audit-log-'));
  });

  after(async function () {
    this.timeout(120_000);
    await cleanup(policies, namespaces);
    await operator?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && operator) process.stderr.write(`operator log tail:\n${await operator.logs(40)}\n`);
  });

  it('18: audit log file rotated by rename, truncated, written in halves, salted with garbage: no valid event lost or read twice', async function () {
    this.timeout(180_000);
    const ns = 'fault-auditlog';
    const pods = ['before-rotation', 'old-file-tail', 'new-file', 'after-truncate', 'halves', 'among-garbage'];
    await apply(pods.map((p) => barePod(ns, p, { readOnlyRootFilesystem: true })));
    await waitForRunningPods(ns, pods.length);
    await apply(policy('fault-auditlog', [ns], { mode: 'Enforce', rules: { exec: true, readOnlyRootFilesystem: false }, remediation: { label: {} } }));
    const log = path.join(workDir, 'audit.log');
    await writeFile(log, `${'{"old":"events before the operator started are not replayed"}\n'.repeat(3)}`);
    operator = await new OperatorProcess({ metrics: 'open', args: ['--audit-log-file', log] }).start();
    const labelled = (name: string): Promise<boolean> => eventually(`${name} labelled`, async () => ((await driftCount(ns)).get(name) ?? 0) > 0 ? true : undefined, 30_000, 200);

    await appendFile(log, line(ns, 'before-rotation', 'a-1'));
    await labelled('before-rotation');
    // logrotate's default: the file is renamed, the writer finishes its last line into the old one, then opens
    // a new file. The old file's tail must be read before the follower moves on.
    await appendFile(log, line(ns, 'old-file-tail', 'a-2').slice(0, 40));
    await rename(log, `${log}.1`);
    await appendFile(`${log}.1`, line(ns, 'old-file-tail', 'a-2').slice(40));
    await writeFile(log, line(ns, 'new-file', 'a-3'));
    await Promise.all([labelled('old-file-tail'), labelled('new-file')]);
    // copytruncate: the file is emptied in place and written from offset 0 again.
    await truncate(log, 0);
    await appendFile(log, line(ns, 'after-truncate', 'a-4'));
    await labelled('after-truncate');
    // A line written in two halves, the second 2 s later (the follower polls in between).
    const halves = line(ns, 'halves', 'a-5');
    await appendFile(log, halves.slice(0, halves.length / 2));
    await sleep(2_000);
    expect((await driftCount(ns)).get('halves'), 'nothing from half a line').to.equal(0);
    await appendFile(log, halves.slice(halves.length / 2));
    await labelled('halves');
    // Garbage around a valid line: not JSON, JSON but no event, binary, an overlong line.
    const malformedBefore = await operator.metric('immutability_operator_audit_events_total', { source: 'log', outcome: 'malformed' });
    await appendFile(log, Buffer.concat([
      Buffer.from('not json at all\n{"kind":"Event"}\n[1,2,3]\n'), Buffer.from([0xff, 0xfe, 0x00, 0x0a]),
      Buffer.from(`${'x'.repeat(2 * 1024 * 1024)}\n`), Buffer.from(line(ns, 'among-garbage', 'a-6')), Buffer.from('{"truncated":\n'),
    ]));
    await labelled('among-garbage');
    const malformed = (await operator.metric('immutability_operator_audit_events_total', { source: 'log', outcome: 'malformed' })) - malformedBefore;

    // Each exec seen exactly once: every pod's drift record count is 1.
    await sleep(2_000);
    const counts = await driftCount(ns);
    expect(Object.fromEntries(counts)).to.deep.equal(Object.fromEntries(pods.map((p) => [p, 1])));
    expect(malformed, 'garbage lines counted').to.be.at.least(5);
    expect(operator.exitCode).to.equal(undefined);
    report(18, { validEvents: pods.length, labelled: [...counts.values()].filter((n) => n === 1).length, readTwice: [...counts.values()].filter((n) => n > 1).length, malformedCounted: malformed });
    await operator.stop();
    operator = undefined;
  });

  it('19: an audit flood of 50,000 events/s for 10 s: memory bounded, drops counted, no crash, a later exec still acted on', async function () {
    this.timeout(180_000);
    const ns = 'fault-flood';
    await apply(barePod(ns, 'target', { readOnlyRootFilesystem: true }));
    await waitForRunningPods(ns, 1);
    await apply(policy('fault-flood', [ns], { mode: 'Enforce', rules: { exec: true, readOnlyRootFilesystem: false }, remediation: { label: {} } }));
    // With the heap limits it is deployed with: memory is bounded by the queue and by V8's old-space cap, and a
    // flood that needed more would crash it (OOM) rather than grow.
    operator = await new OperatorProcess({ auditWebhook: true, metrics: 'open', nodeOptions: DEPLOYED_NODE_OPTIONS }).start();
    const pid = operator.pid ?? 0;
    const { audit } = cluster();
    // A client certificate from the CA the webhook trusts for kube-apiserver, as scenario 17 makes one.
    const client = await issueCertificate(workDir, { cert: audit.caFile, key: path.join(path.dirname(audit.caFile), 'ca.key') }, 'flooder', '/CN=flooder');
    const [ca, cert, key] = await Promise.all([readFile(audit.caFile), readFile(client.cert), readFile(client.key)]);
    const agent = new https.Agent({ ca, cert, key, keepAlive: true, maxSockets: 8 });
    const post = (body: string): Promise<number> => new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: audit.port, path: '/audit', method: 'POST', agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(body);
    });
    // Events about pods that do not exist (the classifier must still parse and judge each), 1,000 per batch
    // as kube-apiserver's batch backend sends at most, paced at 50,000 a second for 10 s. Bodies are built
    // beforehand (each with its own audit IDs): the sender's JSON work is not the operator's. On the shared
    // 2-core box the sender itself may fall short of the rate; the figure reports what was reached.
    const perBatch = 1_000;
    const rate = 50_000;
    const seconds = 10;
    const bodies = Array.from({ length: 20 }, (_, b) => eventList(Array.from({ length: perBatch }, (_, i) => execEvent(ns, `ghost-${i}`, `flood-${b}-${i}`, 'mallory'))));
    const usage = sampleUsage(pid, operator.logFile);
    const rssBefore = await rssMiB(pid);
    let peakRss = rssBefore;
    const answers = new Map<number, number>();
    const started = Date.now();
    const deadline = started + seconds * 1000;
    const inflight = new Set<Promise<void>>();
    let sent = 0;
    for (let n = 0; Date.now() < deadline; n++) {
      const due = started + (n * perBatch * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      while (inflight.size >= 16) await Promise.race(inflight);
      const p: Promise<void> = post(bodies[n % bodies.length]!).then((status) => {
        answers.set(status, (answers.get(status) ?? 0) + 1);
        inflight.delete(p);
      });
      inflight.add(p);
      sent += perBatch;
      if (n % 25 === 0) peakRss = Math.max(peakRss, await rssMiB(pid));
    }
    await Promise.all(inflight);
    const sentSeconds = (Date.now() - started) / 1000;
    peakRss = Math.max(peakRss, await rssMiB(pid));
    const used = usage();
    agent.destroy();
    expect(operator.exitCode, 'still running').to.equal(undefined);
    const counted = await operator.metric('immutability_operator_audit_events_total', { source: 'webhook' });
    const dropped = await operator.metric('immutability_operator_audit_events_total', { source: 'webhook', outcome: 'dropped' });
    const accepted = (answers.get(200) ?? 0) * perBatch;
    // Nothing unaccounted for: every event of an accepted batch is judged or counted as dropped.
    await eventually('every accepted event counted', async () => ((await operator?.metric('immutability_operator_audit_events_total', { source: 'webhook' })) ?? 0) >= accepted ? true : undefined, 30_000, 500);
    expect(operator.exitCode, 'no OOM').to.equal(undefined);
    expect(peakRss, 'resident memory under the flood (MiB), with a 160 MiB old space').to.be.below(300);

    const execAt = Date.now();
    expect(await post(eventList([execEvent(ns, 'target', 'after-flood', 'alice')]))).to.equal(200);
    await eventually('the target labelled after the flood', async () => (at((await livePods(ns))[0], 'metadata', 'labels', DRIFT) === 'exec' ? true : undefined), 30_000, 200);
    report(19, {
      sentEvents: sent, sentPerSecond: Math.round(sent / sentSeconds), acceptedEvents: accepted, refusedBatches: sent / perBatch - (answers.get(200) ?? 0),
      counted, dropped, rssBeforeMiB: rssBefore, peakRssMiB: peakRss, cpuShare: used.cpuShare, labelledAfterFloodMs: Date.now() - execAt,
    });
  });
});
