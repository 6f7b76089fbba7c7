import { expect } from 'chai';
import { Registry } from 'prom-client';
import { Subject, queueScheduler } from 'rxjs';
import type { DriftRecord, PodRef } from '../../../src/audit/classify.js';
import { AuditPipeline, boundedBatches } from '../../../src/audit/pipeline.js';
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

  it('boundedBatches hands items out of the producer call stack, in order', async function () {
    const input = new Subject<number>();
    const seen: number[][] = [];
    const dropped: number[] = [];
    input.pipe(boundedBatches(2, (n) => dropped.push(n))).subscribe((b) => seen.push(b));
    input.next(1);
    input.next(2);
    input.next(3);
    expect(seen).to.deep.equal([]);
    await tick();
    expect(seen).to.deep.equal([[1, 2]]);
    expect(dropped).to.deep.equal([3]);
    // A synchronous scheduler flushes at once.
    const sync: number[][] = [];
    const s2 = new Subject<number>();
    s2.pipe(boundedBatches(2, () => undefined, queueScheduler)).subscribe((b) => sync.push(b));
    s2.next(7);
    expect(sync).to.deep.equal([[7]]);
  });
});
