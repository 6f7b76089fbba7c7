// The table of docs/benchmarks.md (and the README's performance table) written from the raw results, so that
// no figure is copied by hand: docs/benchmarks/summary.md.
import type { Percentiles } from './lib/stats.js';

type R = Record<string, unknown> & { scenario: string; date?: string; loadAverage?: { before: number[]; after: number[] } };

const ms = (x: unknown): string => (typeof x === 'number' ? (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`) : 'not reached');
const lat = (p: unknown): string => {
  const q = p as Percentiles | undefined;
  return q ? `p50 ${q.p50} ms, p99 **${q.p99} ms**, max ${q.max} ms` : '—';
};
const get = (r: R, ...path: string[]): unknown => path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], r);

/** One line per scenario: what it measured, the figure, the load average before → after. */
export function summaryRow(r: R): [string, string] | undefined {
  const s = r.scenario;
  if (s.startsWith('owned-')) {
    return [`${s}: ${get(r, 'pods') as number} pods of ${get(r, 'deployments') as number} Deployments, ${get(r, 'violatingPods') as number} violating`,
      [`operator start → all labelled **${ms(get(r, 'operatorRun', 'allLabelledMs'))}**, status complete ${ms(get(r, 'operatorRun', 'statusCompleteMs'))}`,
        ...(get(r, 'operatorRun', 'unexpectedExit') === undefined ? []
          : [`**the operator exited** after ${ms(get(r, 'operatorRun', 'unexpectedExit', 'atMs'))} (code ${String(get(r, 'operatorRun', 'unexpectedExit', 'code'))}) with ${get(r, 'operatorRun', 'labelled') as number} pods labelled`]),
        `RSS peak **${get(r, 'operatorRun', 'rssPeakMiB') as number} MiB**, settled **${get(r, 'operatorRun', 'rssSettledMiB') as number} MiB** (${get(r, 'operatorRun', 'perPodKiB') as number} KiB/pod over the empty-cluster RSS)`,
        typeof get(r, 'apiCeiling', 'ratePerSec') !== 'number' ? `label writes ${get(r, 'operatorRun', 'labelRatePerSec') as number}/s (no ceiling measured in this run)`
          : `label writes ${get(r, 'operatorRun', 'labelRatePerSec') as number}/s = **${get(r, 'operatorRun', 'labelRateOfCeiling') as number}** of the API server's ceiling (${get(r, 'apiCeiling', 'ratePerSec') as number}/s${
            // Since 2026-12-01 11:30 the ceiling's rate is taken while all its writers had work, not over their drain.
            typeof get(r, 'apiCeiling', 'fullPool', 'seconds') === 'number' ? ` over the ${get(r, 'apiCeiling', 'fullPool', 'seconds') as number} s all its ${get(r, 'apiCeiling', 'concurrency') as number} writers had work` : ''})`,
        ...(typeof get(r, 'operatorRun', 'cpuMsPerLabel', 'apiServer') !== 'number' || typeof get(r, 'apiCeiling', 'cpuMsPerWrite', 'apiServer') !== 'number' ? []
          : [`CPU per write: kube-apiserver ${get(r, 'apiCeiling', 'cpuMsPerWrite', 'apiServer') as number} ms in the ceiling (its client ${get(r, 'apiCeiling', 'cpuMsPerWrite', 'client') as number} ms${
            typeof get(r, 'apiCeiling', 'watched') === 'number' ? ', with its label watch' : ''}), ${get(r, 'operatorRun', 'cpuMsPerLabel', 'apiServer') as number} ms during the operator's labels (the operator ${get(r, 'operatorRun', 'cpuMsPerLabel', 'labeller') as number} ms${
            typeof get(r, 'operatorRun', 'cpuMsPerLabel', 'benchmark') === 'number' ? `, the benchmark's label watch ${get(r, 'operatorRun', 'cpuMsPerLabel', 'benchmark') as number} ms` : ''})`]),
        // Older results have only apiserver_request_total's count, which includes kube-apiserver's own Lease.
        typeof get(r, 'operatorRun', 'leaseRenewals') === 'number' ? `${get(r, 'operatorRun', 'leaseRenewals') as number} Lease renewals`
          : `${get(r, 'operatorRun', 'requests', 'PUT leases') as number | undefined ?? 0} Lease writes (the operator's and kube-apiserver's own)`,
        typeof get(r, 'baselineRun', 'rssPeakMiB') !== 'number' ? 'makeInformer baseline: not run'
          : `makeInformer baseline: all labelled ${ms(get(r, 'baselineRun', 'allLabelledMs'))} (${get(r, 'baselineRun', 'labelRatePerSec') as number}/s), RSS peak ${get(r, 'baselineRun', 'rssPeakMiB') as number} MiB, ${get(r, 'baselineRun', 'perPodKiB') as number} KiB/pod: ours **${get(r, 'ratios', 'time') as number | null ?? '—'}× the time, ${get(r, 'ratios', 'memoryPerPod') as number}× the memory per pod**`,
      ].join('; ')];
  }
  if (s.startsWith('cache-')) return [`${s}: heap per cached pod (transform, stores, indexes)`, `**${get(r, 'bytesPerPod') as number} bytes/pod** (${get(r, 'heapMiB') as number} MiB)`];
  if (s.startsWith('steady-') || s.startsWith('churn-')) {
    return [`${s}: ${get(r, 'pods') as number} pods at ${get(r, 'achievedRate') as number}/s${s.startsWith('churn-') ? ' (owned by ReplicaSets)' : ''}: create → label`,
      `${lat(get(r, 'latencyMs'))}; ${get(r, 'labelled') as number}/${get(r, 'violating') as number} labelled`];
  }
  if (s.startsWith('audit-latency-') || s.startsWith('falco-latency-')) {
    return [`${s}: event posted → drift label`, `${lat(get(r, 'latencyMs'))}; ${get(r, 'labelled') as number} labelled`];
  }
  if (s.startsWith('audit-ingest-')) {
    return [`${s}: audit events through the webhook`, `answered **${get(r, 'answeredRate') as number}/s**, processed **${get(r, 'processedRate') as number | null ?? '—'}/s**; answers ${JSON.stringify(get(r, 'answers'))}`];
  }
  if (s.startsWith('idle-')) {
    return [`${s}: nothing changing for ${get(r, 'seconds') as number} s`, `the operator's requests (audit log, by its User-Agent): ${JSON.stringify(get(r, 'requests'))}; only watches and Lease: **${String(get(r, 'onlyWatchesAndLease'))}**${get(r, 'otherClients') === undefined ? '' : `; other clients: ${JSON.stringify(get(r, 'otherClients'))}`}`];
  }
  if (s.startsWith('backlog-')) {
    return [`${s}: bare pods before start`, `all labelled ${ms(get(r, 'allLabelledMs'))}, status ${ms(get(r, 'statusCountsAllMs'))}; RSS ${get(r, 'rssMiB') as number} MiB, settled ${get(r, 'rssSettledMiB') as number} MiB`];
  }
  return undefined;
}

export function summaryMarkdown(results: readonly R[]): string {
  const rows = results.flatMap((r) => {
    const row = summaryRow(r);
    const load = r.loadAverage ? `${r.loadAverage.before[0]} → ${r.loadAverage.after[0]}` : '—';
    return row ? [`| ${row[0]} | ${row[1]} | ${load} | ${(r.date ?? '').slice(0, 16).replace('T', ' ')} |`] : [];
  });
  return ['<!-- Written by bench/run.ts (bench/summary.ts) from bench/results/*.json: do not edit by hand. -->',
    '| scenario | figures | load average (1 min) before → after | run (UTC) |', '| --- | --- | --- | --- |', ...rows, ''].join('\n');
}
