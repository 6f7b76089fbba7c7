// The operator's writes, each idempotent: metadata and status by server-side apply with one field manager
// (re-applying the same intent is a no-op, and applying less removes only what we own), finalizers by a JSON
// patch guarded with `test`, evictions through the Eviction subresource.
import { API_VERSION, FIELD_MANAGER, KIND, type ImmutabilityPolicyStatus } from '../api/types.js';
import { ContentTypes, type KubeHttp } from './http.js';
import { Paths } from './resources.js';

const applyQuery = { fieldManager: FIELD_MANAGER, force: true } as const;

export interface PodMetadataIntent {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export class KubeApi {
  constructor(readonly http: KubeHttp) {}

  /** Applies exactly our labels/annotations on a pod; keys we owned before and omit now are removed. */
  async applyPodMetadata(namespace: string, name: string, intent: PodMetadataIntent, signal?: AbortSignal): Promise<void> {
    await this.http.request('PATCH', Paths.pod(namespace, name), {
      query: applyQuery,
      contentType: ContentTypes.apply,
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: intent.labels, annotations: intent.annotations } },
      signal,
    });
  }

  async applyPolicyStatus(name: string, status: ImmutabilityPolicyStatus, signal?: AbortSignal): Promise<void> {
    await this.http.request('PATCH', Paths.policyStatus(name), {
      query: applyQuery,
      contentType: ContentTypes.apply,
      body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, status },
      signal,
    });
  }

  /** Replaces the finalizer list only if it is still what we read (else 422/409 and the caller retries). */
  async setPolicyFinalizers(name: string, expected: readonly string[] | undefined, next: readonly string[], signal?: AbortSignal): Promise<void> {
    const ops = expected === undefined
      ? [{ op: 'add', path: '/metadata/finalizers', value: next }]
      : [{ op: 'test', path: '/metadata/finalizers', value: expected }, { op: 'replace', path: '/metadata/finalizers', value: next }];
    await this.http.request('PATCH', Paths.policy(name), { contentType: ContentTypes.jsonPatch, body: ops, signal });
  }

  /** Evicts a pod (policy/v1 Eviction); PodDisruptionBudgets answer 429 when they forbid it. */
  async evictPod(namespace: string, name: string, uid: string | undefined, signal?: AbortSignal): Promise<void> {
    await this.http.request('POST', Paths.eviction(namespace, name), {
      body: {
        apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace },
        // The UID precondition makes a retried eviction a no-op for the pod's replacement of the same name.
        ...(uid ? { deleteOptions: { preconditions: { uid } } } : {}),
      },
      signal,
    });
  }
}
