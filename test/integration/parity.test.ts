// One verdict, three enforcement points. 138 manifests (23 pod specs — compliant, one per rule and container
// list, exempted, Windows — each as a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet and Job) are judged
// in one run by (1) `immutability-operator check -o json`, (2) the generated ValidatingAdmissionPolicy, as
// `kubectl apply` reports it (the policy's admission action is Warn, so every failing validation is printed
// and the object is still created), and (3) the running operator's findings on the resulting pods (the
// immutability.dev/violations annotation). All three must name the same rules for every manifest.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { RULE_TABLE } from '../../src/policy/rules.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import { EVERY_SPEC_RULE, PARITY_SPECS, parityManifest, runCheck } from '../support/parity-manifests.js';
import { admissionReady } from '../support/workloads.js';

type Json = Record<string, unknown>;
const NS = 'parity';
const POLICY = 'parity';

const policy = {
  apiVersion: 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata: { name: POLICY },
  spec: {
    mode: 'Enforce',
    match: { namespaces: [NS] },
    rules: EVERY_SPEC_RULE,
    exemptions: [
      { containers: ['legacy-*'], rules: ['readOnlyRootFilesystem'], reason: 'LEG-1' },
      // Matches "busybox:1.36" only through its spelling "docker.io/library/busybox:1.36".
      { images: ['docker.io/library/busybox*'], rules: ['runAsNonRoot'], reason: 'BB-2' },
    ],
    admission: { action: 'Warn' },
    remediation: { label: {} },
  },
};

const KINDS = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'];
const MANIFESTS = KINDS.flatMap((kind) => PARITY_SPECS.map(([variant, spec]) => parityManifest(NS, kind, variant, spec)));

/** Warning text → rule: each rule's admission message carries its requirement, which is unique per rule. */
function ruleOfWarning(line: string): string | undefined {
  return RULE_TABLE.find((rule) => line.includes(rule.requirement))?.name;
}

const sorted = (rules: Iterable<string>): string[] => [...new Set(rules)].sort();

describe('parity: check, admission and the operator agree on every manifest and rule', function () {
  this.timeout(300_000);
  withOperator({ namespaces: [NS], policies: [POLICY] });

  before(async function () {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(policy) });
    await admissionReady(POLICY);
  });

  it(`judges ${MANIFESTS.length} manifests the same three ways`, async function () {
    expect(MANIFESTS.length).to.be.at.least(100);
    // 1. check, offline, on the manifests as written.
    const dir = await mkdtemp(path.join(tmpdir(), 'parity-'));
    let byCheck: Map<string, string[]>;
    try {
      await writeFile(path.join(dir, 'policy.json'), JSON.stringify(policy));
      await writeFile(path.join(dir, 'manifests.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: MANIFESTS }));
      const res = await runCheck(['--policy', path.join(dir, 'policy.json'), '-f', path.join(dir, 'manifests.json'), '-o', 'json']);
      expect(res.stderr).to.equal('');
      const report = JSON.parse(res.stdout) as { results: { kind: string; name: string; findings: { rule: string }[] }[] };
      byCheck = new Map(report.results.map((r) => [`${r.kind}/${r.name}`, sorted(r.findings.map((f) => f.rule))]));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(byCheck.size).to.equal(MANIFESTS.length);

    // 2. admission: kubectl apply prints one warning per failing validation of the generated policy.
    const byAdmission = new Map<string, string[]>();
    for (const m of MANIFESTS) {
      const res = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(m) });
      expect(res.code, `${JSON.stringify(m)}\n${res.stderr}`).to.equal(0);
      const warnings = res.stderr.split('\n').filter((l) => l.startsWith('Warning:') && l.includes(`ImmutabilityPolicy ${POLICY}:`));
      const rules = warnings.map(ruleOfWarning);
      expect(rules, res.stderr).to.not.include(undefined);
      byAdmission.set(`${m['kind'] as string}/${at(m, 'metadata', 'name') as string}`, sorted(rules as string[]));
    }

    // 3. the operator: findings on every pod the manifests produce, once it has evaluated them all.
    const expectedPods = await eventually('every manifest has its pods', async () => {
      const list = JSON.parse(await kubectlOk(['-n', NS, 'get', 'pods', '-o', 'json'])) as { items: Json[] };
      const names = new Set(list.items.map((p) => at(p, 'metadata', 'labels', 'parity')));
      return MANIFESTS.every((m) => names.has(m['kind'] === 'Pod' ? at(m, 'metadata', 'name') : at(m, 'spec', 'template', 'metadata', 'labels', 'parity')))
        ? list.items.length : undefined;
    }, 120_000, 1_000);
    const byOperator = await eventually('the operator has judged every pod', async () => {
      const status = JSON.parse(await kubectlOk(['get', 'imp', POLICY, '-o', 'jsonpath={.status}'])) as { matchedPods?: number; violatingPods?: number };
      const list = JSON.parse(await kubectlOk(['-n', NS, 'get', 'pods', '-o', 'json'])) as { items: Json[] };
      const violating = list.items.filter((p) => at(p, 'metadata', 'labels', 'immutability.dev/violation') === 'true');
      if (status.matchedPods !== expectedPods || status.violatingPods !== violating.length || list.items.length !== expectedPods) return undefined;
      const rulesOf = new Map<string, string[][]>();
      for (const p of list.items) {
        const key = at(p, 'metadata', 'labels', 'parity') as string;
        const annotation = (at(p, 'metadata', 'annotations', 'immutability.dev/violations') as string | undefined) ?? '';
        const rules = sorted(annotation.split(/[,\s]+/).filter(Boolean).map((f) => f.split(':')[1] ?? ''));
        rulesOf.set(key, [...(rulesOf.get(key) ?? []), rules]);
      }
      return rulesOf;
    }, 120_000, 1_000);

    const disagreements: string[] = [];
    for (const m of MANIFESTS) {
      const key = `${m['kind'] as string}/${at(m, 'metadata', 'name') as string}`;
      const podKey = m['kind'] === 'Pod' ? at(m, 'metadata', 'name') as string : at(m, 'spec', 'template', 'metadata', 'labels', 'parity') as string;
      const fromCheck = byCheck.get(key) ?? ['<not reported>'];
      const fromAdmission = byAdmission.get(key) ?? [];
      const fromOperator = byOperator.get(podKey) ?? [['<no pod>']];
      const same = (rules: string[]): boolean => JSON.stringify(rules) === JSON.stringify(fromCheck);
      if (!same(fromAdmission) || !fromOperator.every(same)) {
        disagreements.push(`${key}: check ${JSON.stringify(fromCheck)}, admission ${JSON.stringify(fromAdmission)}, operator ${JSON.stringify(fromOperator)}`);
      }
    }
    expect(disagreements, disagreements.join('\n')).to.deep.equal([]);
    // The corpus exercises every rule, and compliant manifests too.
    const seen = new Set([...byCheck.values()].flat());
    for (const rule of RULE_TABLE) expect(seen.has(rule.name), rule.name).to.equal(true);
    expect([...byCheck.values()].filter((r) => r.length === 0).length).to.be.greaterThan(20);
  });
});
