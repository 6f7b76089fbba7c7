import { expect } from 'chai';
import { classifyAuditEvent, streamParams, type AuditVerdict } from '../../../src/audit/classify.js';
import { validateAuditEvent, validateEventList } from '../../../src/audit/event.js';
import { auditEvent, eventList, type EventOptions } from './helpers.js';

function verdictOf(o: EventOptions, patch: Record<string, unknown> = {}): AuditVerdict {
  const v = validateAuditEvent({ ...auditEvent(o), ...patch });
  if (!v.ok) throw new Error(v.error);
  return classifyAuditEvent(v.value);
}

describe('audit event validation', function () {
  it('accepts a webhook item and a log line (with type meta)', function () {
    expect(validateAuditEvent(auditEvent()).ok).to.equal(true);
    expect(validateAuditEvent({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', ...auditEvent() }).ok).to.equal(true);
  });

  const malformed: [string, Record<string, unknown>][] = [
    ['a missing auditID', { auditID: undefined }],
    ['an empty auditID', { auditID: '' }],
    ['an unknown stage', { stage: 'Whenever' }],
    ['a numeric verb', { verb: 7 }],
    ['no user', { user: undefined }],
    ['a user that is a string', { user: 'alice' }],
    ['a bad timestamp', { stageTimestamp: 'yesterday' }],
    ['objectRef as a list', { objectRef: [] }],
    ['a non-integer status code', { responseStatus: { code: '403' } }],
    ['a foreign apiVersion', { apiVersion: 'audit.k8s.io/v1beta1' }],
    ['another kind', { kind: 'Pod' }],
    ['an oversized requestURI', { requestURI: `/x?${'a'.repeat(9000)}` }],
    ['non-string annotations', { annotations: { a: 1 } }],
  ];
  for (const [what, patch] of malformed) {
    it(`rejects ${what}`, function () {
      const v = validateAuditEvent({ ...auditEvent(), ...patch });
      expect(v.ok).to.equal(false);
    });
  }
  it('rejects non-objects', function () {
    for (const raw of [null, 'x', 3, []]) expect(validateAuditEvent(raw).ok).to.equal(false);
  });

  it('checks the EventList envelope strictly but leaves items to per-event validation', function () {
    const ok = validateEventList(eventList([auditEvent(), 'garbage']));
    expect(ok.ok && ok.value.length).to.equal(2);
    expect(validateEventList({ ...eventList([]), apiVersion: 'audit.k8s.io/v1beta1' }).ok).to.equal(false);
    expect(validateEventList({ ...eventList([]), kind: 'Event' }).ok).to.equal(false);
    expect(validateEventList({ ...eventList([]), items: {} }).ok).to.equal(false);
    expect(validateEventList([]).ok).to.equal(false);
  });
});

describe('audit event classification', function () {
  const table: { name: string; event: EventOptions; patch?: Record<string, unknown>; outcome: AuditVerdict['outcome']; what?: string }[] = [
    { name: 'exec over WebSocket (get)', event: { verb: 'get' }, outcome: 'drift', what: 'exec' },
    { name: 'exec over SPDY (create)', event: { verb: 'create' }, outcome: 'drift', what: 'exec' },
    { name: 'exec that failed after authorization (no kubelet)', event: { code: 500 }, outcome: 'drift', what: 'exec' },
    { name: 'exec reported at ResponseStarted', event: { stage: 'ResponseStarted' }, outcome: 'drift', what: 'exec' },
    { name: 'attach', event: { subresource: 'attach', query: '?container=app&stdin=true' }, outcome: 'drift', what: 'attach' },
    { name: 'ephemeral container by patch', event: { subresource: 'ephemeralcontainers', verb: 'patch', query: '', code: 200 }, outcome: 'drift', what: 'ephemeralcontainers' },
    { name: 'ephemeral container by update', event: { subresource: 'ephemeralcontainers', verb: 'update', query: '', code: 200 }, outcome: 'drift', what: 'ephemeralcontainers' },
    { name: 'reading ephemeral containers', event: { subresource: 'ephemeralcontainers', verb: 'get', query: '', code: 200 }, outcome: 'ignored' },
    { name: 'forbidden exec', event: { code: 403 }, outcome: 'denied' },
    { name: 'unauthenticated exec', event: { code: 401 }, outcome: 'denied' },
    { name: 'exec denied by the authorizer annotation alone', event: {}, patch: { annotations: { 'authorization.k8s.io/decision': 'forbid' } }, outcome: 'denied' },
    { name: 'port-forward', event: { subresource: 'portforward', query: '?ports=80' }, outcome: 'portforward' },
    { name: 'pod logs', event: { subresource: 'log', query: '' }, outcome: 'ignored' },
    { name: 'RequestReceived stage', event: { stage: 'RequestReceived' }, outcome: 'ignored' },
    { name: 'a non-core pods resource', event: {}, patch: { objectRef: { resource: 'pods', apiGroup: 'metrics.k8s.io', namespace: 'a', name: 'b', subresource: 'exec' } }, outcome: 'ignored' },
    { name: 'a request without objectRef', event: {}, patch: { objectRef: undefined }, outcome: 'ignored' },
  ];
  for (const tc of table) {
    it(`${tc.name} → ${tc.outcome}`, function () {
      const v = verdictOf(tc.event, tc.patch);
      expect(v.outcome).to.equal(tc.outcome);
      if (tc.what) expect(v.outcome === 'drift' && v.record.what).to.equal(tc.what);
    });
  }

  it('records who, when, container and command; kubectl cp shows as an exec of tar', function () {
    const v = verdictOf({ query: '?command=tar&command=cf&command=-&command=%2Ftmp%2Fx&container=app&stderr=true&stdout=true', user: 'bob', at: '2026-03-04T05:06:07.123456Z' });
    expect(v).to.deep.equal({
      outcome: 'drift',
      pod: { namespace: 'shop', name: 'web-1' },
      record: { id: (v as { record: { id: string } }).record.id, what: 'exec', who: 'bob', when: '2026-03-04T05:06:07.123456Z', container: 'app', command: 'tar cf - /tmp/x' },
    });
  });

  it('names the impersonated user and caps long commands', function () {
    const v = verdictOf({ query: `?command=${'x'.repeat(500)}` }, { impersonatedUser: { username: 'mallory' } });
    if (v.outcome !== 'drift') throw new Error('expected drift');
    expect(v.record.as).to.equal('mallory');
    expect(v.record.command!.length).to.equal(200);
    expect(v.record.container).to.equal(undefined);
  });

  it('parses stream parameters tolerantly', function () {
    expect(streamParams('/api/v1/namespaces/a/pods/b/exec')).to.deep.equal({});
    expect(streamParams('/x?command=ls&command=-l&container=c')).to.deep.equal({ container: 'c', command: ['ls', '-l'] });
    expect(streamParams('/x?command=%E0%A4%A')).to.have.property('command');
  });
});

describe('kubelet exec through nodes/proxy', function () {
  function nodeProxy(uri: string, o: { code?: number; verb?: string; user?: string } = {}): AuditVerdict {
    const v = validateAuditEvent({
      ...auditEvent({ user: o.user ?? 'node-admin', ...(o.code !== undefined ? { code: o.code } : {}), ...(o.verb ? { verb: o.verb } : {}) }),
      requestURI: uri, objectRef: { resource: 'nodes', name: 'node-1', apiVersion: 'v1', subresource: 'proxy' },
    });
    if (!v.ok) throw new Error(v.error);
    return classifyAuditEvent(v.value);
  }

  const table: { uri: string; what?: string; container?: string; command?: string; via?: string }[] = [
    { uri: '/api/v1/nodes/node-1/proxy/exec/shop/web-1/app?command=sh&input=1&output=1&tty=1', what: 'exec', container: 'app', command: 'sh', via: 'nodes/node-1/proxy/exec' },
    { uri: '/api/v1/nodes/node-1/proxy/exec/shop/web-1/uid-web-1/app?command=ls&command=-l', what: 'exec', container: 'app', command: 'ls -l' },
    { uri: '/api/v1/nodes/node-1/proxy/attach/shop/web-1/app?input=1', what: 'attach', container: 'app' },
    { uri: '/api/v1/nodes/node-1/proxy/run/shop/web-1/app?cmd=cat%20%2Fetc%2Fshadow', what: 'exec', container: 'app', command: 'cat /etc/shadow', via: 'nodes/node-1/proxy/run' },
    { uri: '/api/v1/nodes/node-1/proxy/portForward/shop/web-1?port=80', what: 'exec', via: 'nodes/node-1/proxy/portForward' },
    { uri: '/api/v1/nodes/node-1:10250/proxy/exec/shop/web-1/app', what: 'exec', container: 'app', via: 'nodes/node-1:10250/proxy/exec' },
  ];
  for (const tc of table) {
    it(`${tc.uri} is ${tc.what} drift of shop/web-1`, function () {
      const v = nodeProxy(tc.uri);
      if (v.outcome !== 'drift') throw new Error(`expected drift, got ${v.outcome}`);
      expect(v.pod).to.deep.equal({ namespace: 'shop', name: 'web-1' });
      expect(v.record).to.include({ what: tc.what, who: 'node-admin' });
      expect(v.record.container).to.equal(tc.container);
      expect(v.record.command).to.equal(tc.command);
      if (tc.via) expect(v.record.via).to.equal(tc.via);
    });
  }

  for (const uri of [
    '/api/v1/nodes/node-1/proxy/stats/summary', '/api/v1/nodes/node-1/proxy/metrics', '/api/v1/nodes/node-1/proxy/containerLogs/shop/web-1/app',
    '/api/v1/nodes/node-1/proxy/exec/shop/web-1', '/api/v1/nodes/node-1/proxy/exec/shop', '/api/v1/nodes/node-1/proxy/portForward/shop/web-1/uid/extra',
    '/api/v1/nodes/node-1/proxy/exec/shop/web-1/%E0%A4%A', '/api/v1/nodes/node-1/proxy',
  ]) {
    it(`${uri} is not drift`, function () {
      expect(nodeProxy(uri).outcome).to.equal('ignored');
    });
  }

  it('a refused nodes/proxy exec is denied, not drift', function () {
    expect(nodeProxy('/api/v1/nodes/node-1/proxy/exec/shop/web-1/app?command=sh', { code: 403 })).to.deep.include({ outcome: 'denied', what: 'exec' });
  });
});
