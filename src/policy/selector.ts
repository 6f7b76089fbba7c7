// metav1.LabelSelector semantics (apimachinery `LabelSelectorAsSelector`): all matchLabels and all
// matchExpressions must hold. An absent or empty selector matches everything.
import type { LabelSelector, LabelSelectorRequirement } from '../api/types.js';

/**
 * Why a selector is malformed, or undefined when it is valid. Kubernetes refuses such selectors; the engine
 * treats them as matching nothing rather than guessing.
 */
export function labelSelectorProblem(selector: LabelSelector | undefined): string | undefined {
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem !== undefined) return `matchLabels[${JSON.stringify(key)}]: ${problem}`;
  }
  for (const [index, requirement] of (selector?.matchExpressions ?? []).entries()) {
    const problem = labelKeyProblem(requirement.key) ?? requirementProblem(requirement) ??
      (requirement.values ?? []).map(labelValueProblem).find((p) => p !== undefined);
    if (problem !== undefined) return `matchExpressions[${index}]: ${problem}`;
  }
  return undefined;
}

// Kubernetes label syntax (apimachinery validation.IsQualifiedName / IsValidLabelValue): the API server does
// not check selectors inside a custom resource, so a selector that could never match is caught here.
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key ${JSON.stringify(key)} has an invalid prefix (must be a DNS subdomain)`;
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return `label key ${JSON.stringify(key)} is invalid (alphanumerics, '-', '_' or '.', at most 63, starting and ending alphanumeric)`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  return value.length <= 63 && NAME.test(value) ? undefined
    : `label value ${JSON.stringify(value)} is invalid (alphanumerics, '-', '_' or '.', at most 63, starting and ending alphanumeric)`;
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
