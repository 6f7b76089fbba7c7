import { expect } from 'chai';
import {
  StatusError,
  isConflict,
  isForbidden,
  isNotFound,
  isTooManyRequests,
  kubeStatusOf,
  messageOf,
  reasonOf,
  retryAfterSecondsOf,
} from '../../../src/k8s/errors.js';

/** Shaped like client-node 1.4's ApiException: numeric `code`, Status JSON text as `body`. */
function apiException(code: number, status?: object, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), {
    code,
    body: status ? JSON.stringify({ kind: 'Status', apiVersion: 'v1', code, ...status }) : undefined,
    headers,
  });
}

describe('k8s error classification', () => {
  const predicates = { isConflict, isNotFound, isTooManyRequests, isForbidden } as const;
  const expected: Record<keyof typeof predicates, number> = {
    isConflict: 409,
    isNotFound: 404,
    isTooManyRequests: 429,
    isForbidden: 403,
  };
  for (const [name, fn] of Object.entries(predicates) as Array<[keyof typeof predicates, (e: unknown) => boolean]>) {
    it(`${name} matches ${expected[name]} from our errors and from ApiException, and nothing else`, () => {
      expect(fn(new StatusError(expected[name], 'x'))).to.equal(true);
      expect(fn(apiException(expected[name]))).to.equal(true);
      expect(fn(new StatusError(500, 'x'))).to.equal(false);
      expect(fn(new Error('ECONNRESET'))).to.equal(false);
    });
  }


  it('reads reason, message and retry-after from an ApiException Status body', () => {
    const err = apiException(429, {
      reason: 'TooManyRequests',
      message: 'Cannot evict pod as it would violate the pod\'s disruption budget.',
      details: { retryAfterSeconds: 7 },
    });
    expect(reasonOf(err)).to.equal('TooManyRequests');
    expect(messageOf(err)).to.match(/disruption budget/);
    expect(retryAfterSecondsOf(err)).to.equal(7);
    expect(kubeStatusOf(err)?.code).to.equal(429);
  });

  it('falls back to the Retry-After header and to the error message', () => {
    const err = apiException(429, undefined, { 'retry-after': '3' });
    expect(retryAfterSecondsOf(err)).to.equal(3);
    expect(messageOf(err)).to.equal('HTTP-Code: 429');
    expect(reasonOf(new StatusError(409, 'conflict', 'Conflict'))).to.equal('Conflict');
    expect(reasonOf(new Error('x'))).to.equal(undefined);
  });
});
