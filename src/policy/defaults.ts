// A policy spec as users write it leaves most fields out; the engine works on a ResolvedPolicy in which every
// default is filled in, so no other module has to know one. The values equal the CRD's `default:` keywords
// (test/unit/policy/defaults.test.ts compares them): objects read from the API server already carry them,
// and `check` and unit tests, which see specs as written, get the same answer from here.
import type {
  AdmissionSpec,
  EvictRemediation,
  Exemption,
  FalcoPriorityName,
  ImmutabilityPolicySpec,
  Mode,
  PatchOwnerRemediation,
  PolicyMatch,
  PolicyRules,
} from '../api/types.js';

/** Every default of the spec, shaped like the spec (a block's defaults apply once the block is present). */
export interface SpecDefaults {
  mode: Mode;
  match: { excludedNamespaces: readonly string[] };
  rules: Readonly<Required<PolicyRules>>;
  falco: { minimumPriority: FalcoPriorityName };
  admission: Readonly<Required<AdmissionSpec>>;
  remediation: { patchOwner: { rollback: boolean; presets: boolean }; evict: Readonly<Required<EvictRemediation>> };
}

export const SPEC_DEFAULTS: Readonly<SpecDefaults> = deepFreeze({
  mode: 'Audit',
  match: { excludedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'] },
  rules: {
    readOnlyRootFilesystem: true,
    privileged: true,
    allowPrivilegeEscalation: false,
    runAsNonRoot: false,
    capabilities: false,
    dropAllCapabilities: false,
    procMount: false,
    hostPathWritable: false,
    exec: false,
    ephemeralContainers: false,
    falco: false,
  },
  falco: { minimumPriority: 'Notice' },
  admission: { action: 'Deny', mutate: false },
  remediation: { patchOwner: { rollback: true, presets: true }, evict: { maxPerMinute: 5, barePods: false } },
});

/** Shared defaults must not change under a caller that edits what it was given. */
function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) deepFreeze(child as object);
  return Object.freeze(value);
}

export const DEFAULT_RULES = SPEC_DEFAULTS.rules;
export const DEFAULT_EXCLUDED_NAMESPACES = SPEC_DEFAULTS.match.excludedNamespaces;

export type ResolvedPatchOwner = Omit<PatchOwnerRemediation, 'rollback' | 'presets'> & { rollback: boolean; presets: boolean };

/** Remediation with the defaults of each present block filled in; an absent block stays absent (off). */
export interface ResolvedRemediation {
  label?: Record<string, never>;
  patchOwner?: ResolvedPatchOwner;
  evict?: Required<EvictRemediation>;
}

export interface ResolvedPolicy {
  name: string;
  mode: Mode;
  match: Required<Pick<PolicyMatch, 'namespaces' | 'excludedNamespaces'>> &
    Pick<PolicyMatch, 'namespaceSelector' | 'podSelector'>;
  rules: Required<PolicyRules>;
  /** Which Falco alerts count; `rules` empty means every rule. */
  falco: { minimumPriority: FalcoPriorityName; rules: string[] };
  exemptions: Exemption[];
  remediation: ResolvedRemediation;
  /** Present when the policy asks for an in-apiserver admission policy. */
  admission?: Readonly<Required<AdmissionSpec>>;
}

/**
 * Applies the defaults: mode Audit, DEFAULT_RULES for every rule left out, no namespace filter, and
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
    mode: spec.mode ?? SPEC_DEFAULTS.mode,
    match: {
      namespaces: [...(match.namespaces ?? [])],
      excludedNamespaces: [...(match.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES)],
    },
    rules,
    falco: {
      minimumPriority: spec.falco?.minimumPriority ?? SPEC_DEFAULTS.falco.minimumPriority,
      rules: [...(spec.falco?.rules ?? [])],
    },
    exemptions: [...(spec.exemptions ?? [])],
    remediation: resolveRemediation(spec.remediation ?? {}),
  };
  if (match.namespaceSelector !== undefined) resolved.match.namespaceSelector = match.namespaceSelector;
  if (match.podSelector !== undefined) resolved.match.podSelector = match.podSelector;
  if (spec.admission !== undefined) resolved.admission = { ...SPEC_DEFAULTS.admission, ...spec.admission };
  return resolved;
}

function resolveRemediation(remediation: NonNullable<ImmutabilityPolicySpec['remediation']>): ResolvedRemediation {
  const resolved: ResolvedRemediation = {};
  if (remediation.label !== undefined) resolved.label = {};
  const { patchOwner, evict } = remediation;
  if (patchOwner !== undefined) {
    const defaults = SPEC_DEFAULTS.remediation.patchOwner;
    resolved.patchOwner = { ...patchOwner, rollback: patchOwner.rollback ?? defaults.rollback, presets: patchOwner.presets ?? defaults.presets };
  }
  if (evict !== undefined) {
    resolved.evict = {
      maxPerMinute: evict.maxPerMinute ?? SPEC_DEFAULTS.remediation.evict.maxPerMinute,
      barePods: evict.barePods ?? SPEC_DEFAULTS.remediation.evict.barePods,
    };
  }
  return resolved;
}
