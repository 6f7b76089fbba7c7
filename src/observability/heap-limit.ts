// The V8 heap limit against the container's memory limit, judged once at start. Node 20 sizes the heap from
// the container's limit at half of it, but never below 256 MiB of old space (measured in podman with the
// operator image, docs/benchmarks.md): under a limit below 512 Mi its own choice lets the heap outgrow the
// container, so the OOM killer rather than garbage collection would answer memory pressure — which is why the
// manifests set --max-old-space-size. A user who raises the memory limit for a larger cluster and keeps that
// flag leaves the new memory unused, or sets one too large for the limit: either way the log says so at start,
// with the flag that fits.

/** The heap limit the manifests pair with their memory limit: 160 MiB for 256 Mi. */
export const HEAP_SHARE_OF_LIMIT = 0.625;

export interface HeapFit {
  level: 'warn' | 'info';
  message: string;
  fields: { heapLimitMiB: number; memoryLimitMiB: number; fits: string };
}

const MiB = 1024 * 1024;

/**
 * Undefined when the heap limit suits the container's memory limit (or there is none: Node reports 0, or the
 * machine's memory, when no cgroup limits the process).
 */
export function heapFit(heapLimitBytes: number, memoryLimitBytes: number, machineMemoryBytes: number): HeapFit | undefined {
  if (!(memoryLimitBytes > 0) || memoryLimitBytes >= machineMemoryBytes) return undefined;
  const heapLimitMiB = Math.round(heapLimitBytes / MiB);
  const memoryLimitMiB = Math.round(memoryLimitBytes / MiB);
  const fields = { heapLimitMiB, memoryLimitMiB, fits: `NODE_OPTIONS=--max-old-space-size=${Math.floor(memoryLimitMiB * HEAP_SHARE_OF_LIMIT)}` };
  if (heapLimitBytes > 0.8 * memoryLimitBytes) {
    return { level: 'warn', fields,
      message: 'the V8 heap may grow past the container memory limit: the OOM killer, not garbage collection, would stop the operator' };
  }
  if (heapLimitBytes < 0.4 * memoryLimitBytes) {
    return { level: 'info', fields, message: 'the V8 heap limit leaves most of the container memory limit unused' };
  }
  return undefined;
}
