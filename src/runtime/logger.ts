/** The logging the runtime needs; a winston logger satisfies it. Fields are structured, never interpolated. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error?(msg: string, fields?: Record<string, unknown>): void;
}

export const noopLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A message and, when present, the HTTP status of an error, for log fields. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const status = (err as { status?: unknown; code?: unknown }).status ?? (err as { code?: unknown }).code;
    return status === undefined ? { err: err.message } : { err: err.message, status };
  }
  return { err: String(err) };
}

