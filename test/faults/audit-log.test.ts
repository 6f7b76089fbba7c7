// Scenarios 18 and 19 (docs/reliability.md): the audit sources under abuse. A followed audit log file is
// rotated by rename, truncated, written in halves and salted with garbage, and no valid event may be lost or
// read twice; the audit webhook and the log file are flooded far past what the operator can process, and
// memory must stay bounded, the webhook's overflow counted as dropped, the log's read at the pace of processing.
import { expect } from 'chai';
import { appendFile, mkdtemp, open, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RssSampler, rssOf } from '../../bench/lib/operator.js';
import { eventList, execEvent, floodAuditWebhook, postAudit } from '../support/audit-client.js';
import { issueCertificate } from '../support/controlplane/certs.js';
import { sampleUsage } from '../support/faults/process-sampler.js';
import { report } from '../support/faults/report.js';
import { apply, barePod, cleanup, createNamespaces, livePods, policy, waitForRunningPods } from '../support/workloads.js';
import { installCrd } from '../support/fixtures.js';
import { cluster } from '../support/integration-hooks.js';
import { eventually } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { DEPLOYED_NODE_OPTIONS, OperatorProcess } from '../support/operator.js';

const DRIFT = 'immutability.dev/drift';
/** Scenario 19's flood: events a second, for how long through the webhook, and for how long into the log file. */
const FLOOD_RATE = 50_000;
const FLOOD_SECONDS = 10;
/** The follower reads the log at the pace of processing: 100,000 lines already take it a while to catch up with. */
const LOG_FLOOD_SECONDS = 2;
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

/** Appends `chunks` (of `linesPerChunk` lines each, round-robin) to `file`, paced at `rate` lines a second. */
async function writePaced(file: string, chunks: readonly Buffer[], linesPerChunk: number, rate: number, seconds: number): Promise<{ lines: number; linesPerSecond: number; endedAt: number }> {
  const handle = await open(file, 'a');
  const started = performance.now();
  let lines = 0;
  try {
    for (let n = 0; n < (rate * seconds) / linesPerChunk; n++) {
      const due = started + (n * linesPerChunk * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
      await handle.write(chunks[n % chunks.length] as Buffer);
      lines += linesPerChunk;
    }
  } finally {
    await handle.close();
  }
  const endedAt = performance.now();
  return { lines, linesPerSecond: Math.round(lines / ((endedAt - started) / 1000)), endedAt };
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
    this.timeout(240_000);
    const ns = 'fault-flood';
    await apply(['target', 'target-log'].map((name) => barePod(ns, name, { readOnlyRootFilesystem: true })));
    await waitForRunningPods(ns, 2);
    await apply(policy('fault-flood', [ns], { mode: 'Enforce', rules: { exec: true, readOnlyRootFilesystem: false }, remediation: { label: {} } }));
    const logFile = path.join(workDir, 'flood.log');
    await writeFile(logFile, '');
    // With the heap limits it is deployed with: memory is bounded by the queue and by V8's old-space cap, and a
    // flood that needed more would crash it (OOM) rather than grow.
    operator = await new OperatorProcess({
      auditWebhook: true, metrics: 'open', nodeOptions: DEPLOYED_NODE_OPTIONS, args: ['--audit-log-file', logFile],
    }).start();
    const op = operator;
    const pid = op.pid ?? 0;
    const events = (source: string, outcome?: string): Promise<number> =>
      op.metric('immutability_operator_audit_events_total', { source, ...(outcome ? { outcome } : {}) });
    // The longest the event loop stalled since the last scrape (prom-client resets it on every scrape).
    const loopStallMs = async (): Promise<number> => Math.round((await op.metric('nodejs_eventloop_lag_max_seconds')) * 1000);
    const labelled = (pod: string): Promise<boolean> => eventually(`${pod} labelled`, async () =>
      ((await livePods(ns)).some((p) => at(p, 'metadata', 'name') === pod && at(p, 'metadata', 'labels', DRIFT) === 'exec') ? true : undefined), 60_000, 200);
    const { audit } = cluster();
    // A client certificate from the CA the webhook trusts for kube-apiserver, as scenario 17 makes one.
    const cert = await issueCertificate(workDir, { cert: audit.caFile, key: path.join(path.dirname(audit.caFile), 'ca.key') }, 'flooder', '/CN=flooder');
    const [ca, certPem, key] = await Promise.all([readFile(audit.caFile), readFile(cert.cert), readFile(cert.key)]);
    // Events about pods that do not exist (each still parsed, validated and judged), each with its own audit ID,
    // 1,000 per EventList, built before the flood: the sender's JSON work is not the operator's.
    const perBody = 1_000;
    const ghosts = (prefix: string, b: number): Record<string, unknown>[] =>
      Array.from({ length: perBody }, (_, i) => execEvent(ns, `ghost-${i}`, `${prefix}-${b}-${i}`, 'mallory'));
    const bodies = Array.from({ length: 100 }, (_, b) => Buffer.from(eventList(ghosts('flood', b))));

    // The webhook: 50,000 events/s for 10 s over 16 keep-alive connections.
    const rssBefore = await rssOf(pid);
    const rss = new RssSampler(() => pid, performance.now(), 200).start();
    await loopStallMs();
    const usage = sampleUsage(pid, op.logFile);
    const flood = await floodAuditWebhook({ bodies, eventsPerBody: perBody, rate: FLOOD_RATE, seconds: FLOOD_SECONDS, inflight: 16, client: { ca, cert: certPem, key } });
    const webhookStallMs = await loopStallMs();
    const used = usage();
    const offeredPerSecond = Math.round(flood.sentEvents / flood.seconds);
    const accepted = (flood.answers.get(200) ?? 0) * perBody;
    // Nothing unaccounted for: every event of an accepted batch is judged or counted as dropped, exactly once.
    await eventually('every accepted event counted', async () => ((await events('webhook')) >= accepted ? true : undefined), 60_000, 500);
    await sleep(1_000);
    const counted = await events('webhook');
    const dropped = await events('webhook', 'dropped');
    const webhookRssPeak = rss.peak();
    expect(op.exitCode, 'no crash, no OOM').to.equal(undefined);
    let execAt = Date.now();
    expect(await postAudit(eventList([execEvent(ns, 'target', 'after-flood', 'alice')]), { cert: certPem, key })).to.equal(200);
    await labelled('target');
    const webhookLabelledMs = Date.now() - execAt;

    // The audit log file: the same rate written to the file the operator follows. The file is the buffer: the
    // follower reads on only as fast as the events are processed, so nothing is dropped and memory stays bounded.
    // Written 5,000 lines at a time, ten times a second (each line with its own audit ID).
    const perChunk = 5_000;
    const chunks = Array.from({ length: (FLOOD_RATE * LOG_FLOOD_SECONDS) / perChunk }, (_, c) => Buffer.from(Array.from({ length: perChunk },
      (_, i) => `${JSON.stringify(execEvent(ns, `ghost-${i % perBody}`, `log-${c}-${i}`, 'mallory'))}\n`).join('')));
    const logCountedBefore = await events('log');
    await loopStallMs();
    const written = await writePaced(logFile, chunks, perChunk, FLOOD_RATE, LOG_FLOOD_SECONDS);
    const logStallMs = await loopStallMs();
    await eventually('every line written counted', async () => ((await events('log')) - logCountedBefore >= written.lines ? true : undefined), 90_000, 500);
    const logCaughtUpMs = Math.round(performance.now() - written.endedAt);
    await sleep(1_000);
    const logCounted = (await events('log')) - logCountedBefore;
    const logDropped = await events('log', 'dropped');
    execAt = Date.now();
    await appendFile(logFile, line(ns, 'target-log', 'after-log-flood'));
    await labelled('target-log');
    const logLabelledMs = Date.now() - execAt;
    const rssPeak = rss.peak();
    rss.stop();
    report(19, {
      offeredPerSecond, sentEvents: flood.sentEvents, acceptedEvents: accepted, refusedBatches: flood.sentEvents / perBody - (flood.answers.get(200) ?? 0),
      counted, dropped, webhookStallMs, cpuShare: used.cpuShare, labelledAfterFloodMs: webhookLabelledMs,
      logLinesPerSecond: written.linesPerSecond, logLines: written.lines, logDropped, logCaughtUpMs, logStallMs, logLabelledAfterMs: logLabelledMs,
      rssBeforeMiB: rssBefore, rssPeakMiB: rssPeak,
    });
    expect(op.exitCode, 'no crash, no OOM').to.equal(undefined);
    // The webhook takes the flood in at the rate offered as far as the machine lets it — 49,800/s at a load
    // average of 6 on the shared 2-core box, 30,800/s at 14 — and sheds what it cannot process. When processing
    // held the loop it took 4,900/s at 10: the bound tells the two apart under any load seen so far.
    expect(offeredPerSecond, 'events/s the webhook took (answered requests)').to.be.at.least(FLOOD_RATE * 0.4);
    expect(dropped, 'events dropped (and counted) beyond the queue').to.be.above(0);
    expect(accepted, 'every batch answered 200').to.equal(flood.sentEvents);
    expect(counted, 'webhook events counted under some outcome, each once').to.equal(accepted);
    expect(webhookRssPeak, 'resident memory under the webhook flood (MiB), with a 160 MiB old space').to.be.below(300);
    // Processed a slice at a time, the loop stays responsive: the controllers and the Lease (renewed every 2 s)
    // get their turns. A stall also counts the time the loaded machine did not run the process at all.
    expect(webhookStallMs, 'longest event loop stall during the webhook flood (ms)').to.be.below(2_000);
    expect(written.linesPerSecond, 'lines/s written to the log').to.be.at.least(FLOOD_RATE * 0.9);
    expect(logDropped, 'log lines dropped').to.equal(0);
    expect(logCounted, 'log lines counted, each once').to.equal(written.lines);
    expect(rssPeak, 'resident memory under both floods (MiB)').to.be.below(300);
    expect(logStallMs, 'longest event loop stall while the log was flooded (ms)').to.be.below(2_000);
  });
});
