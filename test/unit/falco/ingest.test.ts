import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { Pod } from '../../../src/api/kube.js';
import type { DriftRecord, PodRef } from '../../../src/audit/classify.js';
import { parseFalcoAlert, type FalcoAlert } from '../../../src/falco/alert.js';
import { FalcoIngest, MAX_OUTPUT_CHARS, driftRecordOf } from '../../../src/falco/ingest.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { falcoAlert, hostAlert, type AlertTarget } from '../../support/falco-alerts.js';
import { pod } from '../audit/helpers.js';

function alert(t: Partial<AlertTarget> = {}, rule: Parameters<typeof falcoAlert>[0] = 'Terminal shell in container'): FalcoAlert {
  const p = parseFalcoAlert(falcoAlert(rule, { namespace: 'shop', pod: 'web-1', container: 'app', ...t }));
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

function setup(capacity = 10) {
  const pods = new Map<string, Pod>([['shop/web-1', pod('web-1', { uid: 'uid-1' })]]);
  const recorded: { pod: PodRef; record: DriftRecord }[] = [];
  const ids = new Set<string>();
  const tasks: (() => void)[] = [];
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const ingest = new FalcoIngest({
    pod: (k) => pods.get(k),
    record: (p, r) => {
      if (ids.has(r.id)) return false;
      ids.add(r.id);
      recorded.push({ pod: p, record: r });
      return true;
    },
    metrics, logger: noopLogger, capacity, slice: 2, schedule: (fn) => tasks.push(fn),
  });
  const run = (): void => {
    while (tasks.length > 0) tasks.shift()!();
  };
  const outcomes = async (): Promise<Record<string, number>> =>
    Object.fromEntries((await metrics.falcoAlerts.get()).values.map((v) => [String(v.labels.outcome), v.value]));
  return { ingest, recorded, run, outcomes, tasks };
}

describe('Falco ingest', function () {
  it('records an alert about a live pod as falco drift, outside the request (on a later turn)', async function () {
    const { ingest, recorded, run, outcomes } = setup();
    expect(ingest.offer([alert({ uid: 'uid-1' })])).to.equal(true);
    expect(recorded).to.have.length(0);
    run();
    expect(recorded).to.have.length(1);
    expect(recorded[0]!.pod).to.deep.equal({ namespace: 'shop', name: 'web-1' });
    expect(recorded[0]!.record).to.deep.include({ what: 'falco', rule: 'Terminal shell in container', priority: 'Notice', container: 'app' });
    expect(await outcomes()).to.deep.equal({ accepted: 1 });
  });

  it('ignores (and counts) alerts about no pod, a gone pod, an earlier pod of the same name, and repeats', async function () {
    const { ingest, recorded, run, outcomes } = setup();
    const host = parseFalcoAlert(hostAlert());
    if (!host.ok) throw new Error(host.error);
    const same = alert();
    expect(ingest.offer([host.value, alert({ pod: 'gone' }), alert({ uid: 'uid-0' }), same, same])).to.equal(true);
    run();
    expect(recorded).to.have.length(1);
    expect(await outcomes()).to.deep.equal({ 'not-a-pod': 1, 'unknown-pod': 1, 'uid-mismatch': 1, accepted: 1, duplicate: 1 });
  });

  it('refuses a request that does not fit whole, counts its alerts, and takes the next once drained', async function () {
    const { ingest, run, outcomes, recorded } = setup(3);
    expect(ingest.offer([alert({ pod: 'a' }), alert({ pod: 'b' })])).to.equal(true);
    expect(ingest.offer([alert({ pod: 'c' }), alert({ pod: 'd' })])).to.equal(false);
    expect(ingest.depth).to.equal(2);
    run();
    expect(ingest.offer([alert(), alert({ pod: 'e' }), alert({ pod: 'f' })])).to.equal(true);
    run();
    expect(recorded).to.have.length(1);
    expect((await outcomes()).overflow).to.equal(2);
  });

  it('drains in slices, one per turn', function () {
    const { ingest, tasks } = setup(10);
    ingest.offer([alert({ pod: 'a' }), alert({ pod: 'b' }), alert({ pod: 'c' }), alert({ pod: 'd' }), alert({ pod: 'e' })]);
    expect(tasks).to.have.length(1);
    tasks.shift()!();
    expect(ingest.depth).to.equal(3);
    expect(tasks).to.have.length(1);
  });

  it('processes what is queued on close and refuses afterwards', function () {
    const { ingest, recorded } = setup();
    ingest.offer([alert()]);
    ingest.close();
    expect(recorded).to.have.length(1);
    expect(ingest.offer([alert({ pod: 'x' })])).to.equal(false);
  });

  it('keeps a one-line, truncated output on the record', function () {
    const long = { ...alert(), output: `first line\n${'y'.repeat(1000)}` };
    const r = driftRecordOf(long);
    expect(r.output).to.have.length(MAX_OUTPUT_CHARS);
    expect(r.output).to.match(/^first line y+…$/);
  });
});
