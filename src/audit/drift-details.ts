// The `immutability.dev/drift-details` annotation: who tampered with a pod, when, and how. It is also the
// operator's memory of drift across restarts (the audit stream is not replayed), so decoding is tolerant and
// encoding is deterministic: the same records always give the same string, or the pod reconciler would
// rewrite the annotation forever. Pure.
import { FALCO_PRIORITIES, type FalcoPriorityName } from '../api/types.js';
import type { DriftRecord, DriftWhat } from './classify.js';

/** Annotations are small by contract: at most this many bytes of JSON. */
export const MAX_DETAILS_BYTES = 4096;
/** Records kept on the pod: the first (it names the label) and the most recent ones. */
export const MAX_DETAILS_RECORDS = 6;
const MAX_EPHEMERAL_NAMES = 8;

export type DriftLabel = 'exec' | 'attach' | 'ephemeral' | 'falco';
export const DRIFT_LABELS: readonly DriftLabel[] = ['exec', 'attach', 'ephemeral', 'falco'];

export function driftLabelOf(what: DriftWhat): DriftLabel {
  return what === 'ephemeralcontainers' ? 'ephemeral' : what;
}

export interface DriftDetails {
  /** Drift records ever seen for the pod, including those no longer listed. */
  count: number;
  records: DriftRecord[];
  /** Ephemeral containers the pod spec shows (evidence that survives any loss of audit events). */
  ephemeralContainers?: string[];
}

const WHATS: readonly string[] = ['exec', 'attach', 'ephemeralcontainers', 'falco'];

function str(v: unknown, max: number): string | undefined {
  return typeof v === 'string' && v.length <= max ? v : undefined;
}

function decodeRecord(raw: unknown): DriftRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const id = str(r.id, 128);
  const what = str(r.what, 32);
  const when = str(r.when, 64);
  if (!id || !what || !WHATS.includes(what) || when === undefined) return undefined;
  const record: DriftRecord = { id, what: what as DriftWhat, who: str(r.who, 512) ?? '', when };
  const as = str(r.as, 512);
  if (as) record.as = as;
  const container = str(r.container, 253);
  if (container) record.container = container;
  const command = str(r.command, 1024);
  if (command) record.command = command;
  const via = str(r.via, 256);
  if (via) record.via = via;
  const rule = str(r.rule, 256);
  if (rule) record.rule = rule;
  const priority = str(r.priority, 32);
  if (priority && (FALCO_PRIORITIES as readonly string[]).includes(priority)) record.priority = priority as FalcoPriorityName;
  const output = str(r.output, 2048);
  if (output) record.output = output;
  return record;
}

/** Reads the annotation; anything unreadable (hand-edited, truncated) counts as no records. */
export function decodeDriftDetails(value: string | undefined): DriftDetails {
  if (!value) return { count: 0, records: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { count: 0, records: [] };
  }
  if (typeof raw !== 'object' || raw === null) return { count: 0, records: [] };
  const obj = raw as Record<string, unknown>;
  const events = Array.isArray(obj.events) ? obj.events : [];
  const records = events.map(decodeRecord).filter((r): r is DriftRecord => r !== undefined);
  const count = typeof obj.count === 'number' && Number.isInteger(obj.count) && obj.count >= records.length ? obj.count : records.length;
  return { count, records };
}

function timeOf(r: DriftRecord): number {
  const t = Date.parse(r.when);
  return Number.isNaN(t) ? 0 : t;
}

function compareTimed(ta: number, a: DriftRecord, tb: number, b: DriftRecord): number {
  return ta - tb || (a.when < b.when ? -1 : a.when > b.when ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Oldest first; ties (same millisecond) by the timestamp text (microseconds) and then by ID. */
export function compareRecords(a: DriftRecord, b: DriftRecord): number {
  return compareTimed(timeOf(a), a, timeOf(b), b);
}

/** Sorted as compareRecords says, parsing each timestamp once (a sort compares each record many times). */
function sortRecords(records: DriftRecord[]): DriftRecord[] {
  return records.map((r) => ({ r, t: timeOf(r) })).sort((x, y) => compareTimed(x.t, x.r, y.t, y.r)).map((x) => x.r);
}

/**
 * Persisted records plus those only in memory, de-duplicated by audit ID and sorted oldest first. `count`
 * adds only memory records newer than the newest persisted one: older ones not listed on the pod were
 * listed once and trimmed, so they are counted already.
 */
export function mergeDriftRecords(persisted: DriftDetails, memory: readonly DriftRecord[]): { count: number; records: DriftRecord[] } {
  const byId = new Map<string, DriftRecord>();
  for (const r of persisted.records) byId.set(r.id, r);
  const newest = persisted.records.reduce<DriftRecord | undefined>((m, r) => (!m || compareRecords(r, m) > 0 ? r : m), undefined);
  let added = 0;
  for (const r of memory) {
    if (byId.has(r.id)) continue;
    byId.set(r.id, r);
    if (!newest || compareRecords(r, newest) > 0) added++;
  }
  const records = sortRecords([...byId.values()]);
  return { count: Math.max(persisted.count, persisted.records.length) + added, records };
}

/** The records that fit on the pod: the first and the most recent, oldest first. */
export function trimRecords(records: readonly DriftRecord[], max = MAX_DETAILS_RECORDS): DriftRecord[] {
  if (records.length <= max) return [...records];
  return [records[0] as DriftRecord, ...records.slice(records.length - (max - 1))];
}

function recordJson(r: DriftRecord): Record<string, string> {
  // Fixed key order: the encoding must be byte-for-byte stable.
  const out: Record<string, string> = { id: r.id, what: r.what };
  // A Falco alert has no API user.
  if (r.who || r.what !== 'falco') out.who = r.who;
  if (r.as) out.as = r.as;
  out.when = r.when;
  if (r.container) out.container = r.container;
  if (r.command) out.command = r.command;
  if (r.via) out.via = r.via;
  if (r.rule) out.rule = r.rule;
  if (r.priority) out.priority = r.priority;
  if (r.output) out.output = r.output;
  return out;
}

/** Compact JSON of at most MAX_DETAILS_BYTES; drops the oldest records after the first until it fits. */
export function encodeDriftDetails(details: DriftDetails): string {
  let records = trimRecords(details.records);
  const eph = details.ephemeralContainers?.slice(0, MAX_EPHEMERAL_NAMES).map((n) => n.slice(0, 63));
  for (;;) {
    const doc: Record<string, unknown> = { count: Math.max(details.count, records.length), events: records.map(recordJson) };
    if (eph && eph.length > 0) doc.ephemeralContainers = eph;
    const text = JSON.stringify(doc);
    if (Buffer.byteLength(text) <= MAX_DETAILS_BYTES || records.length === 0) return text;
    records = records.length > 1 ? [records[0] as DriftRecord, ...records.slice(2)] : [];
  }
}
