// Runtime drift as the reconcilers see it: which pods were tampered with, and the metadata that records it.
// The audit pipeline implements this; without an audit source nothing ever drifts.
import type { Pod } from '../api/kube.js';
import type { PodMetadataIntent } from '../k8s/api.js';
import type { ActivePolicy } from './policy-set.js';

export interface DriftSource {
  /** Drift labels/annotations the pod should carry under the governing policies. */
  podMetadata(pod: Pod, governing: readonly ActivePolicy[], namespaceLabels: Record<string, string> | undefined): PodMetadataIntent;
  /** `container:rule` keys of drift that `policy` (which matched the pod) counts. */
  driftFindings(pod: Pod, policy: ActivePolicy): string[];
}

export const noDrift: DriftSource = {
  podMetadata: () => ({ labels: {}, annotations: {} }),
  driftFindings: () => [],
};
