/**
 * Lets the timers and I/O that came due run before a long synchronous job goes on: a Lease renewal's answer,
 * a watch event, a label write's reply. A macrotask (setImmediate), not a microtask: awaiting a resolved
 * promise would run the job on without ever letting the event loop turn.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
