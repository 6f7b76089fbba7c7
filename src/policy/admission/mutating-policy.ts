// The MutatingAdmissionPolicy and binding of an ImmutabilityPolicy with `spec.admission.mutate` (Enforce mode):
// new Pods and new or updated pod templates get remediation.patchOwner's fix before validation, compiled to
// CEL from the same rule table and fix descriptions (rules.ts) and the same writable-path and volume-naming
// decisions (plan.ts) the owner patch is planned from. For any object, the JSON patch this policy produces
// has the effect of the owner patch planRemediation() computes for it (test/integration/mutation.test.ts
// compares them on the real API server), so a mutated object passes the ValidatingAdmissionPolicy, `check`
// and the controller for every rule the fix covers. Pure; the caller passes `now` (exemption expiry).
import type { ResolvedPolicy } from '../defaults.js';
import { containerWritablePaths, volumeNameCandidates, writableMounts } from '../plan.js';
import type { WritableMounts } from '../plan.js';
import { IMAGE_PRESETS } from '../presets.js';
import { FIXABLE_RULES } from '../rules.js';
import type { FixedSetting, SpecRule } from '../rules.js';
import { celLiteral, celList, celListOrEmpty, celPredicate, celString } from './cel.js';
import {
  ADMISSION_API_VERSION, CONTAINERS, NEW, POD_SPEC, WORKLOAD_RULES, admissionObjectName, celBind, celWithImageParts, compliesCel,
  admissionMatch, exemptCel, generatedMetadata, imageExemptionVariables, nextExpiry,
} from './validating-policy.js';

type Obj = Record<string, unknown>;

export interface GeneratedMutation {
  policy: Obj;
  binding: Obj;
  /** The earliest future exemption expiry: the generated policy must be regenerated then. */
  regenerateAt?: Date;
}

/** Only Enforce mode mutates: Audit never changes what users send. */
export function mutationWanted(policy: ResolvedPolicy): boolean {
  return policy.mode === 'Enforce' && policy.admission?.mutate === true;
}

/** The container lists a template's fix reaches (ephemeral containers are in no template). */
const PATCHED_LISTS = ['containers', 'initContainers'] as const;

/** JSON pointer of the pod spec inside the admitted object, as workload.ts finds it. */
const POD_SPEC_POINTER =
  "object.kind == 'Pod' ? '/spec' : (object.kind == 'CronJob' ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec')";

const sc = (field: string): string => `has(c.securityContext) && has(c.securityContext.${field})`;

/** `c`'s securityContext field already holds the setting's value. */
function holds(setting: FixedSetting): string {
  return `(${sc(setting.field)} && c.securityContext.${setting.field} == ${celLiteral(setting.value)})`;
}

function fixVariable(rule: SpecRule): string {
  return `fix_${rule.name}`;
}

/** The rule's fix applies to container `c`: the rule is judged there, broken, and no exemption covers it. */
function fixApplies(rule: SpecRule, policy: ResolvedPolicy, now: Date): string {
  const judged = rule.windowsSkip === undefined ? 'true' : '!variables.windows';
  return `${judged} && !(${compliesCel(rule, NEW)}) && !${exemptCel(policy, rule.name, now)}`;
}

function patch(op: string, path: string, value: string): string {
  return `JSONPatch{op: ${celString(op)}, path: ${path}, value: dyn(${value})}`;
}

/** The writable paths of container `c` (the policy's, then its image preset's) as a CEL list. */
function pathsCel(mounts: WritableMounts): string {
  const own = celList(mounts.writablePaths);
  if (!mounts.presets) return own;
  // Per preset, the paths the policy does not list already; presets match by repository path.
  let byImage = '[]';
  for (const preset of [...IMAGE_PRESETS].reverse()) {
    const extra = containerWritablePaths(mounts, preset).slice(mounts.writablePaths.length);
    byImage = `(path in ${celList(preset.repositories)} ? ${celList(extra)} : ${byImage})`;
  }
  return `(${own} + (has(c.image) ? ${celWithImageParts('c.image', byImage)} : []))`;
}

/**
 * Per container of one list (aligned by index), the writable paths its read-only root needs and it does not
 * mount yet. A mount path is compared as written and with a trailing '/' (the owner patch also collapses
 * repeated slashes, which CEL cannot without a regex replace).
 */
function newMountsVariable(list: string, rule: SpecRule, policy: ResolvedPolicy, mounts: WritableMounts, now: Date): Obj {
  const mounted = "has(c.volumeMounts) && c.volumeMounts.exists(m, has(m.mountPath) && (m.mountPath == wp || m.mountPath == wp + '/'))";
  return {
    name: `newMounts_${list}`,
    expression: `(has(variables.podSpec.${list}) ? variables.podSpec.${list} : []).map(c, ` +
      `(${fixApplies(rule, policy, now)}) ? ${pathsCel(mounts)}.filter(wp, !(${mounted})) : [])`,
  };
}

/** The JSON patch operations of container `c` at pointer `p`, in the order planRemediation emits them. */
function containerOps(list: string, policy: ResolvedPolicy): string {
  const enabled = FIXABLE_RULES.filter((rule) => policy.rules[rule.name]);
  const parts: string[] = [];
  const settings: string[] = [];
  for (const rule of enabled) {
    const fix = rule.fix;
    if (fix === undefined || !('set' in fix)) continue;
    let condition = `${fixVariable(rule)} && !${holds(fix.set)}`;
    if (fix.notWhile !== undefined) {
      const blocker = fix.notWhile;
      // What the blocking field holds after this patch: a fix earlier in the table may change it.
      const changer = enabled.find((r) => r.fix !== undefined && 'set' in r.fix && r.fix.set.field === blocker.field && r !== rule);
      const stays = changer !== undefined && changer.fix !== undefined && 'set' in changer.fix
        ? `(${fixVariable(changer)} ? ${String(changer.fix.set.value === blocker.value)} : ${holds(blocker)})`
        : holds(blocker);
      condition += ` && !${stays}`;
    }
    settings.push(condition);
    parts.push(`(${condition} ? [${patch('add', `p + ${celString(`/securityContext/${fix.set.field}`)}`, celLiteral(fix.set.value))}] : [])`);
  }
  for (const rule of enabled) {
    if (rule.fix === undefined || !('removeOffendingItems' in rule.fix) || rule.items === undefined) continue;
    const { items } = rule;
    const scope = { ...NEW.scope, [items.as]: items.as };
    const kept = `${celListOrEmpty(items.list, NEW.scope)}.filter(${items.as}, !(${celPredicate(items.offends, scope)}))`;
    parts.push(`(${fixVariable(rule)} ? [${patch('replace', `p + ${celString(`/${items.list.path.join('/')}`)}`, kept)}] : [])`);
  }
  const mounting = enabled.find((rule) => rule.fix !== undefined && 'set' in rule.fix && rule.fix.mountWritablePaths === true);
  if (mounting !== undefined) {
    const mount = `{'name': variables.volumeNames[wp], 'mountPath': wp}`;
    parts.push(celBind('m', `variables.newMounts_${list}[index]`,
      `size(m) == 0 ? [] : (has(c.volumeMounts) ? m.map(wp, ${patch('add', "p + '/volumeMounts/-'", mount)}) : ` +
      `[${patch('add', "p + '/volumeMounts'", `m.map(wp, ${mount})`)}])`));
  }
  // A container without a securityContext gets an empty one first, so that each setting can be added.
  if (settings.length > 0) {
    parts.unshift(`(!has(c.securityContext) && (${settings.join(' || ')}) ? [${patch('add', "p + '/securityContext'", '{}')}] : [])`);
  }
  let body = parts.length === 0 ? '[]' : parts.join(' + ');
  for (const rule of [...enabled].reverse()) body = celBind(fixVariable(rule), `variables.${fixVariable(rule)}_${list}[index]`, body);
  return body;
}

/** Per enabled fixable rule and list, whether its fix applies to each container (aligned by index). */
function fixVariables(list: string, policy: ResolvedPolicy, now: Date): Obj[] {
  return FIXABLE_RULES.filter((rule) => policy.rules[rule.name]).map((rule) => ({
    name: `${fixVariable(rule)}_${list}`,
    expression: `(has(variables.podSpec.${list}) ? variables.podSpec.${list} : []).map(c, ${fixApplies(rule, policy, now)})`,
  }));
}

function listOps(list: string, policy: ResolvedPolicy): string {
  const containers = `(has(variables.podSpec.${list}) ? variables.podSpec.${list} : [])`;
  return celBind('names', `${containers}.map(c, c.name)`,
    `${containers}.map(c, ${celBind('index', 'names.indexOf(c.name)',
      celBind('p', `variables.podSpecPointer + ${celString(`/${list}/`)} + string(index)`, containerOps(list, policy)))}).flatten()`);
}

export function generateMutation(policy: ResolvedPolicy, uid: string, now: Date): GeneratedMutation {
  const mounts = writableMounts(policy);
  const mounting = FIXABLE_RULES.find((rule) => policy.rules[rule.name] && rule.fix !== undefined && 'set' in rule.fix && rule.fix.mountWritablePaths === true);
  const names = [...volumeNameCandidates(mounts.candidatePaths)].map(([path, { name, fallback }]) =>
    `${celString(path)}: (variables.volumes.exists(v, has(v.name) && v.name == ${celString(name)} && !has(v.emptyDir)) ? ${celString(fallback)} : ${celString(name)})`);
  const emptyDir = `{${Object.entries(mounts.emptyDir).map(([k, v]) => `${celString(k)}: ${celString(v)}`).join(', ')}}`;
  const variables: Obj[] = [
    { name: 'podSpec', expression: POD_SPEC('object') },
    { name: 'podSpecPointer', expression: POD_SPEC_POINTER },
    { name: 'windows', expression: "has(variables.podSpec.os) && has(variables.podSpec.os.name) && variables.podSpec.os.name == 'windows'" },
    { name: 'containers', expression: CONTAINERS('variables.podSpec') },
    { name: 'volumes', expression: '(has(variables.podSpec.volumes) ? variables.podSpec.volumes : [])' },
    ...imageExemptionVariables(policy, now),
    ...PATCHED_LISTS.flatMap((list) => fixVariables(list, policy, now)),
  ];
  const mutations: Obj[] = [];
  const ops = PATCHED_LISTS.map((list) => listOps(list, policy));
  if (mounting !== undefined) {
    variables.push({ name: 'volumeNames', expression: `{${names.join(', ')}}` });
    variables.push(...PATCHED_LISTS.map((list) => newMountsVariable(list, mounting, policy, mounts, now)));
    // One emptyDir per path some container newly mounts, unless the pod has a volume of that name already.
    variables.push({
      name: 'newVolumes',
      expression: `${celList(mounts.candidatePaths)}.filter(wp, (${PATCHED_LISTS.map((l) => `variables.newMounts_${l}`).join(' + ')}).exists(m, wp in m) && ` +
        '!variables.volumes.exists(v, has(v.name) && v.name == variables.volumeNames[wp]))' +
        `.map(wp, {'name': dyn(variables.volumeNames[wp]), 'emptyDir': dyn(${emptyDir})})`,
    });
    ops.push(`(size(variables.newVolumes) == 0 ? [] : (has(variables.podSpec.volumes) ? ` +
      `variables.newVolumes.map(v, ${patch('add', "variables.podSpecPointer + '/volumes/-'", 'v')}) : ` +
      `[${patch('add', "variables.podSpecPointer + '/volumes'", 'variables.newVolumes')}]))`);
  }
  mutations.push({ patchType: 'JSONPatch', jsonPatch: { expression: ops.join(' + ') } });

  const matchConstraints: Obj = {
    resourceRules: [
      // A Pod's containers cannot change after creation, so only new Pods are mutated.
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] },
      ...WORKLOAD_RULES.map((r) => ({ ...r, apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'] })),
    ],
  };
  const { namespaceSelector, conditions } = admissionMatch(policy);
  if (namespaceSelector !== undefined) matchConstraints['namespaceSelector'] = namespaceSelector;
  const name = admissionObjectName(policy.name);
  const generated: GeneratedMutation = {
    policy: {
      apiVersion: ADMISSION_API_VERSION,
      kind: 'MutatingAdmissionPolicy',
      metadata: generatedMetadata(policy.name, uid),
      spec: {
        // A mutation that cannot be evaluated must not block the request: the ValidatingAdmissionPolicy
        // (failurePolicy Fail) still judges what arrives.
        failurePolicy: 'Ignore',
        // The patch is idempotent (planning over a fixed container plans nothing), so running it again after
        // a later mutator added a container is safe and fixes that container too.
        reinvocationPolicy: 'IfNeeded',
        matchConstraints,
        ...(conditions.length > 0 ? { matchConditions: conditions } : {}),
        variables,
        mutations,
      },
    },
    binding: {
      apiVersion: ADMISSION_API_VERSION,
      kind: 'MutatingAdmissionPolicyBinding',
      metadata: generatedMetadata(policy.name, uid),
      spec: { policyName: name },
    },
  };
  const regenerateAt = nextExpiry(policy, now);
  if (regenerateAt !== undefined) generated.regenerateAt = regenerateAt;
  return generated;
}

