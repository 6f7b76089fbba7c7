// What the steps of one remediation pass share: the API port they write through, and the pass itself — one
// policy, what is remembered about it, and a single clock reading, so every step judges the same moment.
import type { ActivePolicy } from '../controllers/policy-set.js';
import type { NamespacedRef } from '../k8s/api.js';
import type { ResolvedPolicy } from '../policy/index.js';
import type { PolicyState } from './policy-state.js';

/** The API calls remediation makes; `KubeApi` implements it, unit tests fake it. */
export interface RemediationApi {
  getWorkload(ref: NamespacedRef, signal?: AbortSignal): Promise<Record<string, unknown>>;
  applyWorkload(ref: NamespacedRef, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>>;
  listPods(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<Record<string, unknown>[]>;
  evictPod(namespace: string, name: string, uid: string | undefined, signal?: AbortSignal): Promise<void>;
}

export interface RemediationContext {
  active: ActivePolicy;
  policy: ResolvedPolicy;
  state: PolicyState;
  /** Enforce acts; Audit works out the same actions and only reports them. */
  enforce: boolean;
  now: Date;
  signal?: AbortSignal;
}
