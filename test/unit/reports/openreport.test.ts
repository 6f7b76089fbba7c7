// The OpenReports Report of one workload, from evaluations made by the real engine.
import { expect } from 'chai';
import type { Pod } from '../../../src/api/kube.js';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { evaluatePod, resolvePolicy } from '../../../src/policy/index.js';
import type { RuleName } from '../../../src/api/types.js';
import { reportName, severityOf, workloadReport } from '../../../src/reports/openreport.js';
import type { PolicyEvaluations } from '../../../src/reports/openreport.js';

const NOW = new Date(Date.UTC(2026, 0, 1));
const scope = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'u1' };

function pod(containers: Record<string, unknown>[], spec: Record<string, unknown> = {}): Pod {
  return { metadata: { name: 'web-1', namespace: 'shop' }, spec: { containers, ...spec } } as unknown as Pod;
}

function policyOn(name: string, spec: ImmutabilityPolicySpec, pods: Pod[], drift: RuleName[] = []): PolicyEvaluations {
  const resolved = resolvePolicy(name, spec);
  return {
    policy: name,
    rules: resolved.rules,
    pods: pods.map((p) => ({
      containers: (p.spec.containers as { name: string }[]).map((c) => ({ name: c.name, type: 'container' as const })),
      evaluation: evaluatePod(resolved, p, NOW),
      drift,
    })),
  };
}

describe('reports/openreport', () => {
  it('one result per container and enabled rule, pass and fail, with severities and summary counts', () => {
    const pods = [pod([{ name: 'app', image: 'nginx', securityContext: { readOnlyRootFilesystem: true } }, { name: 'sidecar', image: 'x', securityContext: { privileged: true } }])];
    const report = workloadReport(scope, [policyOn('baseline', {}, pods)])!;
    expect(report.metadata).to.deep.include({ name: 'immutability-deployment-web', namespace: 'shop' });
    expect(report.scope).to.deep.equal(scope);
    expect(report.results.map((r) => `${r.policy} ${r.properties?.container} ${r.rule} ${r.result} ${r.severity}`)).to.deep.equal([
      'baseline app readOnlyRootFilesystem pass medium',
      'baseline app privileged pass critical',
      'baseline sidecar readOnlyRootFilesystem fail medium',
      'baseline sidecar privileged fail critical',
    ]);
    expect(report.summary).to.deep.equal({ pass: 2, fail: 2, warn: 0, error: 0, skip: 0 });
    expect(report.results[3]!.message).to.match(/runs privileged/);
    expect(report.results.every((r) => r.resources[0]?.name === 'web' && r.source === 'immutability-operator')).to.equal(true);
  });

  it('reports exemptions as skip, runtime rules per workload, and each governing policy separately', () => {
    const pods = [pod([{ name: 'app', image: 'nginx' }])];
    const exempt: ImmutabilityPolicySpec = { rules: { exec: true }, exemptions: [{ containers: ['app'], rules: ['readOnlyRootFilesystem'], reason: 'TICKET-1' }] };
    const report = workloadReport(scope, [policyOn('strict', exempt, pods, ['exec']), policyOn('audit', {}, pods)])!;
    expect(report.results.map((r) => `${r.policy} ${r.rule} ${r.result}`)).to.deep.equal([
      'audit readOnlyRootFilesystem fail', 'audit privileged pass',
      'strict readOnlyRootFilesystem skip', 'strict privileged pass', 'strict exec fail',
    ]);
    expect(report.results[2]!.message).to.equal('Exempted: TICKET-1');
    expect(report.summary).to.deep.equal({ pass: 2, fail: 2, warn: 0, error: 0, skip: 1 });
  });

  it('the worst outcome over the workload\'s pods wins; a pod that cannot be evaluated is an error', () => {
    const good = pod([{ name: 'app', image: 'nginx', securityContext: { readOnlyRootFilesystem: true } }]);
    const stale = pod([{ name: 'app', image: 'nginx' }]);
    const report = workloadReport(scope, [policyOn('p', {}, [good, stale])])!;
    expect(report.results.find((r) => r.rule === 'readOnlyRootFilesystem')?.result).to.equal('fail');
    const broken = pod([{ name: 'app', image: 'nginx', securityContext: 'oops' }]);
    expect(workloadReport(scope, [policyOn('p', {}, [broken])])!.summary.error).to.equal(2);
  });

  it('is the same for the same input (no timestamps), and absent when no policy governs a pod', () => {
    const pods = [pod([{ name: 'app', image: 'nginx' }])];
    expect(JSON.stringify(workloadReport(scope, [policyOn('p', {}, pods)]))).to.equal(JSON.stringify(workloadReport(scope, [policyOn('p', {}, pods)])));
    expect(workloadReport(scope, [])).to.equal(undefined);
    expect(workloadReport(scope, [policyOn('p', {}, [])])).to.equal(undefined);
  });

  it('maps rule severities and names reports within the object-name limit', () => {
    expect(severityOf('privileged')).to.equal('critical');
    expect(severityOf('allowPrivilegeEscalation')).to.equal('high');
    expect(reportName({ kind: 'StatefulSet', name: 'db' })).to.equal('immutability-statefulset-db');
    expect(reportName({ kind: 'Deployment', name: 'x'.repeat(300) })).to.have.length(253);
  });
});
