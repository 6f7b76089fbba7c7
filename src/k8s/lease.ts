// The real `LeaseClient` of leader election: coordination.k8s.io/v1 Leases over the operator's HTTP client,
// on the connection KubeHttp keeps for leader election alone (never behind the pool that label writes and
// workload patches share, nor a TLS handshake per renewal as client-node's generated client makes). This
// module only converts between the API's Lease and the plain one leader election reasons about.
import type { Lease, LeaseClient } from '../runtime/leader-election.js';
import { isNotFound } from './errors.js';
import type { KubeHttp, RequestOptions } from './http.js';

/** A Lease as the API server reads and writes it (JSON; times are MicroTime strings). */
export interface ApiLease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    leaseTransitions?: number;
    acquireTime?: unknown;
    renewTime?: unknown;
  };
}

/** A time as read: the server's string (or a Date, from code that built one). */
function timeText(value: unknown): string | undefined {
  if (value instanceof Date) return microTime(value.toISOString());
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * RFC 3339 with exactly six fractional digits, as MicroTime is written (the API server refuses the
 * millisecond form `toISOString` gives); undefined for text that is no time.
 */
function microTime(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** API Lease → plain Lease. */
export function leaseFromApi(lease: ApiLease): Lease {
  const spec = lease.spec ?? {};
  const plain: Lease = {
    metadata: {
      name: lease.metadata?.name ?? '',
      namespace: lease.metadata?.namespace ?? '',
      ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
    },
    spec: {},
  };
  if (spec.holderIdentity) plain.spec.holderIdentity = spec.holderIdentity;
  if (spec.leaseDurationSeconds !== undefined) plain.spec.leaseDurationSeconds = spec.leaseDurationSeconds;
  if (spec.leaseTransitions !== undefined) plain.spec.leaseTransitions = spec.leaseTransitions;
  const acquireTime = timeText(spec.acquireTime);
  const renewTime = timeText(spec.renewTime);
  if (acquireTime) plain.spec.acquireTime = acquireTime;
  if (renewTime) plain.spec.renewTime = renewTime;
  return plain;
}

/** Plain Lease → API Lease; times become MicroTime text. */
export function leaseToApi(lease: Lease): ApiLease {
  const acquireTime = microTime(lease.spec.acquireTime);
  const renewTime = microTime(lease.spec.renewTime);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...lease.metadata },
    spec: {
      ...(lease.spec.holderIdentity ? { holderIdentity: lease.spec.holderIdentity } : {}),
      ...(lease.spec.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: lease.spec.leaseDurationSeconds }),
      ...(lease.spec.leaseTransitions === undefined ? {} : { leaseTransitions: lease.spec.leaseTransitions }),
      ...(acquireTime ? { acquireTime } : {}),
      ...(renewTime ? { renewTime } : {}),
    },
  };
}

function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/**
 * `LeaseClient` over `http`'s leader-election connection; `replace` is conditional on
 * metadata.resourceVersion (409 if stale). Leader election bounds each attempt by its renew deadline itself;
 * the request keeps KubeHttp's longer timeout, so that an answer that arrived while the event loop was held
 * up is still read rather than cut off by a socket timer firing first.
 */
export function leaseClient(http: KubeHttp): LeaseClient {
  const opts: RequestOptions = { lane: 'leaderElection' };
  return {
    async get(namespace, name) {
      try {
        return leaseFromApi(await http.request<ApiLease>('GET', leasePath(namespace, name), opts));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(namespace, lease) {
      return leaseFromApi(await http.request<ApiLease>('POST', leasePath(namespace), { ...opts, body: leaseToApi(lease) }));
    },
    async replace(namespace, name, lease) {
      return leaseFromApi(await http.request<ApiLease>('PUT', leasePath(namespace, name), { ...opts, body: leaseToApi(lease) }));
    },
  };
}
