import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { check, fixture } from './run-check.js';

interface JsonFinding {
  container: string;
  containerType: string;
  rule: string;
  fieldPath: string;
  message: string;
}
interface JsonResult {
  policy: string;
  source: string;
  kind: string;
  namespace: string;
  name: string;
  compliant: boolean;
  findings: JsonFinding[];
  skips: { container?: string; rule: string; reason: string }[];
  plan: {
    mode: string; patchedRules: string[]; patch: { op: string; path: string; value?: unknown }[]; message: string; unpatchable: JsonFinding[];
    warnings: string[];
  } | null;
}
interface JsonReport {
  results: JsonResult[];
  notes: string[];
  errors: string[];
  summary: Record<string, number>;
}

async function checkJson(argv: string[], stdin = ''): Promise<{ code: number; report: JsonReport; stderr: string }> {
  const run = await check([...argv, '-o', 'json'], stdin);
  expect(run.stdout, run.stderr).to.not.equal('');
  return { code: run.code, report: JSON.parse(run.stdout) as JsonReport, stderr: run.stderr };
}

function keyed(report: JsonReport): string[] {
  return report.results.map((r) => `${r.policy} ${r.kind} ${r.namespace}/${r.name} ${r.findings.map((f) => `${f.container}:${f.rule}`).join(',') || 'ok'}`);
}

describe('immutability-operator check', () => {
  describe('exit status', () => {
    it('is 0 when every governed object complies', async () => {
      const run = await check(['--policy', fixture('policies'), '-f', fixture('objects/compliant.yaml')]);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stderr).to.equal('');
      expect(run.stdout).to.match(/^POLICY +KIND +NAMESPACE\/NAME +STATUS +FINDINGS$/m);
      expect(run.stdout).to.match(/^baseline +Deployment +shop\/web +COMPLIANT +-$/m);
      expect(run.stdout).to.include('Checked 1 object against 2 policies: 1 compliant, 0 violating');
      expect(run.stdout).to.include('1 document of other kinds skipped');
    });

    it('is 1 when an object violates a policy', async () => {
      const run = await check(['--policy', fixture('policies'), '-f', fixture('objects/violating.yaml')]);
      expect(run.code, run.stderr).to.equal(1);
      expect(run.stdout).to.match(/^shop-web +Deployment +shop\/cart +VIOLATING +cart:readOnlyRootFilesystem, cart:allowPrivilegeEscalation$/m);
      expect(run.stdout).to.include('spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem: Container "cart"');
      expect(run.stdout).to.include('plan (Enforce): set readOnlyRootFilesystem, added emptyDir at /tmp');
      expect(run.stdout).to.include('plan (Audit, planned only): dropped privileged');
    });

    it('is 2 for an unknown flag, with the usage', async () => {
      const run = await check(['--policy', fixture('policies'), '-f', fixture('objects'), '--strict']);
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.include("Unknown option '--strict'");
      expect(run.stderr).to.include('Usage: immutability-operator check');
    });

    for (const [name, argv, message] of [
      ['a stray argument', ['--policy', fixture('policies'), '-f', fixture('objects'), 'extra'], "Unexpected argument 'extra'"],
      ['a missing --policy', ['-f', fixture('objects')], 'missing --policy'],
      ['a missing -f', ['--policy', fixture('policies')], 'missing -f'],
      ['an unknown output format', ['--policy', fixture('policies'), '-f', fixture('objects'), '-o', 'yaml'], '--output must be one of table, json, sarif'],
      ['an invalid --now', ['--policy', fixture('policies'), '-f', fixture('objects'), '--now', '2027-02-30T00:00:00Z'], '--now must be an RFC 3339 time'],
    ] as const) {
      it(`is 2 for ${name}`, async () => {
        const run = await check([...argv]);
        expect(run.code).to.equal(2);
        expect(run.stderr).to.include(message);
        expect(run.stdout).to.equal('');
      });
    }

    it('prints the usage on stdout for --help and exits 0', async () => {
      const run = await check(['--help']);
      expect(run.code).to.equal(0);
      expect(run.stdout).to.include('Usage: immutability-operator check');
    });
  });

  describe('inputs', () => {
    it('reads directories recursively in sorted order, Lists and JSON files', async () => {
      const { code, report } = await checkJson(['--policy', fixture('policies'), '-f', fixture('objects')]);
      expect(code).to.equal(1);
      expect(keyed(report)).to.deep.equal([
        'baseline Deployment shop/web ok',
        'baseline StatefulSet data/db ok',
        'baseline CronJob data/report fetch:readOnlyRootFilesystem',
        'baseline Deployment shop/cart cart:readOnlyRootFilesystem',
        'baseline Pod default/debug-shell shell:privileged',
        'baseline DaemonSet monitoring/node-agent ok',
        'shop-web Deployment shop/web ok',
        'shop-web Deployment shop/cart cart:readOnlyRootFilesystem,cart:allowPrivilegeEscalation',
      ]);
      const sources = report.results.filter((r) => r.policy === 'baseline').map((r) => r.source.slice(r.source.lastIndexOf('/') + 1));
      expect(sources).to.deep.equal([
        'compliant.yaml#1',
        'list.yaml#1 items[0]',
        'list.yaml#1 items[1]',
        'violating.yaml#1',
        'violating.yaml#2',
        'workloads.json#1',
      ]);
    });

    it('reads objects from stdin with -f -', async () => {
      const manifests = readFileSync(fixture('objects/violating.yaml'), 'utf8');
      const { code, report } = await checkJson(['--policy', fixture('policies'), '-f', '-'], manifests);
      expect(code).to.equal(1);
      expect(report.results.map((r) => r.source)).to.deep.equal(['<stdin>#1', '<stdin>#2', '<stdin>#1']);
    });

    it('refuses to read stdin twice', async () => {
      const run = await check(['--policy', '-', '-f', '-'], readFileSync(fixture('policies/audit.yaml'), 'utf8'));
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include('standard input can be read only once');
    });

    it('ignores policies given with -f and counts other kinds as skipped', async () => {
      const { code, report } = await checkJson(['--policy', fixture('policies'), '-f', fixture('policies')]);
      expect(code).to.equal(0);
      expect(report.results).to.deep.equal([]);
      expect(report.summary).to.deep.include({ objects: 0, skipped: 1 });
    });

    it('rejects unparsable YAML with the file, document and position, before evaluating anything', async () => {
      const run = await check(['--policy', fixture('policies'), '-f', fixture('objects'), '-f', fixture('invalid/bad-yaml.yaml')]);
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.match(/bad-yaml\.yaml#2: .* at line \d+, column \d+\n/);
      expect(run.stderr).to.not.include('bad-yaml.yaml#1');
    });

    it('rejects an invalid policy, naming file, document and field', async () => {
      const run = await check(['--policy', fixture('invalid/bad-policy.yaml'), '-f', fixture('objects')]);
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.equal(`error: ${fixture('invalid/bad-policy.yaml')}#2: spec.mode: must be one of Audit, Enforce\n`);
    });

    it('rejects two policies with the same name', async () => {
      const run = await check(['--policy', fixture('policies'), '--policy', fixture('invalid/duplicate-policy.yaml'), '-f', fixture('objects')]);
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include('duplicate-policy.yaml#1: ImmutabilityPolicy baseline is also defined in');
    });

    it('rejects --policy inputs without any policy', async () => {
      const run = await check(['--policy', fixture('objects'), '-f', fixture('objects')]);
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include('no ImmutabilityPolicy found');
    });

    it('rejects a missing file', async () => {
      const run = await check(['--policy', fixture('policies'), '-f', fixture('objects/nope.yaml')]);
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include('nope.yaml: no such file or directory');
    });

    it('reports a workload it cannot evaluate and exits 2, still reporting the rest', async () => {
      const run = await check(['--policy', fixture('policies'), '-f', fixture('objects/compliant.yaml'), '-f', fixture('invalid/malformed-workload.yaml'), '-o', 'json']);
      expect(run.code).to.equal(2);
      expect(run.stderr).to.match(/malformed-workload\.yaml#1: Deployment shop\/hollow has no spec\.template\.spec\n/);
      const report = JSON.parse(run.stdout) as JsonReport;
      expect(report.summary).to.deep.include({ objects: 1, compliant: 1, errors: 1 });
      expect(report.errors).to.have.length(1);
    });

    it('never throws, even when reading stdin fails', async () => {
      const run = await check(['--policy', fixture('policies'), '-f', '-'], () => Promise.reject(new Error('stdin closed')));
      expect(run.code).to.equal(2);
      expect(run.stderr).to.equal('error: stdin closed\n');
    });
  });

  describe('-o json', () => {
    it('prints one object with results, notes, errors and summary', async () => {
      const { report } = await checkJson(['--policy', fixture('policies'), '-f', fixture('objects')]);
      expect(Object.keys(report)).to.deep.equal(['results', 'notes', 'errors', 'summary']);
      expect(report.summary).to.deep.equal({ policies: 2, objects: 7, compliant: 3, violating: 3, unmatched: 1, skipped: 1, errors: 0 });
      expect(report.notes).to.deep.equal([]);
      expect(report.errors).to.deep.equal([]);
      for (const result of report.results) {
        expect(Object.keys(result)).to.deep.equal(['policy', 'source', 'kind', 'namespace', 'name', 'compliant', 'findings', 'skips', 'plan']);
        expect(result.compliant).to.equal(result.findings.length === 0);
        expect(result.plan === null).to.equal(result.compliant);
      }
    });

    it('describes each finding and the plan Enforce would apply', async () => {
      const { report } = await checkJson(['--policy', fixture('policies'), '-f', fixture('objects')]);
      const cronJob = report.results.find((r) => r.name === 'report')!;
      expect(cronJob.findings).to.have.length(1);
      expect(Object.keys(cronJob.findings[0]!)).to.deep.equal(['container', 'containerType', 'rule', 'fieldPath', 'message']);
      expect(cronJob.findings[0]).to.deep.include({
        container: 'fetch',
        containerType: 'initContainer',
        rule: 'readOnlyRootFilesystem',
        fieldPath: 'spec.jobTemplate.spec.template.spec.initContainers[0].securityContext.readOnlyRootFilesystem',
      });
      const cart = report.results.find((r) => r.policy === 'shop-web' && r.name === 'cart')!;
      expect(cart.plan).to.deep.include({ mode: 'Enforce', patchedRules: ['readOnlyRootFilesystem', 'allowPrivilegeEscalation'] });
      expect(cart.plan!.patch).to.deep.include({
        op: 'add',
        path: '/spec/template/spec/containers/0/securityContext',
        value: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
      });
      const volumes = cart.plan!.patch.find((op) => op.path === '/spec/template/spec/volumes');
      expect(volumes?.value).to.deep.equal([{ name: 'immutability-tmp-tmp', emptyDir: { sizeLimit: '16Mi' } }]);
      expect(report.results.find((r) => r.policy === 'baseline' && r.name === 'cart')!.plan!.mode).to.equal('Audit');
    });
  });

  describe('a patch that may break a known image', () => {
    const argv = ['--policy', fixture('presets/policy.yaml'), '-f', fixture('presets/nginx.yaml')];
    const WARNING = 'container "nginx" (official nginx image) writes to /var/cache/nginx, which the planned read-only root ' +
      'filesystem leaves without a writable mount: add it to patchOwner.writablePaths or leave patchOwner.presets on';

    it('says so in plan.warnings (-o json), as the operator says it in the status and an Event', async () => {
      const { code, report } = await checkJson(argv);
      expect(code).to.equal(1);
      expect(report.results[0]!.plan).to.deep.include({ mode: 'Audit', message: 'set readOnlyRootFilesystem, added emptyDir at /var/run' });
      expect(report.results[0]!.plan!.warnings).to.deep.equal([WARNING]);
      const fine = await checkJson(['--policy', fixture('policies/audit.yaml'), '-f', fixture('presets/nginx.yaml')]);
      expect(fine.report.results[0]!.plan!.warnings, 'presets on: the paths are mounted, nothing to warn about').to.deep.equal([]);
    });

    it('prints the warning under the plan in the table', async () => {
      const { stdout } = await check(argv);
      expect(stdout.split('\n')).to.include(`  warning: ${WARNING}`);
    });
  });

  describe('exemptions and --now', () => {
    const argv = ['--policy', fixture('exemptions/policy.yaml'), '-f', fixture('exemptions/pod.yaml'), '-o', 'json'];

    it('waives a finding before the exemption expires and shows the skip', async () => {
      const { code, report } = await checkJson([...argv, '--now', '2027-01-30T23:59:59Z']);
      expect(code).to.equal(0);
      expect(report.results[0]!.skips).to.deep.equal([
        { container: 'log-shipper', rule: 'readOnlyRootFilesystem', reason: 'Exempted: OPS-7: shipper buffers to disk until v2' },
      ]);
    });

    it('reports the finding again from the expiry on', async () => {
      const { code, report } = await checkJson([...argv, '--now', '2027-01-31T00:00:00Z']);
      expect(code).to.equal(1);
      expect(keyed(report)).to.deep.equal(['sidecar-waiver Pod shop/api log-shipper:readOnlyRootFilesystem']);
    });

    it("uses the caller's clock without --now", async () => {
      const { code } = await checkJson(argv); // FIXED_NOW is before the expiry
      expect(code).to.equal(0);
    });
  });

  describe('namespaceSelector offline', () => {
    it('does not govern objects whose Namespace is not among the inputs, and says so', async () => {
      const run = await check(['--policy', fixture('selector/policy.yaml'), '-f', fixture('objects/violating.yaml')]);
      expect(run.code).to.equal(0);
      expect(run.stdout).to.include('No object is governed by the given policies.');
      expect(run.stdout).to.include('note: policy prod-only: namespace "shop" has no Namespace manifest among the -f inputs');
      expect(run.stdout).to.include('note: policy prod-only: namespace "default" has no Namespace manifest');
      expect(run.stdout).to.include('0 compliant, 0 violating, 2 not governed by any policy');
    });

    it('uses the labels of Namespace manifests given with -f', async () => {
      const { code, report } = await checkJson([
        '--policy', fixture('selector/policy.yaml'),
        '-f', fixture('objects/violating.yaml'),
        '-f', fixture('selector/namespace-shop.yaml'),
      ]);
      expect(code).to.equal(1);
      expect(keyed(report)).to.deep.equal(['prod-only Deployment shop/cart cart:readOnlyRootFilesystem']);
      expect(report.notes).to.have.length(1);
      expect(report.notes[0]).to.include('namespace "default"');
    });
  });

  it('prints no escape sequences and no trailing spaces in the table', async () => {
    const run = await check(['--policy', fixture('policies'), '-f', fixture('objects')]);
    expect(run.stdout).to.not.match(/\x1b/); // eslint-disable-line no-control-regex
    expect(run.stdout).to.not.match(/ +$/m);
  });
});
