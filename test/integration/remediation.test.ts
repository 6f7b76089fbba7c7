// Remediation against the real control plane, with the operator running as a process: owner workloads are
// patched by server-side apply at the right level, GitOps-managed ones are left alone, failed rollouts are
// reverted, evictions respect PodDisruptionBudgets, Audit mode changes nothing, and a crash right after a
// patch does not lead to a second one.
import { expect } from 'chai';
import type { WorkloadViolation } from '../../src/api/types.js';
import { templateHash } from '../../src/remediation/workload-record.js';
import { installCrd } from '../support/fixtures.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { at } from '../support/objects.js';
import { withOperator } from '../support/operator-fixture.js';
import { OperatorProcess } from '../support/operator.js';
import {
  apply, cleanup, condition, deployment, getJson, livePods, policy, policyStatus, PRIVILEGED, type Json, type PolicyStatus,
} from '../support/workloads.js';

function violationOf(status: PolicyStatus, kind: string, name: string): WorkloadViolation | undefined {
  return status.violations?.find((v) => v.kind === kind && v.name === name);
}

function container(name: string, securityContext?: Json): Json {
  return { name, image: 'nginx:1.27', ...(securityContext ? { securityContext } : {}) };
}

async function managers(args: string[]): Promise<string[]> {
  const obj = JSON.parse(await kubectlOk(['get', ...args, '--show-managed-fields', '-o', 'json'])) as Json;
  const fields = (at(obj, 'metadata', 'managedFields') ?? []) as { manager: string }[];
  return fields.map((f) => f.manager);
}

async function generation(args: string[]): Promise<number> {
  return Number(await kubectlOk(['get', ...args, '-o', 'jsonpath={.metadata.generation}']));
}

describe('remediation', function () {
  this.timeout(120_000);

  describe('with one operator', function () {
    // Each test has its namespace and its policy, of the same name.
    const scenarios = ['rem-nginx', 'rem-levels', 'rem-gitops', 'rem-pdb', 'rem-bare', 'rem-rollback', 'rem-audit', 'rem-caps'];
    withOperator({ namespaces: scenarios, policies: scenarios });

    it('patches an nginx Deployment with a writable root: a new ReplicaSet rolls out compliant, unlabelled pods', async function () {
      const ns = 'rem-nginx';
      await apply(deployment(ns, 'web', { replicas: 2 }));
      await eventually('2 Running web pods', async () => ((await livePods(ns, 'app=web')).length === 2 ? true : undefined), 60_000);
      await apply(policy('rem-nginx', [ns], {
        mode: 'Enforce',
        remediation: { label: {}, patchOwner: { writablePaths: ['/var/run', '/var/cache/nginx'], emptyDirSizeLimit: '64Mi' } },
      }));

      const dep = await eventually('the Deployment patched', async () => {
        const d = await getJson(['-n', ns, 'deployment', 'web']);
        return at(d, 'spec', 'template', 'spec', 'containers', 0, 'securityContext', 'readOnlyRootFilesystem') === true ? d : undefined;
      }, 30_000);
      const spec = at(dep, 'spec', 'template', 'spec') as Json;
      const mounts = (at(spec, 'containers', 0, 'volumeMounts') as Json[]).map((m) => m['mountPath']).sort();
      expect(mounts).to.deep.equal(['/var/cache/nginx', '/var/run']);
      const volumes = spec['volumes'] as Json[];
      expect(volumes).to.have.length(2);
      expect(volumes.every((v) => at(v, 'emptyDir', 'sizeLimit') === '64Mi')).to.equal(true);
      expect(at(dep, 'metadata', 'generation')).to.equal(2);
      expect(await managers(['-n', ns, 'deployment', 'web'])).to.include('immutability-operator');

      await eventually('2 new compliant pods without the violation label', async () => {
        const pods = await livePods(ns, 'app=web');
        const ok = pods.length === 2 && pods.every((p) =>
          at(p, 'spec', 'containers', 0, 'securityContext', 'readOnlyRootFilesystem') === true &&
          at(p, 'status', 'phase') === 'Running' &&
          at(p, 'metadata', 'labels', 'immutability.dev/violation') === undefined);
        return ok ? pods : undefined;
      }, 60_000);
      const rs = await getJson(['-n', ns, 'rs', '-l', 'app=web']);
      expect((rs['items'] as Json[]).length).to.equal(2);

      const status = await eventually('status: compliant, one patch counted', async () => {
        const s = await policyStatus('rem-nginx');
        return condition(s, 'Compliant')?.status === 'True' && s.actions?.patched === 1 ? s : undefined;
      }, 30_000);
      expect(condition(status, 'Degraded')?.status).to.equal('False');
    });

    it('patches a privileged StatefulSet, DaemonSet and CronJob at the right level (the CronJob, not its Job)', async function () {
      const ns = 'rem-levels';
      const template = (name: string): Json => ({ metadata: { labels: { app: name } }, spec: { containers: [container('app', PRIVILEGED)] } });
      await apply({
        apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: ns },
        spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db') },
      });
      await apply({
        apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: ns },
        spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') },
      });
      const jobTemplate = template('nightly') as { spec: Json };
      jobTemplate.spec['restartPolicy'] = 'Never';
      await apply({
        apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: ns },
        spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: jobTemplate } } },
      });
      await kubectlOk(['-n', ns, 'create', 'job', 'nightly-manual', '--from=cronjob/nightly']);
      await eventually('pods of all three workloads', async () => {
        const pods = await livePods(ns, 'app in (db,agent,nightly)');
        const apps = new Set(pods.map((p) => at(p, 'metadata', 'labels', 'app')));
        return apps.size === 3 ? true : undefined;
      }, 60_000);

      await apply(policy('rem-levels', [ns], {
        mode: 'Enforce', rules: { readOnlyRootFilesystem: false, privileged: true }, remediation: { patchOwner: {} },
      }));
      const privileged = (obj: Json, ...path: string[]): unknown =>
        at(obj, ...path, 'spec', 'containers', 0, 'securityContext', 'privileged');
      await eventually('StatefulSet, DaemonSet and CronJob templates unprivileged', async () => {
        const sts = await getJson(['-n', ns, 'statefulset', 'db']);
        const ds = await getJson(['-n', ns, 'daemonset', 'agent']);
        const cj = await getJson(['-n', ns, 'cronjob', 'nightly']);
        return privileged(sts, 'spec', 'template') === false && privileged(ds, 'spec', 'template') === false &&
          privileged(cj, 'spec', 'jobTemplate', 'spec', 'template') === false ? true : undefined;
      }, 30_000);
      // The Job belongs to the CronJob: it is never patched (its template is immutable and its owner is the unit).
      const job = await getJson(['-n', ns, 'job', 'nightly-manual']);
      expect(privileged(job, 'spec', 'template')).to.equal(true);
      expect(await managers(['-n', ns, 'job', 'nightly-manual'])).to.not.include('immutability-operator');
      const status = await eventually('status reports the CronJob as patched', async () => {
        const s = await policyStatus('rem-levels');
        return violationOf(s, 'CronJob', 'nightly')?.action === 'Patched' ? s : undefined;
      }, 30_000);
      expect(violationOf(status, 'CronJob', 'nightly')?.patch).to.contain('/spec/jobTemplate/spec/template/spec/containers/0/securityContext/privileged');
      // The rolling StatefulSet and DaemonSet replace their pods with unprivileged ones.
      await eventually('StatefulSet and DaemonSet pods replaced', async () => {
        const pods = await livePods(ns, 'app in (db,agent)');
        return pods.length >= 3 && pods.every((p) => privileged(p) === false) ? true : undefined;
      }, 60_000);
    });

    it('does not patch a Deployment whose spec a GitOps tool manages, and reports the patch', async function () {
      const ns = 'rem-gitops';
      await apply(deployment(ns, 'shop'), ['--server-side', '--field-manager=kustomize-controller']);
      await apply(policy('rem-gitops', [ns], { mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp'] } } }));
      const status = await eventually('GitOpsManaged in status', async () => {
        const s = await policyStatus('rem-gitops');
        return violationOf(s, 'Deployment', 'shop')?.action === 'Blocked' ? s : undefined;
      }, 30_000);
      const v = violationOf(status, 'Deployment', 'shop');
      expect(v?.message).to.match(/GitOpsManaged.*kustomize-controller/);
      expect(JSON.parse(v?.patch ?? '[]')).to.deep.include({
        op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: { readOnlyRootFilesystem: true },
      });
      expect(condition(status, 'Degraded')).to.include({ status: 'True', reason: 'GitOpsManaged' });
      expect(await generation(['-n', ns, 'deployment', 'shop'])).to.equal(1);
      expect(await managers(['-n', ns, 'deployment', 'shop'])).to.not.include('immutability-operator');
    });

    it('evicts a stale StatefulSet replica only when its PodDisruptionBudget allows it', async function () {
      const ns = 'rem-pdb';
      await apply({
        apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'ledger', namespace: ns },
        spec: {
          replicas: 1, serviceName: 'ledger', updateStrategy: { type: 'OnDelete' },
          selector: { matchLabels: { app: 'ledger' } },
          template: { metadata: { labels: { app: 'ledger' } }, spec: { containers: [container('app', PRIVILEGED)] } },
        },
      });
      await kubectlOk(['-n', ns, 'create', 'pdb', 'ledger', '--selector=app=ledger', '--min-available=1']);
      const oldUid = await eventually('a Running ledger pod', async () => {
        const pods = await livePods(ns, 'app=ledger');
        const pod = pods[0];
        return pods.length === 1 && at(pod, 'status', 'phase') === 'Running' ? String(at(pod, 'metadata', 'uid')) : undefined;
      }, 60_000);
      await eventually('PDB status observed', async () =>
        (await kubectlOk(['-n', ns, 'get', 'pdb', 'ledger', '-o', 'jsonpath={.status.currentHealthy}'])) === '1' ? true : undefined, 30_000);

      await apply(policy('rem-pdb', [ns], {
        mode: 'Enforce', rules: { readOnlyRootFilesystem: false, privileged: true },
        remediation: { patchOwner: {}, evict: { maxPerMinute: 10 } },
      }));
      const blocked = await eventually('EvictionBlocked', async () => {
        const s = await policyStatus('rem-pdb');
        return condition(s, 'Degraded')?.reason === 'EvictionBlocked' ? s : undefined;
      }, 30_000);
      expect(violationOf(blocked, 'StatefulSet', 'ledger')?.action).to.equal('Blocked');
      const sts = await getJson(['-n', ns, 'statefulset', 'ledger']);
      expect(at(sts, 'spec', 'template', 'spec', 'containers', 0, 'securityContext', 'privileged')).to.equal(false);
      const pod = (await livePods(ns, 'app=ledger'))[0];
      expect(at(pod, 'metadata', 'uid')).to.equal(oldUid);

      await kubectlOk(['-n', ns, 'patch', 'pdb', 'ledger', '--type=merge', '-p', '{"spec":{"minAvailable":0}}']);
      await eventually('the stale replica replaced by a compliant pod', async () => {
        const pods = await livePods(ns, 'app=ledger');
        const p = pods[0];
        return pods.length === 1 && at(p, 'metadata', 'uid') !== oldUid &&
          at(p, 'spec', 'containers', 0, 'securityContext', 'privileged') === false ? true : undefined;
      }, 60_000);
      const status = await eventually('Degraded clears; one eviction counted', async () => {
        const s = await policyStatus('rem-pdb');
        return condition(s, 'Degraded')?.status === 'False' && condition(s, 'Compliant')?.status === 'True' ? s : undefined;
      }, 30_000);
      expect(status.actions?.evicted).to.equal(1);
    });

    it('labels a bare privileged pod and never evicts it', async function () {
      const ns = 'rem-bare';
      await apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'loner', namespace: ns }, spec: { containers: [container('app', PRIVILEGED)] } });
      const uid = await kubectlOk(['-n', ns, 'get', 'pod', 'loner', '-o', 'jsonpath={.metadata.uid}']);
      await apply(policy('rem-bare', [ns], {
        mode: 'Enforce', rules: { readOnlyRootFilesystem: false, privileged: true },
        remediation: { label: {}, patchOwner: {}, evict: {} },
      }));
      await eventually('the pod labelled', async () =>
        (await kubectlOk(['-n', ns, 'get', 'pod', 'loner', '-o', 'jsonpath={.metadata.labels.immutability\\.dev/violation}'])) === 'true' ? true : undefined, 30_000);
      const status = await eventually('status reports the bare pod as Skipped', async () => {
        const s = await policyStatus('rem-bare');
        return violationOf(s, 'Pod', 'loner') ? s : undefined;
      }, 30_000);
      const v = violationOf(status, 'Pod', 'loner');
      expect(v?.action).to.equal('Skipped');
      expect(v?.message).to.match(/bare pod/);
      await new Promise((r) => setTimeout(r, 3_000));
      const after = await kubectlOk(['-n', ns, 'get', 'pod', 'loner', '-o', 'jsonpath={.metadata.uid}{" "}{.metadata.deletionTimestamp}']);
      expect(after.trim()).to.equal(uid);
    });

    it('rolls back a patch whose new pods never become ready, and does not apply it again', async function () {
      const ns = 'rem-rollback';
      await apply(deployment(ns, 'fragile', { labels: { 'kwok.immutability.dev/never-ready': 'true' }, progressDeadlineSeconds: 15 }));
      await eventually('a fragile pod', async () => ((await livePods(ns, 'app=fragile')).length === 1 ? true : undefined), 60_000);
      await apply(policy('rem-rollback', [ns], { mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp'], rollback: true } } }));

      const status = await eventually('RolloutFailed reported', async () => {
        const s = await policyStatus('rem-rollback');
        return condition(s, 'Degraded')?.reason === 'RolloutFailed' ? s : undefined;
      }, 60_000);
      expect(status.actions?.rolledBack).to.equal(1);
      const v = violationOf(status, 'Deployment', 'fragile');
      expect(v?.action).to.equal('Blocked');
      expect(v?.message).to.match(/rolled back/);
      expect(v?.patch).to.contain('readOnlyRootFilesystem');

      const dep = await getJson(['-n', ns, 'deployment', 'fragile']);
      const spec = at(dep, 'spec', 'template', 'spec') as Json;
      expect(at(spec, 'containers', 0, 'securityContext', 'readOnlyRootFilesystem')).to.equal(undefined);
      expect(at(spec, 'containers', 0, 'volumeMounts')).to.equal(undefined);
      expect(spec['volumes']).to.equal(undefined);
      // The mark is the hash of the template as the API server now stores it: the same template is recognized.
      expect(at(dep, 'metadata', 'annotations', 'immutability.dev/rolled-back')).to.equal(templateHash(spec));
      const gen = Number(at(dep, 'metadata', 'generation'));
      expect(gen).to.equal(3); // created, patched, reverted
      await new Promise((r) => setTimeout(r, 4_000));
      expect(await generation(['-n', ns, 'deployment', 'fragile'])).to.equal(gen);
    });

    it('removes an added SYS_ADMIN and rolls out; a missing drop ALL is labelled and reported, never patched', async function () {
      const ns = 'rem-caps';
      const base = { readOnlyRootFilesystem: true };
      await apply(deployment(ns, 'sysadmin', {
        securityContext: { ...base, capabilities: { add: ['SYS_ADMIN', 'NET_BIND_SERVICE'], drop: ['ALL'] } },
      }));
      await apply(deployment(ns, 'keeps-caps', { securityContext: base }));
      await eventually('pods of both Deployments', async () =>
        ((await livePods(ns, 'app in (sysadmin,keeps-caps)')).length === 2 ? true : undefined), 60_000);
      await apply(policy('rem-caps', [ns], {
        mode: 'Enforce',
        rules: { capabilities: true, dropAllCapabilities: true },
        remediation: { label: {}, patchOwner: {} },
      }));

      const capabilitiesOf = (obj: Json): unknown => at(obj, 'spec', 'template', 'spec', 'containers', 0, 'securityContext', 'capabilities');
      await eventually('SYS_ADMIN removed from the template, the rest kept', async () => {
        const caps = capabilitiesOf(await getJson(['-n', ns, 'deployment', 'sysadmin']));
        return JSON.stringify(caps) === JSON.stringify({ add: ['NET_BIND_SERVICE'], drop: ['ALL'] }) ? true : undefined;
      }, 30_000);
      await eventually('the new pod runs without SYS_ADMIN and without the violation label', async () => {
        const pods = await livePods(ns, 'app=sysadmin');
        const ok = pods.length === 1 && pods.every((p) =>
          JSON.stringify(at(p, 'spec', 'containers', 0, 'securityContext', 'capabilities', 'add')) === '["NET_BIND_SERVICE"]' &&
          at(p, 'status', 'phase') === 'Running' && at(p, 'metadata', 'labels', 'immutability.dev/violation') === undefined);
        return ok ? true : undefined;
      }, 60_000);

      const reported = await eventually('keeps-caps reported with what its owner must change', async () => {
        const v = violationOf(await policyStatus('rem-caps'), 'Deployment', 'keeps-caps');
        return v?.message?.includes('must drop ALL capabilities') ? v : undefined;
      }, 30_000);
      expect(reported.action).to.not.equal('Patched');
      const pods = await livePods(ns, 'app=keeps-caps');
      expect(pods.map((p) => at(p, 'metadata', 'labels', 'immutability.dev/violation'))).to.deep.equal(['true']);
      expect(pods.map((p) => at(p, 'metadata', 'annotations', 'immutability.dev/violations'))[0]).to.include('nginx:dropAllCapabilities');
      expect(await generation(['-n', ns, 'deployment', 'keeps-caps'])).to.equal(1);
      expect(capabilitiesOf(await getJson(['-n', ns, 'deployment', 'keeps-caps']))).to.equal(undefined);
    });

    it('changes nothing in Audit mode and reports the planned patch and evictions', async function () {
      const ns = 'rem-audit';
      await apply(deployment(ns, 'preview'));
      await apply({
        apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'cache', namespace: ns },
        spec: {
          replicas: 1, serviceName: 'cache', updateStrategy: { type: 'OnDelete' }, selector: { matchLabels: { app: 'cache' } },
          template: { metadata: { labels: { app: 'cache' } }, spec: { containers: [container('app', { readOnlyRootFilesystem: true, privileged: true })] } },
        },
      });
      await eventually('pods of both', async () => ((await livePods(ns, 'app in (preview,cache)')).length === 2 ? true : undefined), 60_000);
      await apply(policy('rem-audit', [ns], {
        mode: 'Audit', remediation: { label: {}, patchOwner: { writablePaths: ['/tmp'] }, evict: {} },
      }));
      // The status is written at once; each workload's plan joins it as the workload controller works it out.
      const status = await eventually('Planned entries for both workloads, with the plan', async () => {
        const s = await policyStatus('rem-audit');
        return violationOf(s, 'Deployment', 'preview')?.patch && violationOf(s, 'StatefulSet', 'cache')?.message ? s : undefined;
      }, 30_000);
      const dep = violationOf(status, 'Deployment', 'preview');
      expect(dep?.action).to.equal('Planned');
      expect(JSON.parse(dep?.patch ?? '[]')).to.deep.include({
        op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: { readOnlyRootFilesystem: true },
      });
      const sts = violationOf(status, 'StatefulSet', 'cache');
      expect(sts?.action).to.equal('Planned');
      expect(sts?.message).to.match(/would evict rem-audit\/cache-0/);
      expect(condition(status, 'Degraded')?.status).to.equal('False');
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await generation(['-n', ns, 'deployment', 'preview'])).to.equal(1);
      expect(await generation(['-n', ns, 'statefulset', 'cache'])).to.equal(1);
      expect(await managers(['-n', ns, 'deployment', 'preview'])).to.not.include('immutability-operator');
      const pods = await livePods(ns, 'app in (preview,cache)');
      expect(pods.every((p) => at(p, 'metadata', 'labels', 'immutability.dev/violation') === undefined)).to.equal(true);
    });
  });

  describe('after a crash right after a patch', function () {
    const ns = 'rem-crash';
    let operator: OperatorProcess | undefined;
    let first: OperatorProcess | undefined;

    before(async function () {
      await installCrd();
    });

    after(async function () {
      this.timeout(90_000);
      await first?.kill();
      if (!operator) operator = await new OperatorProcess().start();
      await cleanup(['rem-crash'], [ns]);
      await operator.stop();
    });

    it('patches exactly once when the operator is killed after patching and restarted', async function () {
      await kubectlOk(['create', 'namespace', ns]);
      await apply(deployment(ns, 'api', { replicas: 2 }));
      await eventually('2 api pods', async () => ((await livePods(ns, 'app=api')).length === 2 ? true : undefined), 60_000);
      await apply(policy('rem-crash', [ns], { mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp'] } } }));

      first = await new OperatorProcess().start();
      await eventually('the patch', async () => ((await generation(['-n', ns, 'deployment', 'api'])) === 2 ? true : undefined), 30_000, 50);
      await first.kill();

      operator = await new OperatorProcess().start();
      await eventually('status after the restart reports the patch', async () => {
        const s = await policyStatus('rem-crash');
        const v = violationOf(s, 'Deployment', 'api');
        return v?.action === 'Patched' || condition(s, 'Compliant')?.status === 'True' ? s : undefined;
      }, 30_000);
      await eventually('rollout done', async () => {
        const pods = await livePods(ns, 'app=api');
        return pods.length === 2 && pods.every((p) => at(p, 'spec', 'containers', 0, 'securityContext', 'readOnlyRootFilesystem') === true)
          ? true : undefined;
      }, 60_000);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await generation(['-n', ns, 'deployment', 'api'])).to.equal(2);
      const rs = await getJson(['-n', ns, 'rs', '-l', 'app=api']);
      expect((rs['items'] as Json[]).length).to.equal(2);
      const dep = await getJson(['-n', ns, 'deployment', 'api']);
      const record = JSON.parse(String(at(dep, 'metadata', 'annotations', 'immutability.dev/patched'))) as { attempts: number };
      expect(record.attempts).to.equal(1);
    });
  });
});
