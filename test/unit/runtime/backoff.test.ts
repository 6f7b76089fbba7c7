import { expect } from 'chai';
import { ExponentialBackoff, PerKeyBackoff } from '../../../src/runtime/backoff.js';
import { TokenBucket } from '../../../src/runtime/token-bucket.js';
import { FakeClock } from '../../../src/runtime/clock.js';

describe('ExponentialBackoff', () => {
  it('grows by the factor up to the cap and starts over after reset', () => {
    const b = new ExponentialBackoff({ initialMs: 100, maxMs: 1000 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    b.reset();
    expect(b.next()).to.equal(100);
  });

  it('honours a custom factor', () => {
    const b = new ExponentialBackoff({ initialMs: 10, maxMs: 10_000, factor: 3 });
    expect([b.next(), b.next(), b.next()]).to.deep.equal([10, 30, 90]);
  });

  it('jitter shortens each delay by up to the jitter fraction and never exceeds the cap', () => {
    const low = new ExponentialBackoff({ initialMs: 1000, maxMs: 2000, jitter: 0.5, random: () => 1 });
    expect([low.next(), low.next(), low.next()]).to.deep.equal([500, 1000, 1000]);
    const high = new ExponentialBackoff({ initialMs: 1000, maxMs: 2000, jitter: 0.5, random: () => 0 });
    expect([high.next(), high.next(), high.next()]).to.deep.equal([1000, 2000, 2000]);
  });

  it('does not overflow after very many failures', () => {
    const b = new ExponentialBackoff({ initialMs: 1, maxMs: 5000 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).to.equal(5000);
  });
});

describe('PerKeyBackoff', () => {
  it('counts failures per key and doubles from 5 ms by default', () => {
    const b = new PerKeyBackoff();
    expect([b.delay('a'), b.delay('a'), b.delay('a')]).to.deep.equal([5, 10, 20]);
    expect(b.delay('b')).to.equal(5);
    expect(b.failures('a')).to.equal(3);
    b.forget('a');
    expect(b.failures('a')).to.equal(0);
    expect(b.delay('a')).to.equal(5);
  });

  it('caps at maxMs', () => {
    const b = new PerKeyBackoff({ initialMs: 100, maxMs: 300 });
    expect([b.delay('k'), b.delay('k'), b.delay('k'), b.delay('k')]).to.deep.equal([100, 200, 300, 300]);
  });
});

describe('TokenBucket', () => {
  it('hands out the burst at once, then spaces reservations at the rate', () => {
    const clock = new FakeClock(0);
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 3, clock });
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).to.deep.equal([0, 0, 0]);
    expect([bucket.reserve(), bucket.reserve()]).to.deep.equal([100, 200]);
  });

  it('refills over time but never beyond the burst', async () => {
    const clock = new FakeClock(0);
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 2, clock });
    bucket.reserve();
    bucket.reserve();
    await clock.advance(10_000);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).to.deep.equal([0, 0, 100]);
  });
});
