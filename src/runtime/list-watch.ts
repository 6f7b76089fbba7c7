import { MalformedStreamError, StatusError } from './errors.js';
import { isRecord } from './json.js';

/** The event types of a Kubernetes-style watch stream. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: unknown;
}

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  /** Present when more pages follow. */
  continueToken?: string;
}

/**
 * The two calls a reflector needs from an API server, for one resource collection. Implementations turn
 * non-2xx responses into errors carrying the HTTP status (`StatusError`) and undecodable stream lines into
 * `MalformedStreamError`.
 */
export interface ListWatchSource<_T = unknown> {
  list(opts: { limit: number; continueToken?: string; resourceVersion?: string; signal: AbortSignal }): Promise<ListPage>;
  /** Resolves when the server ends the stream normally, rejects on error (including abort). */
  watch(
    opts: { resourceVersion: string; timeoutSeconds: number; allowBookmarks: boolean; signal: AbortSignal },
    onEvent: (ev: WatchEvent) => void,
  ): Promise<void>;
}

const EVENT_TYPES: ReadonlySet<string> = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);


/** Decodes one line of a watch stream; throws `MalformedStreamError` for anything that is not a watch event. */
export function parseWatchLine(line: string): WatchEvent {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw new MalformedStreamError(`malformed watch line: ${truncate(line)}`);
  }
  if (!isRecord(data) || typeof data.type !== 'string' || !EVENT_TYPES.has(data.type) || !isRecord(data.object)) {
    throw new MalformedStreamError(`unexpected watch event: ${truncate(line)}`);
  }
  return { type: data.type as WatchEventType, object: data.object };
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * Splits a stream of text chunks into lines and decodes each as a watch event. A non-empty remainder when the
 * stream ends is a truncated event and is reported as malformed rather than silently dropped.
 */
export class WatchLineDecoder {
  private buffer = '';

  constructor(private readonly onEvent: (ev: WatchEvent) => void) {}

  write(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') this.onEvent(parseWatchLine(line));
    }
  }

  end(): void {
    const rest = this.buffer.trim();
    this.buffer = '';
    if (rest !== '') throw new MalformedStreamError(`watch stream ended mid-event: ${truncate(rest)}`);
  }
}

/** `metadata.resourceVersion` of an object, if it has one. */
export function resourceVersionOf(obj: unknown): string | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const rv = obj.metadata.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/** `namespace/name` (or `name` for cluster-scoped objects) from an object's metadata. */
export function metadataKeyOf(obj: unknown): string | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const { name, namespace } = obj.metadata;
  if (typeof name !== 'string' || name === '') return undefined;
  return objectKey({ name, namespace: typeof namespace === 'string' ? namespace : undefined });
}

/**
 * The one key of an object in caches and work queues: `namespace/name`, or `name` when cluster-scoped
 * (client-go's MetaNamespaceKeyFunc).
 */
export function objectKey(meta: { namespace?: string | undefined; name: string }): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

/** Turns the Status object of an in-stream ERROR event into a `StatusError` (code 410 means "relist"). */
export function statusErrorFromEvent(object: unknown): StatusError {
  const status = isRecord(object) ? object : {};
  const code = typeof status.code === 'number' ? status.code : 500;
  const message = typeof status.message === 'string' ? status.message : 'watch ERROR event';
  const reason = typeof status.reason === 'string' ? status.reason : undefined;
  return new StatusError(code, message, reason);
}
