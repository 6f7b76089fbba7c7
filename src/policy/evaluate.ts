// Spec drift: which containers of a pod (or pod template) break the policy's enabled spec rules. Runtime
// rules (exec, ephemeralContainers) need audit events and are judged elsewhere. Malformed input yields
// `{ outcome: 'error' }` so that "could not evaluate" is never mistaken for "compliant" or "violating".
// Whether a rule holds comes from RULE_TABLE (rules.ts), the one place rules are defined; this module adds
// the field paths and sentences that explain a finding.
import type { SpecRuleName } from '../api/types.js';
import type { ResolvedPolicy } from './defaults.js';
import { activeExemption } from './exemptions.js';
import { isRecord } from '../runtime/json.js';
import { nonEmptyString } from './guards.js';
import { CONTAINER, POD, holds, read } from './predicate.js';
import type { Bindings } from './predicate.js';
import { RULE_TABLE } from './rules.js';
import type { SpecRule } from './rules.js';
import type { ContainerType, Evaluation, Finding, Skip, Workload } from './types.js';

/** A container with the context every rule needs, after the input has been checked for shape. */
interface ContainerUnderTest {
  type: ContainerType;
  name: string;
  image?: string;
  /** e.g. `spec.initContainers[1]` */
  path: string;
  securityContext: Record<string, unknown>;
  raw: Record<string, unknown>;
}

interface PodUnderTest {
  containers: ContainerUnderTest[];
  podSecurityContext: Record<string, unknown>;
  podSecurityContextPath: string;
  windows: boolean;
  raw: Record<string, unknown>;
}

/** What is wrong with one container (or one item of it) under one rule. */
interface Breach {
  fieldPath: string;
  message: string;
  subject?: string;
}

/** The offending list item of an item rule, for its explanation. */
interface OffendingItem {
  value: Record<string, unknown> | string;
  index: number;
  subject: string;
}

const CONTAINER_LISTS: readonly { field: string; type: ContainerType }[] = [
  { field: 'containers', type: 'container' },
  { field: 'initContainers', type: 'initContainer' },
  { field: 'ephemeralContainers', type: 'ephemeralContainer' },
];

const CONTAINER_LABELS: Readonly<Record<ContainerType, string>> = {
  container: 'Container',
  initContainer: 'Init container',
  ephemeralContainer: 'Ephemeral container',
};

/** A securityContext that is absent or null means the Kubernetes defaults. */
function securityContextAt(owner: Record<string, unknown>, path: string): Record<string, unknown> | string {
  const value = owner['securityContext'];
  if (value === undefined || value === null) return {};
  return isRecord(value) ? value : `${path}.securityContext is not an object`;
}

function readPodSpec(podSpec: unknown, prefix: string): PodUnderTest | string {
  if (!isRecord(podSpec)) return `${prefix} is not an object`;
  if (podSpec['containers'] === undefined || podSpec['containers'] === null) return `${prefix}.containers is missing`;
  const podSecurityContext = securityContextAt(podSpec, prefix);
  if (typeof podSecurityContext === 'string') return podSecurityContext;
  const containers: ContainerUnderTest[] = [];
  for (const list of CONTAINER_LISTS) {
    const entries = podSpec[list.field];
    if (entries === undefined || entries === null) continue;
    if (!Array.isArray(entries)) return `${prefix}.${list.field} is not a list`;
    for (const [index, entry] of (entries as unknown[]).entries()) {
      const path = `${prefix}.${list.field}[${index}]`;
      if (!isRecord(entry)) return `${path} is not an object`;
      const name = nonEmptyString(entry['name']);
      if (name === undefined) return `${path} has no name`;
      const securityContext = securityContextAt(entry, path);
      if (typeof securityContext === 'string') return securityContext;
      const container: ContainerUnderTest = { type: list.type, name, path, securityContext, raw: entry };
      const image = nonEmptyString(entry['image']);
      if (image !== undefined) container.image = image;
      containers.push(container);
    }
  }
  const os = podSpec['os'];
  return {
    containers,
    podSecurityContext,
    podSecurityContextPath: `${prefix}.securityContext`,
    windows: isRecord(os) && os['name'] === 'windows',
    raw: podSpec,
  };
}

function label(container: ContainerUnderTest): string {
  return `${CONTAINER_LABELS[container.type]} "${container.name}"`;
}

function described(value: unknown): string {
  return value === undefined ? 'is not set' : `is ${JSON.stringify(value)}`;
}

type Explain = (container: ContainerUnderTest, pod: PodUnderTest, item: OffendingItem | undefined) => Breach;

function explainReadOnlyRootFilesystem(container: ContainerUnderTest): Breach {
  const value = container.securityContext['readOnlyRootFilesystem'];
  return {
    fieldPath: `${container.path}.securityContext.readOnlyRootFilesystem`,
    message: `${label(container)} has a writable root filesystem: securityContext.readOnlyRootFilesystem ${described(value)}.`,
  };
}

function explainPrivileged(container: ContainerUnderTest): Breach {
  return {
    fieldPath: `${container.path}.securityContext.privileged`,
    message: `${label(container)} runs privileged: securityContext.privileged is true.`,
  };
}

function explainAllowPrivilegeEscalation(container: ContainerUnderTest): Breach {
  const { securityContext } = container;
  if (securityContext['privileged'] === true) {
    return {
      fieldPath: `${container.path}.securityContext.privileged`,
      message: `${label(container)} can escalate privileges: it is privileged, and a privileged container always can.`,
    };
  }
  const value = securityContext['allowPrivilegeEscalation'];
  return {
    fieldPath: `${container.path}.securityContext.allowPrivilegeEscalation`,
    message: `${label(container)} can escalate privileges: securityContext.allowPrivilegeEscalation ${described(value)}${value === undefined ? ' (Kubernetes allows escalation by default)' : ''}.`,
  };
}

/** Names the field that decided: a runAsUser of 0 (container before pod), else the missing runAsNonRoot. */
function explainRunAsNonRoot(container: ContainerUnderTest, pod: PodUnderTest): Breach {
  const containerUser = container.securityContext['runAsUser'];
  const containerNonRoot = container.securityContext['runAsNonRoot'];
  const nonRoot = typeof containerNonRoot === 'boolean' ? containerNonRoot : pod.podSecurityContext['runAsNonRoot'];
  const rootBy =
    containerUser === 0 ? [`${container.path}.securityContext.runAsUser`, 'securityContext.runAsUser']
    : containerUser === undefined && pod.podSecurityContext['runAsUser'] === 0
      ? [`${pod.podSecurityContextPath}.runAsUser`, "the pod's securityContext.runAsUser"]
      : undefined;
  if (rootBy !== undefined) {
    return {
      fieldPath: rootBy[0] ?? '',
      message: `${label(container)} runs as root: ${rootBy[1] ?? ''} is 0${nonRoot === true ? ', which runAsNonRoot: true does not override' : ''}.`,
    };
  }
  return {
    fieldPath: `${container.path}.securityContext.runAsNonRoot`,
    message: `${label(container)} may run as root: runAsNonRoot ${nonRoot === false ? 'is false' : 'is not set on the pod or the container'} and no non-zero runAsUser is set.`,
  };
}

function explainCapabilities(container: ContainerUnderTest, _pod: PodUnderTest, item: OffendingItem | undefined): Breach {
  return {
    fieldPath: `${container.path}.securityContext.capabilities.add[${item?.index ?? 0}]`,
    message: `${label(container)} adds capability ${item?.subject ?? ''}, which is outside the Pod Security baseline set.`,
  };
}

function explainDropAllCapabilities(container: ContainerUnderTest): Breach {
  const capabilities = container.securityContext['capabilities'];
  const drop = isRecord(capabilities) ? capabilities['drop'] : undefined;
  return {
    fieldPath: `${container.path}.securityContext.capabilities.drop`,
    message: `${label(container)} keeps the runtime's default capabilities: securityContext.capabilities.drop ${described(drop)}, without "ALL".`,
  };
}

function explainProcMount(container: ContainerUnderTest): Breach {
  return {
    fieldPath: `${container.path}.securityContext.procMount`,
    message: `${label(container)} sees the host's unmasked /proc: securityContext.procMount is "Unmasked".`,
  };
}

function explainHostPathWritable(container: ContainerUnderTest, _pod: PodUnderTest, item: OffendingItem | undefined): Breach {
  const mount = isRecord(item?.value) ? item.value : {};
  return {
    fieldPath: `${container.path}.volumeMounts[${item?.index ?? 0}].readOnly`,
    message: `${label(container)} mounts hostPath volume ${JSON.stringify(mount['name'])} writable at ${item?.subject ?? ''}: the node's files can be changed from the container.`,
  };
}

const EXPLAIN: Readonly<Record<SpecRuleName, Explain>> = {
  readOnlyRootFilesystem: explainReadOnlyRootFilesystem,
  privileged: explainPrivileged,
  allowPrivilegeEscalation: explainAllowPrivilegeEscalation,
  runAsNonRoot: explainRunAsNonRoot,
  capabilities: explainCapabilities,
  dropAllCapabilities: explainDropAllCapabilities,
  procMount: explainProcMount,
  hostPathWritable: explainHostPathWritable,
};

/** Every way one container breaks one rule: none, one, or one per offending item. */
function breaches(rule: SpecRule, container: ContainerUnderTest, pod: PodUnderTest): Breach[] {
  const bindings: Bindings = { [CONTAINER]: container.raw, [POD]: pod.raw };
  const explain = EXPLAIN[rule.name];
  if (rule.items === undefined) {
    return rule.complies === undefined || holds(rule.complies, bindings) ? [] : [explain(container, pod, undefined)];
  }
  const { list, as, offends, subject } = rule.items;
  const items = read(bindings, list);
  if (!Array.isArray(items)) return [];
  return (items as unknown[]).flatMap((value, index) => {
    const itemBindings = { ...bindings, [as]: value };
    if (!holds(offends, itemBindings)) return [];
    const named = read(itemBindings, subject);
    const name = typeof named === 'string' || typeof named === 'number' ? String(named) : String(index);
    const offending = { value: isRecord(value) ? value : String(value), index, subject: name };
    return [{ ...explain(container, pod, offending), subject: name }];
  });
}

/** `container:rule`, or `container:rule:subject` for item rules (e.g. `nginx:capabilities:SYS_ADMIN`). */
export function findingKey(f: Finding): string {
  return f.subject === undefined ? `${f.container}:${f.rule}` : `${f.container}:${f.rule}:${f.subject}`;
}

/**
 * Evaluates a pod spec (a pod's `spec` or a workload's template spec). `fieldPathPrefix` is where the spec
 * sits in the object the caller reports on, e.g. `spec.template.spec`; `namespace` scopes exemptions.
 */
export function evaluatePodSpec(
  policy: ResolvedPolicy,
  podSpec: unknown,
  namespace: string,
  now: Date,
  fieldPathPrefix = 'spec',
): Evaluation {
  const pod = readPodSpec(podSpec, fieldPathPrefix);
  if (typeof pod === 'string') return { outcome: 'error', error: pod };
  const findings: Finding[] = [];
  const skips: Skip[] = [];
  const enabledRules = RULE_TABLE.filter((rule) => policy.rules[rule.name]);
  for (const container of pod.containers) {
    for (const rule of enabledRules) {
      if (rule.windowsSkip !== undefined && pod.windows) {
        skips.push({ container: container.name, rule: rule.name, reason: rule.windowsSkip });
        continue;
      }
      const found = breaches(rule, container, pod);
      if (found.length === 0) continue;
      const exemptionContext = { namespace, container: container.name, rule: rule.name, image: container.image };
      const exemption = activeExemption(policy, exemptionContext, now);
      if (exemption !== undefined) {
        skips.push({ container: container.name, rule: rule.name, reason: `Exempted: ${exemption.reason}` });
        continue;
      }
      for (const breach of found) {
        findings.push({ container: container.name, containerType: container.type, rule: rule.name, ...breach });
      }
    }
  }
  return { outcome: 'evaluated', findings, skips };
}

/**
 * Evaluates a Pod object. A pod without `metadata.namespace` (a manifest checked offline) is taken to be in
 * "default", where kubectl would create it.
 */
export function evaluatePod(policy: ResolvedPolicy, pod: unknown, now: Date): Evaluation {
  if (!isRecord(pod)) return { outcome: 'error', error: 'pod is not an object' };
  const metadata = pod['metadata'];
  const namespace = (isRecord(metadata) ? nonEmptyString(metadata['namespace']) : undefined) ?? 'default';
  return evaluatePodSpec(policy, pod['spec'], namespace, now, 'spec');
}

/** JSON pointer "/spec/template/spec" → field path "spec.template.spec". */
export function fieldPathOfPointer(pointer: string): string {
  return pointer.split('/').filter((token) => token !== '').join('.');
}

/** Evaluates a workload's pod template, reporting field paths relative to the workload object. */
export function evaluateWorkload(policy: ResolvedPolicy, workload: Workload, now: Date): Evaluation {
  return evaluatePodSpec(policy, workload.podSpec, workload.namespace, now, fieldPathOfPointer(workload.podSpecPath));
}
