// RequestAuthorizer backed by the API server: TokenReview says who the bearer is, SubjectAccessReview says
// whether they may `get` the non-resource path. Decisions are cached per token and path so that a
// Prometheus scraping every 15 s costs two API calls a minute, not eight.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { KubeHttp } from '../k8s/http.js';
import { Paths } from '../k8s/resources.js';
import type { AuthorizationDecision, RequestAuthorizer } from './metrics-server.js';

/** The identity a TokenReview returns, passed unchanged to the SubjectAccessReview. */
export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The two API calls the authorizer needs; a port so that its logic is tested without a cluster. */
export interface AccessReviews {
  /** The user behind `token`, or undefined when the token is not valid. */
  reviewToken(token: string): Promise<ReviewedUser | undefined>;
  /** Whether `user` may `get` the non-resource URL `path`. */
  reviewAccess(user: ReviewedUser, path: string): Promise<boolean>;
}

export interface CacheOptions {
  clock?: { now(): number };
  /** How long an allowed decision is reused. Default 60 s. */
  allowTtlMs?: number;
  /** How long a 401/403 decision is reused; short so that a freshly granted binding takes effect soon. Default 10 s. */
  denyTtlMs?: number;
  /** Bound on cached token/path pairs, so that a flood of random tokens cannot grow memory. Default 1024. */
  maxEntries?: number;
}

export function kubeAuthorizer(http: KubeHttp, opts: CacheOptions = {}): RequestAuthorizer {
  return cachedAuthorizer(reviewAuthorizer(kubeAccessReviews(http)), opts);
}

/** The fields of a review's answer that are read. */
interface TokenReviewAnswer {
  status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } };
}
interface AccessReviewAnswer {
  status?: { allowed?: boolean; denied?: boolean };
}

/** Over the operator's own HTTP client (client-node's generated API is not loaded by the operator). */
export function kubeAccessReviews(http: KubeHttp): AccessReviews {
  return {
    async reviewToken(token) {
      const review = await http.request<TokenReviewAnswer>('POST', Paths.tokenReviews, {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      const status = review.status;
      if (!status?.authenticated || !status.user?.username) {
        return undefined;
      }
      const { username, uid, groups, extra } = status.user;
      return { username, ...(uid ? { uid } : {}), ...(groups ? { groups } : {}), ...(extra ? { extra } : {}) };
    },
    async reviewAccess(user, path) {
      const review = await http.request<AccessReviewAnswer>('POST', Paths.subjectAccessReviews, {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            nonResourceAttributes: { path, verb: 'get' },
          },
        },
      });
      return review.status?.allowed === true && review.status.denied !== true;
    },
  };
}

export function reviewAuthorizer(reviews: AccessReviews): RequestAuthorizer {
  return {
    async authorize(token, path) {
      const user = await reviews.reviewToken(token);
      if (!user) {
        return 'unauthenticated';
      }
      return (await reviews.reviewAccess(user, path)) ? 'allowed' : 'forbidden';
    },
  };
}

interface CacheEntry {
  decision: Promise<AuthorizationDecision>;
  /** Undefined while the review is in flight; concurrent requests share it. */
  expiresAt?: number;
}

/**
 * Caches decisions keyed by a hash of the token (the token itself is never kept) and the path. Errors
 * are not cached: the next request asks the API server again.
 */
export function cachedAuthorizer(inner: RequestAuthorizer, opts: CacheOptions = {}): RequestAuthorizer {
  const clock = opts.clock ?? Date;
  const allowTtl = opts.allowTtlMs ?? 60_000;
  const denyTtl = opts.denyTtlMs ?? 10_000;
  const maxEntries = opts.maxEntries ?? 1024;
  // Least recently used first out: a flood of random tokens cannot grow memory or push out a busy scraper.
  const cache = new LRUCache<string, CacheEntry>({ max: maxEntries });

  return {
    authorize(token, path) {
      const key = `${createHash('sha256').update(token).digest('hex')} ${path}`;
      const now = clock.now();
      const hit = cache.get(key);
      if (hit && (hit.expiresAt === undefined || hit.expiresAt > now)) {
        return hit.decision;
      }
      cache.delete(key);
      const entry: CacheEntry = { decision: inner.authorize(token, path) };
      entry.decision.then(
        (decision) => {
          entry.expiresAt = clock.now() + (decision === 'allowed' ? allowTtl : denyTtl);
        },
        () => {
          if (cache.get(key) === entry) {
            cache.delete(key);
          }
        },
      );
      cache.set(key, entry);
      return entry.decision;
    },
  };
}
