// The generated MutatingAdmissionPolicy's shape; what it does to objects is proven against the real API
// server in test/integration/mutation.test.ts (it must equal the owner patch planRemediation computes).
import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { generateMutation, mutationWanted } from '../../../src/policy/admission/mutating-policy.js';
import { resolvePolicy } from '../../../src/policy/index.js';

type Obj = Record<string, unknown>;
const NOW = new Date('2026-06-01T00:00:00Z');

function specOf(spec: ImmutabilityPolicySpec): Obj {
  return generateMutation(resolvePolicy('prod', { mode: 'Enforce', admission: { mutate: true }, ...spec }), 'uid-1', NOW).policy['spec'] as Obj;
}

const variableNames = (spec: Obj): string[] => (spec['variables'] as { name: string }[]).map((v) => v.name);

describe('policy/admission: MutatingAdmissionPolicy generated from the rule table\'s fixes', () => {
  it('is wanted in Enforce mode only', () => {
    expect(mutationWanted(resolvePolicy('p', { mode: 'Enforce', admission: { mutate: true } }))).to.equal(true);
    expect(mutationWanted(resolvePolicy('p', { mode: 'Audit', admission: { mutate: true } }))).to.equal(false);
    expect(mutationWanted(resolvePolicy('p', { mode: 'Enforce', admission: {} }))).to.equal(false);
  });

  it('mutates new Pods and new or updated templates, never blocks a request, and may run again', () => {
    const spec = specOf({});
    const rules = (spec['matchConstraints'] as { resourceRules: { resources: string[]; operations: string[] }[] }).resourceRules;
    expect(rules.find((r) => r.resources.includes('pods'))?.operations).to.deep.equal(['CREATE']);
    expect(rules.find((r) => r.resources.includes('deployments'))?.operations).to.deep.equal(['CREATE', 'UPDATE']);
    expect(rules.flatMap((r) => r.resources)).to.not.include.members(['pods/ephemeralcontainers', 'pods/exec']);
    expect(spec).to.include({ failurePolicy: 'Ignore', reinvocationPolicy: 'IfNeeded' });
    const mutations = spec['mutations'] as { patchType: string }[];
    expect(mutations.map((m) => m.patchType)).to.deep.equal(['JSONPatch']);
  });

  it('has fix variables only for the enabled rules that have a fix, and volumes only when the root is made read-only', () => {
    const names = variableNames(specOf({ rules: { readOnlyRootFilesystem: false, privileged: true, runAsNonRoot: true, procMount: true } }));
    expect(names.filter((n) => n.startsWith('fix_'))).to.deep.equal([
      'fix_privileged_containers', 'fix_procMount_containers', 'fix_privileged_initContainers', 'fix_procMount_initContainers',
    ]);
    expect(names).to.not.include('newVolumes');
    const withRoot = variableNames(specOf({ remediation: { patchOwner: { writablePaths: ['/tmp'] } } }));
    expect(withRoot).to.include.members(['volumeNames', 'newMounts_containers', 'newVolumes']);
  });

  it('names volumes as the owner patch does, with the fingerprinted name when the readable one is taken', () => {
    const spec = specOf({ remediation: { patchOwner: { writablePaths: ['/tmp'], presets: false } } });
    const volumeNames = (spec['variables'] as { name: string; expression: string }[]).find((v) => v.name === 'volumeNames')!;
    expect(volumeNames.expression).to.match(/^\{'\/tmp': \(variables\.volumes\.exists\(v, .*'immutability-tmp-tmp'.*\) \? 'immutability-tmp-tmp-[0-9a-f]{8}' : 'immutability-tmp-tmp'\)\}$/);
  });

  it('spells image exemptions once per request, not per container and rule', () => {
    const spec = specOf({ exemptions: [{ images: ['quay.io/legacy/*'], reason: 'LEG-1' }] });
    const variables = spec['variables'] as { name: string; expression: string }[];
    expect(variables.filter((v) => v.expression.includes("i.indexOf('@')")).map((v) => v.name)).to.include('imageExempted0');
    expect(variables.find((v) => v.name === 'fix_privileged_containers')!.expression).to.include('c.name in variables.imageExempted0');
  });
});
