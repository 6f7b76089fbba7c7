import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { loadPolicySchema, type StructuralSchema } from '../../../src/api/validation.js';
import { DEFAULT_EXCLUDED_NAMESPACES, DEFAULT_RULES, SPEC_DEFAULTS } from '../../../src/policy/defaults.js';
import { resolvePolicy } from '../../../src/policy/index.js';
import type { ResolvedPolicy } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';

interface DefaultsCase {
  name: string;
  spec: ImmutabilityPolicySpec;
  resolved: ResolvedPolicy;
}

describe('policy/defaults', () => {
  const { cases } = loadCases<DefaultsCase>('defaults.yaml');
  for (const c of cases) {
    it(c.name, () => {
      expect(resolvePolicy('p', c.spec)).to.deep.equal(c.resolved);
    });
  }

  it('does not share or mutate the default lists and rules', () => {
    const resolved = resolvePolicy('p', {});
    resolved.match.excludedNamespaces.push('mine');
    resolved.rules.exec = true;
    expect(DEFAULT_EXCLUDED_NAMESPACES).to.not.include('mine');
    expect(DEFAULT_RULES.exec).to.equal(false);
    expect(resolvePolicy('p', {}).match.excludedNamespaces).to.not.include('mine');
  });

  it('ignores rule values that are not booleans', () => {
    const spec = { rules: { privileged: 'no' } } as unknown as ImmutabilityPolicySpec;
    expect(resolvePolicy('p', spec).rules.privileged).to.equal(true);
  });
});

/** Leaf `default:` values of a structural schema, as a tree shaped like the objects it describes. */
function schemaDefaults(schema: StructuralSchema): unknown {
  if (schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(schema.properties)) {
      const value = schemaDefaults(child);
      if (value !== undefined) out[key] = value;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return schema['default'];
}

describe('policy/defaults against the CRD', () => {
  const specSchema = loadPolicySchema().properties?.['spec'];

  it('SPEC_DEFAULTS equals the leaf default: values of the CRD spec schema', () => {
    expect(specSchema).to.not.equal(undefined);
    expect(SPEC_DEFAULTS).to.deep.equal(schemaDefaults(specSchema!));
  });

  it('a spec with every block present resolves to the CRD defaults at every defaulted path', () => {
    const resolved = resolvePolicy('p', { admission: {}, remediation: { label: {}, patchOwner: {}, evict: {} } });
    const check = (defaults: unknown, actual: unknown, path: string): void => {
      if (typeof defaults === 'object' && defaults !== null && !Array.isArray(defaults)) {
        for (const [key, value] of Object.entries(defaults)) check(value, (actual as Record<string, unknown>)[key], `${path}.${key}`);
        return;
      }
      expect(actual, path).to.deep.equal(defaults);
    };
    check(schemaDefaults(specSchema!), resolved, 'spec');
  });
});
