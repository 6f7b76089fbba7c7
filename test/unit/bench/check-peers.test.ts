import { expect } from 'chai';
import { parseManifests } from '../../../src/cli/input.js';
import {
  agreement,
  checkPeersChart,
  generateDeployment,
  kubeScoreVerdicts,
  kyvernoVerdicts,
  median,
  oursVerdicts,
} from '../../../bench/scenarios/check.js';

const KEYS = ['team-0/web-0', 'team-1/web-1', 'team-2/web-2'];

describe('bench check-N: the workload and how each tool\'s verdicts are read', () => {
  it('generates each shape with the verdict it should get, in YAML our reader accepts', () => {
    const shapes = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => [...generateDeployment(i).expected].sort());
    expect(shapes).to.deep.equal([[], ['privileged'], ['readOnlyRootFilesystem'], ['privileged', 'readOnlyRootFilesystem'],
      [], ['privileged'], ['readOnlyRootFilesystem'], ['privileged', 'readOnlyRootFilesystem']]);
    const { documents, errors } = parseManifests(generateDeployment(6).yaml, 'd.yaml');
    expect(errors).to.deep.equal([]);
    expect(documents[0]?.object).to.deep.include({ kind: 'Deployment', metadata: {
      name: 'web-6', namespace: 'team-6', labels: { 'app.kubernetes.io/name': 'web-6', 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'example.com/owner': 'team-6@example.com' } } });
  });

  it('reads our JSON output', () => {
    const json = JSON.stringify({ results: [
      { namespace: 'team-1', name: 'web-1', findings: [{ rule: 'privileged' }] },
      { namespace: 'team-2', name: 'web-2', findings: [{ rule: 'readOnlyRootFilesystem' }, { rule: 'readOnlyRootFilesystem' }] },
      { namespace: 'team-0', name: 'web-0', findings: [] },
    ] });
    const verdicts = oursVerdicts(json, KEYS);
    expect([...verdicts].map(([k, v]) => [k, [...v]])).to.deep.equal([
      ['team-0/web-0', []], ['team-1/web-1', ['privileged']], ['team-2/web-2', ['readOnlyRootFilesystem']],
    ]);
    expect(() => oursVerdicts(JSON.stringify({ results: [{ namespace: 'x', name: 'y', findings: [{ rule: 'privileged' }] }] }), KEYS))
      .to.throw(/not among the generated/);
  });

  it('reads Kyverno\'s policy report: fail per policy and resource, pass ignored, anything else refused', () => {
    const report = (result: string): string => JSON.stringify({ results: [
      { policy: 'require-ro-rootfs', result, resources: [{ namespace: 'team-2', name: 'web-2' }] },
      { policy: 'disallow-privileged-containers', result: 'pass', resources: [{ namespace: 'team-2', name: 'web-2' }] },
    ] });
    const verdicts = kyvernoVerdicts(report('fail'), KEYS);
    expect([...verdicts.get('team-2/web-2')!]).to.deep.equal(['readOnlyRootFilesystem']);
    expect([...verdicts.get('team-1/web-1')!]).to.deep.equal([]);
    expect(() => kyvernoVerdicts(report('error'), KEYS)).to.throw(/reported error/);
  });

  it('reads kube-score\'s human output, only the two equivalent checks', () => {
    const text = [
      'apps/v1/Deployment web-1 in team-1                                            💥',
      '    path=/tmp/d.yaml',
      '    [CRITICAL] Container Security Context Privileged',
      '        · app -> The container is privileged',
      '    [CRITICAL] Pod NetworkPolicy',
      'apps/v1/Deployment web-2 in team-2                                            💥',
      '    [CRITICAL] Container Security Context ReadOnlyRootFilesystem',
      '        · proxy -> The pod has a container with a writable root filesystem',
      '    [WARNING] Container Security Context Privileged',
      'apps/v1/Deployment web-0 in team-0                                            ✅',
    ].join('\n');
    const verdicts = kubeScoreVerdicts(text, KEYS);
    expect([...verdicts].map(([k, v]) => [k, [...v].sort()])).to.deep.equal([
      ['team-0/web-0', []], ['team-1/web-1', ['privileged']], ['team-2/web-2', ['privileged', 'readOnlyRootFilesystem']],
    ]);
  });

  it('counts agreement Deployment by Deployment, and takes medians', () => {
    const a = oursVerdicts(JSON.stringify({ results: [{ namespace: 'team-1', name: 'web-1', findings: [{ rule: 'privileged' }] }] }), KEYS);
    const b = oursVerdicts(JSON.stringify({ results: [] }), KEYS);
    expect(agreement(a, a)).to.deep.equal({ deployments: 3, agree: 3, differ: [] });
    expect(agreement(a, b)).to.deep.equal({ deployments: 3, agree: 2, differ: ['team-1/web-1: [privileged] vs []'] });
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 2, 3])).to.equal(2.5);
  });

  it('charts the largest check result, and nothing without one', () => {
    expect(checkPeersChart([{ scenario: 'owned-100' }])).to.equal(undefined);
    const measurement = (tool: string, input: string, medianWallMs: number): object => ({ tool, input, runs: [], medianWallMs, medianPeakRssMiB: 1 });
    const spec = checkPeersChart([
      { scenario: 'check-1000', deployments: 1000, measurements: [measurement('ours', 'deployments-1000', 100)] },
      { scenario: 'check-5000', deployments: 5000, repetitions: 5, date: '2026-11-30T00:00:00Z', loadAverage: { before: [1, 2, 3] },
        measurements: [measurement('ours', 'deployments-5000', 500), measurement('ours-json', 'deployments-5000', 600), measurement('kyverno', 'one-manifest', 40)] },
    ]);
    expect(JSON.stringify(spec)).to.include('5,000 Deployments').and.include('load average before 1, 2, 3');
    expect((spec as { data: { values: unknown[] } }).data.values).to.deep.equal([
      { tool: 'immutability-operator check', input: 'deployments-5000', wallMs: 500, perSecond: 10000 },
      { tool: 'kyverno apply', input: 'one-manifest', wallMs: 40, perSecond: 125000 },
    ]);
  });
});
