// What the operator remembers on the workload itself, in annotations, so that a restarted (or another)
// replica knows what was patched, how to undo it, and which template a failed patch must not be re-applied
// to. Pure.
import { createHash } from 'node:crypto';
import { GROUP } from '../api/types.js';
import { isRecord } from '../runtime/json.js';
import type { TemplateFragment } from './fragment.js';

/** JSON PatchRecord of the last patch we applied. */
export const ANNOTATION_PATCHED = `${GROUP}/patched`;
/** Hash of a pod template whose patch was rolled back: never patch that template again. */
export const ANNOTATION_ROLLED_BACK = `${GROUP}/rolled-back`;
/** Why the rollback happened, for humans. */
export const ANNOTATION_ROLLBACK_REASON = `${GROUP}/rollback-reason`;

/**
 * The actions taken on this workload, per policy: `{"<policy>": {"uid": …, "generation": 3, "patched": 1,
 * "rolledBack": 0, "evicted": 2}}`. A policy's status.actions is their sum over its workloads for its current
 * uid and generation, so counts survive restarts and leader changes: they are read back from the cluster.
 */
export const ANNOTATION_ACTIONS = `${GROUP}/actions`;

export type RecordedAction = 'patched' | 'rolledBack' | 'evicted';

/** One policy's actions on one workload, for one incarnation (uid) and generation of the policy. */
export interface ActionRecord {
  uid: string;
  generation: number;
  patched: number;
  rolledBack: number;
  evicted: number;
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0);

/** The action records of a workload's annotations, by policy name; malformed entries are left out. */
export function parseActionRecords(annotations: Readonly<Record<string, string>>): Map<string, ActionRecord> {
  const out = new Map<string, ActionRecord>();
  const text = annotations[ANNOTATION_ACTIONS];
  if (!text) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  if (!isRecord(parsed)) return out;
  for (const [policy, entry] of Object.entries(parsed)) {
    if (!isRecord(entry) || typeof entry['uid'] !== 'string' || typeof entry['generation'] !== 'number') continue;
    out.set(policy, {
      uid: entry['uid'], generation: entry['generation'],
      patched: count(entry['patched']), rolledBack: count(entry['rolledBack']), evicted: count(entry['evicted']),
    });
  }
  return out;
}

/**
 * The annotations to apply when recording `n` more `action`s of a policy (`uid`, `generation`) on a workload
 * whose current annotations are `live`: an entry of an older generation or another incarnation starts over.
 * Returns the new annotation value and the policy's entry in it.
 */
export function withAction(
  live: Readonly<Record<string, string>>, policy: { name: string; uid: string; generation: number }, action: RecordedAction, n = 1,
): { value: string; entry: ActionRecord } {
  const records = parseActionRecords(live);
  const previous = records.get(policy.name);
  const entry: ActionRecord = previous && previous.uid === policy.uid && previous.generation === policy.generation
    ? { ...previous }
    : { uid: policy.uid, generation: policy.generation, patched: 0, rolledBack: 0, evicted: 0 };
  entry[action] += n;
  records.set(policy.name, entry);
  const sorted = Object.fromEntries([...records].sort(([a], [b]) => a.localeCompare(b)));
  return { value: JSON.stringify(sorted), entry };
}

/** The counts of a record, without whom they are for. */
export function countsOf(r: ActionRecord): { patched: number; rolledBack: number; evicted: number } {
  return { patched: r.patched, rolledBack: r.rolledBack, evicted: r.evicted };
}

export interface PatchRecord {
  /** templateHash of the pod spec the patch was planned on. */
  template: string;
  /** fragmentHash of the planned fragment: the same hash again means our change was reverted. */
  patch: string;
  /** How many times this same fragment was applied (the no-fighting bound). */
  attempts: number;
  /** The fields the patch set, and the values it replaced — enough to revert exactly our change. */
  fragment: TemplateFragment;
  previous: TemplateFragment;
}

/** JSON with sorted keys and without empty objects, empty lists and nulls (an emptied securityContext). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(prune(value)) ?? 'null';
}

function prune(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((v) => v !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (isRecord(value)) {
    const entries = Object.keys(value).sort()
      .map((k) => [k, prune(value[k])] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length > 0 ? Object.fromEntries(entries) : undefined;
  }
  return value === null ? undefined : value;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Identity of a pod spec, stable across the API server's round trips of an unchanged template. */
export function templateHash(podSpec: unknown): string {
  return shortHash(canonicalJson(podSpec));
}

/** Where a cached workload keeps the templateHash of its full pod spec: the cache's slim spec would hash differently. */
export const TEMPLATE_HASH_FIELD = 'templateHash';

/** templateHash of a live workload's pod spec: the one its cache entry carries, else computed from `podSpec`. */
export function templateHashOf(live: unknown, podSpec: unknown): string {
  const known = isRecord(live) ? live[TEMPLATE_HASH_FIELD] : undefined;
  return typeof known === 'string' ? known : templateHash(podSpec);
}

export function fragmentHash(fragment: TemplateFragment): string {
  return shortHash(canonicalJson(fragment));
}

export function annotationsOf(obj: unknown): Record<string, string> {
  const metadata = isRecord(obj) ? obj['metadata'] : undefined;
  const annotations = isRecord(metadata) ? metadata['annotations'] : undefined;
  if (!isRecord(annotations)) return {};
  return Object.fromEntries(Object.entries(annotations).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function parsePatchRecord(text: string | undefined): PatchRecord | undefined {
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isRecord(parsed)) return undefined;
    const { template, patch, attempts, fragment, previous } = parsed;
    if (typeof template !== 'string' || typeof patch !== 'string' || typeof attempts !== 'number') return undefined;
    return {
      template, patch, attempts,
      fragment: isRecord(fragment) ? fragment : {},
      previous: isRecord(previous) ? previous : {},
    };
  } catch {
    return undefined;
  }
}

export function formatPatchRecord(record: PatchRecord): string {
  return JSON.stringify(record);
}

/** Our annotations to carry into the next apply (anything we omit from an apply is removed). */
export function ownAnnotations(obj: unknown): Record<string, string> {
  const all = annotationsOf(obj);
  const keep = [ANNOTATION_PATCHED, ANNOTATION_ROLLED_BACK, ANNOTATION_ROLLBACK_REASON, ANNOTATION_ACTIONS];
  return Object.fromEntries(Object.entries(all).filter(([k]) => keep.includes(k)));
}
