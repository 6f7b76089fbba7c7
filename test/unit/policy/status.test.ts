import { expect } from 'chai';
import {
  MAX_STATUS_FINDINGS, MAX_STATUS_MESSAGE_CHARS, MAX_STATUS_VIOLATIONS, Reasons,
  type ActionCounts, type Condition, type ImmutabilityPolicyStatus, type WorkloadAction,
} from '../../../src/api/types.js';
import { findCondition } from '../../../src/policy/conditions.js';
import {
  buildStatus, invalidSpecStatus, statusChanged, workloadOutcomeKey,
  type PodAssessment, type StatusInput, type WorkloadOutcome,
} from '../../../src/policy/status.js';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:01:00.000Z';
const T2 = '2026-01-01T00:02:00.000Z';
const NO_ACTIONS: ActionCounts = { labeled: 0, patched: 0, evicted: 0, rolledBack: 0 };

function assessment(
  ns: string, name: string, workload: [kind: string, name: string], findings: string[] = [],
  extra: Partial<Pick<PodAssessment, 'driftFindings' | 'error'>> = {},
): PodAssessment {
  return { namespace: ns, name, workload: { kind: workload[0], namespace: ns, name: workload[1] }, findings, ...extra };
}

function input(over: Partial<StatusInput>): StatusInput {
  return {
    generation: 3, previous: undefined, assessments: [], defaultAction: 'Planned', outcomes: new Map(),
    actions: { ...NO_ACTIONS }, now: T1, ...over,
  };
}

function condition(status: ImmutabilityPolicyStatus, type: Condition['type']): Condition {
  const c = findCondition(status.conditions, type);
  expect(c, `condition ${type}`).to.not.equal(undefined);
  return c!;
}

describe('policy/status workloadOutcomeKey', () => {
  it('joins namespace, kind and name', () => {
    expect(workloadOutcomeKey({ namespace: 'shop', kind: 'Deployment', name: 'web' })).to.equal('shop/Deployment/web');
  });
});

describe('policy/status buildStatus', () => {
  it('with no matched pods: NoMatchedPods, zero totals, Ready and Degraded healthy', () => {
    const actions: ActionCounts = { labeled: 1, patched: 2, evicted: 3, rolledBack: 4 };
    const status = buildStatus(input({ actions }));
    expect(status).to.deep.include({
      observedGeneration: 3, matchedPods: 0, violatingPods: 0, driftedPods: 0, violatingWorkloads: 0,
      actions, violations: [], lastEvaluationTime: T1,
    });
    expect(status.conditions).to.deep.equal([
      { type: 'Ready', status: 'True', reason: Reasons.Evaluating, message: 'spec accepted; pods are being evaluated', observedGeneration: 3, lastTransitionTime: T1 },
      { type: 'Compliant', status: 'True', reason: Reasons.NoMatchedPods, message: 'no pods match the policy', observedGeneration: 3, lastTransitionTime: T1 },
      { type: 'Degraded', status: 'False', reason: Reasons.RemediationHealthy, message: 'no remediation failures', observedGeneration: 3, lastTransitionTime: T1 },
    ]);
  });

  it('counts compliant pods given as a number like compliant assessments', () => {
    const listed = buildStatus(input({
      assessments: [assessment('a', 'p1', ['Deployment', 'web'], ['c:privileged']), assessment('a', 'p2', ['Deployment', 'web']), assessment('a', 'p3', ['Deployment', 'web'])],
    }));
    const counted = buildStatus(input({ assessments: [assessment('a', 'p1', ['Deployment', 'web'], ['c:privileged'])], compliant: 2 }));
    expect(counted).to.deep.equal(listed);
    expect(counted).to.deep.include({ matchedPods: 3, violatingPods: 1 });
    expect(condition(counted, 'Compliant').message).to.equal('1 of 3 matched pod(s) in 1 workload(s) violate the policy');
  });

  it('with matched pods and no findings: AllCompliant, nothing listed', () => {
    const status = buildStatus(input({
      assessments: [assessment('a', 'p1', ['Deployment', 'web']), assessment('a', 'p2', ['Deployment', 'web']), assessment('b', 'p3', ['Pod', 'p3'])],
    }));
    expect(status).to.deep.include({ matchedPods: 3, violatingPods: 0, driftedPods: 0, violatingWorkloads: 0, violations: [] });
    expect(condition(status, 'Compliant')).to.deep.include({ status: 'True', reason: Reasons.AllCompliant, message: 'all 3 matched pod(s) comply' });
  });

  it('lists at most the CRD\'s 64 findings per workload and says how many there are (a status over the bound is refused whole)', () => {
    const findings = Array.from({ length: 100 }, (_, i) => [`app-${String(i).padStart(3, '0')}:privileged`, `app-${String(i).padStart(3, '0')}:readOnlyRootFilesystem`]).flat();
    const key = workloadOutcomeKey({ namespace: 'shop', kind: 'Pod', name: 'wide' });
    const long: WorkloadOutcome = { action: 'Labeled', message: 'm'.repeat(MAX_STATUS_MESSAGE_CHARS) };
    const status = buildStatus(input({ assessments: [assessment('shop', 'wide', ['Pod', 'wide'], findings)], outcomes: new Map([[key, long]]) }));
    const v = status.violations![0]!;
    expect(v.findings).to.deep.equal([...findings].sort().slice(0, MAX_STATUS_FINDINGS));
    expect(v.message).to.have.length(MAX_STATUS_MESSAGE_CHARS);
    expect(v.message).to.match(/^64 of 200 findings listed; m+$/);
  });

  it('groups violating pods per workload, with the union of their findings sorted and de-duplicated', () => {
    const status = buildStatus(input({
      assessments: [
        assessment('shop', 'web-1', ['Deployment', 'web'], ['nginx:readOnlyRootFilesystem']),
        assessment('shop', 'web-2', ['Deployment', 'web'], ['nginx:readOnlyRootFilesystem', 'nginx:privileged']),
        assessment('shop', 'web-3', ['Deployment', 'web']),
        assessment('shop', 'db-0', ['StatefulSet', 'db'], ['pg:privileged']),
      ],
    }));
    expect(status).to.deep.include({ matchedPods: 4, violatingPods: 3, driftedPods: 0, violatingWorkloads: 2 });
    expect(status.violations).to.deep.equal([
      { namespace: 'shop', kind: 'Deployment', name: 'web', pods: 2, findings: ['nginx:privileged', 'nginx:readOnlyRootFilesystem'], action: 'Planned' },
      { namespace: 'shop', kind: 'StatefulSet', name: 'db', pods: 1, findings: ['pg:privileged'], action: 'Planned' },
    ]);
    expect(condition(status, 'Compliant')).to.deep.include({
      status: 'False', reason: Reasons.ViolationsFound, message: '3 of 4 matched pod(s) in 2 workload(s) violate the policy',
    });
  });

  it('drift alone: DriftDetected, counted in driftedPods not violatingPods, listed with its drift findings', () => {
    const status = buildStatus(input({
      assessments: [
        assessment('shop', 'web-1', ['Deployment', 'web'], [], { driftFindings: ['nginx:exec'] }),
        assessment('shop', 'web-2', ['Deployment', 'web'], [], { driftFindings: [] }),
      ],
    }));
    expect(status).to.deep.include({ matchedPods: 2, violatingPods: 0, driftedPods: 1, violatingWorkloads: 1 });
    expect(status.violations).to.deep.equal([
      { namespace: 'shop', kind: 'Deployment', name: 'web', pods: 1, findings: ['nginx:exec'], action: 'Planned' },
    ]);
    expect(condition(status, 'Compliant')).to.deep.include({
      status: 'False', reason: Reasons.DriftDetected, message: '1 of 2 matched pod(s) drifted at runtime',
    });
  });

  it('violations and drift: ViolationsFound mentions the drift; drift findings merge into the workload entry', () => {
    const status = buildStatus(input({
      assessments: [
        assessment('shop', 'web-1', ['Deployment', 'web'], ['nginx:privileged'], { driftFindings: ['*:ephemeralContainers', 'nginx:exec'] }),
        assessment('shop', 'web-2', ['Deployment', 'web'], [], { driftFindings: ['nginx:exec'] }),
        assessment('shop', 'api-1', ['Deployment', 'api'], ['app:privileged']),
      ],
    }));
    expect(status).to.deep.include({ matchedPods: 3, violatingPods: 2, driftedPods: 2, violatingWorkloads: 2 });
    expect(status.violations).to.deep.equal([
      { namespace: 'shop', kind: 'Deployment', name: 'api', pods: 1, findings: ['app:privileged'], action: 'Planned' },
      { namespace: 'shop', kind: 'Deployment', name: 'web', pods: 2, findings: ['*:ephemeralContainers', 'nginx:exec', 'nginx:privileged'], action: 'Planned' },
    ]);
    expect(condition(status, 'Compliant')).to.deep.include({
      status: 'False', reason: Reasons.ViolationsFound,
      message: '2 of 3 matched pod(s) in 2 workload(s) violate the policy; 2 pod(s) drifted at runtime',
    });
  });

  it('counts unevaluable pods in the Ready message and never as violations', () => {
    const status = buildStatus(input({
      assessments: [
        assessment('a', 'bad-1', ['Pod', 'bad-1'], [], { error: 'spec.containers is missing' }),
        assessment('a', 'bad-2', ['Deployment', 'x'], [], { error: 'spec.containers[0] has no name' }),
        assessment('a', 'ok', ['Deployment', 'y']),
      ],
    }));
    expect(status).to.deep.include({ matchedPods: 3, violatingPods: 0, driftedPods: 0, violatingWorkloads: 0, violations: [] });
    expect(condition(status, 'Ready')).to.deep.include({
      status: 'True', reason: Reasons.Evaluating, message: 'spec accepted; 2 pod(s) could not be evaluated',
    });
    expect(condition(status, 'Compliant')).to.deep.include({ status: 'True', reason: Reasons.AllCompliant });
  });

  it('sorts violations by namespace, then kind, then name', () => {
    const status = buildStatus(input({
      assessments: [
        assessment('b', 'p1', ['Deployment', 'a'], ['c:privileged']),
        assessment('a', 'p2', ['StatefulSet', 'a'], ['c:privileged']),
        assessment('a', 'p3', ['Deployment', 'z'], ['c:privileged']),
        assessment('a', 'p4', ['Deployment', 'b'], ['c:privileged']),
        assessment('a', 'p5', ['CronJob', 'z'], ['c:privileged']),
      ],
    }));
    expect(status.violations?.map(workloadOutcomeKey)).to.deep.equal([
      'a/CronJob/z', 'a/Deployment/b', 'a/Deployment/z', 'a/StatefulSet/a', 'b/Deployment/a',
    ]);
  });

  it('sorts by the namespace field, not by the joined key (namespace "team" before "team-a")', () => {
    const status = buildStatus(input({
      assessments: [
        assessment('team-a', 'p1', ['Deployment', 'web'], ['c:privileged']),
        assessment('team', 'p2', ['Deployment', 'web'], ['c:privileged']),
      ],
    }));
    expect(status.violations?.map((v) => v.namespace)).to.deep.equal(['team', 'team-a']);
  });

  it(`lists at most ${MAX_STATUS_VIOLATIONS} workloads, the first in sort order, while the totals count all`, () => {
    const total = MAX_STATUS_VIOLATIONS + 10;
    const assessments: PodAssessment[] = [];
    for (let i = total - 1; i >= 0; i--) {
      const name = `w-${String(i).padStart(3, '0')}`;
      assessments.push(assessment('ns', `${name}-pod`, ['Deployment', name], ['c:readOnlyRootFilesystem']));
    }
    const status = buildStatus(input({ assessments }));
    expect(status.violations).to.have.length(MAX_STATUS_VIOLATIONS);
    expect(status.violations?.[0]?.name).to.equal('w-000');
    expect(status.violations?.[MAX_STATUS_VIOLATIONS - 1]?.name).to.equal(`w-${String(MAX_STATUS_VIOLATIONS - 1).padStart(3, '0')}`);
    expect(status).to.deep.include({ violatingPods: total, violatingWorkloads: total, matchedPods: total });
    expect(condition(status, 'Compliant').message).to.equal(`${total} of ${total} matched pod(s) in ${total} workload(s) violate the policy`);
  });

  it('takes action, message and patch from the outcome of the workload, else the default action', () => {
    const outcomes = new Map<string, WorkloadOutcome>([
      ['shop/Deployment/web', { action: 'Patched', message: 'set readOnlyRootFilesystem', patch: '[{"op":"add"}]' }],
      ['shop/Deployment/api', { action: 'Blocked', message: '', patch: '' }],
      ['other/Deployment/web', { action: 'Evicted' }],
    ]);
    const status = buildStatus(input({
      defaultAction: 'Labeled',
      outcomes,
      assessments: [
        assessment('shop', 'web-1', ['Deployment', 'web'], ['c:privileged']),
        assessment('shop', 'api-1', ['Deployment', 'api'], ['c:privileged']),
        assessment('shop', 'db-0', ['StatefulSet', 'db'], ['c:privileged']),
      ],
    }));
    expect(status.violations).to.deep.equal([
      // Empty message and patch are left out rather than written as "".
      { namespace: 'shop', kind: 'Deployment', name: 'api', pods: 1, findings: ['c:privileged'], action: 'Blocked' },
      { namespace: 'shop', kind: 'Deployment', name: 'web', pods: 1, findings: ['c:privileged'], action: 'Patched', message: 'set readOnlyRootFilesystem', patch: '[{"op":"add"}]' },
      { namespace: 'shop', kind: 'StatefulSet', name: 'db', pods: 1, findings: ['c:privileged'], action: 'Labeled' },
    ]);
  });

  for (const defaultAction of ['Planned', 'Labeled', 'Skipped'] as WorkloadAction[]) {
    it(`uses default action ${defaultAction} for workloads without an outcome`, () => {
      const status = buildStatus(input({ defaultAction, assessments: [assessment('a', 'p', ['Pod', 'p'], ['c:privileged'])] }));
      expect(status.violations?.[0]?.action).to.equal(defaultAction);
    });
  }

  it('reports Degraded=True with the given reason and message', () => {
    const status = buildStatus(input({ degraded: { reason: Reasons.EvictionBlocked, message: 'PDB web blocks eviction' } }));
    expect(condition(status, 'Degraded')).to.deep.equal({
      type: 'Degraded', status: 'True', reason: Reasons.EvictionBlocked, message: 'PDB web blocks eviction', observedGeneration: 3, lastTransitionTime: T1,
    });
  });

  it('sets observedGeneration on the status and every condition', () => {
    const status = buildStatus(input({ generation: 11 }));
    expect(status.observedGeneration).to.equal(11);
    expect(status.conditions?.map((c) => c.observedGeneration)).to.deep.equal([11, 11, 11]);
  });

  it('keeps lastTransitionTime of conditions whose status did not change, and moves the others', () => {
    const first = buildStatus(input({ now: T0, assessments: [assessment('a', 'p', ['Pod', 'p'])] }));
    const second = buildStatus(input({
      now: T1, previous: first,
      assessments: [assessment('a', 'p', ['Pod', 'p'], ['c:privileged'])],
      degraded: { reason: Reasons.PatchFailed, message: 'x' },
    }));
    expect(condition(second, 'Ready').lastTransitionTime).to.equal(T0);
    expect(condition(second, 'Compliant').lastTransitionTime).to.equal(T1);
    expect(condition(second, 'Degraded').lastTransitionTime).to.equal(T1);
    const third = buildStatus(input({
      now: T2, previous: second,
      assessments: [assessment('a', 'p', ['Pod', 'p'], ['c:privileged', 'c:readOnlyRootFilesystem'])],
      degraded: { reason: Reasons.RolloutFailed, message: 'y' },
    }));
    // Compliant stays False and Degraded stays True: only their reason or message moved.
    expect(third.conditions?.map((c) => c.lastTransitionTime)).to.deep.equal([T0, T1, T1]);
    expect(condition(third, 'Degraded').reason).to.equal(Reasons.RolloutFailed);
  });

  it('does not mutate its input assessments', () => {
    const assessments = [assessment('a', 'p', ['Pod', 'p'], ['c:b', 'c:a'], { driftFindings: ['c:exec'] })];
    const before = JSON.stringify(assessments);
    buildStatus(input({ assessments }));
    expect(JSON.stringify(assessments)).to.equal(before);
  });
});

describe('policy/status invalidSpecStatus', () => {
  it('without a previous status: Ready=False InvalidSpec, Compliant=Unknown, Degraded=False, nothing counted', () => {
    const status = invalidSpecStatus(undefined, 5, ['spec.a: bad', 'spec.b: worse'], T1);
    expect(status).to.deep.equal({
      observedGeneration: 5,
      conditions: [
        { type: 'Ready', status: 'False', reason: Reasons.InvalidSpec, message: 'invalid spec: spec.a: bad; spec.b: worse', observedGeneration: 5, lastTransitionTime: T1 },
        { type: 'Compliant', status: 'Unknown', reason: Reasons.InvalidSpec, message: 'not evaluated', observedGeneration: 5, lastTransitionTime: T1 },
        { type: 'Degraded', status: 'False', reason: Reasons.InvalidSpec, message: 'no remediation while the spec is invalid', observedGeneration: 5, lastTransitionTime: T1 },
      ],
      lastEvaluationTime: T1,
    });
  });

  it('moves lastTransitionTime only for the conditions whose status changed, and keeps earlier totals', () => {
    const previous = buildStatus(input({ now: T0, generation: 4, assessments: [assessment('a', 'p', ['Pod', 'p'], ['c:privileged'])] }));
    const status = invalidSpecStatus(previous, 5, ['x'], T1);
    expect(status.observedGeneration).to.equal(5);
    expect(status.lastEvaluationTime).to.equal(T1);
    expect(status.conditions?.map((c) => [c.type, c.status, c.lastTransitionTime])).to.deep.equal([
      ['Ready', 'False', T1], ['Compliant', 'Unknown', T1], ['Degraded', 'False', T0],
    ]);
    // The totals of the last usable generation stay visible (the spread of `previous`).
    expect(status).to.deep.include({ matchedPods: 1, violatingPods: 1, violatingWorkloads: 1 });
    expect(status.violations).to.deep.equal(previous.violations);
  });

  it('keeps the Ready transition time while the spec stays invalid', () => {
    const first = invalidSpecStatus(undefined, 5, ['x'], T0);
    const second = invalidSpecStatus(first, 6, ['y'], T1);
    expect(second.conditions?.map((c) => c.lastTransitionTime)).to.deep.equal([T0, T0, T0]);
    expect(condition(second, 'Ready').message).to.equal('invalid spec: y');
  });

  it('caps the Ready message at 1000 characters', () => {
    const status = invalidSpecStatus(undefined, 1, ['e'.repeat(600), 'f'.repeat(600)], T0);
    const message = condition(status, 'Ready').message;
    expect(message).to.have.length(1000);
    expect(message.startsWith('invalid spec: eee')).to.equal(true);
  });
});

describe('policy/status statusChanged', () => {
  const base = (): ImmutabilityPolicyStatus => buildStatus(input({
    now: T0,
    outcomes: new Map([['a/Deployment/d', { action: 'Patched', patch: '[]' }]]),
    assessments: [assessment('a', 'p', ['Deployment', 'd'], ['c:privileged']), assessment('a', 'q', ['Pod', 'q'])],
  }));

  it('is true when there is no previous status', () => {
    expect(statusChanged(undefined, base())).to.equal(true);
  });

  it('is false for an identical status', () => {
    expect(statusChanged(base(), base())).to.equal(false);
  });

  it('ignores lastEvaluationTime, and only it', () => {
    expect(statusChanged(base(), { ...base(), lastEvaluationTime: T2 })).to.equal(false);
    expect(statusChanged(base(), { ...base(), lastEvaluationTime: undefined })).to.equal(false);
  });

  it('is false when a rebuild from the same inputs differs only in time', () => {
    const first = base();
    const again = buildStatus(input({
      now: T2, previous: first,
      outcomes: new Map([['a/Deployment/d', { action: 'Patched', patch: '[]' }]]),
      assessments: [assessment('a', 'p', ['Deployment', 'd'], ['c:privileged']), assessment('a', 'q', ['Pod', 'q'])],
    }));
    expect(again.lastEvaluationTime).to.equal(T2);
    expect(statusChanged(first, again)).to.equal(false);
  });

  it('ignores object key order at every depth (the API server returns its own order)', () => {
    const s = base();
    const reordered = JSON.parse(JSON.stringify(s, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)) as ImmutabilityPolicyStatus;
    expect(Object.keys(reordered)).to.not.deep.equal(Object.keys(s));
    expect(statusChanged(s, reordered)).to.equal(false);
    reordered.violations![0]!.pods = 5;
    expect(statusChanged(s, reordered)).to.equal(true);
  });

  it('treats an undefined field like an absent one', () => {
    const s = base();
    expect(statusChanged({ ...s, driftedPods: undefined }, (({ driftedPods: _d, ...rest }) => rest)(s))).to.equal(false);
  });

  const edits: { name: string; edit: (s: ImmutabilityPolicyStatus) => void }[] = [
    { name: 'observedGeneration', edit: (s) => { s.observedGeneration = 9; } },
    { name: 'matchedPods', edit: (s) => { s.matchedPods = 7; } },
    { name: 'violatingPods', edit: (s) => { s.violatingPods = 0; } },
    { name: 'driftedPods', edit: (s) => { s.driftedPods = 1; } },
    { name: 'violatingWorkloads', edit: (s) => { s.violatingWorkloads = 0; } },
    { name: 'an action count', edit: (s) => { s.actions!.evicted = 1; } },
    { name: 'a condition message', edit: (s) => { s.conditions![0]!.message = 'other'; } },
    { name: 'a condition lastTransitionTime', edit: (s) => { s.conditions![1]!.lastTransitionTime = T2; } },
    { name: 'the order of conditions', edit: (s) => { s.conditions!.reverse(); } },
    { name: 'a violation patch', edit: (s) => { s.violations![0]!.patch = '[{}]'; } },
    { name: 'a violation finding', edit: (s) => { s.violations![0]!.findings.push('c:runAsNonRoot'); } },
    { name: 'the violations list emptied', edit: (s) => { s.violations = []; } },
  ];
  for (const e of edits) {
    it(`is true when ${e.name} changes`, () => {
      const next = base();
      e.edit(next);
      expect(statusChanged(base(), next)).to.equal(true);
    });
  }
});
