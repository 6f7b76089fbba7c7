import { expect } from 'chai';
import {
  StatusError,
  causesOf,
  isConflict,
  isForbidden,
  isGoneOrReplaced,
  isNotFound,
  isTooManyRequests,
  kubeStatusOf,
  messageOf,
  reasonOf,
  retryAfterSecondsOf,
  statusErrorFromBody,
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

  // The answers of kube-apiserver v1.36 to a write whose body names a uid (test/integration/label-write.test.ts).
  const deletedAnswer = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 409, reason: 'Conflict',
    message: 'Operation cannot be fulfilled on pods "web": uid mismatch: the provided object specified uid 6a8f51ad, and no existing object was found',
    details: { name: 'web', kind: 'pods' } });
  const replacedAnswer = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 422, reason: 'Invalid',
    message: 'Pod "web" is invalid: metadata.uid: Invalid value: "6a8f51ad": field is immutable',
    details: { name: 'web', kind: 'Pod', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "6a8f51ad": field is immutable', field: 'metadata.uid' }] } });

  it('keeps the fields a refusal names (details.causes), from our errors and from ApiException', () => {
    const ours = statusErrorFromBody(422, 'Unprocessable Entity', replacedAnswer);
    expect(ours.reason).to.equal('Invalid');
    expect(ours.causes).to.deep.equal([{ reason: 'FieldValueInvalid', message: 'Invalid value: "6a8f51ad": field is immutable', field: 'metadata.uid' }]);
    expect(causesOf(apiException(422, JSON.parse(replacedAnswer) as object)).map((c) => c.field)).to.deep.equal(['metadata.uid']);
    expect(statusErrorFromBody(409, 'Conflict', deletedAnswer).causes).to.equal(undefined);
    // Whatever a Status carries in causes, only objects are read.
    expect(causesOf(apiException(422, { details: { causes: [null, 'x', { field: 'spec' }] } }))).to.deep.equal([{ field: 'spec' }]);
  });

  it('isGoneOrReplaced: the uid a write named matches no object, deleted (409) or replaced by a namesake (422 on metadata.uid)', () => {
    expect(isGoneOrReplaced(statusErrorFromBody(409, 'Conflict', deletedAnswer))).to.equal(true);
    expect(isGoneOrReplaced(statusErrorFromBody(422, 'Unprocessable Entity', replacedAnswer))).to.equal(true);
    expect(isGoneOrReplaced(apiException(422, JSON.parse(replacedAnswer) as object))).to.equal(true);
    // Refusals of the write itself are not: they are failures to report or retry.
    const tooLong = JSON.stringify({ kind: 'Status', code: 422, reason: 'Invalid', message: 'Pod "web" is invalid: metadata.annotations: Too long',
      details: { causes: [{ reason: 'FieldValueTooLong', field: 'metadata.annotations' }] } });
    expect(isGoneOrReplaced(statusErrorFromBody(422, 'Unprocessable Entity', tooLong))).to.equal(false);
    expect(isGoneOrReplaced(new StatusError(409, 'Apply failed with 1 conflict: conflict with "someone-else"', 'Conflict'))).to.equal(false);
    expect(isGoneOrReplaced(new StatusError(404, 'pods "web" not found', 'NotFound'))).to.equal(false);
    expect(isGoneOrReplaced(new Error('uid mismatch'))).to.equal(false);
  });
});
