// Image presets: which images are known, and how their paths merge into the planned patch.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { ImmutabilityPolicySpec } from '../../../src/api/types.js';
import { applyJsonPatch, planRemediation, resolvePolicy } from '../../../src/policy/index.js';
import { IMAGE_PRESETS, presetForImage } from '../../../src/policy/presets.js';
import { expectPatchConverges, findingsOf, workloadOf } from './plan-helpers.js';

const NOW = new Date(Date.UTC(2026, 0, 1));

function deployment(containers: Record<string, unknown>[], volumes?: unknown[]): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' },
    spec: { template: { spec: { containers, ...(volumes ? { volumes } : {}) } } },
  };
}

function plan(spec: ImmutabilityPolicySpec, object: Record<string, unknown>): ReturnType<typeof planRemediation> {
  const policy = resolvePolicy('p', spec);
  const workload = workloadOf(object);
  const result = planRemediation(policy, workload, findingsOf(policy, workload, NOW));
  expectPatchConverges(policy, object, findingsOf(policy, workload, NOW), result, NOW);
  return result;
}

/** mountPath per container name after applying the plan. */
function mountsAfter(object: Record<string, unknown>, p: ReturnType<typeof planRemediation>): Record<string, string[]> {
  const patched = applyJsonPatch(object, p.patch) as { spec: { template: { spec: { containers: { name: string; volumeMounts?: { mountPath: string }[] }[] } } } };
  return Object.fromEntries(patched.spec.template.spec.containers.map((c) => [c.name, (c.volumeMounts ?? []).map((m) => m.mountPath)]));
}

describe('policy/presets', () => {
  describe('presetForImage', () => {
    const cases: [string, string | undefined][] = [
      ['nginx', 'official nginx'],
      ['nginx:1.27-alpine', 'official nginx'],
      ['docker.io/library/nginx:1.27@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'official nginx'],
      ['mirror.example:5000/library/nginx:1.27', 'official nginx'],
      ['nginxinc/nginx-unprivileged:1.27', 'nginx-unprivileged'],
      ['postgres:17', 'official postgres'],
      ['redis:7-alpine', 'official redis'],
      ['mariadb:11', 'official mariadb'],
      ['eclipse-temurin:21-jre', 'JVM (eclipse-temurin, openjdk, amazoncorretto, ibm-semeru-runtimes, sapmachine)'],
      ['python:3.13-slim', 'official python'],
      ['bitnami/nginx:1.27', undefined],
      ['example.com/team/nginx', undefined],
      ['', undefined],
      [undefined as unknown as string, undefined],
    ];
    for (const [image, expected] of cases) {
      it(`${JSON.stringify(image)} → ${expected ?? 'no preset'}`, () => {
        expect(presetForImage(image)?.name).to.equal(expected);
      });
    }

    it('docs/remediation.md\'s table shows every preset with its repositories and exactly its paths', () => {
      const doc = readFileSync(new URL('../../../../docs/remediation.md', import.meta.url), 'utf8');
      const rows = doc.split('\n').filter((line) => line.startsWith('| ') && (line.includes('`library/') || line.includes('`nginxinc/')));
      expect(rows).to.have.length(IMAGE_PRESETS.length);
      for (const preset of IMAGE_PRESETS) {
        const row = rows.find((r) => r.split('|')[1]!.includes(`\`${preset.repositories[0]}\``));
        expect(row, preset.name).to.be.a('string');
        const [, image, paths] = row!.split('|') as [string, string, string];
        for (const repository of preset.repositories) {
          expect(image.includes(`\`${repository}\``) || image.includes(`\`${repository.replace(/^library\//, '')}\``), `${preset.name}: ${repository}`).to.equal(true);
        }
        expect([...paths.matchAll(/`([^`]+)`/g)].map((m) => m[1]), preset.name).to.have.members([...preset.writablePaths]);
      }
    });

    it('every preset cites its source and lists absolute, distinct paths; no repository is listed twice', () => {
      const repositories = IMAGE_PRESETS.flatMap((p) => p.repositories);
      expect(new Set(repositories).size).to.equal(repositories.length);
      for (const preset of IMAGE_PRESETS) {
        expect(preset.source.length, preset.name).to.be.greaterThan(40);
        expect(preset.writablePaths.every((p) => p.startsWith('/') && p !== '/')).to.equal(true);
        expect(new Set(preset.writablePaths).size).to.equal(preset.writablePaths.length);
      }
    });
  });

  describe('planRemediation with presets', () => {
    it('mounts the official nginx paths with patchOwner present and nothing else configured', () => {
      const object = deployment([{ name: 'web', image: 'nginx:1.27' }]);
      const p = plan({ mode: 'Enforce', remediation: { patchOwner: {} } }, object);
      expect(mountsAfter(object, p)).to.deep.equal({ web: ['/var/cache/nginx', '/var/run'] });
      expect(p.message).to.equal('set readOnlyRootFilesystem, added emptyDir at /var/cache/nginx, /var/run');
      expect(p.warnings).to.deep.equal([]);
    });

    it('merges writablePaths with the preset per container: each container gets its own image\'s paths', () => {
      const object = deployment([{ name: 'web', image: 'nginx' }, { name: 'cache', image: 'redis:7' }, { name: 'app', image: 'example.com/app:1' }]);
      const p = plan({ mode: 'Enforce', remediation: { patchOwner: { writablePaths: ['/tmp', '/var/run'] } } }, object);
      expect(mountsAfter(object, p)).to.deep.equal({
        web: ['/tmp', '/var/run', '/var/cache/nginx'],
        cache: ['/tmp', '/var/run', '/data'],
        app: ['/tmp', '/var/run'],
      });
      const volumes = (applyJsonPatch(object, p.patch) as { spec: { template: { spec: { volumes: { name: string }[] } } } }).spec.template.spec.volumes;
      expect(volumes.map((v) => v.name)).to.have.members(['immutability-tmp-tmp', 'immutability-tmp-var-run', 'immutability-tmp-var-cache-nginx', 'immutability-tmp-data']);
    });

    it('leaves paths the manifest already mounts alone (a PVC for postgres data stays)', () => {
      const object = deployment(
        [{ name: 'db', image: 'postgres:17', volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql' }] }],
        [{ name: 'data', persistentVolumeClaim: { claimName: 'db' } }],
      );
      const p = plan({ mode: 'Enforce', remediation: { patchOwner: {} } }, object);
      expect(mountsAfter(object, p)).to.deep.equal({ db: ['/var/lib/postgresql', '/var/run/postgresql', '/tmp'] });
    });

    it('presets: false mounts writablePaths only, and warns about the known image\'s unmounted paths', () => {
      const object = deployment([{ name: 'web', image: 'nginx:1.27' }]);
      const p = plan({ mode: 'Audit', remediation: { patchOwner: { writablePaths: ['/var/run'], presets: false } } }, object);
      expect(mountsAfter(object, p)).to.deep.equal({ web: ['/var/run'] });
      expect(p.warnings).to.deep.equal([
        'container "web" (official nginx image) writes to /var/cache/nginx, which the planned read-only root filesystem leaves ' +
          'without a writable mount: add it to patchOwner.writablePaths or leave patchOwner.presets on',
      ]);
      const none = plan({ mode: 'Audit', remediation: { patchOwner: { presets: false } } }, object);
      expect(none.warnings, 'two paths unmounted: "them"').to.deep.equal([
        'container "web" (official nginx image) writes to /var/cache/nginx, /var/run, which the planned read-only root filesystem ' +
          'leaves without a writable mount: add them to patchOwner.writablePaths or leave patchOwner.presets on',
      ]);
    });

    it('does not warn when the manifest or writablePaths cover the paths, or when the root is already read-only', () => {
      const covered = deployment([{ name: 'web', image: 'nginx', volumeMounts: [{ name: 'cache', mountPath: '/var/cache' }] }], [{ name: 'cache', emptyDir: {} }]);
      expect(plan({ mode: 'Audit', remediation: { patchOwner: { writablePaths: ['/var/run'], presets: false } } }, covered).warnings).to.deep.equal([]);
      const readOnly = deployment([{ name: 'web', image: 'nginx', securityContext: { readOnlyRootFilesystem: true, privileged: true } }]);
      expect(plan({ mode: 'Audit', rules: { privileged: true }, remediation: { patchOwner: { presets: false } } }, readOnly).warnings).to.deep.equal([]);
    });

    it('plans with presets in Audit even without a patchOwner block, as Enforce would with an empty one', () => {
      const object = deployment([{ name: 'web', image: 'nginx' }]);
      expect(mountsAfter(object, plan({ mode: 'Audit' }, object))).to.deep.equal({ web: ['/var/cache/nginx', '/var/run'] });
    });
  });
});
