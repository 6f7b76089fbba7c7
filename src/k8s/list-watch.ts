/**
 * The real `ListWatchSource` over the operator's HTTP client. LIST and WATCH are plain HTTP here because
 * client-node's `Watch` ignores undecodable lines and its `ListWatch` gives up on non-410 errors — the
 * reflector needs every failure surfaced.
 */
import { StringDecoder } from 'node:string_decoder';
import { WatchLineDecoder, type ListPage, type ListWatchSource, type WatchEvent } from '../runtime/list-watch.js';

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

/**
 * LIST/WATCH for one collection path, e.g. `/api/v1/pods` or
 * `/apis/immutability.dev/v1alpha1/immutabilitypolicies`, over the operator's one HTTP client (`KubeHttp`).
 */
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
