// A scripted stand-in for the API server's part in remediation: workloads by key, a server-side apply that
// merges keyed lists the way the API server does for the fields remediation sets, pods to list, and scripted
// eviction answers. Remediation logic is tested against it; the real API server is the integration tier's.
import { StatusError } from '../../../src/runtime/errors.js';
import { LABEL_REMEDIATED } from '../../../src/api/types.js';
import type { NamespacedRef, RemediatedWorkload } from '../../../src/k8s/api.js';
import type { RemediationApi } from '../../../src/remediation/remediator.js';
import type { EventType, ObjectReference } from '../../../src/observability/events.js';

type Obj = Record<string, unknown>;

const keyOf = (ref: { namespace: string; kind: string; name: string }): string => `${ref.namespace}/${ref.kind}/${ref.name}`;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const LIST_KEYS: Record<string, string> = { containers: 'name', initContainers: 'name', volumes: 'name', volumeMounts: 'mountPath' };

/** Deep merge of an apply body into a live object (keyed lists merged by key); enough for these tests. */
function merge(live: unknown, applied: unknown, field = ''): unknown {
  if (Array.isArray(applied) && LIST_KEYS[field]) {
    const key = LIST_KEYS[field];
    const out = Array.isArray(live) ? live.map((x: unknown) => structuredClone(x)) : [];
    for (const item of applied as Obj[]) {
      const i = out.findIndex((x) => isObj(x) && x[key] === item[key]);
      if (i >= 0) out[i] = merge(out[i], item);
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (isObj(applied) && isObj(live)) {
    const out: Obj = { ...live };
    for (const [k, v] of Object.entries(applied)) out[k] = merge(live[k], v, k);
    return out;
  }
  return structuredClone(applied);
}

export class FakeApi implements RemediationApi {
  readonly workloads = new Map<string, Obj>();
  readonly calls: { method: string; key: string; body?: Obj }[] = [];
  pods: Obj[] = [];
  /** Answers for successive evictions: an HTTP status to fail with, or 'ok'. Default 'ok'. */
  evictions: (number | 'ok')[] = [];
  /** Fails the next apply with this status. */
  applyFailure?: number;
  /**
   * A watch cache in front of the workloads (copies by key, as stale as a test makes them): cachedWorkload reads
   * it. Unset: the port has no cache and every read is a GET.
   */
  cache?: Map<string, Obj>;

  add(obj: Obj): void {
    const meta = obj['metadata'] as Obj;
    this.workloads.set(keyOf({ namespace: String(meta['namespace']), kind: String(obj['kind']), name: String(meta['name']) }), obj);
  }

  get(ref: { namespace: string; kind: string; name: string }): Obj {
    const obj = this.workloads.get(keyOf(ref));
    if (!obj) throw new Error(`no ${keyOf(ref)}`);
    return obj;
  }

  callsOf(method: string): { method: string; key: string; body?: Obj }[] {
    return this.calls.filter((c) => c.method === method);
  }

  getWorkload(ref: NamespacedRef): Promise<Obj> {
    this.calls.push({ method: 'get', key: keyOf(ref) });
    const obj = this.workloads.get(keyOf(ref));
    return obj ? Promise.resolve(structuredClone(obj)) : Promise.reject(new StatusError(404, 'not found'));
  }

  cachedWorkload(ref: NamespacedRef): Obj | undefined {
    const cached = this.cache?.get(keyOf(ref));
    return cached ? structuredClone(cached) : undefined;
  }

  /**
   * Our apply: the body's fields laid over the live object, refused with 409 as the API server refuses it when
   * the body's uid or resourceVersion precondition does not hold (a workload deleted or changed since). What the body omits of our earlier applies is not
   * modelled (tests that need removal check the body); generation counts spec changes.
   */
  applyWorkload(ref: NamespacedRef, body: Obj): Promise<Obj> {
    this.calls.push({ method: 'apply', key: keyOf(ref), body });
    if (this.applyFailure) {
      const status = this.applyFailure;
      this.applyFailure = undefined;
      return Promise.reject(new StatusError(status, `apply failed with ${status}`));
    }
    const wanted = body['metadata'] as Obj;
    const live = this.workloads.get(keyOf(ref));
    if (!live) {
      if (wanted['uid'] !== undefined) return Promise.reject(new StatusError(409, `uid mismatch: the provided object specified uid ${JSON.stringify(wanted['uid'])}, and no existing object was found`));
      throw new Error(`no ${keyOf(ref)}`);
    }
    const liveMeta = live['metadata'] as Obj;
    if ((wanted['resourceVersion'] !== undefined && wanted['resourceVersion'] !== liveMeta['resourceVersion']) ||
      (wanted['uid'] !== undefined && wanted['uid'] !== liveMeta['uid'])) {
      return Promise.reject(new StatusError(409, 'the object has been modified; please apply your changes to the latest version and try again'));
    }
    const merged = merge(live, body) as Obj;
    const meta = { ...liveMeta };
    if (typeof meta['resourceVersion'] === 'string') meta['resourceVersion'] = String(Number(meta['resourceVersion']) + 1);
    meta['annotations'] = (body['metadata'] as Obj)['annotations'] ?? {};
    meta['labels'] = { ...(meta['labels'] as Obj | undefined), ...((body['metadata'] as Obj)['labels'] as Obj | undefined) };
    if (JSON.stringify(merged['spec']) !== JSON.stringify(live['spec'])) meta['generation'] = Number(meta['generation'] ?? 1) + 1;
    merged['metadata'] = meta;
    this.add(merged);
    return Promise.resolve(structuredClone(merged));
  }

  listRemediatedWorkloads(): Promise<RemediatedWorkload[]> {
    this.calls.push({ method: 'listRemediated', key: '' });
    return Promise.resolve([...this.workloads.values()].flatMap((w) => {
      const meta = w['metadata'] as Obj;
      if ((meta['labels'] as Obj | undefined)?.[LABEL_REMEDIATED] === undefined) return [];
      return [{ kind: String(w['kind']), namespace: String(meta['namespace']), name: String(meta['name']), annotations: (meta['annotations'] ?? {}) as Record<string, string> }];
    }));
  }

  listPods(namespace: string, labelSelector: string): Promise<Obj[]> {
    this.calls.push({ method: 'list', key: `${namespace}?${labelSelector}` });
    return Promise.resolve(this.pods);
  }

  evictPod(namespace: string, name: string, uid: string | undefined): Promise<void> {
    this.calls.push({ method: 'evict', key: `${namespace}/${name}@${uid ?? ''}` });
    const answer = this.evictions.shift() ?? 'ok';
    return answer === 'ok' ? Promise.resolve() : Promise.reject(new StatusError(answer, `eviction refused with ${answer}`));
  }
}

export interface RecordedEvent {
  regarding: ObjectReference;
  type: EventType;
  reason: string;
  note: string;
}

export class FakeEvents {
  readonly recorded: RecordedEvent[] = [];
  record(regarding: ObjectReference, type: EventType, reason: string, _action: string, note: string): void {
    this.recorded.push({ regarding, type, reason, note });
  }
}

export { noopLogger } from '../../../src/runtime/logger.js';
