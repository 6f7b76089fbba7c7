// A watch of the pods of one namespace that records when each is first seen matching a label selector: how
// the benchmark learns that a write reached the API server, without polling.
import type { KubeHttp } from '../../src/k8s/http.js';

export const LABEL_VIOLATION = 'immutability.dev/violation';

export class LabelWatch {
  readonly seen = new Map<string, number>();
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];

  constructor(private readonly http: KubeHttp, private readonly ns: string, private readonly selector = `${LABEL_VIOLATION}=true`) {}

  async start(): Promise<void> {
    const list = await this.http.request<{ metadata: { resourceVersion: string } }>('GET', `/api/v1/namespaces/${this.ns}/pods`, { query: { limit: 1 } });
    void this.loop(list.metadata.resourceVersion);
  }

  /** Times at which pods were first seen matching, in order. */
  times(): number[] {
    return [...this.seen.values()].sort((a, b) => a - b);
  }

  private async loop(resourceVersion: string): Promise<void> {
    let rv = resourceVersion;
    while (!this.abort.signal.aborted) {
      try {
        const res = await this.http.stream(`/api/v1/namespaces/${this.ns}/pods`, {
          query: { watch: true, resourceVersion: rv, labelSelector: this.selector, allowWatchBookmarks: true, timeoutSeconds: 600 },
          signal: this.abort.signal,
        });
        let buf = '';
        for await (const chunk of res) {
          buf += (chunk as Buffer).toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const ev = JSON.parse(buf.slice(0, nl)) as { type: string; object: { metadata: { name: string; resourceVersion: string } } };
            buf = buf.slice(nl + 1);
            rv = ev.object.metadata.resourceVersion;
            if ((ev.type === 'ADDED' || ev.type === 'MODIFIED') && !this.seen.has(ev.object.metadata.name)) {
              this.seen.set(ev.object.metadata.name, performance.now());
              this.waiters.forEach((w) => w());
            }
          }
        }
      } catch {
        if (this.abort.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Waits until `count` pods were seen; false past the timeout or once `givenUp()` says so (a writer exited). */
  async waitFor(count: number, timeoutMs: number, givenUp: () => boolean = () => false): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.seen.size < count) {
      const left = deadline - performance.now();
      if (left <= 0 || givenUp()) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
      this.waiters = [];
    }
    return true;
  }

  stop(): void {
    this.abort.abort();
  }
}

/**
 * Watches a collection from now on and records when each object (by name) is first seen satisfying `done`:
 * cheaper for the API server than polling a LIST of thousands of objects, which slows down what it measures.
 */
export class ObjectWatch<T> {
  readonly seen = new Map<string, number>();
  /** MODIFIED events seen, by object name (a Lease's renewals, for one). */
  readonly modified = new Map<string, number>();
  private readonly abort = new AbortController();

  private constructor(private readonly done: (obj: T) => boolean) {}

  static async start<T>(http: KubeHttp, path: string, done: (obj: T) => boolean): Promise<ObjectWatch<T>> {
    const w = new ObjectWatch(done);
    const list = await http.request<{ metadata: { resourceVersion: string } }>('GET', path, { query: { limit: 1 } });
    const res = await http.stream(path, {
      query: { watch: true, resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 600 }, signal: w.abort.signal,
    });
    void w.consume(res);
    return w;
  }

  private async consume(res: AsyncIterable<unknown>): Promise<void> {
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const ev = JSON.parse(buf.slice(0, nl)) as { type: string; object: T & { metadata: { name: string } } };
          buf = buf.slice(nl + 1);
          if (ev.type === 'MODIFIED') this.modified.set(ev.object.metadata.name, (this.modified.get(ev.object.metadata.name) ?? 0) + 1);
          if ((ev.type === 'ADDED' || ev.type === 'MODIFIED') && !this.seen.has(ev.object.metadata.name) && this.done(ev.object)) {
            this.seen.set(ev.object.metadata.name, performance.now());
          }
        }
      }
    } catch {
      // stopped
    }
  }

  /** Waits until `count` objects were seen done; the time the last of them was, or null past the timeout. */
  async waitFor(count: number, timeoutMs: number): Promise<number | null> {
    const deadline = performance.now() + timeoutMs;
    while (this.seen.size < count) {
      if (performance.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, 20));
    }
    return Math.max(...this.seen.values());
  }

  stop(): void {
    this.abort.abort();
  }
}

/** Polls `check` until it holds; milliseconds it took, or null (and a line on stderr) past the timeout. */
export async function until(what: string, timeoutMs: number, intervalMs: number, check: () => Promise<boolean>): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check()) return Math.round(performance.now() - start);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  console.error(`${what}: not reached within ${timeoutMs} ms`);
  return null;
}
