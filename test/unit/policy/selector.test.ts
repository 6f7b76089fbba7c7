import { expect } from 'chai';
import type { LabelSelector } from '../../../src/api/types.js';
import { labelSelectorMatches, labelSelectorProblem } from '../../../src/policy/index.js';
import { absentIfNull, loadCases } from './fixtures.js';

interface SelectorCase {
  name: string;
  selector: LabelSelector | null;
  labels: Record<string, string> | null;
  matches: boolean;
  problem?: string;
}

describe('policy/selector', () => {
  const { cases } = loadCases<SelectorCase>('selector.yaml');
  for (const c of cases) {
    it(c.name, () => {
      const selector = absentIfNull(c.selector);
      expect(labelSelectorMatches(selector, absentIfNull(c.labels))).to.equal(c.matches);
      const problem = labelSelectorProblem(selector);
      if (c.problem === undefined) expect(problem).to.equal(undefined);
      else expect(problem).to.include(c.problem);
    });
  }
});
