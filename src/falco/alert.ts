// Falco alerts as they arrive at POST /falco, parsed and validated. Pure.
//
// Two senders post the same object: Falco's `http_output` with `json_output: true` (one alert per request)
// and Falcosidekick's webhook output (the same fields plus `uuid`). A body is one JSON object or several,
// newline-delimited. Every field the operator relies on is checked, and a refusal names it; fields it does
// not read (tags, source, hostname, any other output field) are passed over, so newer Falco versions that add
// fields keep working.
//
// The pod an alert is about comes from `output_fields`: `k8s.ns.name` and `k8s.pod.name`, plus `k8s.pod.uid`
// and `container.name` when the rule's output (or Falco's append_output) includes them. Falco prints
// `<NA>` (or null) for a field it could not resolve: such an alert is valid but not about a pod.
import { createHash } from 'node:crypto';
import type { FalcoPriorityName } from '../api/types.js';
import { parseFalcoPriority } from '../policy/index.js';
import { isRecord } from '../runtime/json.js';

/** As Falco's k8saudit plugin bounds one event: larger ones are refused, not truncated. */
export const MAX_ALERT_BYTES = 256 * 1024;
/** As the k8saudit plugin bounds one request. */
export const MAX_FALCO_REQUEST_BYTES = 12 * 1024 * 1024;
const MAX_RULE_CHARS = 1024;
const MAX_NAME_CHARS = 253;
const MAX_UUID_CHARS = 128;

export interface FalcoPodRef {
  namespace: string;
  name: string;
  uid?: string;
}

export interface FalcoAlert {
  /** Falcosidekick's uuid, else a digest of the alert: the same alert sent twice has the same id. */
  id: string;
  rule: string;
  priority: FalcoPriorityName;
  /** RFC 3339, as Falco writes it (nanoseconds, UTC). */
  time: string;
  output: string;
  /** Absent when the alert is not about a Kubernetes pod (a host process, an unresolved container). */
  pod?: FalcoPodRef;
  container?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

type Raw = Record<string, unknown>;

/** An output field's value, or undefined when Falco could not resolve it. */
function resolvedField(fields: Raw, key: string): string | undefined | Error {
  const v = fields[key];
  if (v === undefined || v === null || v === '' || v === '<NA>') return undefined;
  if (typeof v !== 'string') return new Error(`output_fields.${key}: expected a string, got ${typeof v}`);
  if (v.length > MAX_NAME_CHARS) return new Error(`output_fields.${key}: longer than ${MAX_NAME_CHARS} characters`);
  return v;
}

export function parseFalcoAlert(raw: unknown): Parsed<FalcoAlert> {
  if (!isRecord(raw)) return { ok: false, error: 'expected a JSON object (enable json_output in falco.yaml)' };
  const { rule, priority, time, output, uuid } = raw;
  if (typeof rule !== 'string' || rule.trim() === '') return { ok: false, error: 'rule: expected a non-empty string' };
  if (rule.length > MAX_RULE_CHARS) return { ok: false, error: `rule: longer than ${MAX_RULE_CHARS} characters` };
  if (typeof priority !== 'string') return { ok: false, error: 'priority: expected a string' };
  const level = parseFalcoPriority(priority);
  if (!level) return { ok: false, error: `priority: "${priority.slice(0, 32)}" is not a Falco priority (Emergency … Debug)` };
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) return { ok: false, error: 'time: expected an RFC 3339 timestamp' };
  if (typeof output !== 'string') return { ok: false, error: 'output: expected a string' };
  if (uuid !== undefined && (typeof uuid !== 'string' || uuid === '' || uuid.length > MAX_UUID_CHARS)) {
    return { ok: false, error: `uuid: expected a non-empty string of at most ${MAX_UUID_CHARS} characters` };
  }
  const fields = raw.output_fields;
  if (!isRecord(fields)) return { ok: false, error: 'output_fields: expected an object' };
  const namespace = resolvedField(fields, 'k8s.ns.name');
  const name = resolvedField(fields, 'k8s.pod.name');
  const uid = resolvedField(fields, 'k8s.pod.uid');
  const container = resolvedField(fields, 'container.name');
  for (const v of [namespace, name, uid, container]) if (v instanceof Error) return { ok: false, error: v.message };

  const alert: FalcoAlert = { id: '', rule, priority: level, time, output };
  if (typeof namespace === 'string' && typeof name === 'string') {
    alert.pod = { namespace, name };
    if (typeof uid === 'string') alert.pod.uid = uid;
    if (typeof container === 'string') alert.container = container;
  }
  alert.id = typeof uuid === 'string' ? uuid
    : `falco-${createHash('sha256').update(JSON.stringify([time, rule, alert.pod, container, output])).digest('hex').slice(0, 32)}`;
  return { ok: true, value: alert };
}

export type BodyVerdict =
  | { ok: true; alerts: FalcoAlert[] }
  | { ok: false; status: 400 | 413; error: string };

const NEWLINE = 0x0a;

/**
 * One JSON object, or newline-delimited objects (blank lines skipped). All or nothing: a body with one bad
 * line is refused whole, naming the line and the field, so that a sender never has to guess what was kept.
 */
export function parseFalcoBody(body: Buffer): BodyVerdict {
  // Each line is decoded once; Falcosidekick batches hundreds of alerts per request.
  const lines: { text: string; bytes: number; n: number }[] = [];
  for (let start = 0, n = 1; start < body.length; n++) {
    let end = body.indexOf(NEWLINE, start);
    if (end === -1) end = body.length;
    const text = body.toString('utf8', start, end);
    if (text.trim() !== '') lines.push({ text, bytes: end - start, n });
    start = end + 1;
  }
  if (lines.length === 0) return { ok: false, status: 400, error: 'empty body: expected a Falco alert (JSON object)' };
  const many = lines.length > 1;
  const alerts: FalcoAlert[] = [];
  for (const { text, bytes, n } of lines) {
    const where = many ? `line ${n}: ` : '';
    if (bytes > MAX_ALERT_BYTES) return { ok: false, status: 413, error: `${where}alert exceeds ${MAX_ALERT_BYTES} bytes` };
    const raw = tryJson(text);
    if (raw === NOT_JSON) {
      // A single pretty-printed object spans lines but is one alert; its first line alone is not JSON.
      if (alerts.length === 0 && many && body.length <= MAX_ALERT_BYTES) {
        const whole = tryJson(body.toString('utf8'));
        if (isRecord(whole)) return single(whole, '');
      }
      return { ok: false, status: 400, error: `${where}not JSON` };
    }
    const parsed = parseFalcoAlert(raw);
    if (!parsed.ok) return { ok: false, status: 400, error: `${where}${parsed.error}` };
    alerts.push(parsed.value);
  }
  return { ok: true, alerts };
}

const NOT_JSON = Symbol('not JSON');

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

function single(raw: unknown, where: string): BodyVerdict {
  const parsed = parseFalcoAlert(raw);
  return parsed.ok ? { ok: true, alerts: [parsed.value] } : { ok: false, status: 400, error: `${where}${parsed.error}` };
}
