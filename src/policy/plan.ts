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
import { FIXABLE_RULES, RULE_TABLE } from './rules.js';
import type { FixedSetting, SpecRule } from './rules.js';
import { escapePointerToken } from './json-patch.js';
import { IMAGE_PRESETS, presetForImage } from './presets.js';
import type { ImagePreset } from './presets.js';
import type { ContainerFragment, Finding, JsonPatchOperation, RemediationPlan, TemplateFragment, Workload } from './types.js';
import { fingerprintedVolumeName, normalizeMountPath, readableVolumeName } from './volume-name.js';

const PATCHABLE_RULES: readonly RuleName[] = FIXABLE_RULES.map((rule) => rule.name);
/** Rules whose fix makes the root read-only, so that the container needs its writable paths mounted. */
const mountingRules: readonly SpecRuleName[] = FIXABLE_RULES
  .filter((rule) => rule.fix !== undefined && 'set' in rule.fix && rule.fix.mountWritablePaths === true).map((rule) => rule.name);

/** Ephemeral containers are not part of any template, so only these two lists can be patched. */
const PATCHABLE_LISTS = { container: 'containers', initContainer: 'initContainers' } as const;

interface TargetContainer {
  pointer: string;
  list: 'containers' | 'initContainers';
  container: Record<string, unknown>;
  rules: Set<SpecRuleName>;
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
): { pointer: string; list: 'containers' | 'initContainers'; container: Record<string, unknown> } | undefined {
  if (finding.containerType === 'ephemeralContainer') return undefined;
  const field = PATCHABLE_LISTS[finding.containerType];
  const entries = records(podSpec[field]) ?? [];
  const index = entries.findIndex((entry) => entry['name'] === finding.container);
  const container = entries[index];
  return container === undefined ? undefined : { pointer: `${podSpecPath}/${field}/${index}`, list: field, container };
}

/** What the readOnlyRootFilesystem fix mounts, from patchOwner (or its defaults, as Audit plans them). */
export interface WritableMounts {
  /** patchOwner.writablePaths, normalised, in the policy's order. */
  writablePaths: string[];
  /** Whether image presets add their paths (patchOwner.presets). */
  presets: boolean;
  /** Every path a container can get, the policy's then the presets': volume names are decided over all. */
  candidatePaths: string[];
  emptyDir: Record<string, string>;
}

export function writableMounts(policy: ResolvedPolicy): WritableMounts {
  const patchOwner = policy.remediation.patchOwner;
  // Audit plans what Enforce would do once a patchOwner block is added, so an absent block means its defaults.
  const presets = (patchOwner ?? SPEC_DEFAULTS.remediation.patchOwner).presets;
  const writablePaths = [...new Set((patchOwner?.writablePaths ?? []).map(normalizeMountPath))];
  const presetPaths = presets ? IMAGE_PRESETS.flatMap((preset) => preset.writablePaths.map(normalizeMountPath)) : [];
  return {
    writablePaths,
    presets,
    candidatePaths: [...new Set([...writablePaths, ...presetPaths])],
    emptyDir: patchOwner?.emptyDirSizeLimit === undefined ? {} : { sizeLimit: patchOwner.emptyDirSizeLimit },
  };
}

/** The writable paths of one container: the policy's, then its image preset's. */
export function containerWritablePaths(mounts: WritableMounts, preset: ImagePreset | undefined): string[] {
  return [...new Set([...mounts.writablePaths, ...(mounts.presets ? preset?.writablePaths ?? [] : []).map(normalizeMountPath)])];
}

/**
 * The volume name of each candidate path: its readable name, unless another candidate path maps to the same
 * name (then `name` is already fingerprinted), and `fallback` when the pod has a volume called `name` that
 * is not an emptyDir. Both depend only on the policy and the template, never on which containers need the
 * path, so a path's name is stable across plans — and the generated MutatingAdmissionPolicy names it alike.
 */
export function volumeNameCandidates(candidatePaths: readonly string[]): Map<string, { name: string; fallback: string }> {
  const readable = new Map(candidatePaths.map((path) => [path, readableVolumeName(path)]));
  const names = new Map<string, { name: string; fallback: string }>();
  for (const [path, name] of readable) {
    const sharedWithOtherPath = [...readable].some(([other, otherName]) => other !== path && otherName === name);
    names.set(path, { name: sharedWithOtherPath ? fingerprintedVolumeName(path) : name, fallback: fingerprintedVolumeName(path) });
  }
  return names;
}

function volumeNames(candidatePaths: readonly string[], volumes: Record<string, unknown>[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const [path, { name, fallback }] of volumeNameCandidates(candidatePaths)) {
    const takenByOtherVolume = volumes.some((volume) => volume['name'] === name && !isRecord(volume['emptyDir']));
    names.set(path, takenByOtherVolume ? fallback : name);
  }
  return names;
}

function mountedPaths(container: Record<string, unknown>): Set<string> {
  const mounts = records(container['volumeMounts']) ?? [];
  return new Set(
    mounts.flatMap((mount) => (typeof mount['mountPath'] === 'string' ? [normalizeMountPath(mount['mountPath'])] : [])),
  );
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
  const writable = writableMounts(policy);
  const containerPaths = (container: Record<string, unknown>): string[] =>
    containerWritablePaths(writable, presetOf(container));
  const existingVolumes = records(podSpec['volumes']) ?? [];
  const names = volumeNames(writable.candidatePaths, existingVolumes);

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
    const target = targets.get(location.pointer) ?? { ...location, rules: new Set<SpecRuleName>(), findings: [] };
    target.rules.add(finding.rule as SpecRuleName);
    target.findings.push(finding);
    targets.set(location.pointer, target);
  }

  // The change is built as the apply configuration Enforce sends (keyed by container name, mount path and
  // volume name); the JSON patch shown to people is rendered from it.
  const fragment: TemplateFragment = {};
  const previous: TemplateFragment = {};
  const newVolumes = new Map<string, Record<string, unknown>>(); // keyed by name: a volume shared by containers is added once
  const addedPaths = new Set<string>();
  const warnings: string[] = [];
  const changed = new Set<SpecRuleName>();
  const removedCapabilities = new Set<string>();
  const patchedRules = new Set<SpecRuleName>();
  // Template order (containers, then init containers), so the patch does not depend on finding order.
  const ordered = [...targets.values()].sort((a, b) => comparePointers(a.pointer, b.pointer));
  for (const target of ordered) {
    const securityContext = securityContextOf(target.container);
    const current = securityContext ?? {};
    const desired = settingsToFix(target, current, unpatchable);
    const entry: ContainerFragment = { name: String(target.container['name']) };
    const replaced: ContainerFragment = { name: entry.name };
    for (const [rule, { field, value }] of desired) {
      entry.securityContext = { ...entry.securityContext, [field]: value };
      if (Object.prototype.hasOwnProperty.call(current, field)) replaced.securityContext = { ...replaced.securityContext, [field]: current[field] };
      changed.add(rule);
    }
    for (const rule of FIXABLE_RULES.filter((r) => target.rules.has(r.name) && r.fix !== undefined && 'removeOffendingItems' in r.fix)) {
      const removal = itemRemoval(rule, target, current);
      if (removal !== undefined) {
        // The list is atomic (capabilities.add): the configuration carries the whole remaining list.
        entry.securityContext = mergeNested(entry.securityContext ?? {}, removal.path, removal.kept);
        replaced.securityContext = mergeNested(replaced.securityContext ?? {}, removal.path, removal.items);
        removal.removed.forEach((item) => removedCapabilities.add(item));
      }
    }
    target.rules.forEach((rule) => patchedRules.add(rule));

    if (mountingRules.some((rule) => target.rules.has(rule))) {
      const mounted = mountedPaths(target.container);
      const paths = containerPaths(target.container);
      const mounts = paths
        .filter((path) => !mounted.has(path))
        .map((path) => ({ name: names.get(path) ?? fingerprintedVolumeName(path), mountPath: path }));
      if (mountingRules.some((rule) => desired.has(rule))) {
        const warning = unmountedPresetPaths(target, new Set([...mounted, ...paths]));
        if (warning !== undefined) warnings.push(warning);
      }
      if (mounts.length > 0) entry.volumeMounts = mounts;
      for (const mount of mounts) {
        addedPaths.add(mount.mountPath);
        if (existingVolumes.some((volume) => volume['name'] === mount.name)) continue;
        newVolumes.set(mount.name, { name: mount.name, emptyDir: { ...writable.emptyDir } });
      }
    }
    if (entry.securityContext || entry.volumeMounts) (fragment[target.list] ??= []).push(entry);
    if (replaced.securityContext) (previous[target.list] ??= []).push(replaced);
  }
  if (newVolumes.size > 0) fragment.volumes = [...newVolumes.values()];

  return {
    patchedRules: SPEC_RULES.filter((rule) => patchedRules.has(rule)),
    fragment,
    previous,
    patch: renderJsonPatch(podSpec, workload.podSpecPath, fragment),
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
  const them = missing.length === 1 ? 'it' : 'them';
  return `container ${JSON.stringify(name)} (${preset.name} image) writes to ${missing.join(', ')}, which the planned read-only ` +
    `root filesystem leaves without a writable mount: add ${them} to patchOwner.writablePaths or leave patchOwner.presets on`;
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
 * The `set` fixes the target's rules call for, in rule-table order, keyed by rule: a setting already in place
 * is left alone, and a fix blocked by a setting that stays (escalation on a container that stays privileged)
 * is dropped and its findings become unpatchable.
 */
function settingsToFix(target: TargetContainer, current: Record<string, unknown>, unpatchable: Finding[]): Map<SpecRuleName, FixedSetting> {
  const desired = new Map<SpecRuleName, FixedSetting>();
  const after = (setting: FixedSetting): unknown =>
    [...desired.values()].find((s) => s.field === setting.field)?.value ?? current[setting.field];
  for (const rule of FIXABLE_RULES) {
    const fix = rule.fix;
    if (!target.rules.has(rule.name) || fix === undefined || !('set' in fix)) continue;
    if (fix.notWhile !== undefined && after(fix.notWhile) === fix.notWhile.value) {
      target.rules.delete(rule.name);
      unpatchable.push(...target.findings.filter((f) => f.rule === rule.name));
      continue;
    }
    if (current[fix.set.field] !== fix.set.value) desired.set(rule.name, fix.set);
  }
  return desired;
}

/**
 * An item rule's list without the items the findings name (the others, allowed or exempted, stay). The list
 * (`capabilities.add`) is atomic, so the whole remaining list is set.
 */
function itemRemoval(
  rule: SpecRule,
  target: TargetContainer,
  securityContext: Record<string, unknown>,
): { path: readonly string[]; items: unknown[]; kept: unknown[]; removed: string[] } | undefined {
  const list = rule.items?.list;
  if (list === undefined || list.path[0] !== 'securityContext') return undefined;
  const offending = new Set(target.findings.filter((f) => f.rule === rule.name).map((f) => f.subject));
  let items: unknown = securityContext;
  for (const step of list.path.slice(1)) items = isRecord(items) ? items[step] : undefined;
  if (!Array.isArray(items)) return undefined;
  const kept = items.filter((item) => !offending.has(String(item)));
  if (kept.length === items.length) return undefined;
  return { path: list.path.slice(1), items, kept, removed: items.filter((item) => offending.has(String(item))).map(String) };
}

/** `into` with `value` set at the nested `path` (objects along the way merged, not replaced). */
function mergeNested(into: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return into;
  const inner = isRecord(into[head]) ? into[head] : {};
  return { ...into, [head]: rest.length === 0 ? value : mergeNested(inner, rest, value) };
}

/** `add` of a whole list when the list is absent, else one append per item. */
function appendOps(listPointer: string, current: unknown, items: readonly unknown[]): JsonPatchOperation[] {
  if (items.length === 0) return [];
  if (!Array.isArray(current)) return [{ op: 'add', path: listPointer, value: [...items] }];
  return items.map((value) => ({ op: 'add', path: `${listPointer}/-`, value }));
}

/** One `replace` per leaf of a nested configuration value (an atomic list is a leaf): it already exists. */
function replaceLeaves(pointer: string, value: Record<string, unknown>): JsonPatchOperation[] {
  return Object.entries(value).flatMap(([key, v]) => {
    const at = `${pointer}/${escapePointerToken(key)}`;
    return isRecord(v) ? replaceLeaves(at, v) : [{ op: 'replace' as const, path: at, value: v }];
  });
}

/**
 * The JSON patch that makes `podSpec` (at `podSpecPath` in its workload) carry `fragment`: what status and
 * `check` show. Containers are addressed by their index in the template; a securityContext the container
 * lacks is added whole, otherwise field by field (replace where the field exists); nested lists (the atomic
 * capabilities.add) are replaced whole; mounts and volumes are appended.
 */
export function renderJsonPatch(podSpec: Record<string, unknown>, podSpecPath: string, fragment: TemplateFragment): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  for (const list of Object.values(PATCHABLE_LISTS)) {
    const entries = records(podSpec[list]) ?? [];
    for (const c of fragment[list] ?? []) {
      const index = entries.findIndex((entry) => entry['name'] === c.name);
      const container = entries[index];
      if (container === undefined) continue; // a plan only names containers of its template
      const pointer = `${podSpecPath}/${list}/${index}`;
      const current = securityContextOf(container);
      const settings = Object.entries(c.securityContext ?? {});
      const scalars = settings.filter(([, v]) => !isRecord(v));
      if (scalars.length > 0 && current === undefined) {
        operations.push({ op: 'add', path: `${pointer}/securityContext`, value: Object.fromEntries(scalars) });
      } else {
        for (const [field, value] of scalars) {
          const op = current !== undefined && Object.prototype.hasOwnProperty.call(current, field) ? 'replace' : 'add';
          operations.push({ op, path: `${pointer}/securityContext/${escapePointerToken(field)}`, value });
        }
      }
      for (const [field, value] of settings) {
        if (isRecord(value)) operations.push(...replaceLeaves(`${pointer}/securityContext/${escapePointerToken(field)}`, value));
      }
      operations.push(...appendOps(`${pointer}/volumeMounts`, container['volumeMounts'], c.volumeMounts ?? []));
    }
  }
  operations.push(...appendOps(`${podSpecPath}/volumes`, podSpec['volumes'], fragment.volumes ?? []));
  return operations;
}

const CONTAINER_WORDS = { container: 'container', initContainer: 'init container', ephemeralContainer: 'ephemeral container' };

/** Rules whose fix is left to the owner on purpose (see the top of this file): those without a fix. */
const OWNER_FIXES: readonly RuleName[] = RULE_TABLE.filter((rule) => rule.fix === undefined).map((rule) => rule.name);

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
  changed: Set<SpecRuleName>,
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
