// Marks the replica that holds the Lease with `immutability.dev/leader=true` on its own pod, so that a
// Service can route to the leader only (the audit webhook: a batch delivered to a standby would never be
// acted on). Written under its own field manager: the pod reconciler's server-side applies (manager
// immutability-operator) never own, and so never remove, this label.
import { FIELD_MANAGER, LABEL_LEADER } from '../api/types.js';
import { isNotFound } from './errors.js';
import { ContentTypes, type KubeHttp } from './http.js';
import { Paths } from './resources.js';

export const LEADER_FIELD_MANAGER = `${FIELD_MANAGER}-leader`;

export interface LeaderLabel {
  /** Sets (true) or removes (false) the label; false when the pod is not found (not running in a pod). */
  set(leading: boolean, signal?: AbortSignal): Promise<boolean>;
}

export function leaderLabel(http: KubeHttp, pod: { namespace: string; name: string }): LeaderLabel {
  return {
    async set(leading, signal) {
      try {
        // A merge patch, not an apply: applying to a pod that does not exist would try to create one.
        await http.request('PATCH', Paths.pod(pod.namespace, pod.name), {
          query: { fieldManager: LEADER_FIELD_MANAGER },
          contentType: ContentTypes.mergePatch,
          body: { metadata: { labels: { [LABEL_LEADER]: leading ? 'true' : null } } },
          signal,
        });
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
  };
}
