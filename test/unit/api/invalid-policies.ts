// Invalid ImmutabilityPolicies and the error each must produce, as a table shared by the unit tests (offline
// validation) and usable against a real API server: every case is one mutation of a valid policy, so a case
// fails for exactly one reason.

export interface InvalidPolicyCase {
  name: string;
  /** Mutates a fresh validPolicy(). */
  mutate: (policy: Record<string, unknown>) => void;
  /** A substring of one error; it starts with the field path. */
  error: string;
}

export function validPolicy(): Record<string, unknown> {
  return {
    apiVersion: 'immutability.dev/v1alpha1',
    kind: 'ImmutabilityPolicy',
    metadata: { name: 'table' },
    spec: {
      mode: 'Enforce',
      match: { namespaces: ['shop'], podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] } },
      rules: { readOnlyRootFilesystem: true },
      exemptions: [{ containers: ['istio-proxy'], rules: ['readOnlyRootFilesystem'], reason: 'MESH-1: sidecar' }],
      remediation: {
        label: {},
        patchOwner: { writablePaths: ['/tmp'], emptyDirSizeLimit: '64Mi' },
        evict: { maxPerMinute: 5 },
      },
    },
  };
}

type Json = Record<string, unknown>;

/** Sets (or, with `undefined`, deletes) the value at a dotted path such as `spec.exemptions.0.reason`. */
function set(policy: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  let node = policy as Record<string, unknown>;
  for (const key of keys) node = node[key] as Record<string, unknown>;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

export const INVALID_POLICIES: readonly InvalidPolicyCase[] = [
  { name: 'unknown mode', mutate: (p) => set(p, 'spec.mode', 'Sometimes'), error: 'spec.mode: must be one of Audit, Enforce' },
  { name: 'unknown spec field', mutate: (p) => set(p, 'spec.enforce', true), error: 'spec.enforce: unknown field' },
  { name: 'misspelt rule', mutate: (p) => set(p, 'spec.rules.readOnlyRootFS', true), error: 'spec.rules.readOnlyRootFS: unknown field' },
  { name: 'rule that is not a boolean', mutate: (p) => set(p, 'spec.rules.privileged', 'yes'), error: 'spec.rules.privileged: must be a boolean' },
  { name: 'fields in remediation.label', mutate: (p) => set(p, 'spec.remediation.label', { enabled: true }), error: 'spec.remediation.label.enabled: unknown field' },
  { name: 'exemption without reason', mutate: (p) => set(p, 'spec.exemptions.0.reason', undefined), error: 'spec.exemptions[0].reason: required' },
  { name: 'exemption with empty reason', mutate: (p) => set(p, 'spec.exemptions.0.reason', ''), error: 'spec.exemptions[0].reason: must not be empty' },
  { name: 'exemption with blank reason', mutate: (p) => set(p, 'spec.exemptions.0.reason', '  \t'), error: 'spec.exemptions[0].reason: reason must not be blank' },
  { name: 'exemption that narrows nothing', mutate: (p) => set(p, 'spec.exemptions', [{ reason: 'everything' }]), error: 'spec.exemptions[0]: an exemption must set at least one of containers, images, namespaces or rules' },
  { name: 'exemption with only empty lists', mutate: (p) => set(p, 'spec.exemptions', [{ containers: [], rules: [], reason: 'x' }]), error: 'spec.exemptions[0]: an exemption must set at least one of' },
  { name: 'expires without a time', mutate: (p) => set(p, 'spec.exemptions.0.expires', '2027-01-31'), error: 'spec.exemptions[0].expires: must be an RFC 3339 date-time' },
  { name: 'expires without a zone', mutate: (p) => set(p, 'spec.exemptions.0.expires', '2027-01-31T00:00:00'), error: 'spec.exemptions[0].expires: must be an RFC 3339 date-time' },
  { name: 'expires on an impossible date', mutate: (p) => set(p, 'spec.exemptions.0.expires', '2027-02-30T00:00:00Z'), error: 'spec.exemptions[0].expires: must be an RFC 3339 date-time' },
  { name: 'expires with a space separator', mutate: (p) => set(p, 'spec.exemptions.0.expires', '2027-01-31 00:00:00Z'), error: 'spec.exemptions[0].expires: must be an RFC 3339 date-time' },
  { name: 'unknown exemption rule', mutate: (p) => set(p, 'spec.exemptions.0.rules', ['readonly']), error: 'spec.exemptions[0].rules[0]: must be one of readOnlyRootFilesystem, privileged' },
  { name: 'container glob with a slash', mutate: (p) => set(p, 'spec.exemptions.0.containers', ['app/*']), error: 'spec.exemptions[0].containers[0]: must be a name or glob' },
  { name: 'relative writable path', mutate: (p) => set(p, 'spec.remediation.patchOwner.writablePaths', ['tmp']), error: 'spec.remediation.patchOwner.writablePaths[0]: writable paths must be absolute' },
  { name: 'writable path /', mutate: (p) => set(p, 'spec.remediation.patchOwner.writablePaths', ['/']), error: 'spec.remediation.patchOwner.writablePaths[0]: writable paths must be absolute (start with /) and must not be / itself' },
  { name: "writable path with '..'", mutate: (p) => set(p, 'spec.remediation.patchOwner.writablePaths', ['/tmp', '/var/../etc']), error: "spec.remediation.patchOwner.writablePaths[1]: writable paths must not contain '..' segments" },
  { name: 'duplicate writable path', mutate: (p) => set(p, 'spec.remediation.patchOwner.writablePaths', ['/tmp', '/var/run', '/tmp']), error: 'spec.remediation.patchOwner.writablePaths[2]: duplicate value "/tmp"' },
  { name: 'size limit that is not a quantity', mutate: (p) => set(p, 'spec.remediation.patchOwner.emptyDirSizeLimit', '64MB'), error: 'spec.remediation.patchOwner.emptyDirSizeLimit: must be a positive quantity' },
  { name: 'size limit of zero', mutate: (p) => set(p, 'spec.remediation.patchOwner.emptyDirSizeLimit', '0'), error: 'spec.remediation.patchOwner.emptyDirSizeLimit: must be a positive quantity' },
  { name: 'maxPerMinute 0', mutate: (p) => set(p, 'spec.remediation.evict.maxPerMinute', 0), error: 'spec.remediation.evict.maxPerMinute: must be at least 1' },
  { name: 'maxPerMinute too high', mutate: (p) => set(p, 'spec.remediation.evict.maxPerMinute', 5000), error: 'spec.remediation.evict.maxPerMinute: must be at most 1000' },
  { name: 'maxPerMinute as a string', mutate: (p) => set(p, 'spec.remediation.evict.maxPerMinute', '5'), error: 'spec.remediation.evict.maxPerMinute: must be an integer' },
  { name: 'too long reason', mutate: (p) => set(p, 'spec.exemptions.0.reason', 'x'.repeat(1025)), error: 'spec.exemptions[0].reason: must be at most 1024 characters' },
  { name: 'too many namespaces', mutate: (p) => set(p, 'spec.match.namespaces', Array.from({ length: 65 }, (_, i) => `ns-${i}`)), error: 'spec.match.namespaces: must have at most 64 items' },
  { name: 'too many exemptions', mutate: (p) => set(p, 'spec.exemptions', Array.from({ length: 65 }, () => ({ rules: ['exec'], reason: 'r' }))), error: 'spec.exemptions: must have at most 64 items' },
  { name: 'duplicate namespace', mutate: (p) => set(p, 'spec.match.namespaces', ['shop', 'shop']), error: 'spec.match.namespaces[1]: duplicate value "shop"' },
  { name: 'namespace glob in upper case', mutate: (p) => set(p, 'spec.match.namespaces', ['Shop']), error: 'spec.match.namespaces[0]: must be a name or glob' },
  { name: 'selector operator In without values', mutate: (p) => set(p, 'spec.match.podSelector.matchExpressions.0.values', undefined), error: 'spec.match.podSelector.matchExpressions[0]: values must be non-empty when operator is In or NotIn' },
  { name: 'selector operator Exists with values', mutate: (p) => set(p, 'spec.match.podSelector.matchExpressions.0.operator', 'Exists'), error: 'spec.match.podSelector.matchExpressions[0]: values must be non-empty when operator is In or NotIn, and empty when operator is Exists' },
  { name: 'unknown selector operator', mutate: (p) => set(p, 'spec.match.podSelector.matchExpressions.0.operator', 'Equals'), error: 'spec.match.podSelector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist' },
  { name: 'wrong apiVersion', mutate: (p) => set(p, 'apiVersion', 'immutability.dev/v1'), error: 'apiVersion: must be immutability.dev/v1alpha1' },
  { name: 'wrong kind', mutate: (p) => set(p, 'kind', 'ImmutabilityPolicies'), error: 'kind: must be ImmutabilityPolicy' },
];
