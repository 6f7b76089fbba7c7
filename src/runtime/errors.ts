/**
 * Errors the runtime understands. Kept free of any client library so the machinery can be tested with fakes;
 * `src/k8s/errors.ts` adds the API-server specific classification on top.
 */

/** One entry of a Kubernetes Status's `details.causes`, e.g. `{ reason: 'FieldValueInvalid', field: 'metadata.uid' }`. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** A failed request with an HTTP status (or a watch ERROR event carrying a Status code). */
export class StatusError extends Error {
  override readonly name = 'StatusError';
  constructor(
    readonly status: number,
    message: string,
    /** Machine-readable reason from a Kubernetes Status object, e.g. `Expired`, `Conflict`. */
    readonly reason?: string,
    /** The Status object's `details.causes`: which fields an Invalid answer refused, and why. */
    readonly causes?: readonly StatusCause[],
  ) {
    super(message);
  }
}

/** A watch stream that could not be decoded: a malformed or truncated JSON line, or an unknown event type. */
export class MalformedStreamError extends Error {
  override readonly name = 'MalformedStreamError';
}

/** Thrown by a reconciler when retrying cannot help (e.g. an invalid spec): the key is not requeued. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function numericField(obj: object, field: string): number | undefined {
  const value: unknown = (obj as Record<string, unknown>)[field];
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599 ? value : undefined;
}

/**
 * The HTTP status carried by an error, whatever produced it: our `StatusError` (`status`), client-node's
 * `ApiException` (`code`), client-node's `Watch` errors (`statusCode`). Node system errors have string
 * `code`s such as `ECONNRESET` and yield `undefined`.
 */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  return numericField(err, 'status') ?? numericField(err, 'code') ?? numericField(err, 'statusCode');
}

/** True for the error an aborted fetch / stream / sleep produces. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { type?: unknown }).type === 'aborted');
}
