// A policy spec as users write it leaves most fields out; the engine works on a ResolvedPolicy in which every
// api.md default is filled in, so no other module has to know a default.
import { DEFAULT_EXCLUDED_NAMESPACES, DEFAULT_RULES } from '../api/types.js';
import type {
  Exemption,
  ImmutabilityPolicySpec,
  Mode,
  PolicyMatch,
  PolicyRules,
  Remediation,
} from '../api/types.js';

export interface ResolvedPolicy {
  name: string;
  mode: Mode;
  match: Required<Pick<PolicyMatch, 'namespaces' | 'excludedNamespaces'>> &
    Pick<PolicyMatch, 'namespaceSelector' | 'podSelector'>;
  rules: Required<PolicyRules>;
  exemptions: Exemption[];
  remediation: Remediation;
}

/**
 * Applies the api.md defaults: mode Audit, DEFAULT_RULES for every rule left out, no namespace filter, and
 * DEFAULT_EXCLUDED_NAMESPACES only when `excludedNamespaces` is absent (an explicit empty list excludes
 * nothing, so a user can govern kube-system on purpose).
 */
export function resolvePolicy(name: string, spec: ImmutabilityPolicySpec): ResolvedPolicy {
  const match = spec.match ?? {};
  const rules: Required<PolicyRules> = { ...DEFAULT_RULES };
  for (const key of Object.keys(DEFAULT_RULES) as (keyof PolicyRules)[]) {
    const value = spec.rules?.[key];
    if (typeof value === 'boolean') rules[key] = value;
  }
  const resolved: ResolvedPolicy = {
    name,
    mode: spec.mode ?? 'Audit',
    match: {
      namespaces: [...(match.namespaces ?? [])],
      excludedNamespaces: [...(match.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES)],
    },
    rules,
    exemptions: [...(spec.exemptions ?? [])],
    remediation: spec.remediation ?? {},
  };
  if (match.namespaceSelector !== undefined) resolved.match.namespaceSelector = match.namespaceSelector;
  if (match.podSelector !== undefined) resolved.match.podSelector = match.podSelector;
  return resolved;
}
