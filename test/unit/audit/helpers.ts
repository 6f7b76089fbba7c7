// Audit events as kube-apiserver sends them (webhook items carry no type meta; log lines do).
import type { Pod } from '../../../src/api/kube.js';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import type { ActivePolicy } from '../../../src/controllers/policy-set.js';
import { resolvePolicy } from '../../../src/policy/index.js';

let seq = 0;

export interface EventOptions {
  subresource?: string;
  verb?: string;
  namespace?: string;
  name?: string;
  code?: number;
  stage?: string;
  query?: string;
  user?: string;
  auditID?: string;
  at?: string;
}

export function auditEvent(o: EventOptions = {}): Record<string, unknown> {
  const namespace = o.namespace ?? 'shop';
  const name = o.name ?? 'web-1';
  const subresource = o.subresource ?? 'exec';
  return {
    level: 'Metadata',
    auditID: o.auditID ?? `00000000-0000-0000-0000-${String(++seq).padStart(12, '0')}`,
    stage: o.stage ?? 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${namespace}/pods/${name}/${subresource}${o.query === undefined ? '?command=sh&container=app&stdin=true&tty=true' : o.query}`,
    verb: o.verb ?? 'get',
    user: { username: o.user ?? 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['127.0.0.1'],
    userAgent: 'kubectl/v1.36.0',
    objectRef: { resource: 'pods', namespace, name, apiVersion: 'v1', subresource },
    responseStatus: { metadata: {}, code: o.code ?? 101 },
    requestReceivedTimestamp: o.at ?? '2026-01-01T10:00:00.000000Z',
    stageTimestamp: o.at ?? '2026-01-01T10:00:00.100000Z',
    annotations: { 'authorization.k8s.io/decision': o.code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': '' },
  };
}

export function eventList(items: unknown[]): Record<string, unknown> {
  return { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items };
}

export function pod(name: string, o: { namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; containers?: string[]; ephemeral?: string[] } = {}): Pod {
  return {
    metadata: {
      name, namespace: o.namespace ?? 'shop', uid: o.uid ?? `uid-${name}`,
      labels: { app: 'web', ...o.labels }, ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: {
      containers: (o.containers ?? ['app']).map((c) => ({ name: c, image: `example.com/${c}:1` })),
      ...(o.ephemeral ? { ephemeralContainers: o.ephemeral.map((c) => ({ name: c, image: 'busybox' })) } : {}),
    },
  };
}

export function policy(name: string, spec: ImmutabilityPolicySpec): ActivePolicy {
  return {
    object: { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name, generation: 1 }, spec },
    resolved: resolvePolicy(name, spec),
    problems: [],
    deleting: false,
  };
}
