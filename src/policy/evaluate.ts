// Spec drift: which containers of a pod (or pod template) break the policy's enabled spec rules. Runtime
// rules (exec, ephemeralContainers) need audit events and are judged elsewhere. Malformed input yields
// `{ outcome: 'error' }` so that "could not evaluate" is never mistaken for "compliant" or "violating".
import { SPEC_RULES } from '../api/types.js';
import type { SpecRuleName } from '../api/types.js';
import type { ResolvedPolicy } from './defaults.js';
import { activeExemption } from './exemptions.js';
import { isRecord, nonEmptyString } from './guards.js';
import type { ContainerType, Evaluation, Finding, Skip, Workload } from './types.js';

/** A container with the context every rule needs, after the input has been checked for shape. */
interface ContainerUnderTest {
  type: ContainerType;
  name: string;
  image?: string;
  /** e.g. `spec.initContainers[1]` */
  path: string;
  securityContext: Record<string, unknown>;
}

interface PodUnderTest {
  containers: ContainerUnderTest[];
  podSecurityContext: Record<string, unknown>;
  podSecurityContextPath: string;
  windows: boolean;
}

/** What is wrong with one container under one rule; undefined when the rule holds. */
interface Breach {
  fieldPath: string;
  message: string;
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

const WINDOWS_SKIP_REASON = 'Windows pods do not support a read-only root filesystem.';

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
      const container: ContainerUnderTest = { type: list.type, name, path, securityContext };
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
  };
}

function label(container: ContainerUnderTest): string {
  return `${CONTAINER_LABELS[container.type]} "${container.name}"`;
}

function described(value: unknown): string {
  return value === undefined ? 'is not set' : `is ${JSON.stringify(value)}`;
}

function checkReadOnlyRootFilesystem(container: ContainerUnderTest): Breach | undefined {
  const value = container.securityContext['readOnlyRootFilesystem'];
  if (value === true) return undefined;
  return {
    fieldPath: `${container.path}.securityContext.readOnlyRootFilesystem`,
    message: `${label(container)} has a writable root filesystem: securityContext.readOnlyRootFilesystem ${described(value)}.`,
  };
}

function checkPrivileged(container: ContainerUnderTest): Breach | undefined {
  if (container.securityContext['privileged'] !== true) return undefined;
  return {
    fieldPath: `${container.path}.securityContext.privileged`,
    message: `${label(container)} runs privileged: securityContext.privileged is true.`,
  };
}

function checkAllowPrivilegeEscalation(container: ContainerUnderTest): Breach | undefined {
  const { securityContext } = container;
  // A privileged process can always gain more privileges, whatever allowPrivilegeEscalation says.
  if (securityContext['privileged'] === true) {
    return {
      fieldPath: `${container.path}.securityContext.privileged`,
      message: `${label(container)} can escalate privileges: it is privileged, and a privileged container always can.`,
    };
  }
  const value = securityContext['allowPrivilegeEscalation'];
  if (value === false) return undefined;
  return {
    fieldPath: `${container.path}.securityContext.allowPrivilegeEscalation`,
    message: `${label(container)} can escalate privileges: securityContext.allowPrivilegeEscalation ${described(value)}${value === undefined ? ' (Kubernetes allows escalation by default)' : ''}.`,
  };
}

/**
 * The container's securityContext wins over the pod's, field by field. A process whose user is 0 is root even
 * when runAsNonRoot is true (the kubelet then refuses to start it); a non-zero runAsUser is non-root even
 * without runAsNonRoot; with neither, the image's USER decides, so the container may run as root.
 */
function checkRunAsNonRoot(container: ContainerUnderTest, pod: PodUnderTest): Breach | undefined {
  const containerUser = container.securityContext['runAsUser'];
  const podUser = pod.podSecurityContext['runAsUser'];
  const [user, userPath, userField] =
    typeof containerUser === 'number'
      ? [containerUser, `${container.path}.securityContext.runAsUser`, 'securityContext.runAsUser']
      : [
          typeof podUser === 'number' ? podUser : undefined,
          `${pod.podSecurityContextPath}.runAsUser`,
          "the pod's securityContext.runAsUser",
        ];
  const containerNonRoot = container.securityContext['runAsNonRoot'];
  const podNonRoot = pod.podSecurityContext['runAsNonRoot'];
  const nonRoot = typeof containerNonRoot === 'boolean' ? containerNonRoot : podNonRoot;
  if (user === 0) {
    return {
      fieldPath: userPath,
      message: `${label(container)} runs as root: ${userField} is 0${nonRoot === true ? ', which runAsNonRoot: true does not override' : ''}.`,
    };
  }
  if (nonRoot === true || user !== undefined) return undefined;
  return {
    fieldPath: `${container.path}.securityContext.runAsNonRoot`,
    message: `${label(container)} may run as root: runAsNonRoot ${nonRoot === false ? 'is false' : 'is not set on the pod or the container'} and no non-zero runAsUser is set.`,
  };
}

function checkRule(rule: SpecRuleName, container: ContainerUnderTest, pod: PodUnderTest): Breach | undefined {
  switch (rule) {
    case 'readOnlyRootFilesystem':
      return checkReadOnlyRootFilesystem(container);
    case 'privileged':
      return checkPrivileged(container);
    case 'allowPrivilegeEscalation':
      return checkAllowPrivilegeEscalation(container);
    case 'runAsNonRoot':
      return checkRunAsNonRoot(container, pod);
  }
}

export function findingKey(f: Finding): string {
  return `${f.container}:${f.rule}`;
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
  const enabledRules = SPEC_RULES.filter((rule) => policy.rules[rule]);
  for (const container of pod.containers) {
    for (const rule of enabledRules) {
      if (rule === 'readOnlyRootFilesystem' && pod.windows) {
        skips.push({ container: container.name, rule, reason: WINDOWS_SKIP_REASON });
        continue;
      }
      const breach = checkRule(rule, container, pod);
      if (breach === undefined) continue;
      const exemptionContext = { namespace, container: container.name, rule, image: container.image };
      const exemption = activeExemption(policy, exemptionContext, now);
      if (exemption !== undefined) {
        skips.push({ container: container.name, rule, reason: `Exempted: ${exemption.reason}` });
        continue;
      }
      findings.push({ container: container.name, containerType: container.type, rule, ...breach });
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
