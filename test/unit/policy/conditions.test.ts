import { expect } from 'chai';
import type { Condition } from '../../../src/api/types.js';
import { findCondition, setConditions, type DesiredCondition } from '../../../src/policy/conditions.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:05:00Z';

const ready = (status: Condition['status'], reason = 'Evaluating', message = 'ok', observedGeneration = 1): DesiredCondition =>
  ({ type: 'Ready', status, reason, message, observedGeneration });

describe('policy/conditions setConditions', () => {
  it('stamps every condition with `now` when there is no previous status', () => {
    const out = setConditions(undefined, [ready('True'), { type: 'Compliant', status: 'False', reason: 'ViolationsFound', message: 'm' }], T1);
    expect(out).to.deep.equal([
      { type: 'Ready', status: 'True', reason: 'Evaluating', message: 'ok', observedGeneration: 1, lastTransitionTime: T1 },
      { type: 'Compliant', status: 'False', reason: 'ViolationsFound', message: 'm', lastTransitionTime: T1 },
    ]);
  });

  // lastTransitionTime moves only when status changes (metav1.Condition), so GitOps tools see no flap.
  const table: { name: string; previous: Condition; desired: DesiredCondition; transition: string }[] = [
    { name: 'same status, same everything', previous: { ...ready('True'), lastTransitionTime: T0 }, desired: ready('True'), transition: T0 },
    { name: 'same status, new reason', previous: { ...ready('True'), lastTransitionTime: T0 }, desired: ready('True', 'Other'), transition: T0 },
    { name: 'same status, new message', previous: { ...ready('True'), lastTransitionTime: T0 }, desired: ready('True', 'Evaluating', 'new'), transition: T0 },
    { name: 'same status, new generation', previous: { ...ready('True'), lastTransitionTime: T0 }, desired: ready('True', 'Evaluating', 'ok', 7), transition: T0 },
    { name: 'True → False', previous: { ...ready('True'), lastTransitionTime: T0 }, desired: ready('False'), transition: T1 },
    { name: 'False → True', previous: { ...ready('False'), lastTransitionTime: T0 }, desired: ready('True'), transition: T1 },
    { name: 'True → Unknown', previous: { ...ready('True'), lastTransitionTime: T0 }, desired: ready('Unknown'), transition: T1 },
  ];
  for (const c of table) {
    it(`${c.name}: lastTransitionTime ${c.transition === T0 ? 'kept' : 'moves to now'}`, () => {
      const [out] = setConditions([c.previous], [c.desired], T1);
      expect(out).to.deep.equal({ ...c.desired, lastTransitionTime: c.transition });
    });
  }

  it('matches previous conditions by type, whatever their order', () => {
    const previous: Condition[] = [
      { type: 'Degraded', status: 'False', reason: 'RemediationHealthy', message: '', lastTransitionTime: 'd' },
      { type: 'Compliant', status: 'True', reason: 'AllCompliant', message: '', lastTransitionTime: 'c' },
      { type: 'Ready', status: 'True', reason: 'Evaluating', message: '', lastTransitionTime: 'r' },
    ];
    const out = setConditions(previous, [
      ready('True'),
      { type: 'Compliant', status: 'False', reason: 'ViolationsFound', message: 'x' },
      { type: 'Degraded', status: 'False', reason: 'RemediationHealthy', message: 'y' },
    ], T1);
    expect(out.map((c) => [c.type, c.lastTransitionTime])).to.deep.equal([['Ready', 'r'], ['Compliant', T1], ['Degraded', 'd']]);
  });

  it('returns conditions in desired order and drops previous types no longer desired', () => {
    const previous: Condition[] = [
      { type: 'Degraded', status: 'True', reason: 'PatchFailed', message: '', lastTransitionTime: T0 },
      { type: 'Ready', status: 'True', reason: 'Evaluating', message: '', lastTransitionTime: T0 },
    ];
    const out = setConditions(previous, [{ type: 'Compliant', status: 'True', reason: 'AllCompliant', message: '' }, ready('True')], T1);
    expect(out.map((c) => c.type)).to.deep.equal(['Compliant', 'Ready']);
    expect(out[0]?.lastTransitionTime).to.equal(T1);
    expect(out[1]?.lastTransitionTime).to.equal(T0);
  });

  it('does not mutate its inputs', () => {
    const previous: Condition[] = [{ ...ready('True'), lastTransitionTime: T0 }];
    const desired = [ready('False')];
    const before = JSON.stringify({ previous, desired });
    setConditions(previous, desired, T1);
    expect(JSON.stringify({ previous, desired })).to.equal(before);
  });

  it('returns an empty list for no desired conditions', () => {
    expect(setConditions([{ ...ready('True'), lastTransitionTime: T0 }], [], T1)).to.deep.equal([]);
  });
});

describe('policy/conditions findCondition', () => {
  const conditions: Condition[] = [
    { ...ready('True'), lastTransitionTime: T0 },
    { type: 'Compliant', status: 'False', reason: 'DriftDetected', message: 'm', lastTransitionTime: T1 },
  ];
  it('finds a condition by type', () => {
    expect(findCondition(conditions, 'Compliant')?.reason).to.equal('DriftDetected');
    expect(findCondition(conditions, 'Ready')?.status).to.equal('True');
  });
  it('returns undefined for an absent type or absent list', () => {
    expect(findCondition(conditions, 'Degraded')).to.equal(undefined);
    expect(findCondition(undefined, 'Ready')).to.equal(undefined);
    expect(findCondition([], 'Ready')).to.equal(undefined);
  });
});
