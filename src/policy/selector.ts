// metav1.LabelSelector semantics (apimachinery `LabelSelectorAsSelector`): all matchLabels and all
// matchExpressions must hold. An absent or empty selector matches everything.
import type { LabelSelector, LabelSelectorRequirement } from '../api/types.js';

/**
 * Why a selector is malformed, or undefined when it is valid. Kubernetes refuses such selectors; the engine
 * treats them as matching nothing rather than guessing.
 */
export function labelSelectorProblem(selector: LabelSelector | undefined): string | undefined {
  for (const [index, requirement] of (selector?.matchExpressions ?? []).entries()) {
    const problem = requirementProblem(requirement);
    if (problem !== undefined) return `matchExpressions[${index}]: ${problem}`;
  }
  return undefined;
}

function requirementProblem(requirement: LabelSelectorRequirement): string | undefined {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
    case 'NotIn':
      return values.length === 0 ? `operator ${requirement.operator} needs at least one value` : undefined;
    case 'Exists':
    case 'DoesNotExist':
      return values.length > 0 ? `operator ${requirement.operator} takes no values` : undefined;
    default:
      return `unknown operator ${JSON.stringify(requirement.operator)}`;
  }
}

export function labelSelectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (selector === undefined) return true;
  if (labelSelectorProblem(selector) !== undefined) return false;
  const actual = labels ?? {};
  const has = (key: string): boolean => Object.prototype.hasOwnProperty.call(actual, key);
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(key) || actual[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((requirement) => {
    const present = has(requirement.key);
    const value = actual[requirement.key];
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
        return present && value !== undefined && values.includes(value);
      case 'NotIn':
        return !present || value === undefined || !values.includes(value);
      case 'Exists':
        return present;
      case 'DoesNotExist':
        return !present;
    }
  });
}
