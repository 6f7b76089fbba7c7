// The scenario framework: a family of scenarios is one module under bench/scenarios/ exporting a
// ScenarioFamily; bench/scenarios/index.ts lists the families; bench/run.ts runs them, each on its own fresh
// control plane, and writes one results file per scenario.
import type { BenchCluster, ClusterOptions } from './cluster.js';

export type Result = Record<string, unknown> & { scenario: string };

export interface ScenarioContext {
  /** The scenario's own control plane (absent for families that declare `cluster: false`). */
  cluster: BenchCluster;
  /** `--seconds`: how long paced scenarios run. */
  seconds: number;
  /** `--quick`: laptop-sized run. */
  quick: boolean;
}

export interface ScenarioFamily {
  /** The scenario names' first word: `steady` runs `steady-100`. */
  readonly family: string;
  /** One line per scenario shape, for `--help`. */
  readonly usage: string;
  /** What `make bench` runs of this family, and what `--quick` runs. */
  readonly all: readonly string[];
  readonly quick: readonly string[];
  /** Whether its scenarios need a control plane (default) and with which options. */
  readonly cluster?: false | ((name: string) => ClusterOptions | Promise<ClusterOptions>);
  run(name: string, ctx: ScenarioContext): Promise<Result>;
}

/** The family a scenario name belongs to: its text up to the first `-`. */
export function familyOf(families: readonly ScenarioFamily[], scenario: string): ScenarioFamily {
  const prefix = scenario.split('-')[0];
  const family = families.find((f) => f.family === prefix);
  if (!family) throw new Error(`unknown scenario "${scenario}"; families: ${families.map((f) => f.family).join(', ')}`);
  return family;
}

/** `name-<n>` → n; throws on anything else, so that a typo fails before a control plane starts. */
export function numberAfter(prefix: string, name: string): number {
  const m = new RegExp(`^${prefix}-(\\d+)$`).exec(name);
  if (!m) throw new Error(`scenario "${name}" is not ${prefix}-<number>`);
  return Number(m[1]);
}

/** Waits `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
