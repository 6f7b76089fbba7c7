/**
 * The real `ListWatchSource` and `LeaseClient` over @kubernetes/client-node 1.4. client-node supplies the
 * cluster URL, TLS and credentials (`KubeConfig`) and the typed Lease API; LIST and WATCH are plain HTTP here
 * because client-node's `Watch` ignores undecodable lines and its `ListWatch` gives up on non-410 errors —
 * the reflector needs every failure surfaced.
 */
import { StringDecoder } from 'node:string_decoder';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { KubeHttp } from './http.js';
import type { Lease, LeaseClient } from '../runtime/leader-election.js';
import { WatchLineDecoder, type ListPage, type ListWatchSource, type WatchEvent } from '../runtime/list-watch.js';
import { isNotFound } from './errors.js';

export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

/** Query of one LIST page. No resourceVersion means a consistent (quorum) read of the latest state. */
export function listQuery(opts: Selectors & { limit: number; continueToken?: string; resourceVersion?: string }): Query {
  return {
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
    limit: opts.limit,
    continue: opts.continueToken,
    resourceVersion: opts.resourceVersion,
  };
}

/** Query of a WATCH from `resourceVersion`. */
export function watchQuery(
  opts: Selectors & { resourceVersion: string; timeoutSeconds: number; allowBookmarks: boolean },
): Query {
  return {
    watch: true,
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
    resourceVersion: opts.resourceVersion,
    timeoutSeconds: opts.timeoutSeconds,
    allowWatchBookmarks: opts.allowBookmarks ? true : undefined,
  };
}

/** `server` (which may carry a path prefix, as behind some proxies) + `path` + the non-empty query values. */
export function apiUrl(server: string, path: string, query: Query): URL {
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
  }
  return url;
}

/** Turns a non-2xx response into a `StatusError`, keeping the Status reason/message when the body has one. */
/** Parses a LIST response body. */
export function listPageOf(body: unknown): ListPage {
  const list = (body ?? {}) as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
  if (!Array.isArray(list.items)) throw new Error('LIST response has no items array');
  const resourceVersion = typeof list.metadata?.resourceVersion === 'string' ? list.metadata.resourceVersion : '';
  const cont = list.metadata?.continue;
  return {
    items: list.items as unknown[],
    resourceVersion,
    ...(typeof cont === 'string' && cont !== '' ? { continueToken: cont } : {}),
  };
}

/**
 * LIST/WATCH for one collection path, e.g. `/api/v1/pods` or
 * `/apis/immutability.dev/v1alpha1/immutabilitypolicies`, over the operator's one HTTP client.
 */
export function apiListWatch(kc: KubeConfig, path: string, opts: Selectors = {}): ListWatchSource {
  return httpListWatch(new KubeHttp(kc), path, opts);
}

/**
 * Feeds a watch response body to `onEvent` line by line. Resolves when the server ends the stream; rejects on
 * a broken connection, an abort, or undecodable data — and then destroys the stream so the socket is freed.
 */
export async function decodeWatchStream(
  body: AsyncIterable<unknown> & { destroy?(err?: Error): void },
  onEvent: (ev: WatchEvent) => void,
): Promise<void> {
  const decoder = new WatchLineDecoder(onEvent);
  const text = new StringDecoder('utf8');
  try {
    for await (const chunk of body) {
      decoder.write(typeof chunk === 'string' ? chunk : text.write(chunk as Buffer));
    }
    decoder.write(text.end());
    decoder.end();
  } catch (err) {
    body.destroy?.();
    throw err;
  }
}

/**
 * The slice of an HTTP client that LIST/WATCH need; `KubeHttp` in `./http.ts` fits it. Non-2xx answers must
 * reject with a `StatusError`.
 */
export interface HttpPort {
  request<R>(method: string, path: string, opts: { query?: Query; signal?: AbortSignal }): Promise<R>;
  stream(path: string, opts: { query?: Query; signal?: AbortSignal }): Promise<AsyncIterable<unknown> & { destroy?(err?: Error): void }>;
}

/** Same as `apiListWatch`, over an existing HTTP client (e.g. one sharing a keep-alive agent). */
export function httpListWatch(http: HttpPort, path: string, opts: Selectors = {}): ListWatchSource {
  return {
    async list({ limit, continueToken, resourceVersion, signal }) {
      const query = listQuery({ ...opts, limit, continueToken, resourceVersion });
      return listPageOf(await http.request<unknown>('GET', path, { query, signal }));
    },
    async watch({ resourceVersion, timeoutSeconds, allowBookmarks, signal }, onEvent) {
      const query = watchQuery({ ...opts, resourceVersion, timeoutSeconds, allowBookmarks });
      const body = await http.stream(path, { query, signal });
      await decodeWatchStream(body, onEvent);
    },
  };
}

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
