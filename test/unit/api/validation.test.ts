import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { createPolicyValidator, defaultCrdPath, loadPolicySchema, validatePolicyObject } from '../../../src/api/validation.js';
import { SPEC_DEFAULTS } from '../../../src/policy/defaults.js';
import type { StructuralSchema } from '../../../src/api/validation.js';
import { INVALID_POLICIES, validPolicy } from './invalid-policies.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function yamlFiles(directory: string): string[] {
  return readdirSync(directory)
    .sort()
    .flatMap((name) => {
      const path = join(directory, name);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.(ya?ml|json)$/.test(name) ? [path] : [];
    });
}

/** Fixtures that are invalid on purpose live under a directory or file named invalid* or bad*. */
function intentionallyInvalid(path: string): boolean {
  return relative(ROOT, path)
    .split(sep)
    .some((segment) => /^(invalid|bad)/.test(segment));
}

function policyDocuments(paths: string[]): { source: string; object: unknown }[] {
  return paths.flatMap((path) =>
    parseAllDocuments(readFileSync(path, 'utf8'))
      // A fixture that does not parse is some other test's concern (and cannot be a policy here).
      .map((document, index) => ({
        source: `${relative(ROOT, path)}#${index + 1}`,
        object: document.errors.length > 0 ? undefined : (document.toJS() as unknown),
      }))
      .filter(({ object }) => (object as { kind?: unknown } | null)?.kind === 'ImmutabilityPolicy'),
  );
}

describe('validatePolicyObject', () => {
  describe('accepts every sample and fixture policy', () => {
    const samples = policyDocuments(yamlFiles(join(ROOT, 'config/samples')));
    const fixtures = policyDocuments(yamlFiles(join(ROOT, 'test/fixtures')).filter((path) => !intentionallyInvalid(path)));

    it('finds the sample policies', () => {
      expect(samples.map(({ source }) => source)).to.include.members([
        'config/samples/policy-audit.yaml#1',
        'config/samples/policy-enforce.yaml#1',
      ]);
    });

    for (const { source, object } of [...samples, ...fixtures]) {
      it(source, () => {
        const result = validatePolicyObject(object);
        expect(result.ok ? [] : result.errors).to.deep.equal([]);
      });
    }
  });

  it('fills in the CRD defaults, as the API server does on create', () => {
    const result = validatePolicyObject({
      apiVersion: 'immutability.dev/v1alpha1',
      kind: 'ImmutabilityPolicy',
      metadata: { name: 'defaults' },
      spec: { rules: { privileged: false }, remediation: { patchOwner: {}, evict: {} } },
    });
    if (!result.ok) expect.fail(result.errors.join('\n'));
    // The defaults themselves are listed once, in SPEC_DEFAULTS, which test/unit/policy/defaults.test.ts holds
    // to the CRD's `default:` keywords; here they must all be filled in, around what the spec set.
    const { mode, match, rules, falco, remediation } = SPEC_DEFAULTS;
    expect(result.policy.spec).to.deep.equal({ mode, match, rules: { ...rules, privileged: false }, falco, remediation });
  });

  it('defaults a missing or null spec like an empty one and leaves the input untouched', () => {
    const input = { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'n' }, spec: null };
    const result = validatePolicyObject(input);
    if (!result.ok) expect.fail(result.errors.join('\n'));
    expect(result.policy.spec.mode).to.equal('Audit');
    expect(input.spec).to.equal(null);
  });

  it('keeps an explicit empty excludedNamespaces (governing the system namespaces on purpose)', () => {
    const policy = validPolicy();
    (policy['spec'] as { match: Record<string, unknown> }).match['excludedNamespaces'] = [];
    const result = validatePolicyObject(policy);
    if (!result.ok) expect.fail(result.errors.join('\n'));
    expect(result.policy.spec.match?.excludedNamespaces).to.deep.equal([]);
  });

  it('accepts the valid base policy of the invalid table', () => {
    const result = validatePolicyObject(validPolicy());
    expect(result.ok ? [] : result.errors).to.deep.equal([]);
  });

  describe('rejects invalid policies, naming the field', () => {
    for (const testCase of INVALID_POLICIES) {
      it(testCase.name, () => {
        const policy = validPolicy();
        testCase.mutate(policy);
        const result = validatePolicyObject(policy);
        expect(result.ok, 'accepted').to.equal(false);
        if (result.ok) return;
        expect(result.errors.some((error) => error.includes(testCase.error)), result.errors.join('\n')).to.equal(true);
      });
    }
  });

  it('rejects a policy without metadata.name and a document that is not an object', () => {
    const policy = validPolicy();
    policy['metadata'] = {};
    expect(validatePolicyObject(policy)).to.deep.equal({ ok: false, errors: ['metadata.name: required'] });
    expect(validatePolicyObject('mode: Audit')).to.deep.include({ ok: false });
  });

  it('validates against an explicitly given CRD file', () => {
    const validate = createPolicyValidator(defaultCrdPath());
    const policy = validPolicy();
    (policy['spec'] as Record<string, unknown>)['mode'] = 'Never';
    expect(validate(policy)).to.deep.equal({ ok: false, errors: ['spec.mode: must be one of Audit, Enforce'] });
  });
});

describe('the CRD schema', () => {
  const schema = loadPolicySchema();

  /** Every property (and object list item) below `at`, with its path, e.g. `spec.match.namespaces`. */
  function walk(node: StructuralSchema, at: string): { path: string; node: StructuralSchema }[] {
    const found: { path: string; node: StructuralSchema }[] = [];
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const path = at === '' ? name : `${at}.${name}`;
      found.push({ path, node: child }, ...walk(child, path));
    }
    if (node.items !== undefined) found.push({ path: `${at}[]`, node: node.items }, ...walk(node.items, `${at}[]`));
    if (typeof node.additionalProperties === 'object') {
      found.push({ path: `${at}{}`, node: node.additionalProperties }, ...walk(node.additionalProperties, `${at}{}`));
    }
    return found;
  }

  const nodes = walk(schema, '');

  it('describes every field, so that kubectl explain documents the API', () => {
    // The API server forbids anything but `type` on the top-level metadata.
    const undocumented = nodes.filter(({ path, node }) => path !== 'metadata' && typeof node['description'] !== 'string');
    expect(undocumented.map(({ path }) => path)).to.deep.equal([]);
    expect(nodes.length).to.be.greaterThan(60);
  });

  it('bounds every string and list in spec (the CEL cost estimator and etcd need limits)', () => {
    const unbounded = nodes
      .filter(({ path }) => path.startsWith('spec.'))
      .filter(({ node }) =>
        (node.type === 'string' && node['maxLength'] === undefined && node['enum'] === undefined) ||
        (node.type === 'array' && node['maxItems'] === undefined),
      );
    expect(unbounded.map(({ path }) => path)).to.deep.equal([]);
  });

  it('keeps status.violations to at most 50 entries', () => {
    const violations = nodes.find(({ path }) => path === 'status.violations');
    expect(violations?.node['maxItems']).to.equal(50);
  });
});
