import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { matchPod, resolvePolicy } from '../../../src/policy/index.js';
import type { MatchTarget } from '../../../src/policy/index.js';
import { absentIfNull, loadCases } from './fixtures.js';

interface MatchCase {
  name: string;
  policy: ImmutabilityPolicySpec;
  target: MatchTarget;
  namespaceLabels: Record<string, string> | null;
  matched: boolean;
  reason?: string;
}

describe('policy/match', () => {
  const { cases } = loadCases<MatchCase>('match.yaml');
  for (const c of cases) {
    it(c.name, () => {
      const result = matchPod(resolvePolicy('p', c.policy), c.target, absentIfNull(c.namespaceLabels));
      expect(result.matched).to.equal(c.matched);
      if (c.matched) {
        expect(result.reason).to.equal(undefined);
      } else {
        expect(c.reason, 'a non-matching fixture names the expected reason').to.be.a('string');
        expect(result.reason).to.include(c.reason);
      }
    });
  }
});
