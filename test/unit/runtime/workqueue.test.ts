import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import { WorkQueue } from '../../../src/runtime/workqueue.js';

function queue(opts: ConstructorParameters<typeof WorkQueue<string>>[0] = {}) {
  const clock = new FakeClock(0);
  return { clock, q: new WorkQueue<string>({ clock, ...opts }) };
}

describe('WorkQueue', () => {
  it('hands keys out in FIFO order and queues a key added twice only once', async () => {
    const { q } = queue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).to.equal(2);
    expect(await q.get()).to.equal('a');
    expect(await q.get()).to.equal('b');
    expect(q.len()).to.equal(0);
    expect(q.processingCount()).to.equal(2);
  });

  it('keeps FIFO order through a large backlog with keys added while it drains (a resync of a big cluster)', async () => {
    const { q } = queue();
    for (let i = 0; i < 5_000; i++) q.add(`k${i}`);
    const out: string[] = [];
    for (let i = 0; i < 4_000; i++) out.push((await q.get())!);
    for (let i = 5_000; i < 6_000; i++) q.add(`k${i}`);
    expect(q.len()).to.equal(2_000);
    while (q.len() > 0) out.push((await q.get())!);
    expect(out).to.deep.equal(Array.from({ length: 6_000 }, (_, i) => `k${i}`));
  });

  it('defers a key added while it is processed until done, so it is never handed out twice at once', async () => {
    const { q } = queue();
    q.add('a');
    const first = await q.get();
    q.add('a');
    q.add('a');
    expect(q.len()).to.equal(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).to.equal(undefined);
    q.done(first!);
    await Promise.resolve();
    expect(second).to.equal('a');
    q.done('a');
    expect(q.len()).to.equal(0);
  });

  it('a waiting get receives the next added key', async () => {
    const { q } = queue();
    const p = q.get();
    q.add('x');
    expect(await p).to.equal('x');
  });

  it('addAfter delays the key and keeps only the earliest pending delay', async () => {
    const { q, clock } = queue();
    q.addAfter('a', 100);
    q.addAfter('a', 500); // later: ignored
    q.addAfter('b', 300);
    q.addAfter('b', 50); // earlier: wins
    expect(q.delayedCount()).to.equal(2);
    await clock.advance(50);
    expect(q.len()).to.equal(1);
    expect(await q.get()).to.equal('b');
    await clock.advance(49);
    expect(q.len()).to.equal(0);
    await clock.advance(1);
    expect(await q.get()).to.equal('a');
    await clock.advance(1000);
    expect(q.len()).to.equal(0);
    expect(clock.pending()).to.equal(0);
  });

  it('addRateLimited backs off per key exponentially until forget', async () => {
    const { q, clock } = queue({ rateLimit: { baseDelayMs: 10, maxDelayMs: 1000 } });
    const readyAfter = async (): Promise<number> => {
      const start = clock.now();
      q.addRateLimited('k');
      while (q.len() === 0) await clock.advance(1);
      const key = await q.get();
      q.done(key!);
      return clock.now() - start;
    };
    expect([await readyAfter(), await readyAfter(), await readyAfter()]).to.deep.equal([10, 20, 40]);
    expect(q.numRequeues('k')).to.equal(3);
    q.forget('k');
    expect(q.numRequeues('k')).to.equal(0);
    expect(await readyAfter()).to.equal(10);
  });

  it('addRateLimited also respects the global token bucket shared by all keys', () => {
    const { q } = queue({ rateLimit: { baseDelayMs: 1, qps: 10, burst: 2 } });
    q.addRateLimited('a');
    q.addRateLimited('b');
    q.addRateLimited('c'); // bucket empty: waits 100 ms although its own backoff is 1 ms
    expect(q.delayedCount()).to.equal(3);
    expect(q.numRequeues('c')).to.equal(1);
  });

  it('uses client-go defaults: 5 ms first retry', async () => {
    const { q, clock } = queue();
    q.addRateLimited('k');
    await clock.advance(4);
    expect(q.len()).to.equal(0);
    await clock.advance(1);
    expect(q.len()).to.equal(1);
  });

  it('shutDown releases waiting getters, drops delayed keys and ignores new adds', async () => {
    const { q, clock } = queue();
    const waiting = q.get();
    q.addAfter('later', 100);
    q.shutDown();
    expect(await waiting).to.equal(undefined);
    expect(clock.pending()).to.equal(0);
    q.add('x');
    expect(q.len()).to.equal(0);
    expect(await q.get()).to.equal(undefined);
  });

  it('reports depth changes through its hook', async () => {
    const depths: number[] = [];
    const { q } = queue({ hooks: { onDepthChange: (d) => depths.push(d) } });
    q.add('a');
    q.add('b');
    q.add('a');
    await q.get();
    expect(depths).to.deep.equal([1, 2, 1]);
  });
});
