// Results of the pure engine. Nouns for results: a `Finding` is one broken rule in one container, an
// `Evaluation` is everything known about one pod or workload under one policy, a `RemediationPlan` is
// what Enforce mode would do about it.
import type { RuleName, SpecRuleName, WorkloadKind } from '../api/types.js';
import type { PodSpec } from '../api/kube.js';

export type ContainerType = 'container' | 'initContainer' | 'ephemeralContainer';

export interface Finding {
  container: string;
  containerType: ContainerType;
  rule: RuleName;
  /** What in the container breaks the rule when a rule reports items: a capability, a mount path. */
  subject?: string;
  /** Path inside the evaluated object, e.g. `spec.containers[0].securityContext.readOnlyRootFilesystem`. */
  fieldPath: string;
  message: string;
}

/** A rule that was deliberately not applied, kept visible in the findings (Windows pods, exemptions). */
export interface Skip {
  container?: string;
  rule: RuleName;
  reason: string;
}

/** Why a pod or workload is not governed by a policy. */
export interface MatchResult {
  matched: boolean;
  /** Present when `matched` is false. */
  reason?: string;
}

/** "Could not evaluate" is kept apart from "violation". */
export type Evaluation =
  | { outcome: 'evaluated'; findings: Finding[]; skips: Skip[] }
  | { outcome: 'error'; error: string };

/** One JSON Patch (RFC 6902) operation. */
export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

/** A workload whose pod template the engine evaluates and patches. */
export interface Workload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** The pod spec inside the template (or the pod's own spec for a bare pod). */
  podSpec: PodSpec;
  /** JSON pointer of `podSpec` inside the workload object, e.g. `/spec/template/spec`. */
  podSpecPath: string;
}

export interface ContainerFragment {
  name: string;
  securityContext?: Record<string, unknown>;
  /** Each with at least `mountPath` (the merge key) and `name`. */
  volumeMounts?: Record<string, unknown>[];
}

/**
 * A server-side apply configuration of a pod spec: only container securityContext fields (capabilities.add
 * whole, the API declares it atomic), volumeMounts keyed by mountPath and volumes keyed by name, always
 * addressed by the keys the API server merges on (container name, mountPath, volume name), never by index.
 */
export interface TemplateFragment {
  containers?: ContainerFragment[];
  initContainers?: ContainerFragment[];
  /** Each with at least `name` (the merge key). */
  volumes?: Record<string, unknown>[];
}

export interface RemediationPlan {
  /** Spec rules the owner patch fixes. runAsNonRoot is never patched. */
  patchedRules: SpecRuleName[];
  /** What Enforce applies: the apply configuration of the pod spec (empty when the template complies). */
  fragment: TemplateFragment;
  /** The values the fragment replaces, so that a rollback restores exactly them. */
  previous: TemplateFragment;
  /**
   * The same change as a minimal, idempotent JSON patch against the workload, rendered from `fragment` for
   * people (status, `check`): empty when the template already complies.
   */
  patch: JsonPatchOperation[];
  /** Human-readable summary, e.g. "set readOnlyRootFilesystem, added emptyDir at /var/cache/nginx, /var/run". */
  message: string;
  /** Findings the patch cannot fix (runAsNonRoot, exempted-free leftovers): label and report only. */
  unpatchable: Finding[];
  /**
   * Why the patch may break the workload: a known image (see presets.ts) would get a read-only root without
   * a mount at a path it writes. Empty when none.
   */
  warnings: string[];
}
