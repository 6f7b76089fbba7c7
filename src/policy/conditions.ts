// metav1.Condition bookkeeping: one condition per type, `lastTransitionTime` moves only when `status`
// changes, so a status rewrite for other reasons never looks like a flap to GitOps tools.
import type { Condition } from '../api/types.js';

export type DesiredCondition = Omit<Condition, 'lastTransitionTime'>;

export function setConditions(previous: readonly Condition[] | undefined, desired: readonly DesiredCondition[], now: string): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, c]));
  return desired.map((d) => {
    const old = byType.get(d.type);
    const lastTransitionTime = old && old.status === d.status ? old.lastTransitionTime : now;
    return { ...d, lastTransitionTime };
  });
}

export function findCondition(conditions: readonly Condition[] | undefined, type: Condition['type']): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
