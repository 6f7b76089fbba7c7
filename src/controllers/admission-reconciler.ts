// Keyed by policy: keeps the in-apiserver admission objects of one ImmutabilityPolicy (its generated
// ValidatingAdmissionPolicy and binding, and with spec.admission.mutate in Enforce mode its
// MutatingAdmissionPolicy and binding) equal to what the policy says, and reports AdmissionReady. Level-
// triggered: every pass reads the policy from the cache and the generated objects from the API server, and
// applies (server-side, our field manager, forced) only what differs — so a deleted or hand-edited copy is put
// back on the next pass, and a pass that finds everything in place writes nothing. It returns when to come
// back: at the next exemption expiry (CEL has no clock, so the policy is regenerated then) or after the resync
// interval, whichever is first. Objects of a deleted policy go with it through their ownerReference.
import { ADMISSION_FIELD_MANAGER, API_VERSION, KIND, Reasons, type Condition, type ConditionStatus } from '../api/types.js';
import { ContentTypes, type KubeHttp } from '../k8s/http.js';
import { isMissingKind, isNotFound, messageOf, statusCodeOf } from '../k8s/errors.js';
import { Paths } from '../k8s/resources.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import { findCondition, setConditions } from '../policy/conditions.js';
import { admissionObjectName, generateValidation, LABEL_MANAGED_BY } from '../policy/admission/validating-policy.js';
import { generateMutation, mutationWanted } from '../policy/admission/mutating-policy.js';
import type { ReconcileResult } from '../runtime/workers.js';
import type { ActivePolicy, PolicySet } from './policy-set.js';
import { policyReference } from './policy-reconciler.js';

type Obj = Record<string, unknown>;

const ADMISSION_PATH = '/apis/admissionregistration.k8s.io/v1';
export const ADMISSION_RESOURCES = {
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
  MutatingAdmissionPolicy: 'mutatingadmissionpolicies',
  MutatingAdmissionPolicyBinding: 'mutatingadmissionpolicybindings',
} as const;
type AdmissionKind = keyof typeof ADMISSION_RESOURCES;

/** Bindings first, so that a policy is never left bound while its definition goes. */
const VALIDATING_KINDS: readonly AdmissionKind[] = ['ValidatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicy'];
const MUTATING_KINDS: readonly AdmissionKind[] = ['MutatingAdmissionPolicyBinding', 'MutatingAdmissionPolicy'];

export interface AdmissionReconcilerDeps {
  policies: PolicySet;
  http: KubeHttp;
  events: EventRecorder;
  logger: Logger;
  now: () => Date;
  /** How often generated objects are compared with the API server's copies (restores deleted or edited ones). */
  resyncMs: number;
}

/** `desired` is contained in `live`: every field we set has our value (arrays item by item, same length). */
export function containedIn(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => containedIn(d, live[i]));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired as Obj).every(([k, v]) => containedIn(v, (live as Obj)[k]));
  }
  return desired === live;
}

function objectPath(kind: AdmissionKind, name?: string): string {
  const base = `${ADMISSION_PATH}/${ADMISSION_RESOURCES[kind]}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

interface Verdict {
  status: ConditionStatus;
  reason: string;
  message: string;
  /** An Event accompanies a False verdict the first time it appears. */
  requeueAfterMs?: number;
}

export class AdmissionReconciler {
  constructor(private readonly deps: AdmissionReconcilerDeps) {}

  async reconcile(name: string, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const active = this.deps.policies.get(name);
    // Gone or going: the API server's garbage collector removes our objects through their ownerReference.
    if (!active || active.deleting) return;
    const generatedName = admissionObjectName(name);
    if (!active.resolved.admission) {
      await this.removeGenerated(generatedName, [...MUTATING_KINDS, ...VALIDATING_KINDS], signal);
      await this.writeCondition(active, undefined, signal);
      return;
    }
    if (active.problems.length > 0) return; // the policy controller reports InvalidSpec; nothing to generate from

    const now = this.deps.now();
    const uid = active.object.metadata.uid ?? '';
    const generated = generateValidation(active.resolved, uid, now);
    let verdict: Verdict;
    try {
      await this.ensure('ValidatingAdmissionPolicy', generated.policy, signal);
      await this.ensure('ValidatingAdmissionPolicyBinding', generated.binding, signal);
      verdict = await this.typeChecked(generatedName, signal);
    } catch (err) {
      verdict = this.failure(err);
    }
    if (verdict.status === 'True') verdict = await this.reconcileMutation(active, generatedName, verdict, now, signal);
    const changed = await this.writeCondition(active, verdict, signal);
    if (changed && verdict.status === 'False') {
      this.deps.events.record(policyReference(active), 'Warning', verdict.reason, 'GenerateAdmissionPolicy', verdict.message);
    }
    const untilExpiry = generated.regenerateAt === undefined ? Infinity : generated.regenerateAt.getTime() - now.getTime();
    return { requeueAfterMs: Math.max(0, Math.min(verdict.requeueAfterMs ?? this.deps.resyncMs, this.deps.resyncMs, untilExpiry)) };
  }

  /**
   * With mutate in Enforce mode, the MutatingAdmissionPolicy and binding are applied; otherwise ours are
   * removed. The API server compiles and type-checks a MutatingAdmissionPolicy when it is written (it has no
   * status), so a refusal arrives here as a 422. A server without the kind keeps validating: AdmissionReady
   * stays True and says that mutation is unsupported there.
   */
  private async reconcileMutation(active: ActivePolicy, name: string, validated: Verdict, now: Date, signal?: AbortSignal): Promise<Verdict> {
    if (!mutationWanted(active.resolved)) {
      try {
        await this.removeGenerated(name, MUTATING_KINDS, signal);
      } catch (err) {
        return this.failure(err);
      }
      if (active.resolved.admission?.mutate && active.resolved.mode !== 'Enforce') {
        return { ...validated, message: `${validated.message}; mutate applies in Enforce mode only, so nothing is mutated in ${active.resolved.mode} mode` };
      }
      return validated;
    }
    const generated = generateMutation(active.resolved, active.object.metadata.uid ?? '', now);
    try {
      await this.ensure('MutatingAdmissionPolicy', generated.policy, signal);
      await this.ensure('MutatingAdmissionPolicyBinding', generated.binding, signal);
    } catch (err) {
      if (isMissingKind(err)) {
        return {
          ...validated,
          reason: Reasons.MutationUnsupported,
          message: `${validated.message}; the API server does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 or later is needed), so new workloads are validated, not mutated`,
          requeueAfterMs: 5 * 60_000,
        };
      }
      return this.failure(err);
    }
    return {
      ...validated,
      message: `ValidatingAdmissionPolicy, MutatingAdmissionPolicy and their bindings ${name} are in place and type-checked`,
    };
  }

  /** Applies `desired` unless the live object already holds every field of it. */
  private async ensure(kind: AdmissionKind, desired: Obj, signal?: AbortSignal): Promise<void> {
    const metadata = desired['metadata'] as { name: string };
    const live = await this.get(objectPath(kind, metadata.name), signal);
    if (live && containedIn(desired['spec'], live['spec']) && containedIn(desired['metadata'], live['metadata'])) return;
    await this.deps.http.write('PATCH', objectPath(kind, metadata.name), {
      query: { fieldManager: ADMISSION_FIELD_MANAGER, force: true },
      contentType: ContentTypes.apply,
      body: desired,
      signal,
    });
    this.deps.logger.info('admission object applied', { controller: 'admission', kind, name: metadata.name, restored: live !== undefined });
  }

  private async get(path: string, signal?: AbortSignal): Promise<Obj | undefined> {
    try {
      return await this.deps.http.request<Obj>('GET', path, { signal });
    } catch (err) {
      if (isNotFound(err) && !isMissingKind(err)) return undefined;
      throw err;
    }
  }

  /** The API server type-checks a policy asynchronously; until it has, readiness is pending. */
  private async typeChecked(name: string, signal?: AbortSignal): Promise<Verdict> {
    const live = await this.get(objectPath('ValidatingAdmissionPolicy', name), signal);
    const generation = (live?.['metadata'] as { generation?: number } | undefined)?.generation;
    const status = live?.['status'] as { observedGeneration?: number; typeChecking?: { expressionWarnings?: { fieldRef: string; warning: string }[] } } | undefined;
    if (status?.observedGeneration === undefined || status.observedGeneration !== generation) {
      return { status: 'Unknown', reason: Reasons.AdmissionPending, message: `waiting for the API server to type-check ValidatingAdmissionPolicy ${name}`, requeueAfterMs: 2_000 };
    }
    const warnings = status.typeChecking?.expressionWarnings ?? [];
    if (warnings.length > 0) {
      return {
        status: 'False',
        reason: Reasons.TypeCheckWarnings,
        message: `the API server reports type-checking warnings for ValidatingAdmissionPolicy ${name}: ${warnings.map((w) => `${w.fieldRef}: ${w.warning}`).join('; ').slice(0, 2000)}`,
      };
    }
    return { status: 'True', reason: Reasons.AdmissionPolicyReady, message: `ValidatingAdmissionPolicy and binding ${name} are in place and type-checked` };
  }

  private failure(err: unknown): Verdict {
    if (isMissingKind(err)) {
      return {
        status: 'False',
        reason: Reasons.AdmissionUnsupported,
        message: 'the API server does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (Kubernetes 1.30 or later is needed); admission is not enforced, the controller still is',
        requeueAfterMs: 5 * 60_000,
      };
    }
    const code = statusCodeOf(err);
    if (code === 400 || code === 422 || code === 403) {
      return {
        status: 'False',
        reason: Reasons.AdmissionRejected,
        message: `the API server refused the generated admission policy: ${messageOf(err).slice(0, 2000)}`,
        requeueAfterMs: 60_000,
      };
    }
    throw err; // transient: the queue retries with backoff
  }

  private async removeGenerated(name: string, kinds: readonly AdmissionKind[], signal?: AbortSignal): Promise<void> {
    for (const kind of kinds) {
      const path = objectPath(kind, name);
      let live: Obj | undefined;
      try {
        live = await this.get(path, signal);
      } catch (err) {
        if (isMissingKind(err)) continue; // nothing of ours can exist on a server without this kind
        throw err;
      }
      const labels = (live?.['metadata'] as { labels?: Record<string, string> } | undefined)?.labels;
      if (!live || labels?.[LABEL_MANAGED_BY] === undefined) continue; // not ours: leave it alone
      try {
        await this.deps.http.write('DELETE', path, { signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** Applies AdmissionReady (or removes it when `verdict` is undefined) if it differs; true when written. */
  private async writeCondition(active: ActivePolicy, verdict: Verdict | undefined, signal?: AbortSignal): Promise<boolean> {
    const { object } = active;
    const previous = findCondition(object.status?.conditions, 'AdmissionReady');
    if (verdict === undefined && previous === undefined) return false;
    const generation = object.metadata.generation ?? 0;
    if (verdict !== undefined && previous && previous.status === verdict.status && previous.reason === verdict.reason &&
      previous.message === verdict.message && previous.observedGeneration === generation) return false;
    const conditions: Condition[] = verdict === undefined ? [] : setConditions(previous ? [previous] : [], [{
      type: 'AdmissionReady', status: verdict.status, reason: verdict.reason, message: verdict.message, observedGeneration: generation,
    }], this.deps.now().toISOString());
    await this.deps.http.write('PATCH', Paths.policyStatus(object.metadata.name), {
      query: { fieldManager: ADMISSION_FIELD_MANAGER, force: true },
      contentType: ContentTypes.apply,
      body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: object.metadata.name }, status: { conditions } },
      signal,
    });
    return true;
  }
}
