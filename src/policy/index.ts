// The pure policy engine: match, evaluate and plan. No I/O, no clock (callers pass `now`), no clients.
export type * from './types.js';
export { DEFAULT_EXCLUDED_NAMESPACES, DEFAULT_RULES, resolvePolicy, SPEC_DEFAULTS } from './defaults.js';
export type { ResolvedPolicy, ResolvedRemediation } from './defaults.js';
export { globMatch, globMatchAny } from './glob.js';
export { labelSelectorMatches, labelSelectorProblem } from './selector.js';
export { matchPod } from './match.js';
export type { MatchTarget } from './match.js';
export { imageSpellings, parseImageReference } from './image.js';
export type { ImageReference } from './image.js';
export { activeExemption, exemptionCovers, exemptionExpired, msUntilNextExpiry } from './exemptions.js';
export type { ExemptionContext } from './exemptions.js';
export { evaluatePod, evaluatePodSpec, evaluateWorkload, fieldPathOfPointer, findingKey } from './evaluate.js';
export { workloadFromObject } from './workload.js';
export { planRemediation } from './plan.js';
export { applyJsonPatch, escapePointerToken, JsonPatchError, parsePointer } from './json-patch.js';
export { falcoAlertCounts, falcoPriorityRank, parseFalcoPriority } from './falco.js';
export { parseRfc3339 } from './time.js';
export { normalizeMountPath, readableVolumeName } from './volume-name.js';
