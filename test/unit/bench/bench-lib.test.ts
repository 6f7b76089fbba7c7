import { expect } from 'chai';
import { distributionPoints } from '../../../bench/charts.js';
import { parseRequestCounts, requestDelta } from '../../../bench/lib/cluster.js';
import { correlate, parseGcTrace } from '../../../bench/lib/gctrace.js';
import { shippedFlags } from '../../../bench/lib/operator.js';
import { familyOf, numberAfter, type ScenarioFamily } from '../../../bench/lib/scenario.js';
import { fullPoolRate, perSecond, percentiles, spanRate } from '../../../bench/lib/stats.js';
import { summaryRow } from '../../../bench/summary.js';
import { applyLabel } from '../../../bench/lib/objects.js';
import { FIELD_MANAGER } from '../../../src/api/types.js';
import { KubeApi } from '../../../src/k8s/api.js';
import { KubeHttp } from '../../../src/k8s/http.js';
import { withServer } from '../k8s/loopback-server.js';

describe('benchmark helpers', () => {
  it('the ceiling sends the operator\'s label write, byte for byte but for its label key and field manager', async () => {
    const seen: { method?: string; url?: string; accept?: string; type?: string; body: string }[] = [];
    await withServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, accept: req.headers.accept, type: req.headers['content-type'], body });
        res.end('{}');
      });
    }, async (kc) => {
      const http = new KubeHttp(kc);
      const pod = { namespace: 'shop', name: 'web-1', uid: '6a8f51ad-45d9-4db1-befd-68e7f6bbb0ed' };
      await new KubeApi(http).applyPodMetadata(pod, {
        labels: { 'immutability.dev/violation': 'true' }, annotations: { 'immutability.dev/violations': 'readOnlyRootFilesystem' } });
      await applyLabel(http, pod, 'bench.immutability.dev/ceiling', 'bench-ceiling');
      http.close();
    });
    const [operator, ceiling] = seen;
    const asOperator = (s: string | undefined): string | undefined => s?.replaceAll('bench.immutability.dev/ceiling-rules', 'immutability.dev/violations')
      .replaceAll('bench.immutability.dev/ceiling', 'immutability.dev/violation').replaceAll('bench-ceiling', FIELD_MANAGER);
    expect(ceiling && { ...ceiling, url: asOperator(ceiling.url), body: asOperator(ceiling.body) }).to.deep.equal(operator);
    expect(operator?.accept).to.equal('application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1');
    // Both pinned to the pod by its uid.
    expect(JSON.parse(operator?.body ?? '{}')).to.have.nested.property('metadata.uid', '6a8f51ad-45d9-4db1-befd-68e7f6bbb0ed');
  });

  it('percentiles of a sample', () => {
    const p = percentiles(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(p).to.deep.equal({ count: 100, p50: 51, p90: 91, p99: 100, max: 100 });
  });

  it('a writer pool\'s rate while all its writers had work: not over its bunched start, nor over its drain', () => {
    // Two writers from t=0: their first answers come together at 500; one answer every 100 ms from then until
    // the first writer finds the queue empty at 1500; two more answers in the drain.
    const answeredAtMs = [500, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1550, 1560];
    expect(fullPoolRate({ concurrency: 2, startMs: 0, answeredAtMs, firstIdleMs: 1500 })).to.deep.equal({ seconds: 1, writes: 10, ratePerSec: 10 });
    // Over the whole run it would be 14 / 1.56 s = 9/s: the slow start outweighs the quick drain here.
    expect(fullPoolRate({ concurrency: 2, startMs: 0, answeredAtMs: [500], firstIdleMs: 500 })).to.deep.equal({ seconds: 0, writes: 0, ratePerSec: null });
    expect(perSecond(0, answeredAtMs)).to.deep.equal([6, 8]);
    expect(perSecond(1000, [1200, 3100])).to.deep.equal([1, 0, 1]);
  });

  it('a rate over the span the events took, not from an arbitrary start', () => {
    expect(spanRate([5000, 5500, 6000])).to.equal(2); // 2 intervals in 1 s
    expect(spanRate([1])).to.equal(null);
    expect(spanRate([3, 3])).to.equal(null);
  });

  it('sums apiserver_request_total by verb and resource, leaving out non-resource URLs', () => {
    const text = [
      '# TYPE apiserver_request_total counter',
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 7',
      'apiserver_request_total{code="409",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 1',
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="APPLY",version="v1"} 3',
      'apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 9',
    ].join('\n');
    const counts = parseRequestCounts(text);
    expect([...counts]).to.deep.equal([['PUT leases', 8], ['APPLY pods/status', 3]]);
    expect(requestDelta(new Map([['PUT leases', 5]]), counts)).to.deep.equal({ 'PUT leases': 3, 'APPLY pods/status': 3 });
  });

  it('reads the V8 flags and args the operator ships with from the Dockerfile and the manifest', () => {
    const flags = shippedFlags();
    expect(flags.nodeFlags.some((f) => f.startsWith('--max-old-space-size='))).to.equal(true);
    expect(flags.args[0]).to.equal('run');
    expect(flags.memoryLimitMiB).to.be.greaterThan(0);
  });

  it('finds a scenario family by the first word of its name and rejects unknown names', () => {
    const steady = { family: 'steady', usage: '', all: [], quick: [], run: () => Promise.reject(new Error('unused')) } satisfies ScenarioFamily;
    expect(familyOf([steady], 'steady-100')).to.equal(steady);
    expect(() => familyOf([steady], 'stedy-100')).to.throw(/unknown scenario "stedy-100"/);
    expect(numberAfter('steady', 'steady-100')).to.equal(100);
    expect(() => numberAfter('steady', 'steady-x')).to.throw(/not steady-<number>/);
  });

  it('the distribution keeps its extremes and at most the points asked for', () => {
    const points = distributionPoints(Array.from({ length: 1000 }, (_, i) => i + 1), 100);
    expect(points.length).to.be.at.most(101);
    expect(points[0]).to.deep.equal({ quantile: 0.001, ms: 1 });
    expect(points[points.length - 1]).to.deep.equal({ quantile: 1, ms: 1000 });
  });

  it('reads Go gctrace lines onto the caller\'s clock and lays them over requests', () => {
    const log = [
      'I1130 23:41:00.000000 some klog line',
      'gc 1 @2.000s 3%: 0.020+40+0.010 ms clock, 0.08+0.5/20/30+0.04 ms cpu, 30->31->15 MB, 31 MB goal, 0 MB stacks, 0 MB globals, 2 P',
      'gc 2 @5.500s 3%: 0.5+99.5+0 ms clock, 1+1/1/1+0 ms cpu, 32->33->16 MB, 33 MB goal, 0 MB stacks, 0 MB globals, 2 P',
    ].join('\n');
    const cycles = parseGcTrace(log, 1000);
    expect(cycles).to.deep.equal([{ startMs: 3000, wallMs: 40.03, heapBeforeMb: 30 }, { startMs: 6500, wallMs: 100, heapBeforeMb: 32 }]);
    // 100 requests of 10 ms from t=2500; the two slowest fall in the collections, the faster half in neither.
    const samples = Array.from({ length: 100 }, (_, i) => ({ startMs: 2500 + i * 50, latencyMs: 10 }));
    for (const s of samples) if (s.startMs === 3000 || s.startMs === 6500) s.latencyMs = 60;
    const c = correlate(samples, cycles, 0);
    expect(c.cyclesPer1000Requests).to.equal(20);
    expect(c.slowestPercentOverlapping).to.equal(1);
    expect(c.fasterHalfOverlapping).to.equal(0);
    expect(c.gcWallMsPerRequest).to.be.closeTo(1.4003, 1e-9);
    expect(c.outsideGcShare).to.equal(0.97); // the 10 ms request at 6550 falls in the 100 ms collection too
    expect(c.outsideGcP99Ms).to.equal(10);
  });

  it('the owned-N summary counts the operator\'s Lease renewals, not kube-apiserver\'s own Lease writes', () => {
    const run = { scenario: 'owned-100', pods: 100, deployments: 10, violatingPods: 50,
      operatorRun: { allLabelledMs: 900, requests: { 'PUT leases': 9 }, leaseRenewals: 4 } };
    expect(summaryRow(run)?.[1]).to.contain('; 4 Lease renewals;');
    const split = { ...run, apiCeiling: { ratePerSec: 800, cpuMsPerWrite: { apiServer: 1.9, client: 0.2 } },
      operatorRun: { ...run.operatorRun, labelRatePerSec: 700, labelRateOfCeiling: 0.88, cpuMsPerLabel: { apiServer: 2.1, labeller: 0.5 } } };
    expect(summaryRow(split)?.[1]).to.contain('CPU per write: kube-apiserver 1.9 ms in the ceiling (its client 0.2 ms), 2.1 ms during the operator\'s labels (the operator 0.5 ms)');
    // Since both writers are observed by a label watch, each figure says whether it holds the watch's reading.
    const observed = { ...split, apiCeiling: { ...split.apiCeiling, watched: 600 },
      operatorRun: { ...split.operatorRun, cpuMsPerLabel: { apiServer: 2.1, labeller: 0.5, benchmark: 0.1 } } };
    expect(summaryRow(observed)?.[1]).to.contain('kube-apiserver 1.9 ms in the ceiling (its client 0.2 ms, with its label watch), 2.1 ms during the operator\'s labels (the operator 0.5 ms, the benchmark\'s label watch 0.1 ms)');
    expect(summaryRow(observed)?.[1]).to.contain('0.88** of the API server\'s ceiling (800/s);');
    // Since the ceiling's rate is taken over the span its writers all had work, the summary says which span.
    const fullPool = { ...observed, apiCeiling: { ...observed.apiCeiling, concurrency: 64, fullPool: { seconds: 29.3, writes: 23440, endedBy: 'pods' } } };
    expect(summaryRow(fullPool)?.[1]).to.contain('0.88** of the API server\'s ceiling (800/s over the 29.3 s all its 64 writers had work);');
    // A result written before the Lease was watched says what its count includes.
    const { leaseRenewals: _, ...older } = run.operatorRun;
    expect(summaryRow({ ...run, operatorRun: older })?.[1]).to.contain('; 9 Lease writes (the operator\'s and kube-apiserver\'s own);');
  });
});
