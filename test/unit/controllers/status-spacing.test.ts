import { expect } from 'chai';
import { STATUS_EVALUATION_SHARE, statusWait } from '../../../src/controllers/policy-reconciler.js';

describe('controllers/policy-reconciler statusWait', () => {
  it('lets the first status through at once', () => {
    expect(statusWait(1_000, 1_000, undefined, undefined)).to.equal(0);
  });

  it('keeps the status interval after a write when evaluating is cheap', () => {
    expect(statusWait(1_300, 1_000, 1_000, { atMs: 1_000, costMs: 5 })).to.equal(700);
    expect(statusWait(2_000, 1_000, 1_000, { atMs: 1_000, costMs: 5 })).to.equal(0);
  });

  it('spaces evaluations that are expensive so they take at most their share of the time', () => {
    const costMs = 400;
    expect(statusWait(1_500, 1_000, 1_000, { atMs: 1_000, costMs })).to.equal(costMs * STATUS_EVALUATION_SHARE - 500);
    // Also when the last evaluation changed nothing and so wrote nothing.
    expect(statusWait(1_500, 1_000, undefined, { atMs: 1_000, costMs })).to.equal(costMs * STATUS_EVALUATION_SHARE - 500);
  });
});
