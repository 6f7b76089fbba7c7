// The operator's writes, each idempotent: metadata and status by server-side apply with one field manager
// (re-applying the same intent is a no-op, and applying less removes only what we own), finalizers by a JSON
// patch guarded with `test`, evictions through the Eviction subresource.
import { API_VERSION, FIELD_MANAGER, KIND, LABEL_REMEDIATED, type ImmutabilityPolicyStatus } from '../api/types.js';
import { isNotFound } from './errors.js';
import { AcceptTypes, ContentTypes, type KubeHttp, type RequestOptions } from './http.js';
import { Paths } from './resources.js';

const applyQuery = { fieldManager: FIELD_MANAGER, force: true } as const;

/** Resource names of the workload kinds whose pod templates remediation reads and patches. */
const WORKLOAD_PLURALS: Readonly<Record<string, string>> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  ReplicaSet: 'replicasets',
  Job: 'jobs',
  CronJob: 'cronjobs',
};

/** A namespaced object by type and name. */
export interface NamespacedRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

function reportPath(namespace: string, name: string): string {
  return `/apis/openreports.io/v1alpha1/namespaces/${encodeURIComponent(namespace)}/reports/${encodeURIComponent(name)}`;
}

function workloadPath(ref: NamespacedRef): string {
  const plural = WORKLOAD_PLURALS[ref.kind];
  if (!plural) throw new Error(`no API path known for kind ${ref.kind}`);
  return Paths.workload(ref.apiVersion, plural, ref.namespace, ref.name);
}

/** A workload the operator has written to, with its annotations (where its action records are). */
export interface RemediatedWorkload {
  kind: string;
  namespace: string;
  name: string;
  annotations: Record<string, string>;
}

export interface PodMetadataIntent {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The pod a label write is for: its name, and its uid when known, which pins the write to that one pod. */
export interface PodIdentity {
  namespace: string;
  name: string;
  uid?: string | undefined;
}

/**
 * The label write, as a request: server-side apply of exactly `intent`'s labels and annotations under
 * `fieldManager`. One definition for the operator and for the benchmark's ceiling, which measures the API
 * server's rate for this same write (bench/lib/objects.ts applyLabel).
 *
 * The pod's uid in the body is a precondition: the intent was computed for that pod, and a pod deleted since
 * (apply would try to create it) or recreated under the same name (a StatefulSet's web-0) must not receive it.
 * kube-apiserver refuses such a write instead (isGoneOrReplaced, k8s/errors.ts); server-side apply records no
 * ownership of metadata.uid, so the field costs nothing else.
 *
 * Its answer is asked for as metadata only: nobody reads it (KubeHttp.write drains it), and the pod's spec and
 * status are a third of what kube-apiserver would otherwise encode, send and the operator decrypt, per label.
 */
export function podMetadataApply(pod: PodIdentity, intent: PodMetadataIntent, fieldManager: string = FIELD_MANAGER):
  { method: 'PATCH'; path: string; opts: RequestOptions } {
  const { namespace, name, uid } = pod;
  const metadata = uid
    ? { name, namespace, uid, labels: intent.labels, annotations: intent.annotations }
    : { name, namespace, labels: intent.labels, annotations: intent.annotations };
  return {
    method: 'PATCH',
    path: Paths.pod(namespace, name),
    opts: {
      query: fieldManager === FIELD_MANAGER ? applyQuery : { fieldManager, force: true },
      contentType: ContentTypes.apply,
      accept: AcceptTypes.objectMetadata,
      body: { apiVersion: 'v1', kind: 'Pod', metadata },
    },
  };
}

export class KubeApi {
  constructor(readonly http: KubeHttp) {}

  /**
   * Applies exactly our labels/annotations on the pod `pod` names (its uid too, when given); keys we owned
   * before and omit now are removed.
   */
  async applyPodMetadata(pod: PodIdentity, intent: PodMetadataIntent, signal?: AbortSignal): Promise<void> {
    const { method, path, opts } = podMetadataApply(pod, intent);
    opts.signal = signal;
    await this.http.write(method, path, opts);
  }

  async applyPolicyStatus(name: string, status: ImmutabilityPolicyStatus, signal?: AbortSignal): Promise<void> {
    await this.http.write('PATCH', Paths.policyStatus(name), {
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
    await this.http.write('PATCH', Paths.policy(name), { contentType: ContentTypes.jsonPatch, body: ops, signal });
  }

  /** Evicts a pod (policy/v1 Eviction); PodDisruptionBudgets answer 429 when they forbid it. */
  async evictPod(namespace: string, name: string, uid: string | undefined, signal?: AbortSignal): Promise<void> {
    await this.http.write('POST', Paths.eviction(namespace, name), {
      body: {
        apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace },
        // The UID precondition makes a retried eviction a no-op for the pod's replacement of the same name.
        ...(uid ? { deleteOptions: { preconditions: { uid } } } : {}),
      },
      signal,
    });
  }

  /**
   * Every workload of the kinds remediation writes to that carries our LABEL_REMEDIATED, as metadata only
   * (PartialObjectMetadataList: no specs, no statuses), a page of 500 at a time.
   */
  async listRemediatedWorkloads(signal?: AbortSignal): Promise<RemediatedWorkload[]> {
    const labelSelector = LABEL_REMEDIATED;
    const out: RemediatedWorkload[] = [];
    for (const [kind, plural] of Object.entries(WORKLOAD_PLURALS)) {
      if (kind === 'Job') continue; // never written to: a Job's template is immutable
      const group = kind === 'CronJob' ? 'batch/v1' : 'apps/v1';
      let continueToken: string | undefined;
      do {
        const page = await this.http.request<{ metadata?: { continue?: string }; items?: { metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> } }[] }>(
          'GET', `/apis/${group}/${plural}`, { query: { labelSelector, limit: 500, continue: continueToken }, accept: AcceptTypes.listMetadata, signal });
        for (const item of page.items ?? []) {
          const meta = item.metadata ?? {};
          if (meta.name && meta.namespace) out.push({ kind, namespace: meta.namespace, name: meta.name, annotations: meta.annotations ?? {} });
        }
        continueToken = page.metadata?.continue || undefined;
      } while (continueToken);
    }
    return out;
  }

  /** Reads a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) as plain JSON. */
  async getWorkload(ref: NamespacedRef, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.http.request<Record<string, unknown>>('GET', workloadPath(ref), { signal });
  }

  /**
   * Server-side applies `body` (a full apply configuration of the workload) with our field manager, forcing
   * conflicts; resolves with the object as stored. Fields we applied before and omit now are removed.
   */
  async applyWorkload(ref: NamespacedRef, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.http.request<Record<string, unknown>>('PATCH', workloadPath(ref), {
      query: applyQuery, contentType: ContentTypes.apply, body, signal,
    });
  }

  /** Server-side applies an OpenReports Report (the whole report: results we no longer list are removed). */
  async applyReport(report: { metadata: { name: string; namespace: string } } & Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    await this.http.write('PATCH', reportPath(report.metadata.namespace, report.metadata.name), {
      query: applyQuery, contentType: ContentTypes.apply, body: report, signal,
    });
  }

  /** Deletes a Report; one that is already gone is not an error. */
  async deleteReport(namespace: string, name: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.http.write('DELETE', reportPath(namespace, name), { signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Pods of a namespace matching a label selector, with their full status (not the slim cache's). */
  async listPods(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const res = await this.http.request<{ items?: Record<string, unknown>[] }>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, {
      query: { labelSelector }, signal,
    });
    return res?.items ?? [];
  }
}
