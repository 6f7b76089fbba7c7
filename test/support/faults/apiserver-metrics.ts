// What the API server itself counts: the ground truth for "how many evictions were attempted" or "how many
// pods were deleted", independent of anything the operator reports about itself.
import { cluster } from '../integration-hooks.js';
import { parseSamples, sumOf } from './prometheus.js';

export interface RequestFilter {
  /** The API server's verb label: GET, LIST, WATCH, CREATE, PATCH, UPDATE, DELETE, APPLY, POST. */
  verb?: string | RegExp;
  resource?: string;
  subresource?: string;
  code?: string | RegExp;
  group?: string;
}

/** Requests served so far (apiserver_request_total) matching the filter. Counters restart with the API server. */
export async function apiRequests(filter: RequestFilter): Promise<number> {
  const { controlPlane } = cluster();
  const res = await controlPlane.apiGet('/metrics');
  if (res.status !== 200) throw new Error(`kube-apiserver /metrics answered ${res.status}`);
  const match: Record<string, string | RegExp> = {};
  for (const [k, v] of Object.entries(filter)) if (v !== undefined) match[k] = v as string | RegExp;
  return sumOf(parseSamples(res.body), 'apiserver_request_total', match);
}

/** Any other API server metric, summed over the samples matching `match`. */
export async function apiServerMetric(name: string, match: Record<string, string | RegExp> = {}): Promise<number> {
  const { controlPlane } = cluster();
  const res = await controlPlane.apiGet('/metrics');
  if (res.status !== 200) throw new Error(`kube-apiserver /metrics answered ${res.status}`);
  return sumOf(parseSamples(res.body), name, match);
}

/** Counts requests between two points: `const count = await requestCounter(f); ...; await count()`. */
export async function requestCounter(filter: RequestFilter): Promise<() => Promise<number>> {
  const start = await apiRequests(filter);
  return async () => (await apiRequests(filter)) - start;
}
