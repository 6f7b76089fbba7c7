// The manifests the parity specs judge three (and, with mutation, four) ways: pod specs that are compliant,
// break one rule in one container list, are exempted or run on Windows, as a Pod or as a workload template.
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { RuleName } from '../../src/api/types.js';
import { RULE_TABLE } from '../../src/policy/rules.js';
import { repoRoot } from './controlplane/binaries.js';

type Json = Record<string, unknown>;

/** `spec.rules` with every spec rule on, from the rule table: a rule added there is judged everywhere. */
export const EVERY_SPEC_RULE = Object.fromEntries(RULE_TABLE.map((rule) => [rule.name, true])) as Record<RuleName, true>;

const GOOD: Json = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } };
export const good = (name = 'app', over: Json = {}, extra: Json = {}): Json => ({ name, image: 'nginx:1.27', securityContext: { ...GOOD, ...over }, ...extra });
const HOST = { volumes: [{ name: 'host', hostPath: { path: '/var/log' } }] };

/** Pod specs, each with the rules it breaks (for reading failures; the verdicts are compared with each other). */
export const PARITY_SPECS: [string, Json][] = [
  ['compliant', { containers: [good()] }],
  ['writable-root', { containers: [good('app', { readOnlyRootFilesystem: false })] }],
  ['no-read-only-field', { containers: [{ name: 'app', image: 'nginx:1.27', securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } } }] }],
  ['privileged', { containers: [good('app', { privileged: true, allowPrivilegeEscalation: true })] }],
  ['escalation', { containers: [good('app', { allowPrivilegeEscalation: true })] }],
  ['escalation-unset', { containers: [{ name: 'app', image: 'nginx:1.27', securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } } }] }],
  ['root-user', { containers: [good('app', { runAsUser: 0 })] }],
  ['may-run-as-root', { containers: [good('app', { runAsNonRoot: false })] }],
  ['non-zero-uid', { containers: [good('app', { runAsNonRoot: false, runAsUser: 1000 })] }],
  ['pod-level-uid', { securityContext: { runAsUser: 1000 }, containers: [good('app', { runAsNonRoot: false })] }],
  ['sys-admin', { containers: [good('app', { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN', 'NET_RAW'] } })] }],
  ['net-bind', { containers: [good('app', { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } })] }],
  ['no-drop-all', { containers: [good('app', { capabilities: { drop: ['NET_RAW'] } })] }],
  ['host-path-writable', { ...HOST, containers: [good('app', {}, { volumeMounts: [{ name: 'host', mountPath: '/var/log' }] })] }],
  ['host-path-read-only', { ...HOST, containers: [good('app', {}, { volumeMounts: [{ name: 'host', mountPath: '/var/log', readOnly: true }] })] }],
  ['proc-unmasked', { hostUsers: false, containers: [good('app', { procMount: 'Unmasked' })] }],
  ['user-namespace-root', { hostUsers: false, containers: [good('app', { runAsNonRoot: false, runAsUser: 0 })] }],
  ['init-writable', { initContainers: [good('setup', { readOnlyRootFilesystem: false })], containers: [good()] }],
  ['sidecar-sys-admin', { initContainers: [good('proxy', { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } }, { restartPolicy: 'Always' })], containers: [good()] }],
  ['exempted-container', { containers: [good('legacy-app', { readOnlyRootFilesystem: false })] }],
  ['exempted-image', { containers: [{ ...good('tools', { runAsNonRoot: false }), image: 'busybox:1.36' }] }],
  ['image-not-exempted', { containers: [{ ...good('tools', { runAsNonRoot: false }), image: 'quay.io/busybox:1.36' }] }],
  ['windows', { os: { name: 'windows' }, containers: [{ name: 'iis', image: 'mcr.microsoft.com/windows/servercore/iis', securityContext: { runAsNonRoot: true } }] }],
];

/** `spec` as a Pod or as the template of a workload of `kind`, labelled `parity=<kind>-<variant>`. */
export function parityManifest(namespace: string, kind: string, variant: string, spec: Json): Json {
  const name = `${kind.toLowerCase()}-${variant}`;
  if (kind === 'Pod') return { apiVersion: 'v1', kind, metadata: { name, namespace, labels: { parity: name } }, spec };
  const template = { metadata: { labels: { parity: name } }, spec: kind === 'Job' ? { ...spec, restartPolicy: 'Never' } : spec };
  const selector = { matchLabels: { parity: name } };
  const apiVersion = kind === 'Job' ? 'batch/v1' : 'apps/v1';
  const workloadSpec: Json = kind === 'Job' ? { template } : kind === 'StatefulSet' ? { serviceName: name, selector, template } : { selector, template };
  return { apiVersion, kind, metadata: { name, namespace }, spec: workloadSpec };
}


/** `immutability-operator check` as a user runs it: the built CLI in its own process. */
export function runCheck(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), 'check', ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}
