import { expect } from 'chai';
import { Registry, register as globalRegistry } from 'prom-client';
import { createMetrics } from '../../../src/observability/metrics.js';

const EXPECTED: ReadonlyArray<[name: string, type: string, labels: string[]]> = [
  ['immutability_operator_reconcile_duration_seconds', 'histogram', ['controller', 'result']],
  ['immutability_operator_reconcile_total', 'counter', ['controller', 'result']],
  ['immutability_operator_queue_depth', 'gauge', ['controller']],
  ['immutability_operator_queue_dropped_total', 'counter', ['controller']],
  ['immutability_operator_watch_restarts_total', 'counter', ['resource', 'reason']],
  ['immutability_operator_violating_pods', 'gauge', ['policy']],
  ['immutability_operator_drifted_pods', 'gauge', ['policy']],
  ['immutability_operator_actions_total', 'counter', ['policy', 'action', 'result']],
  ['immutability_operator_audit_events_total', 'counter', ['source', 'outcome']],
  ['immutability_operator_falco_alerts_total', 'counter', ['outcome']],
  ['immutability_operator_leader', 'gauge', []],
  ['immutability_operator_heap_reclaims_total', 'counter', []],
  ['immutability_operator_heap_reclaimed_bytes_total', 'counter', []],
];

describe('observability/metrics', () => {
  it('registers every operator metric, prefixed, with its type, in the given registry only', async () => {
    const registry = new Registry();
    createMetrics(registry, { defaultMetrics: false });
    const exported = await registry.getMetricsAsJSON();
    expect(exported.map((m) => [m.name, m.type])).to.deep.equal(EXPECTED.map(([name, type]) => [name, type]));
    for (const [name] of EXPECTED) {
      expect(globalRegistry.getSingleMetric(name), name).to.equal(undefined);
    }
  });

  it('uses the declared label names', async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    m.reconcileDuration.observe({ controller: 'pod', result: 'success' }, 0.02);
    m.reconcileTotal.inc({ controller: 'pod', result: 'success' });
    m.queueDepth.set({ controller: 'pod' }, 4);
    m.queueDropped.inc({ controller: 'pod' });
    m.watchRestarts.inc({ resource: 'pods', reason: 'gone' });
    m.violations.set({ policy: 'prod' }, 3);
    m.driftedPods.set({ policy: 'prod' }, 1);
    m.actions.inc({ policy: 'prod', action: 'evict', result: 'success' });
    m.auditEvents.inc({ source: 'webhook', outcome: 'accepted' });
    m.leader.set(1);
    m.heapReclaims.inc();
    m.heapReclaimedBytes.inc(52 * 1024 * 1024);
    const text = await m.registry.metrics();
    for (const line of [
      'immutability_operator_reconcile_duration_seconds_count{controller="pod",result="success"} 1',
      'immutability_operator_reconcile_total{controller="pod",result="success"} 1',
      'immutability_operator_queue_depth{controller="pod"} 4',
      'immutability_operator_queue_dropped_total{controller="pod"} 1',
      'immutability_operator_watch_restarts_total{resource="pods",reason="gone"} 1',
      'immutability_operator_violating_pods{policy="prod"} 3',
      'immutability_operator_drifted_pods{policy="prod"} 1',
      'immutability_operator_actions_total{policy="prod",action="evict",result="success"} 1',
      'immutability_operator_audit_events_total{source="webhook",outcome="accepted"} 1',
      'immutability_operator_leader 1',
      'immutability_operator_heap_reclaims_total 1',
      'immutability_operator_heap_reclaimed_bytes_total 54525952',
    ]) {
      expect(text).to.contain(`\n${line}\n`);
    }
  });

  it('reports not-leader until told otherwise', async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    expect(await m.registry.metrics()).to.contain('\nimmutability_operator_leader 0\n');
  });

  it('can be created twice in one process (no global state)', () => {
    createMetrics(new Registry(), { defaultMetrics: false });
    expect(() => createMetrics(new Registry(), { defaultMetrics: false })).not.to.throw();
  });

  it('collects Node.js process metrics into the same registry by default', async () => {
    const registry = new Registry();
    createMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).to.include.members(['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']);
  });

  it('forgetPolicy stops exporting the gauges of a deleted policy', async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    m.violations.set({ policy: 'old' }, 2);
    m.violations.set({ policy: 'kept' }, 1);
    m.driftedPods.set({ policy: 'old' }, 1);
    m.forgetPolicy('old');
    const text = await m.registry.metrics();
    expect(text).not.to.contain('policy="old"');
    expect(text).to.contain('immutability_operator_violating_pods{policy="kept"} 1');
  });
});
