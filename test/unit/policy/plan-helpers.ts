// Shared assertions for plan and scenario tests.
import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import {
  applyJsonPatch,
  evaluateWorkload,
  findingKey,
  planRemediation,
  workloadFromObject,
} from '../../../src/policy/index.js';
import type { Finding, RemediationPlan, ResolvedPolicy, Workload } from '../../../src/policy/index.js';

export interface ExpectedPlan {
  patchedRules: string[];
  patch: unknown[];
  message: string;
  unpatchable: string[];
}

/** One case of test/unit/policy/fixtures/plan.yaml. */
export interface PlanCase {
  name: string;
  now?: string;
  policy: ImmutabilityPolicySpec;
  object: unknown;
  findings?: Finding[];
  plan: ExpectedPlan;
}

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function workloadOf(object: unknown): Workload {
  const workload = workloadFromObject(object);
  if ('error' in workload) throw new Error(`fixture object is not a workload: ${workload.error}`);
  return workload;
}

export function findingsOf(policy: ResolvedPolicy, workload: Workload, now: Date): Finding[] {
  const evaluation = evaluateWorkload(policy, workload, now);
  if (evaluation.outcome === 'error') throw new Error(`fixture object could not be evaluated: ${evaluation.error}`);
  return evaluation.findings;
}

export function expectPlan(plan: RemediationPlan, expected: ExpectedPlan): void {
  expect(plan.patch).to.deep.equal(expected.patch);
  expect(plan.message).to.equal(expected.message);
  expect(plan.patchedRules).to.deep.equal(expected.patchedRules);
  expect(plan.unpatchable.map(findingKey)).to.deep.equal(expected.unpatchable);
}

/**
 * The patch must apply cleanly, fix what it claims to fix, use valid volume names, and be idempotent:
 * planning again over the patched object (with fresh or with the old findings) yields an empty patch.
 */
export function expectPatchConverges(
  policy: ResolvedPolicy,
  object: unknown,
  findings: Finding[],
  plan: RemediationPlan,
  now: Date,
): void {
  const patched = applyJsonPatch(object, plan.patch);
  const workload = workloadOf(patched);
  const fresh = findingsOf(policy, workload, now);
  // Every finding the plan took on (all but the unpatchable ones) is gone after the patch.
  const identity = (f: Finding): string => `${f.containerType}/${findingKey(f)}`;
  const unpatchable = new Set(plan.unpatchable.map(identity));
  const claimed = new Set(findings.filter((f) => policy.rules[f.rule] && !unpatchable.has(identity(f))).map(identity));
  expect(fresh.filter((f) => claimed.has(identity(f)))).to.deep.equal([]);
  expect(planRemediation(policy, workload, fresh).patch).to.deep.equal([]);
  expect(planRemediation(policy, workload, findings).patch).to.deep.equal([]);
  for (const volume of workload.podSpec.volumes ?? []) {
    expect(volume.name).to.match(DNS_1123_LABEL);
    expect(volume.name.length).to.be.at.most(63);
  }
}

