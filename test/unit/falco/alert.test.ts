import { expect } from 'chai';
import { MAX_ALERT_BYTES, parseFalcoAlert, parseFalcoBody, type FalcoAlert } from '../../../src/falco/alert.js';
import { falcoAlert, falcosidekickAlert, hostAlert, type FalcoRuleName } from '../../support/falco-alerts.js';

const target = { namespace: 'demo', pod: 'nginx-7c5ddbdf54-x2x9q', container: 'nginx', time: new Date('2026-11-30T10:20:05.408Z') };

function parsed(raw: unknown): FalcoAlert {
  const p = parseFalcoAlert(raw);
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

const ndjson = (...objs: unknown[]): Buffer => Buffer.from(objs.map((o) => JSON.stringify(o)).join('\n'));

describe('Falco alert parsing', function () {
  const rules: [FalcoRuleName, string][] = [
    ['Terminal shell in container', 'Notice'],
    ['Read sensitive file untrusted', 'Warning'],
    ['Drop and execute new binary in container', 'Critical'],
  ];
  for (const [rule, priority] of rules) {
    it(`reads the pod, container, rule, priority and time of "${rule}" as http_output posts it`, function () {
      const a = parsed(falcoAlert(rule, target));
      expect(a).to.deep.include({ rule, priority, time: '2026-11-30T10:20:05.408091526Z', container: 'nginx' });
      expect(a.pod).to.deep.equal({ namespace: 'demo', name: 'nginx-7c5ddbdf54-x2x9q' });
      expect(a.output).to.match(/^10:20:05\.408091526: /);
    });
  }

  it('keeps the pod UID when the output carries k8s.pod.uid', function () {
    expect(parsed(falcoAlert('Terminal shell in container', { ...target, uid: 'u-1' })).pod).to.deep.equal({ namespace: 'demo', name: target.pod, uid: 'u-1' });
  });

  it('uses Falcosidekick\'s uuid as the id, and otherwise a digest that is stable across resends', function () {
    expect(parsed(falcosidekickAlert('Terminal shell in container', target, '2e4d3f6e-1111-4c3a-9a0e-0123456789ab')).id).to.equal('2e4d3f6e-1111-4c3a-9a0e-0123456789ab');
    const a = parsed(falcoAlert('Terminal shell in container', target));
    const b = parsed(JSON.parse(JSON.stringify(falcoAlert('Terminal shell in container', target))));
    expect(a.id).to.match(/^falco-[0-9a-f]{32}$/).and.equal(b.id);
    expect(parsed(falcoAlert('Terminal shell in container', { ...target, pod: 'other' })).id).to.not.equal(a.id);
  });

  it('accepts Falco\'s priority spellings in any case, and the short forms', function () {
    for (const [spelled, level] of [['WARNING', 'Warning'], ['informational', 'Informational'], ['info', 'Informational'], ['crit', 'Critical'], ['Emergency', 'Emergency']]) {
      expect(parsed({ ...falcoAlert('Terminal shell in container', target), priority: spelled }).priority).to.equal(level);
    }
  });

  it('treats an alert Falco could not tie to a pod (host process, <NA>) as valid but about no pod', function () {
    expect(parsed(hostAlert()).pod).to.equal(undefined);
    const na = falcoAlert('Terminal shell in container', target);
    (na.output_fields as Record<string, unknown>)['k8s.pod.name'] = '<NA>';
    expect(parsed(na).pod).to.equal(undefined);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['no rule', { rule: undefined }, /^rule: /],
    ['an empty rule', { rule: ' ' }, /^rule: /],
    ['a numeric priority', { priority: 4 }, /^priority: expected a string/],
    ['an unknown priority', { priority: 'Severe' }, /^priority: "Severe" is not a Falco priority/],
    ['a bad time', { time: 'yesterday' }, /^time: /],
    ['no output', { output: undefined }, /^output: /],
    ['no output_fields', { output_fields: undefined }, /^output_fields: expected an object/],
    ['a numeric pod name', { output_fields: { 'k8s.ns.name': 'demo', 'k8s.pod.name': 7 } }, /^output_fields\.k8s\.pod\.name: expected a string/],
    ['an empty uuid', { uuid: '' }, /^uuid: /],
  ];
  for (const [what, patch, error] of invalid) {
    it(`refuses ${what}, naming the field`, function () {
      const p = parseFalcoAlert({ ...falcoAlert('Terminal shell in container', target), ...patch });
      expect(p.ok).to.equal(false);
      if (!p.ok) expect(p.error).to.match(error);
    });
  }

  it('refuses text output (json_output off) and arrays', function () {
    expect(parseFalcoBody(Buffer.from('10:20:05.408091526: Notice A shell was spawned')).ok).to.equal(false);
    const arr = parseFalcoBody(Buffer.from(JSON.stringify([falcoAlert('Terminal shell in container', target)])));
    expect(arr).to.deep.include({ ok: false, status: 400 });
  });
});

describe('Falco request bodies', function () {
  it('takes one object, a pretty-printed object, or newline-delimited objects (blank lines skipped)', function () {
    const one = falcoAlert('Terminal shell in container', target);
    const single = parseFalcoBody(Buffer.from(JSON.stringify(one)));
    expect(single.ok && single.alerts.length).to.equal(1);
    const pretty = parseFalcoBody(Buffer.from(JSON.stringify(one, null, 2)));
    expect(pretty.ok && pretty.alerts.length).to.equal(1);
    const many = parseFalcoBody(Buffer.concat([ndjson(one, falcoAlert('Read sensitive file untrusted', target)), Buffer.from('\n\n'), ndjson(hostAlert())]));
    expect(many.ok && many.alerts.map((a) => a.rule)).to.deep.equal(['Terminal shell in container', 'Read sensitive file untrusted', 'Read sensitive file untrusted']);
  });

  it('refuses the whole body for one bad line, naming the line and the field', function () {
    const body = ndjson(falcoAlert('Terminal shell in container', target), { ...falcoAlert('Terminal shell in container', target), priority: 'Loud' });
    expect(parseFalcoBody(body)).to.deep.equal({ ok: false, status: 400, error: 'line 2: priority: "Loud" is not a Falco priority (Emergency … Debug)' });
    expect(parseFalcoBody(Buffer.concat([ndjson(hostAlert()), Buffer.from('\n{oops')]))).to.deep.equal({ ok: false, status: 400, error: 'line 2: not JSON' });
    expect(parseFalcoBody(Buffer.from(' \n'))).to.deep.include({ ok: false, status: 400 });
  });

  it('refuses an alert over 256 KiB with 413', function () {
    const big = { ...falcoAlert('Terminal shell in container', target), output: 'x'.repeat(MAX_ALERT_BYTES) };
    expect(parseFalcoBody(ndjson(big))).to.deep.include({ ok: false, status: 413 });
    expect(parseFalcoBody(ndjson(hostAlert(), big))).to.deep.equal({ ok: false, status: 413, error: `line 2: alert exceeds ${MAX_ALERT_BYTES} bytes` });
  });
});
