// `check` against its peers, in one run: our CLI, kube-score and the Kyverno CLI judge the same generated
// Deployments — N of them in one multi-document file, and one manifest alone (what a pre-commit hook or a CI
// step on one file pays). Each tool runs several times; the median wall time and peak RSS (the kernel's
// maximum RSS, through GNU time) are recorded. The verdicts (which Deployment fails which rule) of ours and
// Kyverno's must be identical to each other and to what the generator intended, or the scenario fails;
// kube-score's agreement on its equivalent checks is reported. No control plane is involved.
//
//   check-N   N Deployments (make bench: 5,000; --quick: 1,000, fewer repetitions)
//
// The peers are built from their Go modules by hack/peers/build.sh (cached like the control plane); their
// policies are in bench/peers/. Method and results: docs/benchmarks.md.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../test/support/controlplane/binaries.js';
import { numberAfter } from '../lib/scenario.js';
import type { Result, ScenarioContext, ScenarioFamily } from '../lib/scenario.js';
import { round1 } from '../lib/stats.js';
import type { TopLevelSpec } from 'vega-lite';

/** The two rules the peers share with us; the keys are our rule names. */
export const RULES = ['privileged', 'readOnlyRootFilesystem'] as const;
export type Rule = (typeof RULES)[number];
/** `namespace/name` → the rules the Deployment fails (absent: it passes both). */
export type Verdicts = Map<string, Set<Rule>>;

/** Kyverno's ClusterPolicies (bench/peers/kyverno/) and the rule of ours each one checks. */
const KYVERNO_POLICIES: Readonly<Record<string, Rule>> = {
  'disallow-privileged-containers': 'privileged',
  'require-ro-rootfs': 'readOnlyRootFilesystem',
};
/** kube-score's check names for the same two rules (both are on by default). */
const KUBE_SCORE_CHECKS: Readonly<Record<string, Rule>> = {
  'Container Security Context Privileged': 'privileged',
  'Container Security Context ReadOnlyRootFilesystem': 'readOnlyRootFilesystem',
};

// ---------------------------------------------------------------------------------------------------------
// The workload: Deployments as teams write them (probes, resources, env, volumes), a quarter each privileged,
// with a writable root, both, or fine; some with a sidecar that is the offender. Deterministic, so that every
// run and every tool sees the same bytes.

type Shape = 'fine' | 'privileged' | 'writableRoot' | 'both';
const SHAPES: readonly Shape[] = ['fine', 'privileged', 'writableRoot', 'both'];

interface GeneratedDeployment { namespace: string; name: string; expected: Set<Rule>; yaml: string }

function securityContext(privileged: boolean, writableRoot: boolean, variant: number): string[] {
  // A writable root is spelled three ways (no securityContext, the field unset, the field false), as in real
  // manifests; every tool must read all three as "not read-only".
  const lines: string[] = [];
  if (writableRoot && variant % 3 === 0 && !privileged) return lines;
  lines.push('securityContext:');
  lines.push('  allowPrivilegeEscalation: false');
  if (privileged) lines.push('  privileged: true');
  else if (variant % 2 === 0) lines.push('  privileged: false');
  if (!writableRoot) lines.push('  readOnlyRootFilesystem: true');
  else if (variant % 3 === 1) lines.push('  readOnlyRootFilesystem: false');
  lines.push('  runAsNonRoot: true', '  runAsUser: 10001', '  capabilities:', '    drop: ["ALL"]');
  return lines;
}

function container(name: string, image: string, sc: string[], port: number): string[] {
  return [
    `- name: ${name}`,
    `  image: ${image}`,
    '  imagePullPolicy: IfNotPresent',
    '  ports:',
    `  - containerPort: ${port}`,
    '    protocol: TCP',
    '  env:',
    '  - name: LOG_LEVEL',
    '    value: info',
    '  - name: POD_NAME',
    '    valueFrom:',
    '      fieldRef: {fieldPath: metadata.name}',
    '  resources:',
    '    requests: {cpu: 50m, memory: 64Mi}',
    '    limits: {cpu: 500m, memory: 256Mi}',
    '  readinessProbe:',
    `    httpGet: {path: /healthz, port: ${port}}`,
    '    periodSeconds: 10',
    '  livenessProbe:',
    `    httpGet: {path: /healthz, port: ${port}}`,
    '    initialDelaySeconds: 5',
    '  volumeMounts:',
    '  - {name: tmp, mountPath: /tmp}',
    ...sc.map((line) => `  ${line}`),
  ];
}

export function generateDeployment(index: number): GeneratedDeployment {
  const shape = SHAPES[index % SHAPES.length]!;
  const privileged = shape === 'privileged' || shape === 'both';
  const writableRoot = shape === 'writableRoot' || shape === 'both';
  const namespace = `team-${index % 10}`;
  const name = `web-${index}`;
  // Every third Deployment has a sidecar; for every other one of those, the sidecar is the offender.
  const sidecar = index % 3 === 0;
  const offenderIsSidecar = sidecar && index % 2 === 0;
  const variant = Math.floor(index / SHAPES.length);
  const fine = securityContext(false, false, variant);
  const offending = securityContext(privileged, writableRoot, variant);
  const containers = [
    ...container('app', `registry.example/team-${index % 10}/web:1.${index % 7}.0`, offenderIsSidecar ? fine : offending, 8080),
    ...(sidecar ? container('proxy', 'registry.example/platform/proxy:2.4.1', offenderIsSidecar ? offending : fine, 9090) : []),
  ];
  const yaml = [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    '  labels:',
    `    app.kubernetes.io/name: ${name}`,
    '    app.kubernetes.io/part-of: shop',
    '  annotations:',
    `    example.com/owner: team-${index % 10}@example.com`,
    'spec:',
    `  replicas: ${1 + (index % 3)}`,
    '  selector:',
    `    matchLabels: {app.kubernetes.io/name: ${name}}`,
    '  template:',
    '    metadata:',
    `      labels: {app.kubernetes.io/name: ${name}, app.kubernetes.io/part-of: shop}`,
    '    spec:',
    '      serviceAccountName: web',
    '      automountServiceAccountToken: false',
    '      containers:',
    ...containers.map((line) => `      ${line}`),
    '      volumes:',
    '      - name: tmp',
    '        emptyDir: {}',
  ].join('\n');
  const expected = new Set<Rule>();
  if (privileged) expected.add('privileged');
  if (writableRoot) expected.add('readOnlyRootFilesystem');
  return { namespace, name, expected, yaml };
}

// ---------------------------------------------------------------------------------------------------------
// Reading each tool's verdicts.

function verdictsFrom(pairs: Iterable<[string, Rule]>, keys: Iterable<string>): Verdicts {
  const verdicts: Verdicts = new Map([...keys].map((key) => [key, new Set<Rule>()]));
  for (const [key, rule] of pairs) {
    const rules = verdicts.get(key);
    if (rules === undefined) throw new Error(`a verdict names ${key}, which is not among the generated Deployments`);
    rules.add(rule);
  }
  return verdicts;
}

/** Our `check -o json` (docs/check-output.md). */
export function oursVerdicts(json: string, keys: Iterable<string>): Verdicts {
  const report = JSON.parse(json) as { results: { namespace: string; name: string; findings: { rule: string }[] }[] };
  const pairs: [string, Rule][] = [];
  for (const result of report.results) {
    for (const finding of result.findings) {
      if (!(RULES as readonly string[]).includes(finding.rule)) throw new Error(`unexpected rule ${finding.rule} in our output`);
      pairs.push([`${result.namespace}/${result.name}`, finding.rule as Rule]);
    }
  }
  return verdictsFrom(pairs, keys);
}

/** `kyverno apply --policy-report --output-format json`: a report whose results say pass/fail per policy. */
export function kyvernoVerdicts(json: string, keys: Iterable<string>): Verdicts {
  // The CLI prints a line of its own before the report; the report is the JSON object that follows.
  const report = JSON.parse(json.slice(json.indexOf('{'))) as {
    results?: { policy: string; result: string; resources?: { namespace?: string; name: string }[] }[];
  };
  const pairs: [string, Rule][] = [];
  for (const result of report.results ?? []) {
    const rule = KYVERNO_POLICIES[result.policy];
    if (rule === undefined) throw new Error(`unexpected policy ${result.policy} in Kyverno's report`);
    if (result.result === 'pass') continue;
    if (result.result !== 'fail') throw new Error(`Kyverno reported ${result.result} for ${result.policy}`);
    for (const resource of result.resources ?? []) pairs.push([`${resource.namespace ?? ''}/${resource.name}`, rule]);
  }
  return verdictsFrom(pairs, keys);
}

/**
 * kube-score's default (human) output: a header line per object (`apps/v1/Deployment web-1 in team-1  💥`),
 * then a `    [CRITICAL] <check name>` line per failed check.
 */
export function kubeScoreVerdicts(text: string, keys: Iterable<string>): Verdicts {
  const pairs: [string, Rule][] = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const header = /^\S+\/Deployment (\S+) in (\S+)/.exec(line);
    if (header !== null) {
      current = `${header[2]}/${header[1]}`;
      continue;
    }
    const check = /^ {4}\[(CRITICAL|WARNING)\] (.+?)\s*$/.exec(line);
    const rule = check === null ? undefined : KUBE_SCORE_CHECKS[check[2]!];
    if (rule !== undefined && current !== undefined) pairs.push([current, rule]);
  }
  return verdictsFrom(pairs, keys);
}

export interface Agreement { deployments: number; agree: number; differ: string[] }

/** Compares two verdict maps Deployment by Deployment; `differ` names up to 10 disagreements. */
export function agreement(a: Verdicts, b: Verdicts): Agreement {
  const differ: string[] = [];
  let agree = 0;
  for (const [key, rules] of a) {
    const other = b.get(key) ?? new Set<Rule>();
    const same = rules.size === other.size && [...rules].every((rule) => other.has(rule));
    if (same) agree += 1;
    else if (differ.length < 10) differ.push(`${key}: [${[...rules].join(',')}] vs [${[...other].join(',')}]`);
  }
  return { deployments: a.size, agree, differ };
}

// ---------------------------------------------------------------------------------------------------------
// Measuring.

export interface Sample { wallMs: number; peakRssMiB: number; exitCode: number }
export interface Measured { tool: string; input: string; runs: Sample[]; medianWallMs: number; medianPeakRssMiB: number }

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Runs `argv` once under GNU time (`/usr/bin/time -v`, for the peak RSS the kernel records), its stdout into
 * `stdoutFile`. The wall time is taken here, around the whole process, so every tool pays the same overhead.
 */
async function runOnce(argv: readonly string[], stdoutFile: string, workDir: string): Promise<Sample> {
  const timeFile = path.join(workDir, 'time.txt');
  const out = openSync(stdoutFile, 'w');
  const err = openSync(path.join(workDir, 'stderr.txt'), 'w');
  const start = performance.now();
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', '-o', timeFile, ...argv], { stdio: ['ignore', out, err], cwd: workDir });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? -1));
  }).finally(() => {
    closeSync(out);
    closeSync(err);
  });
  const wallMs = performance.now() - start;
  const timeReport = await readFile(timeFile, 'utf8');
  const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timeReport)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`${argv[0]}: no peak RSS in /usr/bin/time's report:\n${timeReport}`);
  return { wallMs: round1(wallMs), peakRssMiB: round1(kb / 1024), exitCode };
}

interface Tool {
  name: string;
  argv: (manifest: string) => string[];
  /** Exit codes that mean "ran and judged" (violations found is not a failure of the tool). */
  okExitCodes: readonly number[];
}

async function measure(tool: Tool, input: { name: string; file: string }, repetitions: number, workDir: string): Promise<{ measured: Measured; output: string }> {
  const stdoutFile = path.join(workDir, `${tool.name}-${input.name}.out`);
  const runs: Sample[] = [];
  for (let i = 0; i < repetitions; i++) {
    const sample = await runOnce(tool.argv(input.file), stdoutFile, workDir);
    if (!tool.okExitCodes.includes(sample.exitCode)) {
      const stderr = await readFile(path.join(workDir, 'stderr.txt'), 'utf8');
      throw new Error(`${tool.name} on ${input.name} exited ${sample.exitCode}:\n${stderr.slice(0, 2000)}`);
    }
    runs.push(sample);
  }
  const measured: Measured = {
    tool: tool.name, input: input.name, runs,
    medianWallMs: round1(median(runs.map((r) => r.wallMs))),
    medianPeakRssMiB: round1(median(runs.map((r) => r.peakRssMiB))),
  };
  console.error(`${tool.name} ${input.name}: median ${measured.medianWallMs} ms, ${measured.medianPeakRssMiB} MiB`);
  return { measured, output: await readFile(stdoutFile, 'utf8') };
}

async function buildPeers(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [path.join(repoRoot(), 'hack', 'peers', 'build.sh')], { maxBuffer: 1 << 20 });
  return stdout.trim();
}

async function toolVersion(argv: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(argv[0]!, argv.slice(1));
  return stdout.trim().split('\n')[0] ?? '';
}

async function run(name: string, ctx: ScenarioContext): Promise<Result> {
  const count = numberAfter('check', name);
  if (!existsSync('/usr/bin/time')) throw new Error('check-N measures peak RSS with GNU time: install it (Debian package `time`)');
  const repetitions = ctx.quick ? 3 : 5;
  const root = repoRoot();
  const peers = await buildPeers();
  const kubeScore = path.join(peers, 'kube-score');
  const kyverno = path.join(peers, 'kyverno');
  const ours = path.join(root, 'dist', 'src', 'cli', 'main.js');
  const peersDir = path.join(root, 'bench', 'peers');
  const ourPolicy = path.join(peersDir, 'immutability-policy.yaml');
  const kyvernoPolicies = Object.keys(KYVERNO_POLICIES).map((policy) => path.join(peersDir, 'kyverno', `${policy}.yaml`));

  const workDir = await mkdtemp(path.join(tmpdir(), 'check-peers-'));
  try {
    const generated = Array.from({ length: count }, (_, i) => generateDeployment(i));
    const keys = generated.map((d) => `${d.namespace}/${d.name}`);
    const many = { name: `deployments-${count}`, file: path.join(workDir, 'deployments.yaml') };
    const one = { name: 'one-manifest', file: path.join(workDir, 'one.yaml') };
    await writeFile(many.file, generated.map((d) => d.yaml).join('\n---\n') + '\n');
    // The one manifest violates both rules, so that every tool has something to say about it.
    await writeFile(one.file, generateDeployment(3).yaml + '\n');

    const tools: Tool[] = [
      // The default table output, what a CI log shows; and JSON, from which the verdicts are read.
      { name: 'ours', argv: (f) => [process.execPath, ours, 'check', '-p', ourPolicy, '-f', f], okExitCodes: [0, 1] },
      { name: 'ours-json', argv: (f) => [process.execPath, ours, 'check', '-p', ourPolicy, '-f', f, '-o', 'json'], okExitCodes: [0, 1] },
      // Its default (human) output.
      { name: 'kube-score', argv: (f) => [kubeScore, 'score', f], okExitCodes: [0, 1] },
      // --policy-report makes Kyverno print which resource fails which policy: the verdicts compared below.
      { name: 'kyverno', argv: (f) => [kyverno, 'apply', ...kyvernoPolicies, '--resource', f, '--policy-report', '--output-format', 'json'], okExitCodes: [0, 1] },
    ];
    const measurements: Measured[] = [];
    const outputs = new Map<string, string>();
    for (const input of [many, one]) {
      for (const tool of tools) {
        const { measured, output } = await measure(tool, input, repetitions, workDir);
        measurements.push(measured);
        outputs.set(`${tool.name}/${input.name}`, output);
      }
    }

    const expected: Verdicts = new Map(generated.map((d) => [`${d.namespace}/${d.name}`, d.expected]));
    const oursVerdict = oursVerdicts(outputs.get(`ours-json/${many.name}`)!, keys);
    const verdicts = {
      oursVsGenerator: agreement(oursVerdict, expected),
      oursVsKyverno: agreement(oursVerdict, kyvernoVerdicts(outputs.get(`kyverno/${many.name}`)!, keys)),
      oursVsKubeScore: agreement(oursVerdict, kubeScoreVerdicts(outputs.get(`kube-score/${many.name}`)!, keys)),
    };
    if (verdicts.oursVsGenerator.agree !== count || verdicts.oursVsKyverno.agree !== count) {
      throw new Error(`verdicts differ: ${JSON.stringify(verdicts)}`);
    }
    const wall = (tool: string, input: string): number => measurements.find((m) => m.tool === tool && m.input === input)!.medianWallMs;
    const ratios = {
      kubeScoreOverOurs: Math.round((wall('kube-score', many.name) / wall('ours', many.name)) * 100) / 100,
      kyvernoOverOurs: Math.round((wall('kyverno', many.name) / wall('ours', many.name)) * 100) / 100,
    };
    return {
      scenario: name,
      deployments: count,
      repetitions,
      inputBytes: (await readFile(many.file)).length,
      versions: {
        kubeScore: await toolVersion([kubeScore, 'version']),
        kyverno: await toolVersion([kyverno, 'version']),
      },
      measurements,
      ratios,
      targets: {
        fasterThanKubeScore: ratios.kubeScoreOverOurs > 1,
        fiveTimesFasterThanKyverno: ratios.kyvernoOverOurs >= 5,
        oneManifestWithin250ms: wall('ours', one.name) <= 250,
        verdictsIdenticalToKyverno: true,
      },
      verdicts,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

export const checkFamily: ScenarioFamily = {
  family: 'check',
  usage: 'check-N         our `check`, kube-score and the Kyverno CLI on N generated Deployments and on one manifest (no cluster)',
  all: ['check-5000'],
  quick: ['check-1000'],
  cluster: false,
  run,
};

/** The names readers know the tools by, in the order the chart draws them. */
const CHART_LABELS: Readonly<Record<string, string>> = {
  ours: 'immutability-operator check',
  'kube-score': 'kube-score (default output)',
  kyverno: 'kyverno apply',
};

/**
 * The chart of docs/benchmarks.md for the largest `check-N` result: each tool's throughput on N Deployments
 * (from the median wall time) beside its wall time on one manifest. Undefined without such a result.
 */
export function checkPeersChart(results: readonly Record<string, unknown>[]): TopLevelSpec | undefined {
  const result = results
    .filter((r) => typeof r['scenario'] === 'string' && r['scenario'].startsWith('check-') && Array.isArray(r['measurements']))
    .sort((a, b) => Number(b['deployments']) - Number(a['deployments']))[0];
  if (result === undefined) return undefined;
  const count = Number(result['deployments']);
  const rows = (result['measurements'] as Measured[])
    .filter((m) => CHART_LABELS[m.tool] !== undefined)
    .map((m) => ({
      tool: CHART_LABELS[m.tool]!,
      input: m.input,
      wallMs: m.medianWallMs,
      perSecond: Math.round((count * 1000) / m.medianWallMs),
    }));
  const y = { field: 'tool', type: 'nominal', sort: Object.values(CHART_LABELS), title: null } as const;
  const load = (result['loadAverage'] as { before?: number[] } | undefined)?.before?.join(', ') ?? 'not recorded';
  const bars = (field: string, title: string, format: string): object[] => [
    { mark: 'bar', encoding: { y, x: { field, type: 'quantitative', title } } },
    { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { y, x: { field, type: 'quantitative' }, text: { field, type: 'quantitative', format } } },
  ];
  return {
    title: {
      text: `check vs. peers: ${count.toLocaleString('en-US')} Deployments, and one manifest`,
      subtitle: `median of ${String(result['repetitions'])} runs, ${String(result['date']).slice(0, 10)}, 2 shared cores, load average before ${load}`,
    },
    data: { values: rows },
    hconcat: [
      {
        title: `${count.toLocaleString('en-US')} Deployments in one file: Deployments per second (higher is better)`,
        transform: [{ filter: "datum.input !== 'one-manifest'" }],
        width: 300, height: 90,
        layer: bars('perSecond', 'Deployments per second', ','),
      },
      {
        title: 'One manifest: wall time in ms (lower is better)',
        transform: [{ filter: "datum.input === 'one-manifest'" }],
        width: 220, height: 90,
        layer: bars('wallMs', 'milliseconds', ',.0f'),
      },
    ],
  } as TopLevelSpec;
}
