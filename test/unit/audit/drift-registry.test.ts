import { expect } from 'chai';
import { ANNOTATION_DRIFT, LABEL_DRIFT } from '../../../src/api/types.js';
import type { DriftRecord } from '../../../src/audit/classify.js';
import { compareRecords, trimRecords } from '../../../src/audit/drift-details.js';
import { DriftRegistry, insertRecord, type DriftChange } from '../../../src/controllers/drift-registry.js';
import { pod, policy } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const rec = (id: string, o: Partial<DriftRecord> = {}): DriftRecord => ({
  id, what: 'exec', who: 'alice', when: `2026-01-01T10:00:0${id.length % 10}.000Z`, container: 'app', command: 'sh', ...o,
});

function registry(uids: Record<string, string> = {}): DriftRegistry {
  return new DriftRegistry({ podUid: (key) => uids[key], now: () => NOW });
}

const execPolicy = policy('exec', { rules: { exec: true }, match: { namespaces: ['shop'] } });
const ephemeralPolicy = policy('debug', { rules: { ephemeralContainers: true } });
const offPolicy = policy('off', { rules: { exec: false, ephemeralContainers: false } });

describe('drift registry', function () {
  it('labels a matched pod under a policy with the rule on, with who/when/what', function () {
    const r = registry({ 'shop/web-1': 'uid-web-1' });
    r.record({ namespace: 'shop', name: 'web-1' }, rec('a1'));
    const p = pod('web-1');
    const meta = r.podMetadata(p, [execPolicy], {});
    expect(meta.labels).to.deep.equal({ [LABEL_DRIFT]: 'exec' });
    const details = JSON.parse(meta.annotations[ANNOTATION_DRIFT]!) as { count: number; events: { who: string; what: string; command: string }[] };
    expect(details.count).to.equal(1);
    expect(details.events[0]).to.include({ who: 'alice', what: 'exec', command: 'sh' });
    expect(r.driftFindings(p, execPolicy)).to.deep.equal(['app:exec']);
  });

  it('leaves pods alone when no governing policy matches them or has the rule on, but remembers', function () {
    const r = registry();
    r.record({ namespace: 'other', name: 'web-1' }, rec('a1'));
    const p = pod('web-1', { namespace: 'other' });
    expect(r.podMetadata(p, [execPolicy], {})).to.deep.equal({ labels: {}, annotations: {} });
    expect(r.podMetadata(p, [offPolicy, ephemeralPolicy], {})).to.deep.equal({ labels: {}, annotations: {} });
    expect(r.driftFindings(p, offPolicy)).to.deep.equal([]);
    // A policy that appears later counts the remembered drift.
    const late = policy('late', { rules: { exec: true } });
    expect(r.podMetadata(p, [late], {}).labels).to.deep.equal({ [LABEL_DRIFT]: 'exec' });
  });

  it('names the label after the first drift seen and keeps a label once written', function () {
    const r = registry();
    const key = { namespace: 'shop', name: 'web-1' };
    r.record(key, rec('b2', { what: 'attach', when: '2026-01-01T10:00:05Z' }));
    r.record(key, rec('c3', { what: 'exec', when: '2026-01-01T10:00:09Z' }));
    r.record(key, rec('a1', { what: 'exec', when: '2026-01-01T10:00:01Z' }));
    expect(r.podMetadata(pod('web-1'), [execPolicy], {}).labels[LABEL_DRIFT]).to.equal('exec');
    const labelled = pod('web-1', { labels: { [LABEL_DRIFT]: 'attach' } });
    expect(r.podMetadata(labelled, [execPolicy], {}).labels[LABEL_DRIFT]).to.equal('attach');
  });

  it('counts exec/attach only under rules.exec and ephemeral containers only under rules.ephemeralContainers', function () {
    const r = registry();
    r.record({ namespace: 'shop', name: 'web-1' }, rec('e1', { what: 'ephemeralcontainers', container: undefined, command: undefined }));
    const p = pod('web-1');
    expect(r.driftFindings(p, execPolicy)).to.deep.equal([]);
    expect(r.driftFindings(p, ephemeralPolicy)).to.deep.equal(['*:ephemeralContainers']);
    expect(r.podMetadata(p, [execPolicy], {}).labels).to.deep.equal({});
    expect(r.podMetadata(p, [ephemeralPolicy], {}).labels).to.deep.equal({ [LABEL_DRIFT]: 'ephemeral' });
    // Once the spec shows the debug container, it is named exactly.
    const debugged = pod('web-1', { ephemeral: ['debugger-x1'] });
    expect(r.driftFindings(debugged, ephemeralPolicy)).to.deep.equal(['debugger-x1:ephemeralContainers']);
  });

  it('treats an ephemeral container in the spec as drift even without an audit event', function () {
    const r = registry();
    const p = pod('web-9', { ephemeral: ['debugger-q'] });
    expect(r.driftFindings(p, ephemeralPolicy)).to.deep.equal(['debugger-q:ephemeralContainers']);
    const meta = r.podMetadata(p, [ephemeralPolicy], {});
    expect(meta.labels[LABEL_DRIFT]).to.equal('ephemeral');
    expect(JSON.parse(meta.annotations[ANNOTATION_DRIFT]!)).to.deep.include({ ephemeralContainers: ['debugger-q'] });
  });

  it('loses nothing across a restart: the pod carries the records', function () {
    const before = registry();
    before.record({ namespace: 'shop', name: 'web-1' }, rec('a1'));
    const meta = before.podMetadata(pod('web-1'), [execPolicy], {});
    const written = pod('web-1', { labels: meta.labels, annotations: meta.annotations });
    const after = registry(); // fresh memory
    expect(after.podMetadata(written, [execPolicy], {})).to.deep.equal(meta);
    expect(after.driftFindings(written, execPolicy)).to.deep.equal(['app:exec']);
    // Even with only the label left, the pod stays drifted.
    const labelOnly = pod('web-1', { labels: meta.labels });
    expect(after.driftFindings(labelOnly, execPolicy)).to.deep.equal(['*:exec']);
  });

  it('honours unexpired exemptions', function () {
    const exempt = policy('exempt', { rules: { exec: true }, exemptions: [{ containers: ['app'], rules: ['exec'], reason: 'ops shell' }] });
    const expired = policy('expired', { rules: { exec: true }, exemptions: [{ containers: ['app'], rules: ['exec'], reason: 'x', expires: '2026-01-01T00:00:00Z' }] });
    const r = registry();
    r.record({ namespace: 'shop', name: 'web-1' }, rec('a1'));
    expect(r.driftFindings(pod('web-1'), exempt)).to.deep.equal([]);
    expect(r.podMetadata(pod('web-1'), [exempt], {}).labels).to.deep.equal({});
    expect(r.driftFindings(pod('web-1'), expired)).to.deep.equal(['app:exec']);
  });

  it('guesses the container only when the pod has one', function () {
    const r = registry();
    r.record({ namespace: 'shop', name: 'one' }, rec('a1', { container: undefined }));
    r.record({ namespace: 'shop', name: 'two' }, rec('a2', { container: undefined }));
    expect(r.driftFindings(pod('one'), execPolicy)).to.deep.equal(['app:exec']);
    expect(r.driftFindings(pod('two', { containers: ['a', 'b'] }), execPolicy)).to.deep.equal(['*:exec']);
  });

  it('binds records to the pod UID: a pod recreated under the same name starts clean', function () {
    const uids: Record<string, string> = { 'shop/db-0': 'old' };
    const r = registry(uids);
    r.record({ namespace: 'shop', name: 'db-0' }, rec('a1'));
    expect(r.driftFindings(pod('db-0', { uid: 'old' }), execPolicy)).to.have.length(1);
    expect(r.driftFindings(pod('db-0', { uid: 'new' }), execPolicy)).to.deep.equal([]);
    r.forgetPod('shop/db-0', 'new'); // a newer pod's deletion does not clear the old pod's memory
    expect(r.size).to.equal(1);
    r.forgetPod('shop/db-0', 'old');
    expect(r.size).to.equal(0);
  });

  it('answers again for the same pod object only while nothing its answer came from changed', function () {
    // Every status pass asks about every cached pod object, so the registry remembers its last answer per
    // object: a record, an annotation, a label or a debug container added since must each still count.
    const r = registry({ 'shop/web-1': 'uid-web-1' });
    const p = pod('web-1');
    r.record({ namespace: 'shop', name: 'web-1' }, rec('a1'));
    expect(r.driftFindings(p, execPolicy)).to.deep.equal(['app:exec']);
    r.record({ namespace: 'shop', name: 'web-1' }, rec('b22', { what: 'attach', container: 'sidecar' }));
    expect(r.driftFindings(p, execPolicy)).to.deep.equal(['app:exec', 'sidecar:exec']);
    expect(JSON.parse(r.podMetadata(p, [execPolicy], {}).annotations[ANNOTATION_DRIFT]!)).to.include({ count: 2 });

    r.forgetPod('shop/web-1');
    expect(r.driftFindings(p, execPolicy)).to.deep.equal([]);
    const written = { count: 1, events: [{ id: 'c333', what: 'exec', who: 'bob', when: '2026-01-01T10:00:03.000Z', container: 'init' }] };
    p.metadata.annotations = { [ANNOTATION_DRIFT]: JSON.stringify(written) };
    expect(r.driftFindings(p, execPolicy)).to.deep.equal(['init:exec']);
    expect(r.podMetadata(p, [execPolicy], {}).labels).to.deep.equal({ [LABEL_DRIFT]: 'exec' });
    p.metadata.labels = { ...p.metadata.labels, [LABEL_DRIFT]: 'attach' }; // a label once written stays
    expect(r.podMetadata(p, [execPolicy], {}).labels).to.deep.equal({ [LABEL_DRIFT]: 'attach' });

    expect(r.driftFindings(p, ephemeralPolicy)).to.deep.equal([]);
    p.spec.ephemeralContainers = [{ name: 'debugger-1', image: 'busybox' }];
    expect(r.driftFindings(p, ephemeralPolicy)).to.deep.equal(['debugger-1:ephemeralContainers']);
    p.spec.ephemeralContainers.push({ name: 'debugger-2', image: 'busybox' });
    expect(r.driftFindings(p, ephemeralPolicy)).to.deep.equal(['debugger-1:ephemeralContainers', 'debugger-2:ephemeralContainers']);
  });

  it('announces each new record once and stays bounded', function () {
    const r = new DriftRegistry({ podUid: () => undefined, now: () => NOW, capacity: 2 });
    const seen: DriftChange[] = [];
    r.changes$.subscribe((c) => seen.push(c));
    expect(r.record({ namespace: 'a', name: 'p' }, rec('x'))).to.equal(true);
    expect(r.record({ namespace: 'a', name: 'p' }, rec('x'))).to.equal(false);
    r.record({ namespace: 'a', name: 'q' }, rec('y'));
    r.record({ namespace: 'a', name: 'r' }, rec('z'));
    expect(seen.map((c) => c.key)).to.deep.equal(['a/p', 'a/q', 'a/r']);
    expect(r.size).to.equal(2);
    expect(r.driftFindings(pod('p', { namespace: 'a' }), execPolicy)).to.deep.equal([]); // evicted from memory
  });

  it('keeps a pod\'s records as sorting and trimming all of them would, one insertion at a time', function () {
    // Mostly in time order (the append path), with late arrivals and same-millisecond ties mixed in.
    const times = [5, 1, 9, 9, 3, 12, 7, 15, 15, 2, 20, 18, 25, 0, 30, 31, 11, 40];
    const all: DriftRecord[] = times.map((t, i) => rec(`r${i}`, { when: new Date(Date.UTC(2026, 0, 1, 10, 0, t)).toISOString() }));
    for (const max of [1, 2, 4, 6]) {
      const kept: DriftRecord[] = [];
      const seen: DriftRecord[] = [];
      for (const r of all) {
        insertRecord(kept, r, max);
        seen.push(r);
        expect(kept.map((x) => x.id), `max ${max} after ${r.id}`).to.deep.equal(trimRecords([...seen].sort(compareRecords), max).map((x) => x.id));
      }
    }
  });

  it('reports which policies count a record, for the Event', function () {
    const r = registry();
    const p = pod('web-1');
    expect(r.countingPolicies(p, rec('a'), [execPolicy, ephemeralPolicy, offPolicy], {})).to.deep.equal(['exec']);
  });

  describe('Falco alerts', function () {
    const falcoRec = (id: string, o: Partial<DriftRecord> = {}): DriftRecord => ({
      id, what: 'falco', who: '', when: '2026-01-01T10:00:00.000091526Z', container: 'app',
      rule: 'Terminal shell in container', priority: 'Notice', output: 'A shell was spawned in a container with an attached terminal', ...o,
    });
    const falcoPolicy = (falco: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
      policy('falco', { rules: { falco: true }, falco, match: { namespaces: ['shop'] }, ...extra });

    it('labels drift=falco and records rule, priority and output under rules.falco', function () {
      const r = registry();
      r.record({ namespace: 'shop', name: 'web-1' }, falcoRec('f1'));
      const p = pod('web-1');
      const meta = r.podMetadata(p, [falcoPolicy()], {});
      expect(meta.labels).to.deep.equal({ [LABEL_DRIFT]: 'falco' });
      const details = JSON.parse(meta.annotations[ANNOTATION_DRIFT]!) as { events: Record<string, string>[] };
      expect(details.events[0]).to.deep.equal({
        id: 'f1', what: 'falco', when: '2026-01-01T10:00:00.000091526Z', container: 'app',
        rule: 'Terminal shell in container', priority: 'Notice', output: 'A shell was spawned in a container with an attached terminal',
      });
      expect(r.driftFindings(p, falcoPolicy())).to.deep.equal(['app:falco']);
      expect(r.driftFindings(p, execPolicy)).to.deep.equal([]);
    });

    it('ignores alerts below minimumPriority (default Notice) and rules the policy does not list', function () {
      const r = registry();
      r.record({ namespace: 'shop', name: 'web-1' }, falcoRec('f1', { priority: 'Informational' }));
      r.record({ namespace: 'shop', name: 'web-2' }, falcoRec('f2', { priority: 'Warning', rule: 'Read sensitive file untrusted' }));
      const [p1, p2] = [pod('web-1'), pod('web-2')];
      expect(r.driftFindings(p1, falcoPolicy())).to.deep.equal([]);
      expect(r.driftFindings(p1, falcoPolicy({ minimumPriority: 'Debug' }))).to.deep.equal(['app:falco']);
      expect(r.driftFindings(p2, falcoPolicy({ minimumPriority: 'Error' }))).to.deep.equal([]);
      expect(r.driftFindings(p2, falcoPolicy({ rules: ['Terminal shell in container'] }))).to.deep.equal([]);
      expect(r.driftFindings(p2, falcoPolicy({ rules: ['Read sensitive file untrusted'] }))).to.deep.equal(['app:falco']);
      expect(r.podMetadata(p1, [falcoPolicy()], {})).to.deep.equal({ labels: {}, annotations: {} });
    });

    it('waives alerts about exempted containers and images', function () {
      const r = registry();
      r.record({ namespace: 'shop', name: 'web-1' }, falcoRec('f1', { container: 'debugger' }));
      const p = pod('web-1', { containers: ['app', 'debugger'] });
      const exempt = falcoPolicy({}, { exemptions: [{ containers: ['debug*'], rules: ['falco'], reason: 'OPS-1: the debug sidecar runs shells' }] });
      expect(r.driftFindings(p, exempt)).to.deep.equal([]);
      const byImage = falcoPolicy({}, { exemptions: [{ images: ['example.com/debugger:*'], reason: 'OPS-2' }] });
      expect(r.driftFindings(p, byImage)).to.deep.equal([]);
      expect(r.driftFindings(p, falcoPolicy())).to.deep.equal(['debugger:falco']);
    });
  });
});
