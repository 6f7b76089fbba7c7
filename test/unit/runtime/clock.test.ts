import { expect } from 'chai';
import { FakeClock, systemClock } from '../../../src/runtime/clock.js';

describe('FakeClock', () => {
  it('fires due timers in order of due time, then creation, and stops at the target time', async () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    clock.setTimeout(() => fired.push('d@31'), 31);
    await clock.advance(30);
    expect(fired).to.deep.equal(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).to.equal(1030);
    expect(clock.pending()).to.equal(1);
  });

  it('runs timers scheduled by promise chains of earlier timers within the same advance', async () => {
    const clock = new FakeClock(0);
    const seen: number[] = [];
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        await Promise.resolve();
        seen.push(clock.now());
      }
    };
    const done = loop();
    await clock.advance(300);
    await done;
    expect(seen).to.deep.equal([100, 200, 300]);
  });

  it('clearTimeout prevents a timer from firing', async () => {
    const clock = new FakeClock(0);
    let fired = false;
    const t = clock.setTimeout(() => (fired = true), 5);
    clock.clearTimeout(t);
    await clock.advance(10);
    expect(fired).to.equal(false);
    expect(clock.pending()).to.equal(0);
  });

  it('sleep resolves early on abort and leaves no timer behind', async () => {
    const clock = new FakeClock(0);
    const ac = new AbortController();
    let resolved = false;
    const p = clock.sleep(1000, ac.signal).then(() => (resolved = true));
    await clock.flush();
    expect(resolved).to.equal(false);
    ac.abort();
    await p;
    expect(resolved).to.equal(true);
    expect(clock.pending()).to.equal(0);
  });
});

describe('systemClock', () => {
  it('sleep waits in real time and can be aborted', async () => {
    const start = Date.now();
    await systemClock.sleep(20);
    expect(Date.now() - start).to.be.at.least(15);
    const ac = new AbortController();
    const p = systemClock.sleep(60_000, ac.signal);
    ac.abort();
    await p; // would time the test out if the abort were ignored
  });
});
