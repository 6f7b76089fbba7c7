import { expect } from 'chai';
import { planRemediation, resolvePolicy } from '../../../src/policy/index.js';
import type { Finding, Workload } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';
import { expectPatchConverges, expectPlan, findingsOf, workloadOf } from './plan-helpers.js';
import type { PlanCase } from './plan-helpers.js';

describe('policy/plan', () => {
  const { defaults, cases } = loadCases<PlanCase>('plan.yaml');
  for (const c of cases) {
    it(c.name, () => {
      const now = new Date(c.now ?? defaults.now ?? '');
      const policy = resolvePolicy('p', c.policy);
      const workload = workloadOf(c.object);
      const findings = c.findings ?? findingsOf(policy, workload, now);
      const plan = planRemediation(policy, workload, findings);
      expectPlan(plan, c.plan);
      expectPatchConverges(policy, c.object, findings, plan, now);
    });
  }

  it('reads a malformed template defensively', () => {
    const policy = resolvePolicy('p', {});
    const workload = { kind: 'Pod', namespace: 'x', name: 'p', podSpecPath: '/spec', podSpec: 'broken' } as unknown as Workload;
    const finding: Finding = { container: 'a', containerType: 'container', rule: 'privileged', fieldPath: '', message: '' };
    const plan = planRemediation(policy, workload, [finding]);
    expect(plan.patch).to.deep.equal([]);
    expect(plan.unpatchable).to.deep.equal([finding]);
  });
});
