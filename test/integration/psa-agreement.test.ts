// The capabilities, dropAllCapabilities, procMount and hostPathWritable rules against Pod Security Admission's
// own test data: the pass/fail Pod fixtures in k8s.io/pod-security-admission (test/testdata), read from the Go
// module the control plane is built from, never copied. Where our rule means what PSA's check means, the
// verdicts must be equal; where they differ on purpose (docs/api.md, "Pod Security Admission"), the test states
// the difference and checks that it is the only one.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';
import { evaluatePod, resolvePolicy, type Finding } from '../../src/policy/index.js';

const CONTROLPLANE_MODULE = fileURLToPath(new URL('../../../hack/controlplane/kubernetes', import.meta.url));
/** The newest policy version PSA ships fixtures for. */
const PSA_VERSION = 'v1.35';

interface Fixture {
  level: 'baseline' | 'restricted';
  verdict: 'pass' | 'fail';
  /** PSA's check id as the fixture's file name spells it, e.g. "capabilities_baseline". */
  check: string;
  file: string;
  pod: { spec: Record<string, unknown> };
}

function psaTestdata(): string {
  const dir = execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', 'k8s.io/pod-security-admission'], {
    cwd: CONTROLPLANE_MODULE,
    encoding: 'utf8',
  }).trim();
  return join(dir, 'test', 'testdata');
}

function loadFixtures(): Fixture[] {
  const root = psaTestdata();
  const fixtures: Fixture[] = [];
  for (const level of ['baseline', 'restricted'] as const) {
    for (const verdict of ['pass', 'fail'] as const) {
      const dir = join(root, level, PSA_VERSION, verdict);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
        const pod = parse(readFileSync(join(dir, file), 'utf8')) as Fixture['pod'];
        fixtures.push({ level, verdict, check: file.replace(/\d+\.yaml$/, ''), file: `${level}/${verdict}/${file}`, pod });
      }
    }
  }
  return fixtures;
}

const policy = resolvePolicy('psa', {
  rules: {
    readOnlyRootFilesystem: false,
    privileged: false,
    capabilities: true,
    dropAllCapabilities: true,
    procMount: true,
    hostPathWritable: true,
  },
});
const NOW = new Date('2026-06-01T00:00:00Z');

function findingsOf(fixture: Fixture, rule: string): Finding[] {
  const evaluation = evaluatePod(policy, { metadata: { namespace: 'psa' }, ...fixture.pod }, NOW);
  if (evaluation.outcome !== 'evaluated') throw new Error(`${fixture.file}: ${evaluation.error}`);
  return evaluation.findings.filter((f) => f.rule === rule);
}

function containersOf(fixture: Fixture): Record<string, unknown>[] {
  const spec = fixture.pod.spec;
  return ['containers', 'initContainers', 'ephemeralContainers'].flatMap(
    (list) => (spec[list] as Record<string, unknown>[] | undefined) ?? [],
  );
}

describe(`Pod Security Admission agreement (k8s.io/pod-security-admission ${PSA_VERSION} fixtures)`, () => {
  const fixtures = loadFixtures();

  it('reads PSA fixtures for every check the rules correspond to', () => {
    for (const check of ['capabilities_baseline', 'capabilities_restricted', 'procmount', 'hostpathvolumes']) {
      expect(fixtures.filter((f) => f.check === check && f.verdict === 'fail'), check).to.not.be.empty;
    }
    expect(fixtures.length).to.be.greaterThan(100);
  });

  it('capabilities: exactly PSA baseline capabilities verdicts; nothing PSA lets pass at baseline is found', () => {
    for (const fixture of fixtures) {
      const found = findingsOf(fixture, 'capabilities').length > 0;
      if (fixture.check === 'capabilities_baseline') {
        expect(found, fixture.file).to.equal(fixture.verdict === 'fail');
      } else if (fixture.verdict === 'pass') {
        expect(found, fixture.file).to.equal(false);
      }
    }
  });

  it('procMount: exactly PSA baseline procMount verdicts, except that user-namespace pods are not relaxed', () => {
    for (const fixture of fixtures) {
      const found = findingsOf(fixture, 'procMount').length > 0;
      // The one difference: PSA lets Unmasked pass in a user namespace (hostUsers: false); the rule reports it.
      const relaxedByPsa =
        fixture.pod.spec['hostUsers'] === false &&
        containersOf(fixture).some((c) => (c['securityContext'] as { procMount?: string } | undefined)?.procMount === 'Unmasked');
      if (fixture.level === 'baseline' && fixture.check === 'procmount') {
        expect(found, fixture.file).to.equal(fixture.verdict === 'fail' || relaxedByPsa);
      } else if (fixture.verdict === 'pass') {
        expect(found, fixture.file).to.equal(relaxedByPsa);
      }
    }
  });

  it('hostPathWritable: whatever it finds PSA rejects; nothing PSA lets pass is found', () => {
    for (const fixture of fixtures) {
      const found = findingsOf(fixture, 'hostPathWritable').length > 0;
      if (fixture.verdict === 'pass') expect(found, fixture.file).to.equal(false);
      if (found) expect(fixture.verdict, fixture.file).to.equal('fail');
    }
  });

  it('dropAllCapabilities: PSA restricted capabilities verdicts on the drop ALL half of that check', () => {
    for (const fixture of fixtures.filter((f) => f.level === 'restricted')) {
      const found = findingsOf(fixture, 'dropAllCapabilities').length > 0;
      if (fixture.verdict === 'pass') {
        expect(found, fixture.file).to.equal(false);
      } else if (fixture.check === 'capabilities_restricted') {
        // The check's other half (adding anything but NET_BIND_SERVICE) is not this rule's.
        const addsBeyondNetBind = containersOf(fixture).some((c) => {
          const capabilities = (c['securityContext'] as { capabilities?: { add?: string[] } } | undefined)?.capabilities;
          return (capabilities?.add ?? []).some((capability) => capability !== 'NET_BIND_SERVICE');
        });
        expect(found || addsBeyondNetBind, fixture.file).to.equal(true);
        if (!addsBeyondNetBind) expect(found, fixture.file).to.equal(true);
      }
    }
  });
});
