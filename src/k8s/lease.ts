// The real `LeaseClient` of leader election over client-node 1.4's typed CoordinationV1Api: client-node
// supplies the cluster URL, TLS and credentials; this module only converts between its Lease and the plain one
// leader election reasons about.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Lease, LeaseClient } from '../runtime/leader-election.js';
import { isNotFound } from './errors.js';

/** A MicroTime as client-node reads it: typed as a Date but left as the server's string at run time. */
function timeText(value: unknown): string | undefined {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function microTime(value: string | undefined): V1MicroTime | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new V1MicroTime(ms);
}

/** client-node Lease → plain Lease. */
export function leaseFromApi(lease: V1Lease): Lease {
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

/** Plain Lease → client-node Lease; times become MicroTime (the API server rejects millisecond precision). */
export function leaseToApi(lease: Lease): V1Lease {
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

/** `LeaseClient` over CoordinationV1Api; `replace` is conditional on metadata.resourceVersion (409 if stale). */
export function leaseClient(kc: KubeConfig): LeaseClient {
  const api = kc.makeApiClient(CoordinationV1Api);
  return {
    async get(namespace, name) {
      try {
        return leaseFromApi(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(namespace, lease) {
      return leaseFromApi(await api.createNamespacedLease({ namespace, body: leaseToApi(lease) }));
    },
    async replace(namespace, name, lease) {
      return leaseFromApi(await api.replaceNamespacedLease({ name, namespace, body: leaseToApi(lease) }));
    },
  };
}
