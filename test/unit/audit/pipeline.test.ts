import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { DriftRecord, PodRef } from '../../../src/audit/classify.js';
import { AuditPipeline } from '../../../src/audit/pipeline.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { auditEvent } from './helpers.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const silent = { ...noopLogger, error: () => undefined, child: () => silent } as const;

async function outcomes(metrics: Metrics): Promise<Record<string, number>> {
  const m = await metrics.auditEvents.get();
  return Object.fromEntries(m.values.map((v) => [`${v.labels.source}/${v.labels.outcome}`, v.value]));
}

function setup(capacity?: number): { pipeline: AuditPipeline; drift: { pod: PodRef; record: DriftRecord }[]; metrics: Metrics } {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const drift: { pod: PodRef; record: DriftRecord }[] = [];
  const pipeline = new AuditPipeline({ onDrift: (pod, record) => drift.push({ pod, record }), metrics, logger: silent, ...(capacity ? { capacity } : {}) });
  return { pipeline, drift, metrics };
}

describe('audit pipeline', function () {
  it('skips malformed events without losing the valid ones of the same batch', async function () {
    const { pipeline, drift, metrics } = setup();
    for (const item of [auditEvent({ name: 'a' }), { auditID: 'x' }, 'garbage', auditEvent({ name: 'b' })]) pipeline.push('webhook', item);
    await tick();
    expect(drift.map((d) => d.pod.name)).to.deep.equal(['a', 'b']);
    expect(await outcomes(metrics)).to.deep.equal({ 'webhook/accepted': 2, 'webhook/malformed': 2 });
  });

  it('processes an audit ID once, across stages and replays', async function () {
    const { pipeline, drift, metrics } = setup();
    const started = auditEvent({ auditID: 'same', stage: 'ResponseStarted' });
    pipeline.push('webhook', started);
    pipeline.push('webhook', { ...started, stage: 'ResponseComplete' });
    pipeline.push('log', started);
    await tick();
    expect(drift).to.have.length(1);
    expect(await outcomes(metrics)).to.deep.equal({ 'webhook/accepted': 1, 'webhook/duplicate': 1, 'log/duplicate': 1 });
  });

  it('counts denied requests and port-forwards without recording drift', async function () {
    const { pipeline, drift, metrics } = setup();
    pipeline.push('webhook', auditEvent({ code: 403 }));
    pipeline.push('webhook', auditEvent({ subresource: 'portforward' }));
    pipeline.push('webhook', auditEvent({ subresource: 'log' }));
    await tick();
    expect(drift).to.have.length(0);
    expect(await outcomes(metrics)).to.deep.equal({ 'webhook/denied': 1, 'webhook/ignored': 2 });
  });

  it('drops events beyond its capacity and counts them', async function () {
    const { pipeline, drift, metrics } = setup(3);
    for (let i = 0; i < 5; i++) pipeline.push('webhook', auditEvent({ name: `p${i}` }));
    await tick();
    expect(drift.map((d) => d.pod.name)).to.deep.equal(['p0', 'p1', 'p2']);
    expect(await outcomes(metrics)).to.deep.equal({ 'webhook/accepted': 3, 'webhook/dropped': 2 });
    pipeline.push('webhook', auditEvent({ name: 'later' }));
    await tick();
    expect(drift.at(-1)!.pod.name).to.equal('later');
  });

  it('processes what is buffered on close', function () {
    const { pipeline, drift } = setup();
    pipeline.push('log', auditEvent());
    pipeline.close();
    expect(drift).to.have.length(1);
  });

  it('drops webhook events beyond its capacity but queues log lines (the follower waited for room)', async function () {
    const { pipeline, drift, metrics } = setup(2);
    for (let i = 0; i < 3; i++) pipeline.push('webhook', auditEvent({ name: `w${i}` }));
    for (let i = 0; i < 3; i++) pipeline.push('log', auditEvent({ name: `l${i}` }));
    let roomed = false;
    const room = pipeline.room().then(() => { roomed = true; });
    expect(pipeline.depth).to.equal(5);
    await Promise.resolve();
    expect(roomed, 'no room while full').to.equal(false);
    await tick();
    await room;
    expect(drift.map((d) => d.pod.name)).to.deep.equal(['w0', 'w1', 'l0', 'l1', 'l2']);
    expect(await outcomes(metrics)).to.deep.equal({ 'webhook/accepted': 2, 'webhook/dropped': 1, 'log/accepted': 3 });
  });

  it('processes a slice per turn of the event loop, so that a flood never holds the loop', function () {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const turns: (() => void)[] = [];
    const drift: string[] = [];
    const pipeline = new AuditPipeline({
      onDrift: (pod) => drift.push(pod.name), metrics, logger: silent, slice: 2, schedule: (fn) => turns.push(fn),
    });
    for (let i = 0; i < 5; i++) pipeline.push('webhook', auditEvent({ name: `p${i}` }));
    expect(drift, 'nothing in the producer\'s call stack').to.deep.equal([]);
    expect(turns).to.have.length(1);
    turns.shift()!();
    expect(drift).to.deep.equal(['p0', 'p1']);
    expect(turns, 'the rest on a later turn').to.have.length(1);
    turns.shift()!();
    turns.shift()!();
    expect(drift).to.have.length(5);
    expect(turns).to.have.length(0);
  });
});
