import { expect } from 'chai';
import { SlicedQueue } from '../../../src/runtime/sliced-queue.js';

function setup(capacity: number, slice: number): { queue: SlicedQueue<number>; done: number[]; turns: (() => void)[] } {
  const done: number[] = [];
  const turns: (() => void)[] = [];
  const queue = new SlicedQueue<number>({ capacity, slice, process: (n) => done.push(n), schedule: (fn) => turns.push(fn) });
  return { queue, done, turns };
}

describe('SlicedQueue', function () {
  it('processes on later turns, a slice per turn, in order', function () {
    const { queue, done, turns } = setup(10, 2);
    for (let i = 0; i < 5; i++) expect(queue.offer(i)).to.equal(true);
    expect(done).to.deep.equal([]);
    expect(turns, 'one turn scheduled, however many items').to.have.length(1);
    turns.shift()!();
    expect(done).to.deep.equal([0, 1]);
    expect(queue.depth).to.equal(3);
    while (turns.length > 0) turns.shift()!();
    expect(done).to.deep.equal([0, 1, 2, 3, 4]);
    expect(queue.depth).to.equal(0);
  });

  it('refuses an item beyond its capacity unless told the producer waited for room', function () {
    const { queue, turns, done } = setup(2, 10);
    expect(queue.offer(1)).to.equal(true);
    expect(queue.offer(2)).to.equal(true);
    expect(queue.offer(3), 'full').to.equal(false);
    expect(queue.offer(4, true), 'over capacity on purpose').to.equal(true);
    turns.shift()!();
    expect(done).to.deep.equal([1, 2, 4]);
    expect(queue.offer(5)).to.equal(true);
  });

  it('takes all of a group or none of it', function () {
    const { queue, turns, done } = setup(3, 10);
    expect(queue.offerAll([1, 2])).to.equal(true);
    expect(queue.offerAll([3, 4])).to.equal(false);
    expect(queue.depth).to.equal(2);
    turns.shift()!();
    expect(queue.offerAll([5, 6, 7])).to.equal(true);
    turns.shift()!();
    expect(done).to.deep.equal([1, 2, 5, 6, 7]);
  });

  it('room() waits while full and resolves once a slice made room', async function () {
    const { queue, turns } = setup(2, 1);
    queue.offer(1);
    queue.offer(2);
    let roomy = false;
    const room = queue.room().then(() => { roomy = true; });
    await Promise.resolve();
    expect(roomy).to.equal(false);
    turns.shift()!();
    await room;
    expect(roomy).to.equal(true);
    await queue.room(); // not full: at once
  });

  it('close() processes what is queued, refuses more and releases waiters', async function () {
    const { queue, done } = setup(1, 1);
    queue.offer(1);
    const room = queue.room();
    queue.close();
    await room;
    expect(done).to.deep.equal([1]);
    expect(queue.offer(2)).to.equal(false);
    expect(queue.offerAll([3])).to.equal(false);
  });

  it('keeps memory proportional to what waits over a long run (compacts what it processed)', function () {
    const { queue, turns, done } = setup(100_000, 1000);
    for (let i = 0; i < 20_000; i++) queue.offer(i);
    for (let t = 0; t < 10; t++) turns.shift()!();
    for (let i = 20_000; i < 30_000; i++) queue.offer(i);
    while (turns.length > 0) turns.shift()!();
    expect(done).to.have.length(30_000);
    expect(done[29_999]).to.equal(29_999);
    expect(queue.depth).to.equal(0);
  });
});
