// The spec rules, each written once as a predicate (predicate.ts). The engine (evaluate.ts) decides them in
// TypeScript; the admission policy generator compiles the same entries to CEL. What a rule means is therefore
// only ever changed here; messages and field paths are presentation and live with their consumers.
import type { SpecRuleName } from '../api/types.js';
import { CONTAINER, POD, field } from './predicate.js';
import type { Field, Predicate } from './predicate.js';

/**
 * Capabilities a container may add under Pod Security Admission's baseline level (the container runtime's
 * default set, minus NET_RAW); `capabilities` reports any other. Same list and spelling as PSA's
 * check_capabilities_baseline.go: case-sensitive, without the CAP_ prefix.
 */
export const BASELINE_CAPABILITIES: readonly string[] = [
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP',
  'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];

/** One finding per offending item of a list in the container (a capability, a mount). */
export interface ItemRule {
  list: Field;
  /** The name the item is bound to inside `offends` and `subject`. */
  as: string;
  offends: Predicate;
  /** Names the item in the finding, e.g. the capability or the mount path. */
  subject: Field;
}

/** A securityContext field the fix sets, and the value it sets. */
export interface FixedSetting {
  field: 'readOnlyRootFilesystem' | 'privileged' | 'allowPrivilegeEscalation' | 'procMount';
  value: boolean | string;
}

/**
 * How remediation fixes a container that breaks the rule — the same description for the owner patch
 * (plan.ts, applied to a workload's template) and the generated MutatingAdmissionPolicy (applied to new
 * Pods and templates), so both change a container the same way. Rules without a fix are left to the owner
 * (runAsNonRoot, dropAllCapabilities, hostPathWritable): forcing them can stop an app from starting.
 */
export type RuleFix =
  | {
    set: FixedSetting;
    /** The fix cannot be applied while this setting stays (the API server rejects the combination). */
    notWhile?: FixedSetting;
    /** Containers made read-only get an emptyDir at each writable path they do not mount yet. */
    mountWritablePaths?: boolean;
  }
  /** Item rules: the offending items are taken out of the (atomic) list, the others stay. */
  | { removeOffendingItems: true };

export interface SpecRule {
  name: SpecRuleName;
  /** Exactly one of `complies` (one verdict per container) and `items` (one per offending item). */
  complies?: Predicate;
  items?: ItemRule;
  /** Windows pods are not judged by this rule (the API server forbids the field there); shown as a skip. */
  windowsSkip?: string;
  /** What a compliant container does, completing "container "nginx" …" in admission messages. */
  requirement: string;
  fix?: RuleFix;
}

const sc = (path: string): Field => field(CONTAINER, `securityContext.${path}`);
const podSc = (path: string): Field => field(POD, `securityContext.${path}`);

/** The container's securityContext field when set, else the pod's (how the kubelet resolves them). */
function resolved(path: string, test: (f: Field) => Predicate): Predicate {
  return { ifSet: sc(path), then: test(sc(path)), otherwise: test(podSc(path)) };
}

const notPrivileged: Predicate = { not: { equals: sc('privileged'), to: true } };

/**
 * User namespaces (`hostUsers: false`, GA in 1.36) map root in the container to an unprivileged host user;
 * Pod Security Admission relaxes its run-as-root checks for such pods since 1.35, and so does runAsNonRoot.
 */
const inUserNamespace: Predicate = { equals: field(POD, 'hostUsers'), to: false };

export const RULE_TABLE: readonly SpecRule[] = [
  {
    name: 'readOnlyRootFilesystem',
    complies: { equals: sc('readOnlyRootFilesystem'), to: true },
    windowsSkip: 'Windows pods do not support a read-only root filesystem.',
    requirement: 'must set securityContext.readOnlyRootFilesystem: true',
    fix: { set: { field: 'readOnlyRootFilesystem', value: true }, mountWritablePaths: true },
  },
  {
    name: 'privileged',
    complies: notPrivileged,
    requirement: 'must not set securityContext.privileged: true',
    fix: { set: { field: 'privileged', value: false } },
  },
  {
    name: 'allowPrivilegeEscalation',
    // A privileged process can always gain more privileges, whatever allowPrivilegeEscalation says.
    complies: { all: [notPrivileged, { equals: sc('allowPrivilegeEscalation'), to: false }] },
    windowsSkip: 'Windows pods do not support allowPrivilegeEscalation (the API server rejects the field there).',
    requirement: 'must set securityContext.allowPrivilegeEscalation: false and must not be privileged',
    // The API server rejects allowPrivilegeEscalation: false on a privileged container, so escalation can
    // only be fixed where the privileged rule turns privileged off too.
    fix: { set: { field: 'allowPrivilegeEscalation', value: false }, notWhile: { field: 'privileged', value: true } },
  },
  {
    name: 'runAsNonRoot',
    // A process whose user is 0 is root even when runAsNonRoot is true (the kubelet then refuses to start
    // it). A non-zero runAsUser is as good as runAsNonRoot: true, because the kubelet starts the process with
    // that UID; with neither, the image's USER decides, so the container may run as root.
    complies: {
      any: [
        inUserNamespace,
        {
          all: [
            { not: resolved('runAsUser', (f) => ({ equals: f, to: 0 })) },
            {
              any: [
                resolved('runAsNonRoot', (f) => ({ equals: f, to: true })),
                { isSet: sc('runAsUser') },
                { isSet: podSc('runAsUser') },
              ],
            },
          ],
        },
      ],
    },
    requirement: 'must run as non-root: set runAsNonRoot: true or a non-zero runAsUser, and not runAsUser: 0',
  },
  {
    name: 'capabilities',
    items: {
      list: sc('capabilities.add'),
      as: 'capability',
      offends: { not: { oneOf: field('capability'), values: BASELINE_CAPABILITIES } },
      subject: field('capability'),
    },
    requirement: 'must not add capabilities outside the Pod Security baseline set in securityContext.capabilities.add',
    fix: { removeOffendingItems: true },
  },
  {
    name: 'dropAllCapabilities',
    complies: { some: sc('capabilities.drop'), as: 'dropped', where: { equals: field('dropped'), to: 'ALL' } },
    windowsSkip: 'Windows pods do not support Linux capabilities.',
    requirement: 'must drop ALL capabilities in securityContext.capabilities.drop',
  },
  {
    name: 'procMount',
    complies: { not: { equals: sc('procMount'), to: 'Unmasked' } },
    requirement: 'must not set securityContext.procMount: Unmasked',
    fix: { set: { field: 'procMount', value: 'Default' } },
  },
  {
    name: 'hostPathWritable',
    items: {
      list: field(CONTAINER, 'volumeMounts'),
      as: 'mount',
      offends: {
        all: [
          { not: { equals: field('mount', 'readOnly'), to: true } },
          {
            some: field(POD, 'volumes'),
            as: 'volume',
            where: {
              all: [
                { isSet: field('volume', 'hostPath') },
                { equals: field('volume', 'name'), to: field('mount', 'name') },
              ],
            },
          },
        ],
      },
      subject: field('mount', 'mountPath'),
    },
    requirement: 'must mount hostPath volumes readOnly',
  },
];

/** The rules remediation can fix, in table order. */
export const FIXABLE_RULES: readonly SpecRule[] = RULE_TABLE.filter((rule) => rule.fix !== undefined);
