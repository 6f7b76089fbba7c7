import { expect } from 'chai';
import { resolvePolicy } from '../../../src/policy/index.js';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { celPredicate } from '../../../src/policy/admission/cel.js';
import {
  NAMESPACE_NAME_LABEL, admissionMatch, admissionObjectName, celLabelSelector, connectCovered, generateValidation, globRegex,
} from '../../../src/policy/admission/validating-policy.js';
import { globMatch } from '../../../src/policy/glob.js';
import { field } from '../../../src/policy/predicate.js';
import { RULE_TABLE } from '../../../src/policy/rules.js';

type Obj = Record<string, unknown>;
const NOW = new Date('2026-06-01T00:00:00Z');

function generate(spec: ImmutabilityPolicySpec, now = NOW): { spec: Obj; binding: Obj; regenerateAt?: Date } {
  const g = generateValidation(resolvePolicy('prod', { admission: {}, ...spec }), 'uid-1', now);
  const result: { spec: Obj; binding: Obj; regenerateAt?: Date } = { spec: g.policy['spec'] as Obj, binding: g.binding['spec'] as Obj };
  if (g.regenerateAt) result.regenerateAt = g.regenerateAt;
  return result;
}

describe('policy/admission: CEL generated from the rule table', () => {
  describe('globRegex means what glob.ts means', () => {
    const cases: [string, string][] = [
      ['team-*', 'team-a'], ['team-*', 'team-'], ['team-*', 'tea'], ['t?am', 'team'], ['t?am', 't/am'],
      ['registry.example.com/legacy/*', 'registry.example.com/legacy/a/b:1'], ['a.b', 'aXb'], ['x+(y)', 'x+(y)'],
      ['*', 'anything/at/all'], ['nginx', 'nginx'], ['nginx', 'nginx:1'],
    ];
    for (const [glob, value] of cases) {
      it(`${glob} vs ${value}`, () => {
        expect(new RegExp(globRegex(glob)).test(value)).to.equal(globMatch(glob, value));
      });
    }
  });

  describe('namespace matching: names in the namespaceSelector, only globs in CEL match conditions', () => {
    const match = (m: ImmutabilityPolicySpec['match']): ReturnType<typeof admissionMatch> => admissionMatch(resolvePolicy('prod', { match: m }));

    it('puts literal names and excluded names on the name label, with no match condition', () => {
      const m = match({ namespaces: ['shop', 'payments'], excludedNamespaces: ['shop-canary'] });
      expect(m.conditions).to.deep.equal([]);
      expect(m.namespaceSelector?.matchExpressions).to.deep.include({ key: NAMESPACE_NAME_LABEL, operator: 'In', values: ['shop', 'payments'] });
      expect(m.namespaceSelector?.matchExpressions).to.deep.include({ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: ['shop-canary'] });
    });

    it('keeps a namespace list with any glob in CEL as one alternative, and a globbed exclusion in CEL', () => {
      const m = match({ namespaces: ['shop', 'team-*'], excludedNamespaces: ['kube-system', '*-sandbox'] });
      expect(m.conditions.map((c) => c['name'])).to.deep.equal(['not-excluded-namespace', 'governed-namespace']);
      expect(String(m.conditions[1]?.['expression'])).to.contain("request.namespace.matches('^shop$')");
      expect(m.namespaceSelector?.matchExpressions).to.deep.equal([{ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: ['kube-system'] }]);
    });

    it('ANDs the policy\'s own namespaceSelector with the names', () => {
      const m = match({ namespaces: ['shop'], namespaceSelector: { matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] } });
      expect(m.namespaceSelector).to.deep.equal({
        matchLabels: { env: 'prod' },
        matchExpressions: [
          { key: 'tier', operator: 'Exists' },
          { key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease'] },
          { key: NAMESPACE_NAME_LABEL, operator: 'In', values: ['shop'] },
        ],
      });
    });

    it('treats a pattern that is no valid label value as a glob (CEL), so the selector is always valid', () => {
      expect(match({ namespaces: ['Shop'] }).conditions.map((c) => c['name'])).to.deep.equal(['governed-namespace']);
    });
  });

  it('compiles absent fields behind has() guards, and not with parentheses', () => {
    expect(celPredicate({ equals: field('container', 'securityContext.privileged'), to: true }, { container: 'c' }))
      .to.equal('(has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged == true)');
    expect(celPredicate({ not: { oneOf: field('x'), values: ['A'] } }, { x: 'x' })).to.equal("!(x in ['A'])");
  });

  it('turns label selectors into CEL over a labels map', () => {
    expect(celLabelSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }, 'l'))
      .to.equal("('app' in l && l['app'] == 'web') && (!('tier' in l) || !(l['tier'] in ['db']))");
  });

  it('has one validation per enabled spec rule, plus ephemeral containers and exec when those rules are on', () => {
    const { spec } = generate({ rules: { capabilities: true, exec: true, ephemeralContainers: true } });
    const validations = spec['validations'] as Obj[];
    const enabled = RULE_TABLE.filter((r) => ['readOnlyRootFilesystem', 'privileged', 'capabilities'].includes(r.name));
    expect(validations).to.have.length(enabled.length + 2);
    for (const rule of enabled) {
      expect(validations.some((v) => (v['expression'] as string).includes(`variables.breaks_${rule.name}`)), rule.name).to.equal(true);
    }
    const resources = (spec['matchConstraints'] as { resourceRules: { resources: string[] }[] }).resourceRules.flatMap((r) => r.resources);
    expect(resources).to.include.members(['pods', 'deployments', 'cronjobs', 'pods/ephemeralcontainers', 'pods/exec', 'pods/attach']);
  });

  it('lets compliant objects skip the policy with one match condition, never exec/attach or added ephemeral containers', () => {
    const { spec } = generate({ rules: { exec: true, ephemeralContainers: true } });
    const condition = (spec['matchConditions'] as Obj[]).find((c) => c['name'] === 'may-refuse');
    const expression = String(condition?.['expression']);
    expect(expression).to.match(/^request\.operation == 'CONNECT' \|\| \(has\(request\.subResource\) && request\.subResource == 'ephemeralcontainers'\) \|\| !\[/);
    for (const rule of RULE_TABLE.filter((r) => r.name === 'privileged' || r.name === 'readOnlyRootFilesystem')) {
      expect(expression, rule.name).to.include(String(celPredicate(rule.complies ?? { all: [] }, { container: 'c', pod: 's' })));
    }
    // Match conditions see no variables (the API server compiles them without).
    expect(expression).to.not.include('variables.');
    const noEphemeral = String((generate({}).spec['matchConditions'] as Obj[]).find((c) => c['name'] === 'may-refuse')?.['expression']);
    expect(noEphemeral).to.not.include('ephemeralcontainers');
  });

  it('does not cover exec with a podSelector (an exec request carries no pod labels)', () => {
    const policy = resolvePolicy('p', { rules: { exec: true }, match: { podSelector: { matchLabels: { app: 'web' } } } });
    expect(connectCovered(policy)).to.equal(false);
    const { spec } = generate({ rules: { exec: true }, match: { podSelector: { matchLabels: { app: 'web' } } } });
    const resources = (spec['matchConstraints'] as { resourceRules: { resources: string[] }[] }).resourceRules.flatMap((r) => r.resources);
    expect(resources).to.not.include('pods/exec');
    expect((spec['matchConditions'] as Obj[]).map((c) => c['name'])).to.include('governed-pods');
  });

  it('binds Deny in Enforce, Warn and Audit otherwise', () => {
    expect(generate({ mode: 'Enforce' }).binding['validationActions']).to.deep.equal(['Deny']);
    expect(generate({ mode: 'Enforce', admission: { action: 'Warn' } }).binding['validationActions']).to.deep.equal(['Warn', 'Audit']);
    expect(generate({ mode: 'Audit', admission: { action: 'Deny' } }).binding['validationActions']).to.deep.equal(['Warn', 'Audit']);
  });

  it('leaves expired exemptions out and asks to be regenerated at the next expiry', () => {
    const exemptions = [
      { containers: ['old'], expires: '2026-05-01T00:00:00Z', reason: 'gone' },
      { containers: ['soon'], expires: '2026-06-01T00:00:30Z', reason: 'soon' },
      { containers: ['later'], expires: '2026-07-01T00:00:00Z', reason: 'later' },
    ];
    const { spec, regenerateAt } = generate({ exemptions });
    const text = JSON.stringify(spec);
    expect(text).to.not.include('^old$');
    expect(text).to.include('^soon$').and.to.include('^later$');
    expect(regenerateAt?.toISOString()).to.equal('2026-06-01T00:00:30.000Z');
    expect(generate({ exemptions }, new Date('2026-06-01T00:00:30Z')).spec).to.satisfy((s: Obj) => !JSON.stringify(s).includes('^soon$'));
  });

  it('names the generated objects after the policy and owns them by it', () => {
    const g = generateValidation(resolvePolicy('prod', { admission: {} }), 'uid-1', NOW);
    expect(admissionObjectName('prod')).to.equal('immutability.dev-prod');
    expect(g.policy['metadata']).to.deep.include({ name: 'immutability.dev-prod' });
    expect((g.binding['spec'] as Obj)['policyName']).to.equal('immutability.dev-prod');
    expect(((g.policy['metadata'] as Obj)['ownerReferences'] as Obj[])[0]).to.include({ kind: 'ImmutabilityPolicy', name: 'prod', uid: 'uid-1' });
  });
});
