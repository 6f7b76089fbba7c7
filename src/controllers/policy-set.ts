// The policies the controllers act on, resolved once per generation rather than once per pod evaluation.
import { semanticErrors } from '../api/semantic.js';
import type { ImmutabilityPolicy } from '../api/types.js';
import { labelSelectorProblem, resolvePolicy, type ResolvedPolicy } from '../policy/index.js';
import type { Store } from '../runtime/store.js';

export interface ActivePolicy {
  object: ImmutabilityPolicy;
  resolved: ResolvedPolicy;
  /** Reasons the spec cannot be used although the API server accepted it; empty when usable. */
  problems: string[];
  deleting: boolean;
}

export function usageProblems(policy: ImmutabilityPolicy): string[] {
  const spec = policy.spec ?? {};
  const problems = semanticErrors(spec);
  for (const [path, selector] of [['spec.match.namespaceSelector', spec.match?.namespaceSelector],
    ['spec.match.podSelector', spec.match?.podSelector]] as const) {
    // The CEL mirror already words operator/values problems; add only what it cannot see (label syntax).
    if (problems.some((p) => p.startsWith(path))) continue;
    const problem = selector ? labelSelectorProblem(selector) : undefined;
    if (problem) problems.push(`${path}: ${problem}`);
  }
  return problems;
}

/** Memoizes resolution per (name, generation); the store stays the source of truth. */
export class PolicySet {
  private readonly memo = new Map<string, { generation: number | undefined; uid: string | undefined; active: ActivePolicy }>();

  constructor(private readonly store: Store<ImmutabilityPolicy>) {}

  get(name: string): ActivePolicy | undefined {
    const object = this.store.get(name);
    if (!object) {
      this.memo.delete(name);
      return undefined;
    }
    const cached = this.memo.get(name);
    if (cached && cached.generation === object.metadata.generation && cached.uid === object.metadata.uid) {
      cached.active.object = object;
      cached.active.deleting = object.metadata.deletionTimestamp !== undefined;
      return cached.active;
    }
    const active: ActivePolicy = {
      object,
      resolved: resolvePolicy(object.metadata.name, object.spec ?? {}),
      problems: usageProblems(object),
      deleting: object.metadata.deletionTimestamp !== undefined,
    };
    this.memo.set(name, { generation: object.metadata.generation, uid: object.metadata.uid, active });
    return active;
  }

  /** Policies that govern pods now: usable and not being deleted. */
  governing(): ActivePolicy[] {
    return this.store.list()
      .map((p) => this.get(p.metadata.name))
      .filter((p): p is ActivePolicy => p !== undefined && !p.deleting && p.problems.length === 0);
  }

  names(): string[] {
    return this.store.list().map((p) => p.metadata.name);
  }
}
