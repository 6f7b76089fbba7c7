// The charts of docs/benchmarks.md, drawn from the raw results in bench/results/ as SVG files with Vega-Lite
// (compiled to Vega and rendered headless by Vega's own SVG renderer: no browser, no canvas). Run by
// bench/run.ts after its scenarios, or on its own: node dist/bench/charts.js
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { repoRoot } from '../test/support/controlplane/binaries.js';
import { checkPeersChart } from './scenarios/check.js';
import { summaryMarkdown } from './summary.js';

type Record_ = Record<string, unknown> & { scenario: string; loadAverage?: { before: number[]; after: number[] } };

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parseVega(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Points of the empirical distribution: for each sample count quantile, the latency at it (at most `max` points). */
export function distributionPoints(samples: readonly number[], max = 200): { quantile: number; ms: number }[] {
  const sorted = [...samples].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const step = Math.max(1, Math.floor(sorted.length / max));
  const out: { quantile: number; ms: number }[] = [];
  for (let i = 0; i < sorted.length; i += step) out.push({ quantile: (i + 1) / sorted.length, ms: Math.max(sorted[i]!, 0.1) });
  const last = sorted[sorted.length - 1]!;
  if (out[out.length - 1]?.quantile !== 1) out.push({ quantile: 1, ms: Math.max(last, 0.1) });
  return out;
}

const load = (r: Record_): string => (r.loadAverage ? ` (load ${r.loadAverage.before[0]}→${r.loadAverage.after[0]})` : '');

function latencyChart(results: Record_[]): TopLevelSpec | undefined {
  const values = results.flatMap((r) => {
    const samples = r['latencySamplesMs'];
    return Array.isArray(samples) ? distributionPoints(samples as number[]).map((p) => ({ ...p, scenario: `${r.scenario}${load(r)}` })) : [];
  });
  if (values.length === 0) return undefined;
  return {
    title: 'Latency distribution: event → label seen by a watch', width: 520, height: 300, data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log scale)' },
      y: { field: 'quantile', type: 'quantitative', title: 'fraction of pods', axis: { format: '%' } },
      color: { field: 'scenario', type: 'nominal', title: 'scenario' },
    },
  };
}

function rssChart(r: Record_): TopLevelSpec | undefined {
  const runs: [string, unknown][] = [['operator (shipped flags)', (r['operatorRun'] as Record<string, unknown> | undefined)?.['rssSeries']],
    ['makeInformer baseline', (r['baselineRun'] as Record<string, unknown> | undefined)?.['rssSeries']]];
  const values = runs.flatMap(([process, series]) => Array.isArray(series)
    ? (series as { t: number; rssMiB: number }[]).map((s) => ({ seconds: s.t / 1000, rssMiB: s.rssMiB, process })) : []);
  if (values.length === 0) return undefined;
  return {
    title: `RSS over time, ${r.scenario}: process start → all labelled → 20 s idle${load(r)}`, width: 520, height: 300, data: { values },
    mark: 'line',
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds since process start' },
      y: { field: 'rssMiB', type: 'quantitative', title: 'RSS (MiB)' },
      color: { field: 'process', type: 'nominal', title: null },
    },
  };
}

function labelRateChart(results: Record_[]): TopLevelSpec | undefined {
  const values = results.flatMap((r) => {
    const ceiling = (r['apiCeiling'] as { ratePerSec?: number } | undefined)?.ratePerSec;
    const ours = (r['operatorRun'] as { labelRatePerSec?: number } | undefined)?.labelRatePerSec;
    const baseline = (r['baselineRun'] as { labelRatePerSec?: number } | undefined)?.labelRatePerSec;
    if (ceiling === undefined) return [];
    return [['API server ceiling (bare client)', ceiling], ['operator', ours], ['makeInformer baseline', baseline]]
      .filter(([, v]) => typeof v === 'number').map(([writer, rate]) => ({ scenario: `${r.scenario}${load(r)}`, writer, rate }));
  });
  if (values.length === 0) return undefined;
  return {
    title: 'Label writes per second during the backlog', width: 160, height: 240, data: { values },
    mark: 'bar',
    encoding: {
      column: { field: 'scenario', type: 'nominal', title: null },
      x: { field: 'writer', type: 'nominal', title: null, axis: { labelAngle: -30 } },
      y: { field: 'rate', type: 'quantitative', title: 'label writes / s' },
      color: { field: 'writer', type: 'nominal', legend: null },
    },
  };
}

export async function loadResults(dir: string): Promise<Record_[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  const out: Record_[] = [];
  for (const f of files) {
    const parsed = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as Record<string, unknown>;
    if (typeof parsed['scenario'] === 'string') out.push(parsed as Record_); // older multi-scenario files are skipped
  }
  return out;
}

/** Writes one SVG per chart and summary.md (the table of figures) into `outDir`; returns the files written. */
export async function drawCharts(resultsDir: string, outDir: string): Promise<string[]> {
  const results = await loadResults(resultsDir);
  const charts: [string, TopLevelSpec | undefined][] = [
    ['latency.svg', latencyChart(results)],
    ['label-rate.svg', labelRateChart(results)],
    ['check-peers.svg', checkPeersChart(results)],
    ...results.filter((r) => r.scenario.startsWith('owned-')).map((r): [string, TopLevelSpec | undefined] => [`rss-${r.scenario}.svg`, rssChart(r)]),
  ];
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [file, spec] of charts) {
    if (!spec) continue;
    await writeFile(path.join(outDir, file), await renderSvg(spec));
    written.push(path.join(outDir, file));
  }
  await writeFile(path.join(outDir, 'summary.md'), summaryMarkdown(results));
  written.push(path.join(outDir, 'summary.md'));
  console.error(`charts: ${written.map((f) => path.relative(repoRoot(), f)).join(', ') || 'none (no results)'}`);
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await drawCharts(path.join(repoRoot(), 'bench', 'results'), path.join(repoRoot(), 'docs', 'benchmarks'));
}
