import { expect } from 'chai';
import { falcoAlertCounts, falcoPriorityRank, parseFalcoPriority, resolvePolicy } from '../../../src/policy/index.js';

describe('Falco filter (spec.falco)', function () {
  it('ranks priorities most severe first and reads Falco\'s spellings', function () {
    expect(falcoPriorityRank('Emergency')).to.equal(0);
    expect(falcoPriorityRank('Debug')).to.equal(7);
    expect(parseFalcoPriority('NOTICE')).to.equal('Notice');
    expect(parseFalcoPriority(' warn ')).to.equal('Warning');
    expect(parseFalcoPriority('loud')).to.equal(undefined);
  });

  const table: { name: string; falco?: { minimumPriority?: 'Critical' | 'Debug'; rules?: string[] }; rule: string; priority: 'Notice' | 'Informational' | 'Critical' | 'Error'; counts: boolean }[] = [
    { name: 'default: Notice counts', rule: 'Terminal shell in container', priority: 'Notice', counts: true },
    { name: 'default: Informational does not', rule: 'Terminal shell in container', priority: 'Informational', counts: false },
    { name: 'Debug minimum takes everything', falco: { minimumPriority: 'Debug' }, rule: 'x', priority: 'Informational', counts: true },
    { name: 'Critical minimum drops Error', falco: { minimumPriority: 'Critical' }, rule: 'x', priority: 'Error', counts: false },
    { name: 'Critical minimum keeps Critical', falco: { minimumPriority: 'Critical' }, rule: 'x', priority: 'Critical', counts: true },
    { name: 'a listed rule', falco: { rules: ['Drop and execute new binary in container'] }, rule: 'Drop and execute new binary in container', priority: 'Critical', counts: true },
    { name: 'an unlisted rule', falco: { rules: ['Drop and execute new binary in container'] }, rule: 'Terminal shell in container', priority: 'Critical', counts: false },
  ];
  for (const tc of table) {
    it(tc.name, function () {
      const policy = resolvePolicy('p', { rules: { falco: true }, ...(tc.falco ? { falco: tc.falco } : {}) });
      expect(falcoAlertCounts(policy, { rule: tc.rule, priority: tc.priority })).to.equal(tc.counts);
    });
  }
});
