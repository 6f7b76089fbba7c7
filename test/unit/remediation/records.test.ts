import { expect } from 'chai';
import { Reasons } from '../../../src/api/types.js';
import { degradedState } from '../../../src/remediation/outcome.js';
import { listSome, truncateText } from '../../../src/remediation/status-text.js';
import {
  canonicalJson, formatPatchRecord, ownAnnotations, parsePatchRecord, templateHash, type PatchRecord,
} from '../../../src/remediation/workload-record.js';

describe('remediation/workload-record', () => {
  it('hashes a template independently of key order and of emptied objects and lists', () => {
    const a = { containers: [{ name: 'app', image: 'x', securityContext: { privileged: true } }], volumes: [] };
    const b = { volumes: null, containers: [{ securityContext: { privileged: true }, image: 'x', name: 'app', volumeMounts: [] }] };
    expect(templateHash(a)).to.equal(templateHash(b));
    expect(templateHash(a)).to.match(/^[0-9a-f]{16}$/);
    expect(templateHash({ containers: [{ name: 'app', image: 'y' }] })).to.not.equal(templateHash(a));
    expect(canonicalJson({ b: {}, a: [1, {}] })).to.equal('{"a":[1]}');
  });

  it('round-trips a patch record and rejects malformed ones', () => {
    const record: PatchRecord = { template: 'abc', patch: 'def', attempts: 2, fragment: { volumes: [{ name: 'v' }] }, previous: {} };
    expect(parsePatchRecord(formatPatchRecord(record))).to.deep.equal(record);
    expect(parsePatchRecord(undefined)).to.equal(undefined);
    expect(parsePatchRecord('not json')).to.equal(undefined);
    expect(parsePatchRecord('{"template":"a"}')).to.equal(undefined);
  });

  it('carries only our own annotations into the next apply', () => {
    const obj = { metadata: { annotations: { 'immutability.dev/patched': '{}', 'immutability.dev/rolled-back': 'h', 'deployment.kubernetes.io/revision': '2' } } };
    expect(ownAnnotations(obj)).to.deep.equal({ 'immutability.dev/patched': '{}', 'immutability.dev/rolled-back': 'h' });
  });
});

describe('remediation/status-text', () => {
  it('truncates to the CRD limit and says so, never splitting a surrogate pair', () => {
    const long = 'x'.repeat(2000);
    const cut = truncateText(long, 1024);
    expect(cut).to.have.length(1024);
    expect(cut.endsWith('[truncated]')).to.equal(true);
    expect(truncateText('short', 1024)).to.equal('short');
    const emoji = `${'a'.repeat(9)}😀😀😀`;
    const t = truncateText(emoji, 11, '…');
    expect(t).to.equal(`${'a'.repeat(9)}…`);
    expect(() => encodeURIComponent(t)).to.not.throw();
  });

  it('lists a few items and counts the rest', () => {
    expect(listSome(['a', 'b'])).to.equal('a, b');
    expect(listSome(['a', 'b', 'c', 'd'], 2)).to.equal('a, b and 2 more');
  });
});

describe('remediation/outcome', () => {
  it('reports the most severe reason, naming its workloads, and mentions the others', () => {
    const problems = new Map([
      ['ns/Deployment/a', { reason: Reasons.GitOpsManaged, message: 'managed by helm' }],
      ['ns/StatefulSet/b', { reason: Reasons.EvictionBlocked, message: 'PDB' }],
      ['ns/Deployment/c', { reason: Reasons.RateLimited, message: 'waiting' }],
    ]);
    expect(degradedState(problems)).to.deep.equal({
      reason: Reasons.EvictionBlocked,
      message: 'EvictionBlocked for 1 workload(s): ns/StatefulSet/b: PDB; also GitOpsManaged, RateLimited',
    });
    expect(degradedState(new Map())).to.equal(undefined);
  });
});
