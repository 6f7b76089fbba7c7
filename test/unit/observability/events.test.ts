import { expect } from 'chai';
import { EventRecorder, microTime } from '../../../src/observability/events.js';
import type { EventBody, EventSink, EventRecorderOptions, ObjectReference } from '../../../src/observability/events.js';
import { FakeClock, RecordingLogger } from './helpers.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const MINUTE = 60_000;

class FakeSink implements EventSink {
  readonly created: Array<{ namespace: string; event: EventBody }> = [];
  failWith: Error | undefined;
  create(namespace: string, event: EventBody): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.created.push({ namespace, event });
    return Promise.resolve();
  }
}

const policy: ObjectReference = { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', name: 'production', uid: 'u-1' };
const deployment: ObjectReference = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'u-2' };

function setup(overrides: Partial<EventRecorderOptions> = {}) {
  const sink = new FakeSink();
  const clock = new FakeClock(T0);
  const logger = new RecordingLogger();
  const recorder = new EventRecorder({
    sink,
    component: 'immutability-operator',
    instance: 'immutability-operator-7d9f-abcde',
    clock,
    logger,
    ...overrides,
  });
  return { sink, clock, logger, recorder };
}

describe('observability/events', () => {
  it('writes an events.k8s.io/v1 Event in the object namespace', async () => {
    const { sink, recorder } = setup();
    recorder.record(deployment, 'Normal', 'Patched', 'PatchOwner', 'set readOnlyRootFilesystem on nginx');
    await recorder.flush();
    expect(sink.created).to.have.length(1);
    const { namespace, event } = sink.created[0]!;
    expect(namespace).to.equal('shop');
    expect(event.metadata.name).to.match(/^web\.[0-9a-f]+$/);
    expect(event).to.deep.include({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      eventTime: '2026-11-22T10:00:00.000000Z',
      reportingController: 'immutability.dev/operator',
      reportingInstance: 'immutability-operator-7d9f-abcde',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'u-2' },
      type: 'Normal',
      reason: 'Patched',
      action: 'PatchOwner',
      note: 'set readOnlyRootFilesystem on nginx',
    });
    // events.k8s.io/v1 rejects a set deprecatedSource on create.
    expect(event).not.to.have.property('deprecatedSource');
    expect(event.metadata.namespace).to.equal('shop');
    expect(event).not.to.have.property('series');
  });

  it("puts Events about cluster-scoped objects in 'default'", async () => {
    const { sink, recorder } = setup();
    recorder.record(policy, 'Warning', 'ViolationsFound', 'Evaluate', '3 pods violate');
    await recorder.flush();
    expect(sink.created[0]!.namespace).to.equal('default');
    expect(sink.created[0]!.event.metadata.namespace).to.equal('default');
    expect(sink.created[0]!.event.regarding).not.to.have.property('namespace');
  });

  it('collapses identical Events within the window and reports the repeats as a series afterwards', async () => {
    const { sink, clock, recorder } = setup();
    const again = () => recorder.record(deployment, 'Warning', 'EvictionBlocked', 'Evict', 'PDB web allows 0 disruptions');
    again();
    clock.advance(1 * MINUTE);
    again();
    clock.advance(3 * MINUTE);
    again();
    await recorder.flush();
    expect(sink.created).to.have.length(1);

    clock.advance(1 * MINUTE + 1); // 5 min after the first emission
    again();
    await recorder.flush();
    expect(sink.created).to.have.length(2);
    expect(sink.created[1]!.event.series).to.deep.equal({ count: 3, lastObservedTime: microTime(clock.now()) });
    expect(sink.created[1]!.event.metadata.name).not.to.equal(sink.created[0]!.event.metadata.name);

    clock.advance(5 * MINUTE);
    again();
    await recorder.flush();
    expect(sink.created[2]!.event).not.to.have.property('series');
  });

  it('does not collapse Events that differ in object, type, reason, action or note', async () => {
    const { sink, recorder } = setup();
    recorder.record(deployment, 'Warning', 'PatchFailed', 'PatchOwner', 'conflict');
    recorder.record({ ...deployment, name: 'api', uid: 'u-3' }, 'Warning', 'PatchFailed', 'PatchOwner', 'conflict');
    recorder.record(deployment, 'Normal', 'PatchFailed', 'PatchOwner', 'conflict');
    recorder.record(deployment, 'Warning', 'Forbidden', 'PatchOwner', 'conflict');
    recorder.record(deployment, 'Warning', 'PatchFailed', 'Rollback', 'conflict');
    recorder.record(deployment, 'Warning', 'PatchFailed', 'PatchOwner', 'timeout');
    recorder.record(deployment, 'Warning', 'PatchFailed', 'PatchOwner', 'conflict');
    await recorder.flush();
    expect(sink.created).to.have.length(6);
  });

  it('bounds the write rate and drops what is over budget', async () => {
    const { sink, clock, recorder } = setup({ rateLimit: { burst: 3, perSecond: 1 } });
    for (let i = 0; i < 5; i++) recorder.record({ ...deployment, name: `web-${i}` }, 'Normal', 'Labeled', 'Label', 'x');
    await recorder.flush();
    expect(sink.created.map((c) => c.event.regarding.name)).to.deep.equal(['web-0', 'web-1', 'web-2']);
    clock.advance(1000);
    recorder.record({ ...deployment, name: 'web-3' }, 'Normal', 'Labeled', 'Label', 'x');
    recorder.record({ ...deployment, name: 'web-4' }, 'Normal', 'Labeled', 'Label', 'x');
    await recorder.flush();
    expect(sink.created.map((c) => c.event.regarding.name)).to.deep.equal(['web-0', 'web-1', 'web-2', 'web-3']);
  });

  it('logs a failed write instead of rejecting', async () => {
    const { sink, logger, recorder } = setup();
    sink.failWith = Object.assign(new Error('forbidden'), { code: 403 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      recorder.record(deployment, 'Normal', 'Patched', 'PatchOwner', 'ok');
      await recorder.flush();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).to.deep.equal([]);
    const warning = logger.entries.find((e) => e.level === 'warn');
    expect(warning?.msg).to.equal('could not record event');
    expect(warning?.fields).to.include({ reason: 'Patched', kind: 'Deployment', namespace: 'shop', name: 'web' });
  });

  it('keeps fields within the API limits', async () => {
    const { sink, recorder } = setup({ instance: 'i'.repeat(300) });
    const longName = `${'a'.repeat(250)}-b`;
    recorder.record({ ...deployment, name: longName }, 'Normal', 'R'.repeat(200), 'A'.repeat(200), 'é'.repeat(2000));
    await recorder.flush();
    const { event } = sink.created[0]!;
    expect(event.metadata.name.length).to.be.at.most(253);
    expect(event.metadata.name).to.match(/^a+\.[0-9a-f]+$/);
    expect(event.reason).to.have.length(128);
    expect(event.action).to.have.length(128);
    expect(event.reportingInstance).to.have.length(128);
    expect(Buffer.byteLength(event.note)).to.be.at.most(1024);
    expect(event.note.endsWith('...')).to.equal(true);
  });

  it('gives Events recorded in the same millisecond distinct names', async () => {
    const { sink, recorder } = setup();
    recorder.record(deployment, 'Normal', 'Labeled', 'Label', 'one');
    recorder.record(deployment, 'Normal', 'Labeled', 'Label', 'two');
    await recorder.flush();
    const [a, b] = sink.created.map((c) => c.event.metadata.name);
    expect(a).not.to.equal(b);
  });

  it('forgets old Events so that memory stays bounded', async () => {
    const { sink, recorder } = setup({ maxTracked: 2, rateLimit: { burst: 100, perSecond: 100 } });
    recorder.record({ ...deployment, name: 'a' }, 'Normal', 'R', 'A', 'n');
    recorder.record({ ...deployment, name: 'b' }, 'Normal', 'R', 'A', 'n');
    recorder.record({ ...deployment, name: 'c' }, 'Normal', 'R', 'A', 'n');
    recorder.record({ ...deployment, name: 'a' }, 'Normal', 'R', 'A', 'n'); // 'a' was forgotten: sent again
    recorder.record({ ...deployment, name: 'c' }, 'Normal', 'R', 'A', 'n'); // 'c' is remembered: collapsed
    await recorder.flush();
    expect(sink.created.map((c) => c.event.regarding.name)).to.deep.equal(['a', 'b', 'c', 'a']);
  });

  it('formats MicroTime with six fractional digits', () => {
    expect(microTime(Date.parse('2026-01-02T03:04:05.678Z'))).to.equal('2026-01-02T03:04:05.678000Z');
  });
});
