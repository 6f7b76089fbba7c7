import { expect } from 'chai';
import {
  crashLoopReason, podCarriesFragment, replacesPodsOnTemplateChange, rolloutVerdict, selectorQuery, type RolloutInput,
} from '../../../src/remediation/rollout.js';

const T0 = Date.UTC(2026, 0, 1);

function deployment(status: Record<string, unknown>, generation = 2): Record<string, unknown> {
  return { metadata: { generation }, spec: { replicas: 2, progressDeadlineSeconds: 30 }, status };
}

const timedOut = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' };
const progressing = { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' };

function pod(name: string, statuses: Record<string, unknown>[]): Record<string, unknown> {
  return { metadata: { name }, status: { containerStatuses: statuses } };
}
const healthy = pod('new-1', [{ name: 'app', ready: true, restartCount: 0, state: { running: {} } }]);
const crashing = pod('new-2', [{ name: 'app', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }]);

describe('remediation/rollout', () => {
  const cases: { name: string; input: Partial<RolloutInput>; expected: string; reason?: RegExp }[] = [
    {
      name: 'Deployment: the controller says ProgressDeadlineExceeded for the patched generation',
      input: { workload: deployment({ observedGeneration: 2, conditions: [timedOut] }) }, expected: 'failed', reason: /ProgressDeadlineExceeded/,
    },
    {
      name: 'Deployment: a timeout condition from before the patch (older observedGeneration) is ignored',
      input: { workload: deployment({ observedGeneration: 1, conditions: [timedOut] }) }, expected: 'progressing',
    },
    {
      name: 'Deployment: all replicas updated and available',
      input: { workload: deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2, conditions: [progressing] }) },
      expected: 'complete',
    },
    {
      name: 'Deployment: old replicas still around',
      input: { workload: deployment({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2, conditions: [progressing] }) },
      expected: 'progressing',
    },
    {
      name: 'any kind: a new pod in CrashLoopBackOff',
      input: { workload: deployment({ observedGeneration: 2, conditions: [progressing] }), newPods: [healthy, crashing] },
      expected: 'failed', reason: /crash-loop.*new-2.*CrashLoopBackOff/,
    },
    {
      name: 'StatefulSet RollingUpdate: revisions converged and ready',
      input: { kind: 'StatefulSet', workload: { metadata: { generation: 3 }, spec: { replicas: 1 }, status: { observedGeneration: 3, currentRevision: 'b', updateRevision: 'b', readyReplicas: 1 } } },
      expected: 'complete',
    },
    {
      name: 'StatefulSet RollingUpdate: not converged past the deadline',
      input: {
        kind: 'StatefulSet', nowMs: T0 + 601_000,
        workload: { metadata: { generation: 3 }, spec: { replicas: 1 }, status: { observedGeneration: 3, currentRevision: 'a', updateRevision: 'b', readyReplicas: 0 } },
      },
      expected: 'failed', reason: /not ready within 600s/,
    },
    {
      name: 'StatefulSet OnDelete: never fails on time alone, stops watching after the deadline',
      input: { kind: 'StatefulSet', nowMs: T0 + 601_000, workload: { metadata: { generation: 3 }, spec: { updateStrategy: { type: 'OnDelete' } }, status: {} } },
      expected: 'complete',
    },
    {
      name: 'DaemonSet RollingUpdate: not all updated within a short deadline',
      input: {
        kind: 'DaemonSet', nowMs: T0 + 11_000, deadlineMs: 10_000,
        workload: { metadata: { generation: 2 }, spec: {}, status: { observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 1 } },
      },
      expected: 'failed',
    },
    { name: 'CronJob: nothing to watch', input: { kind: 'CronJob', workload: {} }, expected: 'complete' },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.expected}`, () => {
      const verdict = rolloutVerdict({ kind: 'Deployment', newPods: [], startedAtMs: T0, nowMs: T0 + 1000, workload: {}, ...c.input });
      expect(verdict.state).to.equal(c.expected);
      if (c.reason) expect(verdict.state === 'failed' ? verdict.reason : '').to.match(c.reason);
    });
  }

  it('recognizes crash-looping pods by waiting reason or restart count, in init containers too', () => {
    expect(crashLoopReason(healthy)).to.equal(undefined);
    expect(crashLoopReason(crashing)).to.match(/CrashLoopBackOff/);
    expect(crashLoopReason(pod('p', [{ name: 'app', restartCount: 3, state: { running: {} } }]))).to.match(/restarted 3 times/);
    expect(crashLoopReason({ metadata: { name: 'i' }, status: { initContainerStatuses: [{ name: 'init', state: { waiting: { reason: 'RunContainerError' } } }] } }))
      .to.match(/init: RunContainerError/);
    expect(crashLoopReason(pod('p', [{ name: 'app', state: { waiting: { reason: 'ContainerCreating' } } }]))).to.equal(undefined);
  });

  it('tells pods of the patched template from the old ones', () => {
    const fragment = {
      containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 't', mountPath: '/tmp' }] }],
      volumes: [{ name: 't', emptyDir: {} }],
    };
    const patched = {
      containers: [{ name: 'app', securityContext: { readOnlyRootFilesystem: true, runAsUser: 1 }, volumeMounts: [{ name: 't', mountPath: '/tmp' }] }],
      volumes: [{ name: 't', emptyDir: {} }],
    };
    expect(podCarriesFragment(patched, fragment)).to.equal(true);
    expect(podCarriesFragment({ containers: [{ name: 'app' }] }, fragment)).to.equal(false);
    expect(podCarriesFragment({ ...patched, volumes: [] }, fragment)).to.equal(false);
    expect(podCarriesFragment({ containers: [] }, {})).to.equal(true);
  });

  it('knows which controllers replace pods after a template change', () => {
    expect(replacesPodsOnTemplateChange('Deployment', {})).to.equal(true);
    expect(replacesPodsOnTemplateChange('StatefulSet', { spec: {} })).to.equal(true);
    expect(replacesPodsOnTemplateChange('StatefulSet', { spec: { updateStrategy: { type: 'OnDelete' } } })).to.equal(false);
    expect(replacesPodsOnTemplateChange('DaemonSet', { spec: { updateStrategy: { type: 'OnDelete' } } })).to.equal(false);
    expect(replacesPodsOnTemplateChange('ReplicaSet', {})).to.equal(false);
    expect(replacesPodsOnTemplateChange('CronJob', {})).to.equal(false);
  });

  it('turns a label selector into a query', () => {
    expect(selectorQuery({ matchLabels: { app: 'web', tier: 'fe' } })).to.equal('app=web,tier=fe');
    expect(selectorQuery({
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'NotIn', values: ['c'] },
        { key: 'y', operator: 'Exists' }, { key: 'z', operator: 'DoesNotExist' },
      ],
    })).to.equal('env in (a,b),x notin (c),y,!z');
    expect(selectorQuery({})).to.equal(undefined);
    expect(selectorQuery({ matchExpressions: [{ key: 'a', operator: 'Near' }] })).to.equal(undefined);
  });
});
