// Reading Kubernetes objects as kubectl prints them (-o json) without declaring every shape in each spec.

/** The value at `path` inside `obj`, or undefined as soon as a step is missing. */
export function at(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** The condition of `type` in a status with metav1.Conditions. */
export function conditionOf<C extends { type: string }>(status: { conditions?: C[] } | undefined, type: string): C | undefined {
  return status?.conditions?.find((c) => c.type === type);
}
