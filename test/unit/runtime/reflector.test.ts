import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import { MalformedStreamError, StatusError } from '../../../src/runtime/errors.js';
import { Reflector, type ReflectorOptions, type RestartReason } from '../../../src/runtime/reflector.js';
import { Store, type StoreEvent } from '../../../src/runtime/store.js';
import { ScriptedSource, obj, page, type Obj } from './fake-source.js';
import { objectKey } from '../../../src/runtime/list-watch.js';

const keyOf = (o: Obj): string => objectKey(o.metadata);

interface Harness {
  clock: FakeClock;
  source: ScriptedSource;
  store: Store<Obj>;
  reflector: Reflector<Obj>;
  restarts: Array<{ reason: RestartReason; at: number }>;
  events: Array<StoreEvent<Obj>>;
  abort: AbortController;
}

function harness(extra: Partial<ReflectorOptions<Obj>> = {}): Harness {
  const clock = new FakeClock();
  const source = new ScriptedSource(() => clock.now());
  const store = new Store<Obj>(keyOf);
  const restarts: Harness['restarts'] = [];
  const events: Array<StoreEvent<Obj>> = [];
  store.onChange((ev) => events.push(ev));
  const reflector = new Reflector<Obj>({
    name: 'test',
    source,
    store,
    clock,
    random: () => 0, // no jitter: delays are exact
    onRestart: (reason) => restarts.push({ reason, at: clock.now() }),
    ...extra,
  });
  return { clock, source, store, reflector, restarts, events, abort: new AbortController() };
}

async function stop(h: Harness): Promise<void> {
  h.abort.abort();
  await h.clock.flush();
  await h.reflector.stopped();
}

describe('Reflector', () => {
  it('lists every page with limit/continue, stores the items, syncs, then watches from the list resourceVersion', async () => {
    const h = harness({ pageSize: 2 });
    h.source.lists.push(
      page([obj('a', '1'), obj('b', '2')], '10', 'c1'),
      page([obj('c', '3'), obj('d', '4')], '10', 'c2'),
      page([obj('e', '5')], '10'),
    );
    expect(h.reflector.hasSynced()).to.equal(false);
    h.reflector.start(h.abort.signal);
    await h.reflector.waitForSync();

    expect(h.source.listCalls.map((c) => [c.limit, c.continueToken])).to.deep.equal([
      [2, undefined],
      [2, 'c1'],
      [2, 'c2'],
    ]);
    expect(h.store.keys().sort()).to.deep.equal(['ns/a', 'ns/b', 'ns/c', 'ns/d', 'ns/e']);
    expect(h.reflector.hasSynced()).to.equal(true);
    await h.clock.flush();
    expect(h.source.watchCalls).to.have.length(1);
    expect(h.source.watchCalls[0]).to.include({ resourceVersion: '10', allowBookmarks: true });
    await stop(h);
  });

  it('restarts the list from the first page when the continue token expires (410)', async () => {
    const h = harness({ pageSize: 1 });
    h.source.lists.push(
      page([obj('a', '1')], '10', 'c1'),
      new StatusError(410, 'continue token expired', 'Expired'),
      page([obj('a', '1')], '20', 'c9'),
      page([obj('b', '2')], '20'),
    );
    h.reflector.start(h.abort.signal);
    await h.reflector.waitForSync();
    expect(h.source.listCalls.map((c) => c.continueToken)).to.deep.equal([undefined, 'c1', undefined, 'c9']);
    expect(h.store.keys().sort()).to.deep.equal(['ns/a', 'ns/b']);
    expect(h.reflector.lastResourceVersion).to.equal('20');
    await stop(h);
  });

  it('applies ADDED, MODIFIED and DELETED and remembers the resourceVersion of each event', async () => {
    const h = harness();
    h.source.lists.push(page([obj('a', '1')], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    const w = h.source.lastWatch;
    w.emit('ADDED', obj('b', '6'));
    w.emit('MODIFIED', obj('a', '7', { spec: { x: 1 } }));
    w.emit('DELETED', obj('b', '8'));
    expect(h.store.keys()).to.deep.equal(['ns/a']);
    expect(h.store.get('ns/a')?.spec).to.deep.equal({ x: 1 });
    expect(h.reflector.lastResourceVersion).to.equal('8');
    expect(h.events.map((e) => `${e.type}:${e.key}`)).to.deep.equal([
      'added:ns/a',
      'added:ns/b',
      'updated:ns/a',
      'deleted:ns/b',
    ]);
    await stop(h);
  });

  it('re-watches immediately from the last resourceVersion when the server closes the stream, without relisting', async () => {
    const h = harness();
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    h.source.lastWatch.emit('ADDED', obj('a', '6'));
    await h.clock.advance(2000);
    h.source.lastWatch.close();
    await h.clock.flush();
    expect(h.source.watchCalls.map((c) => c.resourceVersion)).to.deep.equal(['5', '6']);
    expect(h.source.watchCalls[1]!.at).to.equal(h.clock.now());
    expect(h.source.listCalls).to.have.length(1);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['closed']);
    await stop(h);
  });

  it('backs off when the server keeps closing streams at once without sending anything', async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1000 } });
    h.source.lists.push(page([], '5'));
    for (let i = 0; i < 3; i++) h.source.watchScripts.push((w) => w.close());
    h.reflector.start(h.abort.signal);
    await h.clock.advance(10_000);
    const starts = h.source.watchCalls.map((c) => c.at - h.source.watchCalls[0]!.at);
    expect(starts.slice(0, 4)).to.deep.equal([0, 100, 300, 700]);
    await stop(h);
  });

  it('bookmarks advance the resourceVersion used by the next watch', async () => {
    const h = harness();
    h.source.lists.push(page([obj('a', '1')], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    h.source.lastWatch.emit('BOOKMARK', { kind: 'Pod', metadata: { resourceVersion: '50' } });
    expect(h.reflector.lastResourceVersion).to.equal('50');
    expect(h.store.size).to.equal(1);
    h.source.lastWatch.close();
    await h.clock.flush();
    expect(h.source.watchCalls.map((c) => c.resourceVersion)).to.deep.equal(['5', '50']);
    await stop(h);
  });

  for (const [how, end] of [
    ['an HTTP 410 response', (w: ScriptedSource) => w.lastWatch.fail(new StatusError(410, 'too old', 'Gone'))],
    [
      'an in-stream ERROR event with code 410',
      (w: ScriptedSource) =>
        w.lastWatch.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }),
    ],
  ] as const) {
    it(`relists after ${how}, and the store deletes objects that vanished meanwhile`, async () => {
      const h = harness();
      h.source.lists.push(page([obj('a', '1'), obj('b', '2')], '5'), page([obj('a', '1'), obj('c', '9')], '20'));
      h.reflector.start(h.abort.signal);
      await h.clock.flush();
      h.events.length = 0;
      end(h.source);
      await h.clock.flush();

      expect(h.restarts.map((r) => r.reason)).to.deep.equal(['gone']);
      expect(h.source.listCalls).to.have.length(2);
      expect(h.store.keys().sort()).to.deep.equal(['ns/a', 'ns/c']);
      expect(h.events.map((e) => `${e.type}:${e.key}`)).to.deep.equal(['deleted:ns/b', 'added:ns/c']);
      expect(h.source.watchCalls.map((c) => c.resourceVersion)).to.deep.equal(['5', '20']);
      await stop(h);
    });
  }

  it('backs off when the server answers 410 again right after a relist', async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1000 } });
    h.source.lists.push(page([], '5'), page([], '6'), page([], '7'));
    const gone = (w: { fail(e: unknown): void }): void => w.fail(new StatusError(410, 'gone'));
    h.source.watchScripts.push(gone, gone);
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    expect(h.source.listCalls).to.have.length(2); // the first 410 relists at once
    await h.clock.advance(99);
    expect(h.source.listCalls).to.have.length(2); // the second waits for the backoff
    await h.clock.advance(1);
    expect(h.source.listCalls).to.have.length(3);
    await stop(h);
  });

  it('reconnects after network errors with a growing backoff, then resets it after a healthy watch', async () => {
    const h = harness({ backoff: { initialMs: 800, maxMs: 30_000 } });
    h.source.lists.push(page([], '5'));
    const reset = (w: { fail(e: unknown): void }): void => w.fail(new Error('ECONNRESET'));
    h.source.watchScripts.push(reset, reset, reset, (w) => {
      w.emit('ADDED', obj('a', '6'));
      w.fail(new Error('socket hang up'));
    });
    h.reflector.start(h.abort.signal);
    await h.clock.advance(60_000);

    const t0 = h.source.watchCalls[0]!.at;
    expect(h.source.watchCalls.map((c) => c.at - t0)).to.deep.equal([0, 800, 2400, 5600, 6400]);
    expect(h.source.watchCalls.map((c) => c.resourceVersion)).to.deep.equal(['5', '5', '5', '5', '6']);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['error', 'error', 'error', 'error']);
    expect(h.source.listCalls).to.have.length(1); // errors do not force a relist
    await stop(h);
  });

  it('treats malformed or truncated stream data as an error and resumes from the last good resourceVersion', async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1000 } });
    h.source.lists.push(page([], '5'));
    h.source.watchScripts.push((w) => {
      w.emit('ADDED', obj('a', '6'));
      w.fail(new MalformedStreamError('watch stream ended mid-event: {"type":"ADDED","obj'));
    });
    h.reflector.start(h.abort.signal);
    await h.clock.advance(100);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['error']);
    expect(h.source.watchCalls.map((c) => c.resourceVersion)).to.deep.equal(['5', '6']);
    expect(h.source.listCalls).to.have.length(1);
    await stop(h);
  });

  it('treats an unknown event type as an error', async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1000 } });
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    h.source.lastWatch.emit('SURPRISE' as never, obj('a', '6'));
    await h.clock.flush();
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['error']);
    expect(h.store.size).to.equal(0);
    await stop(h);
  });

  it('a non-410 in-stream ERROR event reconnects with backoff instead of relisting', async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1000 } });
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    h.source.lastWatch.emit('ERROR', { kind: 'Status', code: 500, message: 'etcd unavailable' });
    await h.clock.advance(100);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['error']);
    expect(h.source.listCalls).to.have.length(1);
    expect(h.source.watchCalls).to.have.length(2);
    await stop(h);
  });

  it('restarts a watch that stays silent past the inactivity timeout, aborting the old request', async () => {
    const h = harness({ inactivityTimeoutMs: 10_000 });
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    const first = h.source.lastWatch;
    await h.clock.advance(6000);
    first.emit('BOOKMARK', { metadata: { resourceVersion: '7' } }); // activity re-arms the timer
    await h.clock.advance(9999);
    expect(h.source.watchCalls).to.have.length(1);
    await h.clock.advance(1);
    expect(first.signal.aborted).to.equal(true);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['inactivity']);
    expect(h.source.watchCalls.map((c) => c.resourceVersion)).to.deep.equal(['5', '7']);
    expect(h.source.listCalls).to.have.length(1);
    await stop(h);
  });

  it('sets one inactivity timer per watch, not one per event, and still counts from the last event', async () => {
    const h = harness({ inactivityTimeoutMs: 10_000 });
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    let timers = 0;
    const setTimeout = h.clock.setTimeout.bind(h.clock);
    h.clock.setTimeout = (fn, ms) => (timers++, setTimeout(fn, ms));
    const watch = h.source.lastWatch;
    for (let i = 0; i < 1000; i++) watch.emit('ADDED', obj(`p${i}`, String(10 + i)));
    expect(timers).to.equal(0);
    await h.clock.advance(9_999);
    watch.emit('BOOKMARK', { metadata: { resourceVersion: '2000' } });
    await h.clock.advance(9_999); // the first timer fired at 10 s and waits for the rest since the bookmark
    expect(h.restarts).to.have.length(0);
    expect(timers).to.equal(1);
    await h.clock.advance(1);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['inactivity']);
    await stop(h);
  });

  it('gives a watch that went silent from the start twice the time on its next attempt, up to 8x, and resets once one delivers', async () => {
    const h = harness({ inactivityTimeoutMs: 1000 });
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    // A link so slow that no answer comes within the timeout: 1 s, then 2, 4, 8 and 8 s again.
    for (const allowance of [1000, 2000, 4000, 8000, 8000]) {
      const watches = h.source.watchCalls.length;
      await h.clock.advance(allowance - 1);
      expect(h.source.watchCalls, `still waiting within ${allowance} ms`).to.have.length(watches);
      await h.clock.advance(1);
      expect(h.source.watchCalls, `restarted after ${allowance} ms`).to.have.length(watches + 1);
    }
    // This one delivers: the next watch is back to the configured timeout.
    h.source.lastWatch.emit('BOOKMARK', { metadata: { resourceVersion: '9' } });
    await h.clock.advance(8000);
    const watches = h.source.watchCalls.length;
    await h.clock.advance(999);
    expect(h.source.watchCalls).to.have.length(watches);
    await h.clock.advance(1);
    expect(h.source.watchCalls).to.have.length(watches + 1);
    expect(h.restarts.every((r) => r.reason === 'inactivity')).to.equal(true);
    await stop(h);
  });

  it('asks the server for a jittered watch timeout and defaults inactivity to twice the timeout', async () => {
    const h = harness({ watchTimeoutSec: 100, random: () => 1 });
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    expect(h.source.watchCalls[0]!.timeoutSeconds).to.equal(120);
    await h.clock.advance(199_999);
    expect(h.restarts).to.have.length(0);
    await h.clock.advance(1);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['inactivity']);
    await stop(h);
  });

  it('retries a failing LIST with backoff and only syncs once a list succeeds', async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1000 } });
    h.source.lists.push(new StatusError(503, 'unavailable'), new StatusError(403, 'forbidden'), page([obj('a', '1')], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    expect(h.reflector.hasSynced()).to.equal(false);
    await h.clock.advance(100);
    expect(h.reflector.hasSynced()).to.equal(false);
    await h.clock.advance(200);
    expect(h.reflector.hasSynced()).to.equal(true);
    expect(h.source.listCalls).to.have.length(3);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['error', 'error']);
    await stop(h);
  });

  it('aborts a LIST page that hangs past the page timeout and retries', async () => {
    const h = harness({ pageTimeoutMs: 5000, backoff: { initialMs: 100, maxMs: 1000 } });
    // No scripted answer: the first LIST hangs until aborted.
    h.reflector.start(h.abort.signal);
    await h.clock.advance(5000);
    expect(h.restarts.map((r) => r.reason)).to.deep.equal(['error']);
    h.source.lists.push(page([], '5'));
    await h.clock.advance(100);
    expect(h.reflector.hasSynced()).to.equal(true);
    await stop(h);
  });

  it('slims objects with transform, drops those it rejects and removes a cached object once it is rejected', async () => {
    const h = harness({
      transform: (raw) => {
        const o = raw as Obj;
        if (o.metadata.labels?.skip === 'yes') return undefined;
        return { metadata: { name: o.metadata.name, namespace: o.metadata.namespace } };
      },
    });
    h.source.lists.push(
      page(
        [
          obj('a', '1', { status: { noise: 'x'.repeat(100) } }),
          { metadata: { name: 'b', namespace: 'ns', resourceVersion: '2', labels: { skip: 'yes' } } },
        ],
        '5',
      ),
    );
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    expect(h.store.list()).to.deep.equal([{ metadata: { name: 'a', namespace: 'ns' } }]);
    h.source.lastWatch.emit('MODIFIED', { metadata: { name: 'a', namespace: 'ns', resourceVersion: '6', labels: { skip: 'yes' } } });
    expect(h.store.size).to.equal(0);
    expect(h.reflector.lastResourceVersion).to.equal('6');
    await stop(h);
  });

  it('gives transform the cached object of the same key, and a transform that returns it changes nothing', async () => {
    const seen: Array<[string, string | undefined]> = [];
    const h = harness({
      transform: (raw, cached) => {
        const o = raw as Obj;
        seen.push([o.metadata.name, cached?.metadata.resourceVersion]);
        // Keeps only name and labels: an event that changed nothing else is the cached object itself.
        return cached && JSON.stringify(cached.metadata.labels) === JSON.stringify(o.metadata.labels) ? cached : o;
      },
    });
    h.source.lists.push(page([obj('a', '1')], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    const listed = h.store.get('ns/a');
    h.source.lastWatch.emit('MODIFIED', obj('a', '6'));
    h.source.lastWatch.emit('ADDED', obj('b', '7'));
    h.source.lastWatch.emit('MODIFIED', obj('a', '8', { metadata: { name: 'a', namespace: 'ns', resourceVersion: '8', labels: { x: 'y' } } }));
    h.source.lastWatch.emit('DELETED', obj('b', '9'));
    expect(seen).to.deep.equal([['a', undefined], ['a', '1'], ['b', undefined], ['a', '1'], ['b', undefined]]);
    expect(h.events.map((e) => `${e.type}:${e.key}`)).to.deep.equal(['added:ns/a', 'added:ns/b', 'updated:ns/a', 'deleted:ns/b']);
    expect(h.events[2]!.old).to.equal(listed);
    expect(h.reflector.lastResourceVersion).to.equal('9');
    await stop(h);
  });

  it('keeps watching when transform throws for one object', async () => {
    const h = harness({
      transform: (raw) => {
        if ((raw as Obj).metadata.name === 'bad') throw new Error('boom');
        return raw as Obj;
      },
    });
    h.source.lists.push(page([obj('a', '1')], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    h.source.lastWatch.emit('MODIFIED', obj('bad', '6'));
    h.source.lastWatch.emit('ADDED', obj('c', '7'));
    expect(h.store.keys().sort()).to.deep.equal(['ns/a', 'ns/c']);
    expect(h.restarts).to.have.length(0);
    await stop(h);
  });

  it('stops cleanly on abort: no pending timers, no further requests, loop resolved', async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1000 } });
    h.source.lists.push(page([], '5'));
    h.source.watchScripts.push((w) => w.fail(new Error('ECONNRESET')));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    expect(h.clock.pending()).to.be.greaterThan(0); // sleeping in backoff
    await stop(h);
    expect(h.clock.pending()).to.equal(0);
    const calls = h.source.watchCalls.length + h.source.listCalls.length;
    await h.clock.advance(60_000);
    expect(h.source.watchCalls.length + h.source.listCalls.length).to.equal(calls);
  });

  it('stops cleanly when aborted while a watch is open', async () => {
    const h = harness();
    h.source.lists.push(page([], '5'));
    h.reflector.start(h.abort.signal);
    await h.clock.flush();
    const w = h.source.lastWatch;
    await stop(h);
    expect(w.signal.aborted).to.equal(true);
    expect(h.clock.pending()).to.equal(0);
    expect(h.restarts).to.have.length(0);
  });

  it('waitForSync rejects when its signal aborts before the first list completes', async () => {
    const h = harness();
    h.reflector.start(h.abort.signal);
    const waiting = new AbortController();
    const p = h.reflector.waitForSync(waiting.signal);
    waiting.abort();
    let error: unknown;
    await p.catch((err: unknown) => (error = err));
    expect((error as Error).name).to.equal('AbortError');
    await stop(h);
  });
});
