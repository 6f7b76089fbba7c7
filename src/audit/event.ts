// The parts of kube-apiserver's `audit.k8s.io/v1` Event the operator reads, and strict validation of what
// arrives over the wire. Everything here is pure: the webhook and the log follower hand raw JSON in, and a
// malformed event is reported (with why) rather than thrown, so one bad item never sinks its batch.
import { isRecord } from '../runtime/json.js';

export const AUDIT_API_VERSION = 'audit.k8s.io/v1';

export const AUDIT_STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;
export type AuditStage = (typeof AUDIT_STAGES)[number];

export interface AuditUser {
  username: string;
  groups?: string[];
}

export interface AuditObjectRef {
  resource?: string;
  namespace?: string;
  name?: string;
  apiGroup?: string;
  subresource?: string;
}

export interface AuditEvent {
  auditID: string;
  stage: AuditStage;
  verb: string;
  requestURI: string;
  user: AuditUser;
  impersonatedUser?: AuditUser;
  objectRef?: AuditObjectRef;
  responseStatus?: { code?: number };
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

// Bounds on what we keep from a single event: an API server never sends more, so anything larger is
// garbage (or an attack on our memory) and the event is rejected as malformed.
const MAX_ID = 128;
const MAX_URI = 8192;
const MAX_NAME = 253;
const MAX_USER = 512;

type Raw = Record<string, unknown>;


export type Validated<T> = { ok: true; value: T } | { ok: false; error: string };

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

function optionalString(raw: Raw, key: string, max: number): string | undefined | Error {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) return new Error(`${key} must be a string of at most ${max} characters`);
  return v;
}

function validateUser(raw: unknown, field: string): Validated<AuditUser> {
  if (!isRecord(raw)) return fail(`${field} must be an object`);
  const username = optionalString(raw, 'username', MAX_USER);
  if (username instanceof Error) return fail(`${field}.${username.message}`);
  const user: AuditUser = { username: username ?? '' };
  if (raw.groups !== undefined && raw.groups !== null) {
    if (!Array.isArray(raw.groups) || !raw.groups.every((g) => typeof g === 'string')) return fail(`${field}.groups must be a list of strings`);
    user.groups = raw.groups;
  }
  return { ok: true, value: user };
}

function validateObjectRef(raw: unknown): Validated<AuditObjectRef> {
  if (!isRecord(raw)) return fail('objectRef must be an object');
  const ref: AuditObjectRef = {};
  for (const key of ['resource', 'namespace', 'name', 'apiGroup', 'subresource'] as const) {
    const v = optionalString(raw, key, MAX_NAME);
    if (v instanceof Error) return fail(`objectRef.${v.message}`);
    if (v !== undefined) ref[key] = v;
  }
  return { ok: true, value: ref };
}

/** Validates one event, from an EventList's items (no type meta) or a log line (with it). */
export function validateAuditEvent(raw: unknown): Validated<AuditEvent> {
  if (!isRecord(raw)) return fail('event must be an object');
  if (raw.apiVersion !== undefined && raw.apiVersion !== AUDIT_API_VERSION) return fail(`apiVersion must be ${AUDIT_API_VERSION}`);
  if (raw.kind !== undefined && raw.kind !== 'Event') return fail('kind must be Event');
  const auditID = raw.auditID;
  if (typeof auditID !== 'string' || auditID.length === 0 || auditID.length > MAX_ID) return fail('auditID must be a non-empty string');
  const stage = raw.stage;
  if (typeof stage !== 'string' || !(AUDIT_STAGES as readonly string[]).includes(stage)) return fail('stage is not a known audit stage');
  if (typeof raw.verb !== 'string' || raw.verb.length === 0 || raw.verb.length > 64) return fail('verb must be a non-empty string');
  if (typeof raw.requestURI !== 'string' || raw.requestURI.length > MAX_URI) return fail(`requestURI must be a string of at most ${MAX_URI} characters`);
  const stageTimestamp = raw.stageTimestamp;
  if (typeof stageTimestamp !== 'string' || Number.isNaN(Date.parse(stageTimestamp))) return fail('stageTimestamp must be a timestamp');
  const user = validateUser(raw.user, 'user');
  if (!user.ok) return user;

  const event: AuditEvent = {
    auditID, stage: stage as AuditStage, verb: raw.verb, requestURI: raw.requestURI, user: user.value, stageTimestamp,
  };
  if (raw.impersonatedUser !== undefined && raw.impersonatedUser !== null) {
    const imp = validateUser(raw.impersonatedUser, 'impersonatedUser');
    if (!imp.ok) return imp;
    event.impersonatedUser = imp.value;
  }
  if (raw.objectRef !== undefined && raw.objectRef !== null) {
    const ref = validateObjectRef(raw.objectRef);
    if (!ref.ok) return ref;
    event.objectRef = ref.value;
  }
  if (raw.responseStatus !== undefined && raw.responseStatus !== null) {
    if (!isRecord(raw.responseStatus)) return fail('responseStatus must be an object');
    const code = raw.responseStatus.code;
    if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code))) return fail('responseStatus.code must be an integer');
    event.responseStatus = code === undefined ? {} : { code };
  }
  if (raw.annotations !== undefined && raw.annotations !== null) {
    if (!isRecord(raw.annotations) || !Object.values(raw.annotations).every((v) => typeof v === 'string')) {
      return fail('annotations must map strings to strings');
    }
    event.annotations = raw.annotations as Record<string, string>;
  }
  return { ok: true, value: event };
}

/**
 * Validates the envelope the webhook backend posts. Items are returned unvalidated: each is checked on its
 * own later, so that a malformed event costs only itself.
 */
export function validateEventList(raw: unknown): Validated<unknown[]> {
  if (!isRecord(raw)) return fail('body must be a JSON object');
  if (raw.apiVersion !== AUDIT_API_VERSION) return fail(`apiVersion must be ${AUDIT_API_VERSION}`);
  if (raw.kind !== 'EventList') return fail('kind must be EventList');
  if (!Array.isArray(raw.items)) return fail('items must be a list');
  return { ok: true, value: raw.items as unknown[] };
}
