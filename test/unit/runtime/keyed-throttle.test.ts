import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import { KeyedThrottle } from '../../../src/runtime/keyed-throttle.js';

describe('KeyedThrottle', function () {
  it('fires the first hit at once and folds later hits of the window into one trailing fire', async function () {
    const clock = new FakeClock();
    const fired: string[] = [];
    const t = new KeyedThrottle<string>(clock, 1000, (k) => fired.push(k));
    t.hit('a');
    t.hit('a');
    t.hit('a');
    t.hit('b');
    expect(fired).to.deep.equal(['a', 'b']);
    await clock.advance(999);
    expect(fired).to.deep.equal(['a', 'b']);
    await clock.advance(1);
    expect(fired).to.deep.equal(['a', 'b', 'a']); // b had no further hit
    t.hit('a'); // inside the window the trailing fire opened
    await clock.advance(1000);
    expect(fired).to.deep.equal(['a', 'b', 'a', 'a']);
    await clock.advance(1000);
    expect(t.size).to.equal(0);
    t.hit('a');
    expect(fired).to.have.length(5);
  });

  it('stop drops pending trailing fires', async function () {
    const clock = new FakeClock();
    const fired: string[] = [];
    const t = new KeyedThrottle<string>(clock, 1000, (k) => fired.push(k));
    t.hit('a');
    t.hit('a');
    t.stop();
    await clock.advance(5000);
    expect(fired).to.deep.equal(['a']);
  });
});
