import { expect } from 'chai';
import { globMatch, globMatchAny } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';

interface GlobCase {
  pattern: string;
  value: string;
  matches: boolean;
}

describe('policy/glob', () => {
  const { cases } = loadCases<GlobCase>('glob.yaml');
  for (const c of cases) {
    it(`${JSON.stringify(c.pattern)} ${c.matches ? 'matches' : 'does not match'} ${JSON.stringify(c.value)}`, () => {
      expect(globMatch(c.pattern, c.value)).to.equal(c.matches);
      // Matching twice exercises the memoised matcher and must give the same answer.
      expect(globMatch(c.pattern, c.value)).to.equal(c.matches);
    });
  }

  it('globMatchAny is true when any pattern matches and false for an empty list', () => {
    expect(globMatchAny(['a', 'b*'], 'bc')).to.equal(true);
    expect(globMatchAny(['a', 'b*'], 'c')).to.equal(false);
    expect(globMatchAny([], 'c')).to.equal(false);
  });

  it('keeps answering correctly after many distinct patterns (bounded matcher cache)', () => {
    for (let i = 0; i < 1100; i++) expect(globMatch(`p${i}-*`, `p${i}-x`)).to.equal(true);
    expect(globMatch('p0-*', 'p1-x')).to.equal(false);
  });
});
