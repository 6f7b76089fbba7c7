import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import { TokenBucket } from '../../../src/runtime/token-bucket.js';

describe('TokenBucket per minute (eviction budgets)', () => {
  it('allows maxPerMinute at once, then one more per 60/maxPerMinute seconds', async () => {
    const clock = new FakeClock();
    const bucket = TokenBucket.perMinute(3, clock);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).to.deep.equal([true, true, true, false]);
    expect(bucket.msUntilToken()).to.equal(20_000);
    await clock.advance(19_999);
    expect(bucket.tryTake()).to.equal(false);
    await clock.advance(1);
    expect(bucket.tryTake()).to.equal(true);
    expect(bucket.tryTake()).to.equal(false);
  });

  it('never holds more than one minute of budget after a quiet hour', async () => {
    const clock = new FakeClock();
    const bucket = TokenBucket.perMinute(2, clock);
    await clock.advance(3_600_000);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).to.deep.equal([true, true, false]);
  });

  it('gives a refused action its token back', () => {
    const bucket = TokenBucket.perMinute(1, new FakeClock());
    expect(bucket.tryTake()).to.equal(true);
    bucket.refund();
    expect(bucket.tryTake()).to.equal(true);
    expect(bucket.tryTake()).to.equal(false);
  });

  it('follows a rate change, dropping tokens above the new capacity', () => {
    const bucket = TokenBucket.perMinute(10, new FakeClock());
    bucket.setRate(1 / 60, 1);
    expect(bucket.burst).to.equal(1);
    expect([bucket.tryTake(), bucket.tryTake()]).to.deep.equal([true, false]);
    expect(bucket.msUntilToken()).to.equal(60_000);
  });
});
