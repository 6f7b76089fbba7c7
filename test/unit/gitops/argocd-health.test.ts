// The Argo CD health check shipped in config/argocd/argocd-cm.yaml, run as Argo CD runs it, against statuses
// made by the operator's own status builder (not hand-written ones that could drift from what it writes).
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { parse } from 'yaml';
import type { ImmutabilityPolicyStatus } from '../../../src/api/types.js';
import { buildStatus, invalidSpecStatus } from '../../../src/policy/status.js';
import type { StatusInput } from '../../../src/policy/status.js';
import { runHealthCheck } from './lua.js';

const HEALTH_KEY = 'resource.customizations.health.immutability.dev_ImmutabilityPolicy';
const root = new URL('../../../../', import.meta.url);

async function shippedScript(): Promise<string> {
  const configMap = parse(await readFile(new URL('config/argocd/argocd-cm.yaml', root), 'utf8')) as { data: Record<string, string> };
  const script = configMap.data[HEALTH_KEY];
  if (script === undefined) throw new Error(`argocd-cm.yaml has no ${HEALTH_KEY}`);
  return script;
}

function policy(generation: number, status?: ImmutabilityPolicyStatus): unknown {
  return { apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: 'p', generation }, spec: {}, status };
}

const NOW = '2026-11-30T12:00:00Z';
const pod = (name: string, findings: string[] = []): StatusInput['assessments'][number] =>
  ({ namespace: 'shop', name, workload: { kind: 'Deployment', namespace: 'shop', name: 'web' }, findings });

function evaluated(overrides: Partial<StatusInput> = {}): ImmutabilityPolicyStatus {
  return buildStatus({
    generation: 3, previous: undefined, assessments: [pod('a'), pod('b', ['web:readOnlyRootFilesystem'])],
    defaultAction: 'Planned', outcomes: new Map(), actions: { labeled: 0, patched: 0, evicted: 0, rolledBack: 0 }, now: NOW,
    ...overrides,
  });
}

describe('Argo CD health check (config/argocd/argocd-cm.yaml)', () => {
  let script: string;
  before(async () => {
    script = await shippedScript();
  });

  const cases: { name: string; object: () => unknown; status: string; message: RegExp }[] = [
    { name: 'a policy the operator has not evaluated yet', object: () => policy(1), status: 'Progressing', message: /Waiting for the operator/ },
    {
      name: 'a status written for an older generation of the spec',
      object: () => policy(4, evaluated()), status: 'Progressing', message: /generation 4/,
    },
    {
      name: 'an evaluated policy that found violations (the policy works; the findings are its report)',
      object: () => policy(3, evaluated()), status: 'Healthy', message: /^1 of 2 matched pod\(s\) in 1 workload\(s\) violate the policy$/,
    },
    {
      name: 'an evaluated policy with everything compliant',
      object: () => policy(3, evaluated({ assessments: [pod('a')] })), status: 'Healthy', message: /all 1 matched pod\(s\) comply/,
    },
    {
      name: 'a spec the operator cannot use',
      object: () => policy(3, invalidSpecStatus(undefined, 3, ['spec.match.namespaceSelector: bad operator'], NOW)),
      status: 'Degraded', message: /^InvalidSpec: invalid spec: spec\.match\.namespaceSelector: bad operator$/,
    },
    {
      name: 'remediation that is failing',
      object: () => policy(3, evaluated({ degraded: { reason: 'EvictionBlocked', message: 'PDB shop/web allows no disruption' } })),
      status: 'Degraded', message: /^EvictionBlocked: PDB shop\/web allows no disruption$/,
    },
    {
      name: 'admission policies that are not in place',
      object: () => {
        const status = evaluated();
        status.conditions!.push({ type: 'AdmissionReady', status: 'False', reason: 'Forbidden', message: 'cannot create ValidatingAdmissionPolicy', lastTransitionTime: NOW, observedGeneration: 3 } as never);
        return policy(3, status);
      },
      status: 'Degraded', message: /^Forbidden: cannot create ValidatingAdmissionPolicy$/,
    },
    {
      name: 'a Ready condition of Unknown status',
      object: () => {
        const status = evaluated();
        status.conditions = status.conditions!.map((c) => (c.type === 'Ready' ? { ...c, status: 'Unknown' as const } : c));
        return policy(3, status);
      },
      status: 'Progressing', message: /Waiting for the operator/,
    },
  ];
  for (const tc of cases) {
    it(`${tc.status} for ${tc.name}`, () => {
      const health = runHealthCheck(script, tc.object());
      expect(health.status).to.equal(tc.status);
      expect(health.message).to.match(tc.message);
    });
  }

  it('is the script docs/gitops.md shows', async () => {
    const doc = await readFile(new URL('docs/gitops.md', root), 'utf8');
    const block = /```lua\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).to.equal(script);
  });
});
