// Cross-field rules of the ImmutabilityPolicy spec that JSON Schema cannot express. Each rule here MIRRORS
// one `x-kubernetes-validations` (CEL) rule in crds/immutability.dev_immutabilitypolicies.yaml, with the same
// message, so that `immutability-operator check` and the controller reject exactly what the API server
// rejects. Keep the two lists in sync: a rule added on one side and not the other is a bug.
//
// Callers run these only on a spec that already passed the structural schema (types, enums, lengths), as the
// API server only reaches CEL for well-typed objects; the checks still tolerate missing fields.
import { labelKeyProblem, labelValueProblem } from '../policy/selector.js';
import type { Exemption, ImmutabilityPolicySpec, LabelSelector } from './types.js';

/** CEL: `self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)` */
export const MESSAGE_SELECTOR_VALUES =
  'values must be non-empty when operator is In or NotIn, and empty when operator is Exists or DoesNotExist';
const LABEL_KEY_RULE = "an optional DNS subdomain prefix and '/', then at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric";
const LABEL_VALUE_RULE = "empty, or at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric";
/** CEL on matchLabels: `self.all(k, !format.qualifiedName().validate(k).hasValue())` */
export const MESSAGE_MATCH_LABELS_KEY = `every matchLabels key must be a valid label key (${LABEL_KEY_RULE})`;
/** CEL on matchLabels: `self.all(k, !format.labelValue().validate(self[k]).hasValue())` */
export const MESSAGE_MATCH_LABELS_VALUE = `every matchLabels value must be a valid label value (${LABEL_VALUE_RULE})`;
/** CEL on a requirement's key: `!format.qualifiedName().validate(self).hasValue()` */
export const MESSAGE_REQUIREMENT_KEY = `key must be a valid label key (${LABEL_KEY_RULE})`;
/** CEL on a requirement's value: `!format.labelValue().validate(self).hasValue()` */
export const MESSAGE_REQUIREMENT_VALUE = `every value must be a valid label value (${LABEL_VALUE_RULE})`;
/** CEL on an exemption: at least one of containers, images, namespaces or rules is non-empty. */
export const MESSAGE_EXEMPTION_NARROW =
  'an exemption must set at least one of containers, images, namespaces or rules; one that waives every rule for every pod would disable the policy';
/** CEL on exemption.reason: `self.trim().size() > 0` */
export const MESSAGE_REASON_BLANK = 'reason must not be blank; say why the exemption exists (e.g. a ticket reference)';
/** CEL on a writable path: `self.startsWith('/') && self != '/'` */
export const MESSAGE_PATH_ABSOLUTE = 'writable paths must be absolute (start with /) and must not be / itself';
/** CEL on a writable path: `!self.matches('(^|/)[.][.](/|$)')` */
export const MESSAGE_PATH_DOTDOT = "writable paths must not contain '..' segments";

/** Returns `path: message` strings for every cross-field rule the spec breaks (empty when valid). */
export function semanticErrors(spec: ImmutabilityPolicySpec): string[] {
  const errors: string[] = [];
  selectorErrors(spec.match?.namespaceSelector, 'spec.match.namespaceSelector', errors);
  selectorErrors(spec.match?.podSelector, 'spec.match.podSelector', errors);
  (spec.exemptions ?? []).forEach((exemption, i) => exemptionErrors(exemption, `spec.exemptions[${i}]`, errors));
  (spec.remediation?.patchOwner?.writablePaths ?? []).forEach((path, i) =>
    writablePathErrors(path, `spec.remediation.patchOwner.writablePaths[${i}]`, errors),
  );
  return errors;
}

function selectorErrors(selector: LabelSelector | undefined, at: string, errors: string[]): void {
  const labels = Object.entries(selector?.matchLabels ?? {});
  if (labels.some(([key]) => labelKeyProblem(key) !== undefined)) errors.push(`${at}.matchLabels: ${MESSAGE_MATCH_LABELS_KEY}`);
  if (labels.some(([, value]) => labelValueProblem(value) !== undefined)) {
    errors.push(`${at}.matchLabels: ${MESSAGE_MATCH_LABELS_VALUE}`);
  }
  (selector?.matchExpressions ?? []).forEach((requirement, i) => {
    if (labelKeyProblem(requirement.key) !== undefined) errors.push(`${at}.matchExpressions[${i}].key: ${MESSAGE_REQUIREMENT_KEY}`);
    (requirement.values ?? []).forEach((value, j) => {
      if (labelValueProblem(value) !== undefined) errors.push(`${at}.matchExpressions[${i}].values[${j}]: ${MESSAGE_REQUIREMENT_VALUE}`);
    });
    const hasValues = (requirement.values?.length ?? 0) > 0;
    const needsValues = requirement.operator === 'In' || requirement.operator === 'NotIn';
    if (hasValues !== needsValues) errors.push(`${at}.matchExpressions[${i}]: ${MESSAGE_SELECTOR_VALUES}`);
  });
}

function exemptionErrors(exemption: Exemption, at: string, errors: string[]): void {
  const narrows = [exemption.containers, exemption.images, exemption.namespaces, exemption.rules].some(
    (list) => (list?.length ?? 0) > 0,
  );
  if (!narrows) errors.push(`${at}: ${MESSAGE_EXEMPTION_NARROW}`);
  // cel-go's trim() strips Unicode white space, as String.prototype.trim does.
  if (typeof exemption.reason === 'string' && exemption.reason.trim().length === 0) {
    errors.push(`${at}.reason: ${MESSAGE_REASON_BLANK}`);
  }
}

function writablePathErrors(path: string, at: string, errors: string[]): void {
  if (!path.startsWith('/') || path === '/') errors.push(`${at}: ${MESSAGE_PATH_ABSOLUTE}`);
  if (/(^|\/)[.][.](\/|$)/.test(path)) errors.push(`${at}: ${MESSAGE_PATH_DOTDOT}`);
}
