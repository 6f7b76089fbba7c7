// Which audit events are runtime drift. Pure: one validated event in, one verdict out.
//
// Drift is any request the API server authorized that reaches into a running container: pods/exec (verb
// create over SPDY, get over WebSocket; `kubectl cp` is an exec of `tar`), pods/attach, and adding an
// ephemeral container (pods/ephemeralcontainers, patch or update). Whether the stream then succeeded does not
// matter: the operator cannot prove the container was left untouched. Requests the API server refused
// (401/403) changed nothing and are only counted. Port-forwarding reads a port without changing the
// container, so it is logged, not flagged.
import type { FalcoPriorityName } from '../api/types.js';
import type { AuditEvent } from './event.js';

/** What a drift record is: the pod subresource it came through, or a Falco alert. Also the `what` of the
 * drift-details annotation. */
export type DriftWhat = 'exec' | 'attach' | 'ephemeralcontainers' | 'falco';


/** One tampering with a pod, as recorded in the `immutability.dev/drift-details` annotation. */
export interface DriftRecord {
  /** The audit ID, which de-duplicates a record seen both in memory and on the pod. */
  id: string;
  what: DriftWhat;
  /** user.username of the request (the impersonator when `as` is set). */
  who: string;
  /** The impersonated user, when the request used impersonation. */
  as?: string;
  /** stageTimestamp of the audit event (RFC 3339). */
  when: string;
  /** Target container, from the request URI (exec, attach); absent when the request did not name one. */
  container?: string;
  /** The command of an exec, its arguments joined by spaces. */
  command?: string;
  /** How the request reached the container when not through the pod's subresource, e.g. `nodes/n1/proxy/exec`. */
  via?: string;
  /** Falco alerts: the rule that fired, its priority and its (truncated) output line. */
  rule?: string;
  priority?: FalcoPriorityName;
  output?: string;
}

export interface PodRef {
  namespace: string;
  name: string;
}

export type AuditVerdict =
  | { outcome: 'drift'; pod: PodRef; record: DriftRecord }
  /** Refused by the API server: nothing reached the pod. */
  | { outcome: 'denied'; pod: PodRef; what: DriftWhat | 'portforward'; who: string }
  /** A port-forward: worth a log line, not a finding. */
  | { outcome: 'portforward'; pod: PodRef; who: string }
  /** Not about a pod's containers (or a stage we do not act on). */
  | { outcome: 'ignored'; reason: string };

// Caps on what one record may carry into the annotation (which is capped at 4 KiB as a whole).
export const MAX_COMMAND_CHARS = 200;
export const MAX_WHO_CHARS = 128;
export const MAX_VIA_CHARS = 128;

const STREAM_VERBS = new Set(['create', 'get']);
const EPHEMERAL_VERBS = new Set(['patch', 'update']);

function cap(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** `command` and `container` from an exec/attach request URI; tolerant of a malformed query. */
export function streamParams(requestURI: string): { container?: string; command?: string[] } {
  const q = requestURI.indexOf('?');
  if (q === -1) return {};
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(requestURI.slice(q + 1));
  } catch {
    return {};
  }
  const out: { container?: string; command?: string[] } = {};
  const container = params.get('container');
  if (container) out.container = container.slice(0, 253);
  const command = params.getAll('command');
  if (command.length > 0) out.command = command;
  return out;
}

function subresourceKind(sub: string | undefined, verb: string): DriftWhat | 'portforward' | undefined {
  switch (sub) {
    case 'exec':
    case 'attach':
      return STREAM_VERBS.has(verb) ? sub : undefined;
    case 'portforward':
      return STREAM_VERBS.has(verb) ? 'portforward' : undefined;
    case 'ephemeralcontainers':
      return EPHEMERAL_VERBS.has(verb) ? 'ephemeralcontainers' : undefined;
    default:
      return undefined;
  }
}

function denied(event: AuditEvent): boolean {
  const code = event.responseStatus?.code;
  return code === 401 || code === 403 || event.annotations?.['authorization.k8s.io/decision'] === 'forbid';
}

/** A kubelet endpoint reached through nodes/proxy, and the container it reaches. */
export interface KubeletStreamTarget {
  node: string;
  /** As in the path: exec, attach, run or portForward. */
  endpoint: string;
  what: 'exec' | 'attach';
  pod: PodRef;
  container?: string;
  command?: string;
}

/** The kubelet endpoints that reach into a container, as nodes/proxy forwards them. */
const KUBELET_STREAMS: Record<string, { what: 'exec' | 'attach'; withContainer: boolean }> = {
  exec: { what: 'exec', withContainer: true },
  run: { what: 'exec', withContainer: true },
  attach: { what: 'attach', withContainer: true },
  portforward: { what: 'exec', withContainer: false },
};

/**
 * The pod a nodes/proxy request reaches, when its path is a kubelet exec, attach, run or portForward endpoint:
 * `/api/v1/nodes/<node>/proxy/exec/<namespace>/<pod>[/<uid>]/<container>?command=...`,
 * `.../proxy/portForward/<namespace>/<pod>[/<uid>]`. Undefined for every other path (stats, logs, metrics).
 */
export function kubeletStreamTarget(requestURI: string): KubeletStreamTarget | undefined {
  const q = requestURI.indexOf('?');
  const m = /^\/api\/v1\/nodes\/([^/]+)\/proxy\/(.*)$/.exec(q === -1 ? requestURI : requestURI.slice(0, q));
  if (!m) return undefined;
  let segments: string[];
  try {
    segments = (m[2] ?? '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [endpoint = '', namespace, name, ...rest] = segments;
  const stream = KUBELET_STREAMS[endpoint.toLowerCase()];
  if (!stream || !namespace || !name) return undefined;
  // With a container: <container> or <uid>/<container>; port-forward: nothing or <uid>.
  if (stream.withContainer ? rest.length < 1 || rest.length > 2 : rest.length > 1) return undefined;
  const target: KubeletStreamTarget = { node: decodeURIComponent(m[1] ?? ''), endpoint, what: stream.what, pod: { namespace, name } };
  if (stream.withContainer) target.container = (rest[rest.length - 1] ?? '').slice(0, 253);
  const query = q === -1 ? undefined : new URLSearchParams(requestURI.slice(q + 1));
  // The kubelet's exec takes `command` parameters like the API server's; run takes one `cmd` string.
  const command = endpoint.toLowerCase() === 'run' ? query?.getAll('cmd') : query?.getAll('command');
  if (command && command.length > 0) target.command = cap(command.join(' '), MAX_COMMAND_CHARS);
  return target;
}

function classifyNodeProxy(event: AuditEvent): AuditVerdict {
  let target: KubeletStreamTarget | undefined;
  try {
    target = kubeletStreamTarget(event.requestURI);
  } catch {
    target = undefined; // a malformed node name or query
  }
  if (!target) return { outcome: 'ignored', reason: 'nodes/proxy path is not a kubelet exec, attach, run or portForward endpoint' };
  const who = cap(event.user.username, MAX_WHO_CHARS);
  if (denied(event)) return { outcome: 'denied', pod: target.pod, what: target.what, who };
  const record: DriftRecord = {
    id: event.auditID, what: target.what, who, when: event.stageTimestamp,
    via: cap(`nodes/${target.node}/proxy/${target.endpoint}`, MAX_VIA_CHARS),
  };
  if (event.impersonatedUser?.username) record.as = cap(event.impersonatedUser.username, MAX_WHO_CHARS);
  if (target.container) record.container = target.container;
  if (target.command) record.command = target.command;
  return { outcome: 'drift', pod: target.pod, record };
}

export function classifyAuditEvent(event: AuditEvent): AuditVerdict {
  // RequestReceived comes before authorization has an outcome we can see; the shipped policy omits it, and
  // a policy that keeps it still sends ResponseStarted/ResponseComplete for the same request.
  if (event.stage === 'RequestReceived') return { outcome: 'ignored', reason: 'stage RequestReceived' };
  const ref = event.objectRef;
  if (ref?.resource === 'nodes' && ref.subresource === 'proxy' && (ref.apiGroup ?? '') === '') return classifyNodeProxy(event);
  if (!ref || ref.resource !== 'pods' || (ref.apiGroup ?? '') !== '') return { outcome: 'ignored', reason: 'not a pod request' };
  const kind = subresourceKind(ref.subresource, event.verb);
  if (!kind) return { outcome: 'ignored', reason: 'not a container-changing subresource' };
  if (!ref.namespace || !ref.name) return { outcome: 'ignored', reason: 'no pod named' };
  const pod = { namespace: ref.namespace, name: ref.name };
  const who = cap(event.user.username, MAX_WHO_CHARS);
  if (denied(event)) return { outcome: 'denied', pod, what: kind, who };
  if (kind === 'portforward') return { outcome: 'portforward', pod, who };

  const record: DriftRecord = { id: event.auditID, what: kind, who, when: event.stageTimestamp };
  if (event.impersonatedUser?.username) record.as = cap(event.impersonatedUser.username, MAX_WHO_CHARS);
  if (kind !== 'ephemeralcontainers') {
    // The container of an ephemeral-container patch is in the request body, which Metadata level omits.
    const params = streamParams(event.requestURI);
    if (params.container) record.container = params.container;
    if (kind === 'exec' && params.command) record.command = cap(params.command.join(' '), MAX_COMMAND_CHARS);
  }
  return { outcome: 'drift', pod, record };
}
