import { expect } from 'chai';
import { Interner, deepFreeze } from '../../../src/k8s/intern.js';

describe('k8s/intern', () => {
  it('hands out the first copy of an equal value, frozen', () => {
    const interner = new Interner();
    const first = interner.value({ app: 'web', tier: ['a', 'b'] });
    const again = interner.value({ app: 'web', tier: ['a', 'b'] });
    expect(again).to.equal(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.tier)).to.equal(true);
    expect(interner.value({ app: 'db', tier: ['a', 'b'] })).to.not.equal(first);
  });

  it('forgets the least recently seen values past its bound, which costs sharing and nothing else', () => {
    const interner = new Interner(2);
    const a = interner.value({ n: 1 });
    interner.value({ n: 2 });
    interner.value({ n: 3 });
    const a2 = interner.value({ n: 1 });
    expect(a2).to.not.equal(a);
    expect(a2).to.deep.equal(a);
  });

  it('shares strings', () => {
    const interner = new Interner();
    const ns = ['shop', 'ping'].join('');
    expect(interner.string(ns)).to.equal(ns);
    expect(interner.string(`sho${'p'}ping`)).to.equal(ns);
  });

  it('deepFreeze freezes nested objects and arrays and leaves primitives alone', () => {
    const v = deepFreeze({ a: [{ b: 1 }], c: 'x' });
    expect(Object.isFrozen(v.a[0])).to.equal(true);
    expect(deepFreeze(3)).to.equal(3);
  });
});
