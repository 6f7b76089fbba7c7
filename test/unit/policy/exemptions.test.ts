import { expect } from 'chai';
import type { Exemption } from '../../../src/api/types.js';
import { activeExemption, exemptionExpired, parseRfc3339, resolvePolicy } from '../../../src/policy/index.js';
import type { ExemptionContext } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';

interface ExemptionCase {
  name: string;
  now?: string;
  exemptions: Exemption[];
  ctx: ExemptionContext;
  expect: string | null;
}

interface Rfc3339Case {
  value: string;
  utc: string | null;
}

describe('policy/exemptions', () => {
  const { defaults, cases } = loadCases<ExemptionCase>('exemptions.yaml');
  for (const c of cases) {
    it(c.name, () => {
      const policy = resolvePolicy('p', { exemptions: c.exemptions });
      const now = new Date(c.now ?? defaults.now ?? '');
      expect(Number.isNaN(now.getTime()), 'fixture has a valid now').to.equal(false);
      expect(activeExemption(policy, c.ctx, now)?.reason ?? null).to.equal(c.expect);
    });
  }

  it('an exemption without expires never expires', () => {
    expect(exemptionExpired({ reason: 'x' }, new Date('9999-12-31T23:59:59Z'))).to.equal(false);
  });
});

describe('policy/time parseRfc3339', () => {
  const { cases } = loadCases<Rfc3339Case>('rfc3339.yaml');
  for (const c of cases) {
    it(`${JSON.stringify(c.value)} → ${c.utc ?? 'invalid'}`, () => {
      const parsed = parseRfc3339(c.value);
      expect(parsed === undefined ? null : new Date(parsed).toISOString()).to.equal(c.utc);
    });
  }
});
