// The ImmutabilityPolicy API (immutability.dev/v1alpha1). The object types are generated from the CRD schema
// (crds/immutability.dev_immutabilitypolicies.yaml → generated.ts, checked by test/unit/api); this module
// adds what a schema cannot say: names, the narrowing the operator guarantees, and the well-known labels.
// Defaults live in src/policy/defaults.ts only.
import type {
  ActionCounts as GeneratedActionCounts,
  Condition,
  FalcoFilter,
  ImmutabilityPolicySpec,
  ImmutabilityPolicyStatus as GeneratedStatus,
  LabelSelectorRequirement,
  PolicyRules,
  WorkloadViolation as GeneratedWorkloadViolation,
} from './generated.js';
import type { KubeMeta } from './kube.js';

export type {
  AdmissionSpec,
  Condition,
  EvictRemediation,
  Exemption,
  FalcoFilter,
  ImmutabilityPolicySpec,
  LabelSelector,
  LabelSelectorRequirement,
  PatchOwnerRemediation,
  PolicyMatch,
  PolicyRules,
  Remediation,
} from './generated.js';

export const GROUP = 'immutability.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ImmutabilityPolicy';
export const PLURAL = 'immutabilitypolicies';
export const FIELD_MANAGER = 'immutability-operator';
/**
 * The admission controller writes its AdmissionReady condition under its own field manager: server-side
 * apply keeps each manager's condition entries (a map-list keyed on type), so neither writer removes the
 * other's conditions.
 */
export const ADMISSION_FIELD_MANAGER = 'immutability-operator-admission';

/** Labels and annotations the operator writes; all carry the `immutability.dev/` prefix. */
export const LABEL_VIOLATION = `${GROUP}/violation`;
export const ANNOTATION_VIOLATIONS = `${GROUP}/violations`;
export const LABEL_DRIFT = `${GROUP}/drift`;
/** On every workload the operator has written to, so that a new leader finds their action records with one LIST per kind. */
export const LABEL_REMEDIATED = `${GROUP}/remediated`;
export const ANNOTATION_DRIFT = `${GROUP}/drift-details`;
export const FINALIZER = `${GROUP}/cleanup`;
/** On the operator's own pod while it holds the Lease (routes the audit webhook Service to the leader). */
export const LABEL_LEADER = `${GROUP}/leader`;

export type Mode = NonNullable<ImmutabilityPolicySpec['mode']>;

/** Rules that inspect the pod spec (spec drift). */
export const SPEC_RULES = [
  'readOnlyRootFilesystem',
  'privileged',
  'allowPrivilegeEscalation',
  'runAsNonRoot',
  'capabilities',
  'dropAllCapabilities',
  'procMount',
  'hostPathWritable',
] as const;
/** Rules that need runtime signals (audit events, Falco alerts). */
export const RUNTIME_RULES = ['exec', 'ephemeralContainers', 'falco'] as const;
export type SpecRuleName = (typeof SPEC_RULES)[number];
export type RuntimeRuleName = (typeof RUNTIME_RULES)[number];
export type RuleName = keyof PolicyRules;

export type LabelSelectorOperator = LabelSelectorRequirement['operator'];

/** Falco priorities, most severe first (Falco's own order; the CRD's spec.falco.minimumPriority enum). */
export const FALCO_PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const;
export type FalcoPriorityName = NonNullable<FalcoFilter['minimumPriority']>;

export type ConditionType = 'Ready' | 'Compliant' | 'Degraded' | 'AdmissionReady';
export type ConditionStatus = Condition['status'];

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
  AdmissionPolicyReady: 'AdmissionPolicyReady',
  MutationUnsupported: 'MutationUnsupported',
  AdmissionUnsupported: 'AdmissionUnsupported',
  AdmissionRejected: 'AdmissionRejected',
  TypeCheckWarnings: 'TypeCheckWarnings',
  AdmissionPending: 'AdmissionPending',
} as const;
export type Reason = (typeof Reasons)[keyof typeof Reasons];

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Job' | 'ReplicaSet' | 'Pod';
export type WorkloadAction = NonNullable<GeneratedWorkloadViolation['action']>;

/** A status entry as the operator writes it: the schema leaves these optional, the operator always sets them. */
export type WorkloadViolation = GeneratedWorkloadViolation & Required<Pick<GeneratedWorkloadViolation, 'pods' | 'findings' | 'action'>>;

/** The operator always writes all four counts. */
export type ActionCounts = Required<GeneratedActionCounts>;

export const MAX_STATUS_VIOLATIONS = 50;
/** The CRD's bound on `violations[].findings` (a pod with 100 containers can break several rules in each). */
export const MAX_STATUS_FINDINGS = 64;
/** The CRD's bound on `violations[].message`. */
export const MAX_STATUS_MESSAGE_CHARS = 1024;

/** Status as the operator writes it (see WorkloadViolation and ActionCounts). */
export interface ImmutabilityPolicyStatus extends Omit<GeneratedStatus, 'actions' | 'violations'> {
  actions?: ActionCounts;
  violations?: WorkloadViolation[];
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
