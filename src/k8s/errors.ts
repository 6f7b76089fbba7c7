/**
 * Classifies errors from the API server, whichever way they arrived: our own `StatusError` (LIST/WATCH done by
 * hand, in-stream ERROR events), client-node 1.4's `ApiException` (`code`, body = Status JSON text), or
 * client-node's `Watch` errors (`statusCode`).
 */
import { StatusError, statusCodeOf, type StatusCause } from '../runtime/errors.js';
import { isRecord } from '../runtime/json.js';

export { StatusError, MalformedStreamError, TerminalError, statusCodeOf, isAbortError, type StatusCause } from '../runtime/errors.js';

/** 409: stale resourceVersion on update, or the object already exists on create. */
export const isConflict = (err: unknown): boolean => statusCodeOf(err) === 409;
export const isNotFound = (err: unknown): boolean => statusCodeOf(err) === 404;
/** 429: API priority and fairness throttling, or an eviction blocked by a PodDisruptionBudget. */
export const isTooManyRequests = (err: unknown): boolean => statusCodeOf(err) === 429;
export const isForbidden = (err: unknown): boolean => statusCodeOf(err) === 403;
export const isUnprocessable = (err: unknown): boolean => statusCodeOf(err) === 422;

/**
 * A write that named its object's uid (a precondition in the body's metadata) and found no object of that uid
 * under the name: the object was deleted (kube-apiserver: 409 Conflict "uid mismatch: the provided object
 * specified uid ..., and no existing object was found") or replaced by a namesake (422 Invalid, cause
 * `metadata.uid`: field is immutable). Either way the write was for an object that no longer exists: not a
 * failure to retry or report. Both answers are pinned on the real API server (test/integration/label-write).
 */
export function isGoneOrReplaced(err: unknown): boolean {
  const code = statusCodeOf(err);
  if (code === 409) return messageOf(err).includes('uid mismatch');
  if (code === 422) return causesOf(err).some((c) => c.field === 'metadata.uid');
  return false;
}

/** A Kubernetes `Status` object as the API server returns it for failures. */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
  details?: { retryAfterSeconds?: number; causes?: StatusCause[] };
}


/** The Status object carried by an error, if any (ApiException bodies are JSON text in client-node 1.4). */
export function kubeStatusOf(err: unknown): KubeStatus | undefined {
  if (!isRecord(err)) return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (!isRecord(body) || body.kind !== 'Status') return undefined;
  return body;
}

/** The fields a refusal names (Status `details.causes`): from a `StatusError`, or the Status body of an `ApiException`. */
export function causesOf(err: unknown): readonly StatusCause[] {
  if (err instanceof StatusError) return err.causes ?? [];
  const raw: unknown = kubeStatusOf(err)?.details?.causes;
  return Array.isArray(raw) ? raw.filter(isRecord).map(statusCause) : [];
}

/** CamelCase reason: from a `StatusError`, or from the Status body of an `ApiException`. */
export function reasonOf(err: unknown): string | undefined {
  if (isRecord(err) && typeof err.reason === 'string') return err.reason;
  return kubeStatusOf(err)?.reason;
}

/** Human-readable message, preferring the API server's own over a generic "HTTP-Code: 409". */
export function messageOf(err: unknown): string {
  const status = kubeStatusOf(err);
  if (status?.message) return status.message;
  return err instanceof Error ? err.message : String(err);
}

/** Seconds the server asked us to wait (Status details or a Retry-After header), if it said. */
export function retryAfterSecondsOf(err: unknown): number | undefined {
  const fromStatus = kubeStatusOf(err)?.details?.retryAfterSeconds;
  if (typeof fromStatus === 'number' && fromStatus > 0) return fromStatus;
  if (isRecord(err) && isRecord(err.headers)) {
    const header = err.headers['retry-after'] ?? err.headers['Retry-After'];
    const seconds = typeof header === 'string' ? Number(header) : NaN;
    if (Number.isFinite(seconds) && seconds > 0) return seconds;
  }
  return undefined;
}

function statusCause(raw: Record<string, unknown>): StatusCause {
  const cause: StatusCause = {};
  if (typeof raw.reason === 'string') cause.reason = raw.reason;
  if (typeof raw.message === 'string') cause.message = raw.message;
  if (typeof raw.field === 'string') cause.field = raw.field;
  return cause;
}

/** A StatusError for a non-2xx answer, with the API server's own reason and message when the body is a Status. */
export function statusErrorFromBody(status: number, statusText: string, body: string): StatusError {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; message?: unknown; reason?: unknown; details?: { causes?: unknown } };
    if (parsed.kind === 'Status') {
      const message = typeof parsed.message === 'string' ? parsed.message : statusText;
      const raw: unknown = parsed.details?.causes;
      const causes = Array.isArray(raw) ? raw.filter(isRecord).map(statusCause) : undefined;
      return new StatusError(status, message, typeof parsed.reason === 'string' ? parsed.reason : undefined, causes);
    }
  } catch {
    // not JSON: fall through to the status line
  }
  return new StatusError(status, `HTTP ${status} ${statusText}`.trim());
}


/** 404 for the resource type itself (an API server without the kind, or a CRD not installed), not for one object. */
export function isMissingKind(err: unknown): boolean {
  if (!isNotFound(err)) return false;
  const message = messageOf(err);
  return message.includes('the server could not find the requested resource') || message.includes('404 page not found');
}
