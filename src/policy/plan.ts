// What Enforce mode would change in a workload's pod template. The patch sets only what the enabled rules
// need and is idempotent: every operation is derived from the current template, so planning again over the
// patched template yields an empty patch. runAsNonRoot, dropAllCapabilities and hostPathWritable are never
// patched, because forcing them can stop an app from starting (an image that expects root, a capability it
// needs, a host directory it writes); such findings are reported as unpatchable, with what the owner must
// change.
import { SPEC_RULES } from '../api/types.js';
import type { RuleName, SpecRuleName } from '../api/types.js';
import { SPEC_DEFAULTS } from './defaults.js';
import type { ResolvedPolicy } from './defaults.js';
import { findingKey } from './evaluate.js';
import { isRecord } from '../runtime/json.js';
import { RULE_TABLE } from './rules.js';
import { escapePointerToken } from './json-patch.js';
import { presetForImage } from './presets.js';
import type { ImagePreset } from './presets.js';
import type { Finding, JsonPatchOperation, RemediationPlan, Workload } from './types.js';
import { fingerprintedVolumeName, normalizeMountPath, readableVolumeName } from './volume-name.js';

type PatchableRule = Extract<
  SpecRuleName,
  'readOnlyRootFilesystem' | 'privileged' | 'allowPrivilegeEscalation' | 'capabilities' | 'procMount'
>;
const PATCHABLE_RULES: readonly RuleName[] = [
  'readOnlyRootFilesystem',
  'privileged',
  'allowPrivilegeEscalation',
  'capabilities',
  'procMount',
];

/** Ephemeral containers are not part of any template, so only these two lists can be patched. */
const PATCHABLE_LISTS = { container: 'containers', initContainer: 'initContainers' } as const;

interface TargetContainer {
  pointer: string;
  container: Record<string, unknown>;
  rules: Set<PatchableRule>;
  findings: Finding[];
}

function records(value: unknown): Record<string, unknown>[] | undefined {
  return Array.isArray(value) && value.every(isRecord) ? value : undefined;
}

function securityContextOf(container: Record<string, unknown>): Record<string, unknown> | undefined {
  const value = container['securityContext'];
  return isRecord(value) ? value : undefined;
}

/** Finds the template container a finding is about; undefined when the finding cannot be tied to one. */
function locate(
  podSpec: Record<string, unknown>,
  podSpecPath: string,
  finding: Finding,
): { pointer: string; container: Record<string, unknown> } | undefined {
  if (finding.containerType === 'ephemeralContainer') return undefined;
  const field = PATCHABLE_LISTS[finding.containerType];
  const entries = records(podSpec[field]) ?? [];
  const index = entries.findIndex((entry) => entry['name'] === finding.container);
  const container = entries[index];
  return container === undefined ? undefined : { pointer: `${podSpecPath}/${field}/${index}`, container };
}

/**
 * Volume names per writable path, in the policy's order. A path gets its readable name unless another
 * writable path of the policy maps to the same name or the pod already has a volume of that name that is not
 * an emptyDir; then it gets a fingerprinted name. Both checks depend only on the policy and the template,
 * never on which containers need the path, so a path's name is stable across plans.
 */
function volumeNames(writablePaths: readonly string[], volumes: Record<string, unknown>[]): Map<string, string> {
  const readable = new Map(writablePaths.map((path) => [path, readableVolumeName(path)]));
  const names = new Map<string, string>();
  for (const [path, name] of readable) {
    const sharedWithOtherPath = [...readable].some(([other, otherName]) => other !== path && otherName === name);
    const takenByOtherVolume = volumes.some((volume) => volume['name'] === name && !isRecord(volume['emptyDir']));
    names.set(path, sharedWithOtherPath || takenByOtherVolume ? fingerprintedVolumeName(path) : name);
  }
  return names;
}

function mountedPaths(container: Record<string, unknown>): Set<string> {
  const mounts = records(container['volumeMounts']) ?? [];
  return new Set(
    mounts.flatMap((mount) => (typeof mount['mountPath'] === 'string' ? [normalizeMountPath(mount['mountPath'])] : [])),
  );
}

/** `add` of a whole list when the list is absent, else one append per item. */
function appendOps(listPointer: string, current: unknown, items: unknown[]): JsonPatchOperation[] {
  if (items.length === 0) return [];
  if (!Array.isArray(current)) return [{ op: 'add', path: listPointer, value: items }];
  return items.map((value) => ({ op: 'add', path: `${listPointer}/-`, value }));
}

function presetOf(container: Record<string, unknown>): ImagePreset | undefined {
  const image = container['image'];
  return presetForImage(typeof image === 'string' ? image : undefined);
}

/** True when `path` or a directory above it is mounted. */
function covered(path: string, mounted: ReadonlySet<string>): boolean {
  for (let at = path; at !== ''; at = at.slice(0, at.lastIndexOf('/'))) if (mounted.has(at)) return true;
  return mounted.has('/');
}

export function planRemediation(policy: ResolvedPolicy, workload: Workload, findings: Finding[]): RemediationPlan {
  // Typed as PodSpec, but it came from a cluster or a file: read it defensively.
  const template: unknown = workload.podSpec;
  const podSpec = isRecord(template) ? template : {};
  const patchOwner = policy.remediation.patchOwner;
  // Audit plans what Enforce would do once a patchOwner block is added, so an absent block means its defaults.
  const presets = (patchOwner ?? SPEC_DEFAULTS.remediation.patchOwner).presets;
  const writablePaths = [...new Set((patchOwner?.writablePaths ?? []).map(normalizeMountPath))];
  const containerPaths = (container: Record<string, unknown>): string[] => {
    const preset = presets ? presetOf(container) : undefined;
    return [...new Set([...writablePaths, ...(preset?.writablePaths ?? []).map(normalizeMountPath)])];
  };
  const existingVolumes = records(podSpec['volumes']) ?? [];
  // Named over every container's paths, not only those patched now, so a path keeps its volume name.
  const allContainers = Object.values(PATCHABLE_LISTS).flatMap((list) => records(podSpec[list]) ?? []);
  const names = volumeNames([...new Set([...writablePaths, ...allContainers.flatMap(containerPaths)])], existingVolumes);

  const unpatchable: Finding[] = [];
  const targets = new Map<string, TargetContainer>();
  const seen = new Set<string>();
  for (const finding of findings) {
    if (!policy.rules[finding.rule]) continue; // not a violation under this policy
    const dedupeKey = `${finding.containerType}/${findingKey(finding)}`;
    if (seen.has(dedupeKey)) continue;
    seen.add(dedupeKey);
    const location = PATCHABLE_RULES.includes(finding.rule)
      ? locate(podSpec, workload.podSpecPath, finding)
      : undefined;
    if (location === undefined) {
      unpatchable.push(finding);
      continue;
    }
    const target = targets.get(location.pointer) ?? { ...location, rules: new Set<PatchableRule>(), findings: [] };
    target.rules.add(finding.rule as PatchableRule);
    target.findings.push(finding);
    targets.set(location.pointer, target);
  }

  const operations: JsonPatchOperation[] = [];
  const newVolumes = new Map<string, unknown>(); // keyed by name: a volume shared by containers is added once
  const addedPaths = new Set<string>();
  const warnings: string[] = [];
  const changed = new Set<PatchableRule>();
  const removedCapabilities = new Set<string>();
  const patchedRules = new Set<SpecRuleName>();
  // Template order (containers, then init containers), so the patch does not depend on finding order.
  const ordered = [...targets.values()].sort((a, b) => comparePointers(a.pointer, b.pointer));
  for (const target of ordered) {
    const securityContext = securityContextOf(target.container);
    const current = securityContext ?? {};
    const desired: Partial<Record<'readOnlyRootFilesystem' | 'privileged' | 'allowPrivilegeEscalation', boolean>> &
      { procMount?: string } = {};
    if (target.rules.has('readOnlyRootFilesystem') && current['readOnlyRootFilesystem'] !== true) {
      desired.readOnlyRootFilesystem = true;
    }
    if (target.rules.has('privileged') && current['privileged'] === true) desired.privileged = false;
    if (target.rules.has('allowPrivilegeEscalation')) {
      // The API server rejects allowPrivilegeEscalation: false on a privileged container, so escalation can
      // only be fixed here when the privileged rule turns privileged off too.
      const staysPrivileged = current['privileged'] === true && desired.privileged !== false;
      if (staysPrivileged) {
        target.rules.delete('allowPrivilegeEscalation');
        unpatchable.push(...target.findings.filter((f) => f.rule === 'allowPrivilegeEscalation'));
      } else if (current['allowPrivilegeEscalation'] !== false) {
        desired.allowPrivilegeEscalation = false;
      }
    }
    if (target.rules.has('procMount') && current['procMount'] === 'Unmasked') desired.procMount = 'Default';
    const fields = Object.entries(desired) as [PatchableRule, unknown][];
    if (fields.length > 0 && securityContext === undefined) {
      operations.push({ op: 'add', path: `${target.pointer}/securityContext`, value: desired });
    } else {
      for (const [field, value] of fields) {
        const op = Object.prototype.hasOwnProperty.call(current, field) ? 'replace' : 'add';
        operations.push({ op, path: `${target.pointer}/securityContext/${escapePointerToken(field)}`, value });
      }
    }
    fields.forEach(([field]) => changed.add(field));
    if (target.rules.has('capabilities')) {
      const removal = capabilityRemoval(target, current);
      if (removal !== undefined) {
        operations.push(removal.operation);
        removal.removed.forEach((capability) => removedCapabilities.add(capability));
      }
    }
    target.rules.forEach((rule) => patchedRules.add(rule));

    if (target.rules.has('readOnlyRootFilesystem')) {
      const mounted = mountedPaths(target.container);
      const paths = containerPaths(target.container);
      const mounts = paths
        .filter((path) => !mounted.has(path))
        .map((path) => ({ name: names.get(path) ?? fingerprintedVolumeName(path), mountPath: path }));
      if (desired.readOnlyRootFilesystem) {
        const warning = unmountedPresetPaths(target, new Set([...mounted, ...paths]));
        if (warning !== undefined) warnings.push(warning);
      }
      operations.push(...appendOps(`${target.pointer}/volumeMounts`, target.container['volumeMounts'], mounts));
      for (const mount of mounts) {
        addedPaths.add(mount.mountPath);
        if (existingVolumes.some((volume) => volume['name'] === mount.name)) continue;
        const emptyDir = patchOwner?.emptyDirSizeLimit === undefined ? {} : { sizeLimit: patchOwner.emptyDirSizeLimit };
        newVolumes.set(mount.name, { name: mount.name, emptyDir });
      }
    }
  }
  operations.push(...appendOps(`${workload.podSpecPath}/volumes`, podSpec['volumes'], [...newVolumes.values()]));

  return {
    patchedRules: SPEC_RULES.filter((rule) => patchedRules.has(rule)),
    patch: operations,
    message: summary(changed, [...addedPaths], [...removedCapabilities], unpatchable),
    unpatchable,
    warnings,
  };
}

/** Says which paths a known image writes that the read-only root about to be set leaves without a mount. */
function unmountedPresetPaths(target: TargetContainer, mounted: ReadonlySet<string>): string | undefined {
  const preset = presetOf(target.container);
  const missing = (preset?.writablePaths ?? []).filter((path) => !covered(normalizeMountPath(path), mounted));
  if (preset === undefined || missing.length === 0) return undefined;
  const name = target.container['name'];
  return `container ${JSON.stringify(name)} (${preset.name} image) writes to ${missing.join(', ')}, which the planned read-only ` +
    'root filesystem leaves without a writable mount: add them to patchOwner.writablePaths or leave patchOwner.presets on';
}

/** Orders ".../containers/N" before ".../initContainers/N", each by index. */
function comparePointers(a: string, b: string): number {
  const rank = (pointer: string): [number, number] => {
    const parts = pointer.split('/');
    return [parts.at(-2) === 'containers' ? 0 : 1, Number(parts.at(-1))];
  };
  const [listA, indexA] = rank(a);
  const [listB, indexB] = rank(b);
  return listA - listB || indexA - indexB;
}

/**
 * The container's `capabilities.add` without the added capabilities the findings name (the others, within the
 * baseline set or exempted, stay). `add` is an atomic list, so the whole remaining list is set.
 */
function capabilityRemoval(
  target: TargetContainer,
  securityContext: Record<string, unknown>,
): { operation: JsonPatchOperation; removed: string[] } | undefined {
  const offending = new Set(target.findings.filter((f) => f.rule === 'capabilities').map((f) => f.subject));
  const capabilities = securityContext['capabilities'];
  const added: unknown = isRecord(capabilities) ? capabilities['add'] : undefined;
  if (!Array.isArray(added)) return undefined;
  const kept = added.filter((capability) => !offending.has(String(capability)));
  if (kept.length === added.length) return undefined;
  return {
    operation: { op: 'replace', path: `${target.pointer}/securityContext/capabilities/add`, value: kept },
    removed: added.filter((capability) => offending.has(String(capability))).map(String),
  };
}

const CONTAINER_WORDS = { container: 'container', initContainer: 'init container', ephemeralContainer: 'ephemeral container' };

/** Rules whose fix is left to the owner on purpose (see the top of this file). */
const OWNER_FIXES: readonly RuleName[] = ['runAsNonRoot', 'dropAllCapabilities', 'hostPathWritable'];

/** What the owner has to change in the template by hand, in the rule table's words. */
function ownerInstructions(unpatchable: Finding[]): string[] {
  const instructions = new Set<string>();
  for (const finding of unpatchable) {
    const rule = RULE_TABLE.find((r) => r.name === finding.rule);
    if (rule === undefined || !OWNER_FIXES.includes(rule.name) || finding.containerType === 'ephemeralContainer') continue;
    const subject = finding.subject === undefined ? '' : ` (${finding.subject})`;
    instructions.add(`${CONTAINER_WORDS[finding.containerType]} "${finding.container}" ${rule.requirement}${subject}`);
  }
  return [...instructions];
}

/** e.g. "set readOnlyRootFilesystem, added emptyDir at /var/cache/nginx, /var/run; dropped privileged". */
function summary(
  changed: Set<PatchableRule>,
  addedPaths: string[],
  removedCapabilities: string[],
  unpatchable: Finding[],
): string {
  const parts: string[] = [];
  const readOnly: string[] = [];
  if (changed.has('readOnlyRootFilesystem')) readOnly.push('set readOnlyRootFilesystem');
  if (addedPaths.length > 0) readOnly.push(`added emptyDir at ${addedPaths.join(', ')}`);
  if (readOnly.length > 0) parts.push(readOnly.join(', '));
  if (changed.has('privileged')) parts.push('dropped privileged');
  if (changed.has('allowPrivilegeEscalation')) parts.push('disallowed privilege escalation');
  if (removedCapabilities.length > 0) parts.push(`removed added capabilities ${removedCapabilities.join(', ')}`);
  if (changed.has('procMount')) parts.push('set procMount Default');
  if (unpatchable.length > 0) {
    const instructions = ownerInstructions(unpatchable);
    const fix = instructions.length > 0 ? ` (the owner must change: ${instructions.join('; ')})` : '';
    parts.push(`not patchable: ${[...new Set(unpatchable.map(findingKey))].join(', ')}${fix}`);
  }
  return parts.join('; ');
}
