// Helpers shared by the runtime-drift specs (audit events, Falco alerts): Deployments whose pods kwok runs,
// the running pods of a namespace as a user sees them, and waiting for a drift label.
import { eventually, kubectlOk } from './kubectl.js';

export const DRIFT_LABEL = 'immutability.dev/drift';
export const DRIFT_DETAILS = 'immutability.dev/drift-details';

export interface PodView { name: string; uid: string; nodeName?: string; labels: Record<string, string>; annotations: Record<string, string> }
export interface DriftDetails {
  count: number;
  events: { id: string; what: string; who?: string; when: string; container?: string; command?: string; via?: string; rule?: string; priority?: string; output?: string }[];
  ephemeralContainers?: string[];
}

/** A Deployment of compliant (read-only root, no escalation) pods with the given containers. */
export function deployment(namespace: string, name: string, replicas: number, containers: string[] = ['app']): string {
  return JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: containers.map((c) => ({ name: c, image: `registry.example/${c}:1`, securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false } })),
        },
      },
    },
  });
}

/** Running pods not being deleted, sorted by name. */
export async function pods(ns: string): Promise<PodView[]> {
  const out = JSON.parse(await kubectlOk(['-n', ns, 'get', 'pods', '-o', 'json'])) as {
    items: { metadata: { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string }; spec?: { nodeName?: string }; status?: { phase?: string } }[];
  };
  return out.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running')
    .map((p) => ({
      name: p.metadata.name, uid: p.metadata.uid, labels: p.metadata.labels ?? {}, annotations: p.metadata.annotations ?? {},
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function pod(ns: string, name: string): Promise<PodView | undefined> {
  return (await pods(ns)).find((p) => p.name === name);
}

export async function runningPods(ns: string, count: number): Promise<PodView[]> {
  return eventually(`${count} running pods in ${ns}`, async () => {
    const list = await pods(ns);
    return list.length === count ? list : undefined;
  }, 60_000);
}

/** Waits for the drift label on a pod and returns the pod with its parsed details. */
export async function driftLabelled(ns: string, name: string, value: string, timeoutMs = 20_000): Promise<{ pod: PodView; details: DriftDetails }> {
  return eventually(`${ns}/${name} labelled ${DRIFT_LABEL}=${value}`, async () => {
    const p = await pod(ns, name);
    if (p?.labels[DRIFT_LABEL] !== value) return undefined;
    return { pod: p, details: JSON.parse(p.annotations[DRIFT_DETAILS] ?? '{}') as DriftDetails };
  }, timeoutMs);
}
