// Which Falco alerts a policy acts on (spec.falco): those at least as severe as `minimumPriority`, from the
// listed rules (all rules when the list is empty). Pure.
import { FALCO_PRIORITIES, type FalcoPriorityName } from '../api/types.js';
import type { ResolvedPolicy } from './defaults.js';

/** 0 for Emergency … 7 for Debug. */
export function falcoPriorityRank(priority: FalcoPriorityName): number {
  return FALCO_PRIORITIES.indexOf(priority);
}

/**
 * Falco's priority spellings, case-insensitively: the names of its rules files and outputs (`Warning`,
 * `INFORMATIONAL`), and the short forms Falco also accepts (`info`, `warn`, `err`, `crit`, `emerg`).
 */
export function parseFalcoPriority(value: string): FalcoPriorityName | undefined {
  const v = value.trim().toLowerCase();
  const short: Record<string, FalcoPriorityName> = { emerg: 'Emergency', crit: 'Critical', err: 'Error', warn: 'Warning', info: 'Informational' };
  return FALCO_PRIORITIES.find((p) => p.toLowerCase() === v) ?? short[v];
}

export function falcoAlertCounts(policy: Pick<ResolvedPolicy, 'falco'>, alert: { rule: string; priority: FalcoPriorityName }): boolean {
  if (falcoPriorityRank(alert.priority) > falcoPriorityRank(policy.falco.minimumPriority)) return false;
  return policy.falco.rules.length === 0 || policy.falco.rules.includes(alert.rule);
}
