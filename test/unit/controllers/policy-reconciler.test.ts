import { expect } from 'chai';
import { Registry } from 'prom-client';
import { FINALIZER, type ImmutabilityPolicyStatus } from '../../../src/api/types.js';
import { noDrift } from '../../../src/controllers/drift-source.js';
import { EVALUATION_SLICE, EVALUATION_SLICE_MS, PolicyReconciler } from '../../../src/controllers/policy-reconciler.js';
import { PolicySet } from '../../../src/controllers/policy-set.js';
import type { KubeApi } from '../../../src/k8s/api.js';
import type { EventRecorder } from '../../../src/observability/events.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { compliant, policy, pod, testCaches, writable } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00Z');

/** Evaluates `count` pods, half violating; counts the turns of the event loop that happen before the status write. */
async function passOver(count: number, elapsedMs?: () => number): Promise<{ written: ImmutabilityPolicyStatus[]; turnsBeforeWrite: number }> {
  const pods = Array.from({ length: count }, (_, i) => pod('shop', `web-${i}`, [i % 2 === 0 ? writable('nginx') : compliant('nginx')]));
  const caches = testCaches({
    policies: [policy('prod', { mode: 'Audit' }, { finalizers: [FINALIZER] })], namespaces: { shop: {} }, pods,
  });
  const written: ImmutabilityPolicyStatus[] = [];
  // What a Lease renewal's answer or a watch event is to the operator: a macrotask that became due.
  let turnsBeforeWrite = 0;
  let writing = false;
  const turn = (): void => {
    if (writing) return;
    turnsBeforeWrite++;
    setImmediate(turn);
  };
  const reconciler = new PolicyReconciler({
    caches, policies: new PolicySet(caches.policies), drift: noDrift, now: () => NOW,
    api: { applyPolicyStatus: (_name: string, status: ImmutabilityPolicyStatus) => {
      writing = true;
      written.push(status);
      return Promise.resolve();
    } } as unknown as KubeApi,
    remediation: { report: () => ({ outcomes: new Map(), actions: { patched: 0, evicted: 0, rolledBack: 0 } }), resultOf: () => undefined, forget: () => undefined },
    events: { record: () => undefined } as unknown as EventRecorder,
    metrics: createMetrics(new Registry(), { defaultMetrics: false }),
    logger: noopLogger, enqueuePods: () => undefined, statusIntervalMs: 1_000, ...(elapsedMs ? { elapsedMs } : {}),
  });
  setImmediate(turn);
  await reconciler.reconcile('prod');
  return { written, turnsBeforeWrite };
}

describe('controllers/policy-reconciler PolicyReconciler: a large cluster', () => {
  it('evaluates the pods in slices, letting the event loop turn between them, and counts every pod', async () => {
    const count = 3 * EVALUATION_SLICE + 7;
    // A clock that stands still: only the pod count ends a slice.
    const { written, turnsBeforeWrite } = await passOver(count, () => 0);
    expect(written).to.have.length(1);
    expect(written[0]).to.include({ matchedPods: count, violatingPods: Math.ceil(count / 2) });
    // One pass in one go would let no turn happen before the write.
    expect(turnsBeforeWrite).to.be.at.least(3);
  });

  it('also ends a slice after EVALUATION_SLICE_MS, however few pods it has evaluated (slow pods, a busy node)', async () => {
    // Each look at the clock finds a millisecond gone: a slice holds EVALUATION_SLICE_MS pods or so.
    let ms = 0;
    const count = 100;
    const { written, turnsBeforeWrite } = await passOver(count, () => ms++);
    expect(written[0]).to.include({ matchedPods: count, violatingPods: count / 2 });
    expect(turnsBeforeWrite).to.be.at.least(count / (EVALUATION_SLICE_MS + 1));
  });
});
