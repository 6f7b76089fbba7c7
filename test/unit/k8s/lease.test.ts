import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp } from '../../../src/k8s/http.js';
import { leaseClient } from '../../../src/k8s/lease.js';
import { systemClock } from '../../../src/runtime/clock.js';
import { LeaderElector, type LeaseClient } from '../../../src/runtime/leader-election.js';

/**
 * A Lease endpoint (transport and resourceVersion only) in a thread of its own, so that it answers while the
 * test's own event loop is held up.
 */
const LEASE_SERVER = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
let lease; let rv = 0;
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET') {
      if (!lease) { res.statusCode = 404; res.end('{"kind":"Status","code":404,"reason":"NotFound"}'); return; }
      res.end(JSON.stringify(lease)); return;
    }
    const sent = JSON.parse(body);
    if (req.method === 'PUT' && sent.metadata.resourceVersion !== lease.metadata.resourceVersion) {
      res.statusCode = 409; res.end('{"kind":"Status","code":409,"reason":"Conflict"}'); return;
    }
    lease = { ...sent, metadata: { ...sent.metadata, resourceVersion: String(++rv) } };
    res.statusCode = req.method === 'POST' ? 201 : 200;
    res.end(JSON.stringify(lease));
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => server.close(() => process.exit(0)));
`;

function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a synchronous job (or a garbage-collection pause): nothing else runs on this thread meanwhile
  }
}

describe('k8s/lease with LeaderElector', () => {
  it('keeps leading through an event-loop stall longer than the renew deadline when the renewal was answered meanwhile', async function () {
    this.timeout(15_000);
    const worker = new Worker(LEASE_SERVER, { eval: true });
    const [port] = (await once(worker, 'message')) as [number];
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
    });
    const http = new KubeHttp(kc);
    const real = leaseClient(http);
    let renewals = 0;
    let stalled = false;
    const client: LeaseClient = {
      get: (ns, name) => real.get(ns, name),
      create: (ns, lease) => real.create(ns, lease),
      replace: (ns, name, lease) => {
        const answer = real.replace(ns, name, lease);
        if (++renewals === 2) {
          // The request is on its way and answered within milliseconds; this thread then stalls for longer
          // than the whole renew deadline.
          setTimeout(() => {
            block(1_500);
            stalled = true;
          }, 50);
        }
        return answer;
      },
    };
    const events: string[] = [];
    const abort = new AbortController();
    const elector = new LeaderElector({
      client, namespace: 'ns', name: 'l', identity: 'a', clock: systemClock,
      leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 300,
      onStartedLeading: () => events.push('started'), onStoppedLeading: () => events.push('stopped'),
    });
    const run = elector.run(abort.signal);
    try {
      while (!stalled) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1_000));
      expect(events).to.deep.equal(['started']);
      expect(elector.isLeader()).to.equal(true);
      expect(renewals).to.be.greaterThan(2);
    } finally {
      abort.abort();
      await run;
      http.close();
      worker.postMessage('stop');
      await once(worker, 'exit');
    }
  });
});
