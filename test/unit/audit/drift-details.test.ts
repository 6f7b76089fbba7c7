import { expect } from 'chai';
import type { DriftRecord } from '../../../src/audit/classify.js';
import {
  MAX_DETAILS_BYTES, MAX_DETAILS_RECORDS, decodeDriftDetails, encodeDriftDetails, mergeDriftRecords,
} from '../../../src/audit/drift-details.js';

const rec = (i: number, o: Partial<DriftRecord> = {}): DriftRecord => ({
  id: `id-${String(i).padStart(3, '0')}`, what: 'exec', who: 'alice',
  when: new Date(Date.UTC(2026, 0, 1, 10, 0, i)).toISOString(), container: 'app', command: 'sh', ...o,
});

describe('drift-details annotation', function () {
  it('round-trips records in a compact, stable form', function () {
    const text = encodeDriftDetails({ count: 2, records: [rec(1), rec(2, { what: 'attach', command: undefined })] });
    expect(text).to.equal('{"count":2,"events":[{"id":"id-001","what":"exec","who":"alice","when":"2026-01-01T10:00:01.000Z","container":"app","command":"sh"},' +
      '{"id":"id-002","what":"attach","who":"alice","when":"2026-01-01T10:00:02.000Z","container":"app"}]}');
    expect(decodeDriftDetails(text)).to.deep.equal({ count: 2, records: [rec(1), rec(2, { what: 'attach', command: undefined })].map((r) => {
      const { command, ...rest } = r;
      return command ? r : rest;
    }) });
  });

  it('round-trips a Falco alert (no user; rule, priority, output) and a nodes/proxy exec (via)', function () {
    const falco: DriftRecord = {
      id: 'falco-1', what: 'falco', who: '', when: '2026-01-01T10:00:03.000091526Z', container: 'nginx',
      rule: 'Terminal shell in container', priority: 'Notice', output: 'A shell was spawned in a container with an attached terminal',
    };
    const proxied = rec(4, { via: 'nodes/node-1/proxy/exec' });
    const text = encodeDriftDetails({ count: 2, records: [falco, proxied] });
    expect(text).to.contain('{"id":"falco-1","what":"falco","when":"2026-01-01T10:00:03.000091526Z","container":"nginx","rule":"Terminal shell in container","priority":"Notice","output":');
    expect(decodeDriftDetails(text).records).to.deep.equal([falco, proxied]);
    expect(encodeDriftDetails(decodeDriftDetails(text))).to.equal(text);
    expect(decodeDriftDetails(text.replace('"Notice"', '"Loud"')).records[0]).to.not.have.property('priority');
  });

  it('reads anything unreadable as no records', function () {
    for (const bad of [undefined, '', 'not json', '[]', '{"events":"x"}', 'null']) {
      expect(decodeDriftDetails(bad)).to.deep.equal({ count: 0, records: [] });
    }
    expect(decodeDriftDetails('{"count":1,"events":[{"id":"a","what":"rm -rf","when":""},{"id":"b","what":"exec","when":"t"}]}').records)
      .to.have.length(1);
  });

  it('keeps the first and the latest records within 4 KiB, counting all', function () {
    const many = Array.from({ length: 40 }, (_, i) => rec(i, { command: 'x'.repeat(200), who: 'u'.repeat(128) }));
    const text = encodeDriftDetails({ count: 40, records: many });
    expect(Buffer.byteLength(text)).to.be.at.most(MAX_DETAILS_BYTES);
    const back = decodeDriftDetails(text);
    expect(back.count).to.equal(40);
    expect(back.records[0]!.id).to.equal('id-000');
    expect(back.records.at(-1)!.id).to.equal('id-039');
    expect(back.records.length).to.be.at.most(MAX_DETAILS_RECORDS);
  });

  it('re-encodes its own output unchanged (no endless rewrites after a restart)', function () {
    const many = Array.from({ length: 20 }, (_, i) => rec(i));
    const first = encodeDriftDetails({ ...mergeDriftRecords({ count: 0, records: [] }, many) });
    const restarted = mergeDriftRecords(decodeDriftDetails(first), []);
    expect(encodeDriftDetails(restarted)).to.equal(first);
    // Still running: memory holds all 20, the pod the trimmed set; the result must be the same string.
    const running = mergeDriftRecords(decodeDriftDetails(first), many);
    expect(encodeDriftDetails(running)).to.equal(first);
  });

  it('counts memory records newer than what the pod shows, once', function () {
    const onPod = encodeDriftDetails({ count: 9, records: [rec(1), rec(8)] });
    const merged = mergeDriftRecords(decodeDriftDetails(onPod), [rec(5), rec(8), rec(9), rec(10)]);
    expect(merged.count).to.equal(11); // 9 before, plus id-009 and id-010; id-005 was trimmed earlier
    expect(merged.records.map((r) => r.id)).to.deep.equal(['id-001', 'id-005', 'id-008', 'id-009', 'id-010']);
  });

  it('orders microsecond timestamps within one millisecond', function () {
    const a = rec(1, { id: 'z', when: '2026-01-01T10:00:00.000001Z' });
    const b = rec(2, { id: 'a', when: '2026-01-01T10:00:00.000009Z' });
    expect(mergeDriftRecords({ count: 0, records: [] }, [b, a]).records.map((r) => r.id)).to.deep.equal(['z', 'a']);
  });

  it('lists the ephemeral containers the spec shows', function () {
    const text = encodeDriftDetails({ count: 0, records: [], ephemeralContainers: ['debugger-abc'] });
    expect(JSON.parse(text)).to.deep.equal({ count: 0, events: [], ephemeralContainers: ['debugger-abc'] });
  });
});
