export type LogFields = Record<string, unknown>;

/**
 * The one logging interface of the operator; observability/logger.ts implements it over winston, tests pass a
 * recording fake. Values travel as fields, never interpolated into the message.
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry (e.g. `{ controller: 'pod' }`). */
  child(fields: LogFields): Logger;
}

export const noopLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => noopLogger,
};

/** A message and, when present, the HTTP status of an error, for log fields. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const status = (err as { status?: unknown; code?: unknown }).status ?? (err as { code?: unknown }).code;
    return status === undefined ? { err: err.message } : { err: err.message, status };
  }
  return { err: String(err) };
}

