/**
 * An AbortController that also aborts when `parent` does. `dispose()` detaches it from the parent; call it
 * when the child's work ends so that long-lived parents do not accumulate listeners.
 */
export function childAbortController(parent: AbortSignal): { controller: AbortController; dispose: () => void } {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  return { controller, dispose: () => parent.removeEventListener('abort', onAbort) };
}

/** A promise that rejects when `signal` aborts (never resolves), and a function to detach it. */
export function abortedPromise(signal: AbortSignal): { promise: Promise<never>; dispose: () => void } {
  let onAbort = (): void => undefined;
  const promise = new Promise<never>((_, reject) => {
    onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined); // nobody may be listening once the race is over
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

export function abortError(signal?: AbortSignal): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new Error('operation aborted', { cause: reason });
  err.name = 'AbortError';
  return err;
}

/**
 * Settles like `work`, but rejects as soon as `signal` aborts, so a source that ignores its signal cannot hang
 * the caller. A late rejection of `work` is absorbed.
 */
export async function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  const aborted = abortedPromise(signal);
  try {
    return await Promise.race([work, aborted.promise]);
  } finally {
    aborted.dispose();
  }
}
