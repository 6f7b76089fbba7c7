// What each rule means for a user reading a report outside the cluster (SARIF viewers, code scanning): a
// one-line summary, why it matters and how to fix it. The anchors are the headings of docs/rules.md. Typed by
// RuleName so that a new rule cannot ship without its help text.
import type { RuleName } from '../api/types.js';

export interface RuleDoc {
  /** What a breach is called, for people (SARIF wants it to differ from the rule's id). */
  problem: string;
  /** One line, shown next to every result. */
  summary: string;
  /** Why the rule exists. */
  why: string;
  /** What to change in the manifest. */
  fix: string;
  /** 0.0–10.0, the CVSS-like score code-scanning tools sort by. */
  securitySeverity: number;
  /** Judged from the pod spec (offline too) or from runtime events (the cluster only). */
  source: 'spec' | 'runtime';
}

export const RULE_DOCS: Readonly<Record<RuleName, RuleDoc>> = {
  readOnlyRootFilesystem: {
    problem: 'WritableRootFilesystem',
    summary: 'Containers must have a read-only root filesystem.',
    why: 'A writable root filesystem lets a process change the image it was started from, so the running container no longer matches what was built, scanned and reviewed.',
    fix: 'Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir at each path the application writes (for nginx: /var/cache/nginx and /var/run).',
    securitySeverity: 5.5,
    source: 'spec',
  },
  privileged: {
    problem: 'PrivilegedContainer',
    summary: 'Containers must not run privileged.',
    why: 'A privileged container has every capability and the host\'s devices; it can change the node and every other container on it.',
    fix: 'Remove securityContext.privileged or set it to false; grant only the capabilities the application needs.',
    securitySeverity: 9.0,
    source: 'spec',
  },
  allowPrivilegeEscalation: {
    problem: 'PrivilegeEscalationAllowed',
    summary: 'Containers must not allow privilege escalation.',
    why: 'With escalation allowed (the Kubernetes default), setuid binaries and file capabilities can give a process more privileges than it started with.',
    fix: 'Set securityContext.allowPrivilegeEscalation: false (and do not run privileged).',
    securitySeverity: 7.0,
    source: 'spec',
  },
  runAsNonRoot: {
    problem: 'MayRunAsRoot',
    summary: 'Containers must not run as root.',
    why: 'Root in a container is root on the node for every kernel bug or mount that escapes the container\'s isolation.',
    fix: 'Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod or the container, and use an image that runs as a non-root user.',
    securitySeverity: 6.5,
    source: 'spec',
  },
  capabilities: {
    problem: 'NonBaselineCapabilityAdded',
    summary: 'Containers must not add capabilities outside the Pod Security baseline set.',
    why: 'Capabilities beyond the runtime defaults defeat a read-only root: SYS_ADMIN can remount the root filesystem read-write, others reach the network stack, kernel modules or other processes.',
    fix: 'Remove the capability from securityContext.capabilities.add; keep only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT.',
    securitySeverity: 8.0,
    source: 'spec',
  },
  dropAllCapabilities: {
    problem: 'DefaultCapabilitiesKept',
    summary: 'Containers must drop ALL capabilities.',
    why: 'The runtime gives every container a default set of capabilities (CHOWN, DAC_OVERRIDE, SETUID, ...) that most applications never use; each is a privilege an intruder inherits.',
    fix: 'Add ALL to securityContext.capabilities.drop and add back only what the application needs (usually at most NET_BIND_SERVICE).',
    securitySeverity: 4.0,
    source: 'spec',
  },
  procMount: {
    problem: 'UnmaskedProcMount',
    summary: 'Containers must not use an unmasked /proc.',
    why: 'procMount: Unmasked exposes kernel settings and information under /proc that the runtime normally masks; a read-only root does not protect them.',
    fix: 'Remove securityContext.procMount or set it to Default.',
    securitySeverity: 7.0,
    source: 'spec',
  },
  hostPathWritable: {
    problem: 'WritableHostPathMount',
    summary: 'hostPath volumes must be mounted read-only.',
    why: 'A writable hostPath mount writes straight into the node: the container changes files outside itself, which no read-only root prevents.',
    fix: 'Set readOnly: true on the volumeMount, or use an emptyDir or a PersistentVolume for data the application writes.',
    securitySeverity: 7.5,
    source: 'spec',
  },
  exec: {
    problem: 'ExecIntoPod',
    summary: 'Pods must not be exec\'d, attached or copied into.',
    why: 'A shell or file copy inside a running pod changes it behind its manifest: what runs is no longer what was deployed.',
    fix: 'Change the image or the manifest and roll out instead; the operator replaces drifted pods through the Eviction API.',
    securitySeverity: 6.0,
    source: 'runtime',
  },
  ephemeralContainers: {
    problem: 'EphemeralContainerAdded',
    summary: 'Pods must not get ephemeral (debug) containers.',
    why: 'kubectl debug adds a container to a running pod, with the pod\'s network and often its processes and files.',
    fix: 'Debug a copy of the pod (kubectl debug --copy-to) or a staging environment instead.',
    securitySeverity: 6.0,
    source: 'runtime',
  },
  falco: {
    problem: 'FalcoAlert',
    summary: 'Falco must not alert about a container of the pod.',
    why: 'Falco sees what never passes through the API server: a shell spawned by an exploited process, a sensitive file read, a binary dropped and run inside the container.',
    fix: 'Find and fix the cause (the alert\'s rule and output are on the pod); the operator replaces the tampered pod from its template through the Eviction API.',
    securitySeverity: 8.0,
    source: 'runtime',
  },
};

/** The heading anchor of a rule in docs/rules.md (GitHub lowercases headings). */
export function ruleAnchor(rule: RuleName): string {
  return rule.toLowerCase();
}
