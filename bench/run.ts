// Benchmarks of the operator on the local control plane (`make bench`; `make bench ARGS=--quick` for a
// laptop-sized subset). Not a test: it measures and prints, writes each scenario's figures to
// bench/results/<scenario>.json and draws the charts of docs/benchmarks.md from them. Each scenario runs on
// its own fresh control plane, torn down after it. Scenario families live in bench/scenarios/.
//
//   node dist/bench/run.js [--quick] [--scenarios a,b] [--seconds 30] [--no-charts]
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../test/support/controlplane/binaries.js';
import { drawCharts } from './charts.js';
import { BenchCluster } from './lib/cluster.js';
import { familyOf, type Result } from './lib/scenario.js';
import { loadAverage } from './lib/stats.js';
import { FAMILIES } from './scenarios/index.js';

const USAGE = `Usage: node dist/bench/run.js [--quick] [--scenarios a,b,...] [--seconds N] [--no-charts]

Scenarios (default: all of them; --quick: a laptop subset):
${FAMILIES.map((f) => `  ${f.usage}\n    all: ${f.all.join(', ') || '-'}; quick: ${f.quick.join(', ') || '-'}`).join('\n')}
`;

export const RESULTS_DIR = path.join(repoRoot(), 'bench', 'results');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    scenarios: { type: 'string' },
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    'no-charts': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  } });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const quick = values.quick ?? false;
  const scenarios = values.scenarios?.split(',').filter(Boolean)
    ?? FAMILIES.flatMap((f) => (quick ? f.quick : f.all));
  const seconds = Number(values.seconds ?? (quick ? 10 : 30));
  scenarios.forEach((s) => familyOf(FAMILIES, s)); // fail on a typo before starting anything
  await mkdir(RESULTS_DIR, { recursive: true });

  let interrupted = false;
  let current: BenchCluster | undefined;
  process.once('SIGINT', () => {
    interrupted = true;
    void current?.stop().finally(() => process.exit(130));
  });
  const failed: string[] = [];
  for (const scenario of scenarios) {
    if (interrupted) break;
    const family = familyOf(FAMILIES, scenario);
    const loadBefore = loadAverage();
    const startedAt = new Date().toISOString();
    let result: Result;
    try {
      const options = family.cluster === false ? undefined : await family.cluster?.(scenario) ?? {};
      current = options === undefined ? undefined : await BenchCluster.start(options);
      try {
        result = await family.run(scenario, { cluster: current as BenchCluster, seconds, quick });
      } finally {
        await current?.stop();
        current = undefined;
      }
    } catch (err) {
      console.error(`${scenario} failed:`, err);
      failed.push(scenario);
      continue;
    }
    const record = { date: startedAt, node: process.version, loadAverage: { before: loadBefore, after: loadAverage() }, ...result };
    console.log(JSON.stringify(summary(record)));
    await writeFile(path.join(RESULTS_DIR, `${scenario}.json`), `${JSON.stringify(record, null, 2)}\n`);
  }
  if (!(values['no-charts'] ?? false)) await drawCharts(RESULTS_DIR, path.join(repoRoot(), 'docs', 'benchmarks'));
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

/** The result without its raw series (latency samples, RSS over time), for the terminal. */
function summary(record: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(record, (key, value: unknown) =>
    key.endsWith('Series') || key.endsWith('Samples') || key.endsWith('SamplesMs') ? undefined : value)) as Record<string, unknown>;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
