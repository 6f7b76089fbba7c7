import { expect } from 'chai';
import { cachedAuthorizer, reviewAuthorizer } from '../../../src/observability/kube-authorizer.js';
import type { AccessReviews, ReviewedUser } from '../../../src/observability/kube-authorizer.js';
import type { AuthorizationDecision, RequestAuthorizer } from '../../../src/observability/metrics-server.js';
import { FakeClock } from './helpers.js';

class FakeReviews implements AccessReviews {
  readonly accessChecks: Array<[string, string]> = [];
  constructor(
    private readonly users: Record<string, ReviewedUser>,
    private readonly allowed: Set<string>,
  ) {}
  reviewToken(token: string): Promise<ReviewedUser | undefined> {
    return Promise.resolve(this.users[token]);
  }
  reviewAccess(user: ReviewedUser, path: string): Promise<boolean> {
    this.accessChecks.push([user.username, path]);
    return Promise.resolve(this.allowed.has(`${user.username} ${path}`));
  }
}

/** Counts calls and answers from a script, so that caching is observable. */
class ScriptedAuthorizer implements RequestAuthorizer {
  calls = 0;
  constructor(public answer: () => Promise<AuthorizationDecision>) {}
  authorize(): Promise<AuthorizationDecision> {
    this.calls++;
    return this.answer();
  }
}

describe('observability/kube-authorizer', () => {
  describe('reviewAuthorizer', () => {
    const reviews = () =>
      new FakeReviews(
        {
          prom: { username: 'system:serviceaccount:monitoring:prometheus', groups: ['system:serviceaccounts'] },
          dev: { username: 'dev@example.com' },
        },
        new Set(['system:serviceaccount:monitoring:prometheus /metrics']),
      );

    it('unauthenticated when the TokenReview does not authenticate, without a SubjectAccessReview', async () => {
      const r = reviews();
      expect(await reviewAuthorizer(r).authorize('garbage', '/metrics')).to.equal('unauthenticated');
      expect(r.accessChecks).to.deep.equal([]);
    });

    it('forbidden when the user may not get the path', async () => {
      const r = reviews();
      expect(await reviewAuthorizer(r).authorize('dev', '/metrics')).to.equal('forbidden');
      expect(r.accessChecks).to.deep.equal([['dev@example.com', '/metrics']]);
    });

    it('allowed when the SubjectAccessReview allows get on the path', async () => {
      expect(await reviewAuthorizer(reviews()).authorize('prom', '/metrics')).to.equal('allowed');
    });
  });

  describe('cachedAuthorizer', () => {
    it('reuses an allowed decision for a minute, then asks again', async () => {
      const clock = new FakeClock(0);
      const inner = new ScriptedAuthorizer(() => Promise.resolve('allowed'));
      const auth = cachedAuthorizer(inner, { clock });
      expect(await auth.authorize('t', '/metrics')).to.equal('allowed');
      clock.advance(59_000);
      expect(await auth.authorize('t', '/metrics')).to.equal('allowed');
      expect(inner.calls).to.equal(1);
      clock.advance(2_000);
      await auth.authorize('t', '/metrics');
      expect(inner.calls).to.equal(2);
    });

    it('keeps denials for a shorter time so that a new RoleBinding takes effect quickly', async () => {
      const clock = new FakeClock(0);
      const inner = new ScriptedAuthorizer(() => Promise.resolve('forbidden'));
      const auth = cachedAuthorizer(inner, { clock });
      await auth.authorize('t', '/metrics');
      clock.advance(5_000);
      await auth.authorize('t', '/metrics');
      expect(inner.calls).to.equal(1);
      inner.answer = () => Promise.resolve('allowed');
      clock.advance(6_000);
      expect(await auth.authorize('t', '/metrics')).to.equal('allowed');
      expect(inner.calls).to.equal(2);
    });

    it('keys the cache by token and path', async () => {
      const inner = new ScriptedAuthorizer(() => Promise.resolve('allowed'));
      const auth = cachedAuthorizer(inner, { clock: new FakeClock(0) });
      await auth.authorize('a', '/metrics');
      await auth.authorize('b', '/metrics');
      await auth.authorize('a', '/other');
      await auth.authorize('a', '/metrics');
      expect(inner.calls).to.equal(3);
    });

    it('shares one review between concurrent requests', async () => {
      const inner = new ScriptedAuthorizer(() => new Promise((resolve) => setTimeout(() => resolve('allowed'), 5)));
      const auth = cachedAuthorizer(inner, { clock: new FakeClock(0) });
      const decisions = await Promise.all([auth.authorize('t', '/metrics'), auth.authorize('t', '/metrics')]);
      expect(decisions).to.deep.equal(['allowed', 'allowed']);
      expect(inner.calls).to.equal(1);
    });

    it('does not cache errors', async () => {
      let fail = true;
      const inner = new ScriptedAuthorizer(() => (fail ? Promise.reject(new Error('apiserver down')) : Promise.resolve('allowed')));
      const auth = cachedAuthorizer(inner, { clock: new FakeClock(0) });
      let error: unknown;
      await auth.authorize('t', '/metrics').catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(Error);
      fail = false;
      expect(await auth.authorize('t', '/metrics')).to.equal('allowed');
      expect(inner.calls).to.equal(2);
    });

    it('stays within its size bound, forgetting the oldest tokens first', async () => {
      const inner = new ScriptedAuthorizer(() => Promise.resolve('unauthenticated'));
      const auth = cachedAuthorizer(inner, { clock: new FakeClock(0), maxEntries: 2 });
      for (const token of ['a', 'b', 'c']) await auth.authorize(token, '/metrics');
      expect(inner.calls).to.equal(3);
      await auth.authorize('c', '/metrics');
      await auth.authorize('b', '/metrics');
      expect(inner.calls).to.equal(3);
      await auth.authorize('a', '/metrics');
      expect(inner.calls).to.equal(4);
    });
  });
});
