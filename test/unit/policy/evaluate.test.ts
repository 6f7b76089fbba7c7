import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import {
  evaluatePod,
  evaluatePodSpec,
  evaluateWorkload,
  fieldPathOfPointer,
  findingKey,
  resolvePolicy,
  workloadFromObject,
} from '../../../src/policy/index.js';
import type { Evaluation, Finding, Skip } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';

interface EvaluateCase {
  name: string;
  now?: string;
  policy: ImmutabilityPolicySpec;
  pod?: unknown;
  podSpec?: unknown;
  namespace?: string;
  fieldPathPrefix?: string;
  findings?: Partial<Finding>[];
  skips?: Partial<Skip>[];
  error?: string;
}

/** A readable sentence: starts with a capital letter and ends with a full stop. */
const SENTENCE = /^[A-Z].*\.$/;

function evaluateCase(c: EvaluateCase, now: Date): Evaluation {
  const policy = resolvePolicy('p', c.policy);
  if (c.podSpec === undefined) return evaluatePod(policy, c.pod, now);
  if (c.fieldPathPrefix === undefined) return evaluatePodSpec(policy, c.podSpec, c.namespace ?? '', now);
  return evaluatePodSpec(policy, c.podSpec, c.namespace ?? '', now, c.fieldPathPrefix);
}

describe('policy/evaluate', () => {
  const { defaults, cases } = loadCases<EvaluateCase>('evaluate.yaml');
  for (const c of cases) {
    it(c.name, () => {
      const evaluation = evaluateCase(c, new Date(c.now ?? defaults.now ?? ''));
      if (c.error !== undefined) {
        expect(evaluation.outcome).to.equal('error');
        if (evaluation.outcome === 'error') expect(evaluation.error).to.include(c.error);
        return;
      }
      expect(evaluation.outcome, JSON.stringify(evaluation)).to.equal('evaluated');
      if (evaluation.outcome !== 'evaluated') return;
      expect(c.findings, 'fixture lists findings').to.be.an('array');
      const expected = c.findings ?? [];
      const compared = ({ container, containerType, rule, subject, fieldPath }: Partial<Finding>): Partial<Finding> =>
        subject === undefined ? { container, containerType, rule, fieldPath } : { container, containerType, rule, subject, fieldPath };
      expect(evaluation.findings.map(compared)).to.deep.equal(expected.map(compared));
      evaluation.findings.forEach((finding, index) => {
        expect(finding.message).to.match(SENTENCE);
        expect(finding.message).to.include(expected[index]?.message ?? '');
      });
      if (c.skips !== undefined) {
        expect(evaluation.skips.map(({ container, rule }) => ({ container, rule })))
          .to.deep.equal(c.skips.map(({ container, rule }) => ({ container, rule })));
        evaluation.skips.forEach((skip, index) => expect(skip.reason).to.include(c.skips?.[index]?.reason ?? ''));
      }
    });
  }

  it('findingKey is "container:rule"', () => {
    const finding: Finding = {
      container: 'nginx',
      containerType: 'container',
      rule: 'readOnlyRootFilesystem',
      fieldPath: 'spec.containers[0].securityContext.readOnlyRootFilesystem',
      message: 'x',
    };
    expect(findingKey(finding)).to.equal('nginx:readOnlyRootFilesystem');
  });

  it('evaluateWorkload reports paths relative to the workload object', () => {
    const workload = workloadFromObject({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'r', namespace: 'shop' },
      spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'r' }] } } } } },
    });
    if ('error' in workload) throw new Error(workload.error);
    const evaluation = evaluateWorkload(resolvePolicy('p', {}), workload, new Date('2026-01-01T00:00:00Z'));
    expect(evaluation).to.deep.include({ outcome: 'evaluated' });
    if (evaluation.outcome !== 'evaluated') return;
    expect(evaluation.findings.map((f) => f.fieldPath)).to.deep.equal([
      'spec.jobTemplate.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem',
    ]);
  });

  it('fieldPathOfPointer turns a JSON pointer into a dotted path', () => {
    expect(fieldPathOfPointer('/spec/template/spec')).to.equal('spec.template.spec');
    expect(fieldPathOfPointer('/spec')).to.equal('spec');
  });

  it('never throws on hostile input', () => {
    const policy = resolvePolicy('p', { rules: { runAsNonRoot: true, allowPrivilegeEscalation: true } });
    const now = new Date('2026-01-01T00:00:00Z');
    const inputs: unknown[] = [undefined, 0, true, 'x', [], {}, { spec: 1 }, { spec: { containers: [null] } },
      { metadata: 'x', spec: { containers: [{ name: 'a', securityContext: { runAsUser: null } }], os: 'windows' } }];
    for (const input of inputs) expect(() => evaluatePod(policy, input, now)).to.not.throw();
  });
});
