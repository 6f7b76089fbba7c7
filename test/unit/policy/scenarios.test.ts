// End-to-end over the pure engine, one YAML file per scenario: match → workload → evaluate → plan → apply.
import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { findingKey, matchPod, planRemediation, resolvePolicy, evaluateWorkload } from '../../../src/policy/index.js';
import type { MatchResult, Skip } from '../../../src/policy/index.js';
import { absentIfNull, fixtureFiles, loadFixture } from './fixtures.js';
import { expectPatchConverges, expectPlan, workloadOf } from './plan-helpers.js';
import type { ExpectedPlan } from './plan-helpers.js';

interface Scenario {
  name: string;
  now: string;
  policy: ImmutabilityPolicySpec;
  namespaceLabels: Record<string, string> | null;
  object: { metadata?: { labels?: Record<string, string> }; spec?: { template?: { metadata?: { labels?: Record<string, string> } } } };
  expect: {
    match: MatchResult;
    findings?: string[];
    skips?: Partial<Skip>[];
    plan?: ExpectedPlan;
  };
}

describe('policy scenarios', () => {
  const files = fixtureFiles('scenarios');
  it('has scenario fixtures', () => expect(files).to.not.be.empty);
  for (const file of files) {
    const scenario = loadFixture<Scenario>(file);
    it(scenario.name, () => {
      const now = new Date(scenario.now);
      const policy = resolvePolicy('scenario', scenario.policy);
      const workload = workloadOf(scenario.object);
      const labels = scenario.object.spec?.template?.metadata?.labels ?? scenario.object.metadata?.labels;
      const target = labels === undefined ? { namespace: workload.namespace } : { namespace: workload.namespace, labels };
      const match = matchPod(policy, target, absentIfNull(scenario.namespaceLabels));
      expect(match.matched).to.equal(scenario.expect.match.matched);
      if (!match.matched) {
        expect(match.reason).to.include(scenario.expect.match.reason ?? '\u0000');
        return;
      }
      const evaluation = evaluateWorkload(policy, workload, now);
      if (evaluation.outcome === 'error') throw new Error(evaluation.error);
      expect(evaluation.findings.map(findingKey)).to.deep.equal(scenario.expect.findings);
      expect(evaluation.skips.map(({ container, rule }) => ({ container, rule })))
        .to.deep.equal((scenario.expect.skips ?? []).map(({ container, rule }) => ({ container, rule })));
      evaluation.skips.forEach((skip, i) => expect(skip.reason).to.include(scenario.expect.skips?.[i]?.reason ?? ''));
      const plan = planRemediation(policy, workload, evaluation.findings);
      if (scenario.expect.plan === undefined) throw new Error(`${file}: a matched scenario states its plan`);
      expectPlan(plan, scenario.expect.plan);
      expectPatchConverges(policy, scenario.object, evaluation.findings, plan, now);
    });
  }
});
