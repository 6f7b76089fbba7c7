import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { DEFAULT_EXCLUDED_NAMESPACES, DEFAULT_RULES } from '../../../src/api/types.js';
import { resolvePolicy } from '../../../src/policy/index.js';
import type { ResolvedPolicy } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';

interface DefaultsCase {
  name: string;
  spec: ImmutabilityPolicySpec;
  resolved: ResolvedPolicy;
}

describe('policy/defaults', () => {
  const { cases } = loadCases<DefaultsCase>('defaults.yaml');
  for (const c of cases) {
    it(c.name, () => {
      expect(resolvePolicy('p', c.spec)).to.deep.equal(c.resolved);
    });
  }

  it('does not share or mutate the default lists and rules', () => {
    const resolved = resolvePolicy('p', {});
    resolved.match.excludedNamespaces.push('mine');
    resolved.rules.exec = true;
    expect(DEFAULT_EXCLUDED_NAMESPACES).to.not.include('mine');
    expect(DEFAULT_RULES.exec).to.equal(false);
    expect(resolvePolicy('p', {}).match.excludedNamespaces).to.not.include('mine');
  });

  it('ignores rule values that are not booleans', () => {
    const spec = { rules: { privileged: 'no' } } as unknown as ImmutabilityPolicySpec;
    expect(resolvePolicy('p', spec).rules.privileged).to.equal(true);
  });
});
