// The ImmutabilityPolicy API (immutability.dev/v1alpha1) as TypeScript types. The CRD schema in
// crds/immutability.dev_immutabilitypolicies.yaml is the source of truth; test/unit/api keeps the two from
// drifting by validating every sample and fixture against the schema.

import type { KubeMeta } from './kube.js';

export const GROUP = 'immutability.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ImmutabilityPolicy';
export const PLURAL = 'immutabilitypolicies';
export const FIELD_MANAGER = 'immutability-operator';

/** Labels and annotations the operator writes; all carry the `immutability.dev/` prefix. */
export const LABEL_VIOLATION = `${GROUP}/violation`;
export const ANNOTATION_VIOLATIONS = `${GROUP}/violations`;
export const LABEL_DRIFT = `${GROUP}/drift`;
export const ANNOTATION_DRIFT = `${GROUP}/drift-details`;
export const FINALIZER = `${GROUP}/cleanup`;
/** On the operator's own pod while it holds the Lease (routes the audit webhook Service to the leader). */
export const LABEL_LEADER = `${GROUP}/leader`;

export type Mode = 'Audit' | 'Enforce';

/** Rules that inspect the pod spec (spec drift). */
export const SPEC_RULES = ['readOnlyRootFilesystem', 'privileged', 'allowPrivilegeEscalation', 'runAsNonRoot'] as const;
/** Rules that need runtime signals (audit events). */
export const RUNTIME_RULES = ['exec', 'ephemeralContainers'] as const;
export type SpecRuleName = (typeof SPEC_RULES)[number];
export type RuntimeRuleName = (typeof RUNTIME_RULES)[number];
export type RuleName = SpecRuleName | RuntimeRuleName;

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: string[];
}

/** metav1.LabelSelector. An empty selector matches everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

export interface PolicyMatch {
  /** Namespace names or globs; empty means all namespaces. */
  namespaces?: string[];
  /** Defaults to DEFAULT_EXCLUDED_NAMESPACES when absent. */
  excludedNamespaces?: string[];
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
}

/** Which rules are enabled. Absent fields take the CRD defaults (see DEFAULT_RULES). */
export interface PolicyRules {
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  exec?: boolean;
  ephemeralContainers?: boolean;
}

export const DEFAULT_RULES: Readonly<Required<PolicyRules>> = {
  readOnlyRootFilesystem: true,
  privileged: true,
  allowPrivilegeEscalation: false,
  runAsNonRoot: false,
  exec: false,
  ephemeralContainers: false,
};

export interface Exemption {
  containers?: string[];
  images?: string[];
  namespaces?: string[];
  /** Rules it waives; empty or absent means all rules. */
  rules?: RuleName[];
  /** RFC 3339; once past, the exemption no longer applies. */
  expires?: string;
  reason: string;
}

export interface PatchOwnerRemediation {
  writablePaths?: string[];
  emptyDirSizeLimit?: string;
  rollback?: boolean;
}

export interface EvictRemediation {
  maxPerMinute?: number;
  barePods?: boolean;
}

/** A block that is present is enabled (Enforce mode only). */
export interface Remediation {
  label?: Record<string, never>;
  patchOwner?: PatchOwnerRemediation;
  evict?: EvictRemediation;
}

export interface ImmutabilityPolicySpec {
  mode?: Mode;
  match?: PolicyMatch;
  rules?: PolicyRules;
  exemptions?: Exemption[];
  remediation?: Remediation;
}

export type ConditionType = 'Ready' | 'Compliant' | 'Degraded';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Condition reasons, CamelCase per metav1.Condition rules. */
export const Reasons = {
  Evaluating: 'Evaluating',
  InvalidSpec: 'InvalidSpec',
  AllCompliant: 'AllCompliant',
  NoMatchedPods: 'NoMatchedPods',
  ViolationsFound: 'ViolationsFound',
  DriftDetected: 'DriftDetected',
  RemediationHealthy: 'RemediationHealthy',
  EvictionBlocked: 'EvictionBlocked',
  PatchFailed: 'PatchFailed',
  Forbidden: 'Forbidden',
  GitOpsManaged: 'GitOpsManaged',
  RolloutFailed: 'RolloutFailed',
  RateLimited: 'RateLimited',
} as const;
export type Reason = (typeof Reasons)[keyof typeof Reasons];

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Job' | 'ReplicaSet' | 'Pod';
export type WorkloadAction = 'Planned' | 'Labeled' | 'Patched' | 'Evicted' | 'Blocked' | 'Skipped';

export interface WorkloadViolation {
  namespace: string;
  kind: string;
  name: string;
  pods: number;
  findings: string[];
  action: WorkloadAction;
  message?: string;
  patch?: string;
}

export interface ActionCounts {
  labeled: number;
  patched: number;
  evicted: number;
  rolledBack: number;
}

export const MAX_STATUS_VIOLATIONS = 50;

export interface ImmutabilityPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  matchedPods?: number;
  violatingPods?: number;
  driftedPods?: number;
  violatingWorkloads?: number;
  actions?: ActionCounts;
  violations?: WorkloadViolation[];
  lastEvaluationTime?: string;
}

/** A policy's metadata: the common object metadata plus what deletion handling reads. */
export interface ObjectMeta extends KubeMeta {
  finalizers?: string[];
  creationTimestamp?: string;
}

export interface ImmutabilityPolicy {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: ImmutabilityPolicySpec;
  status?: ImmutabilityPolicyStatus;
}
