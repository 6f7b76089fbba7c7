import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { getEventListeners } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ApiServerAgent, KubeHttp, queryString } from '../../../src/k8s/http.js';
import { leaseClient } from '../../../src/k8s/lease.js';
import { StatusError } from '../../../src/runtime/errors.js';
import { createCertificateAuthority, issueCertificate } from '../../support/controlplane/certs.js';
import { withServer } from './loopback-server.js';

describe('KubeHttp', () => {
  it('request: sends the body with its content type and bearer token, parses the JSON answer', async () => {
    await withServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ echo: JSON.parse(body) as unknown, type: req.headers['content-type'], auth: req.headers.authorization }));
      });
    }, async (kc) => {
      const http = new KubeHttp(kc);
      const out = await http.request<{ echo: unknown; type: string; auth: string }>('PATCH', '/api/v1/x', {
        body: { a: 1 }, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'm', force: true },
      });
      expect(out).to.deep.equal({ echo: { a: 1 }, type: 'application/apply-patch+yaml', auth: 'Bearer secret-token' });
      http.close();
    });
  });

  it('write: resolves without reading a success body, and a failure carries the Status reason and message', async () => {
    let calls = 0;
    await withServer((req, res) => {
      calls++;
      if (req.url?.startsWith('/ok')) {
        res.end('{"kind":"Pod","metadata":{"name":"big"}}');
        return;
      }
      res.statusCode = 429;
      res.end(JSON.stringify({ kind: 'Status', reason: 'TooManyRequests', message: 'Cannot evict pod as it would violate the pod\'s disruption budget.' }));
    }, async (kc) => {
      const http = new KubeHttp(kc);
      expect(await http.write('POST', '/ok', { body: {} })).to.equal(undefined);
      const err = await http.write('POST', '/refused', { body: {} }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(StatusError);
      expect((err as StatusError).status).to.equal(429);
      expect((err as StatusError).reason).to.equal('TooManyRequests');
      expect((err as StatusError).message).to.include('disruption budget');
      // The drained success did not hold up the next request.
      expect(calls).to.equal(2);
      http.close();
    });
  });

  it('queryString: sets only the parameters given, each percent-encoded, and nothing without any', () => {
    expect(queryString(undefined)).to.equal('');
    expect(queryString({ continue: undefined })).to.equal('');
    expect(queryString({ fieldManager: 'immutability-operator', force: true, limit: 500, continue: undefined }))
      .to.equal('?fieldManager=immutability-operator&force=true&limit=500');
    const selector = 'app in (web, api),tier!=db&x=y';
    const parsed = new URLSearchParams(queryString({ labelSelector: selector, 'odd key': 'ü+/' }));
    expect(parsed.get('labelSelector')).to.equal(selector);
    expect(parsed.get('odd key')).to.equal('ü+/');
  });

  it('sends the path under the server URL\'s own path, with the query as the API server reads it', async () => {
    await withServer((_req, res) => res.end('{}'), async (kc, requests) => {
      const cluster = kc.getCurrentCluster()!;
      kc.clusters = [{ ...cluster, server: `${cluster.server}/proxy/cluster-a/` }];
      const http = new KubeHttp(kc);
      await http.write('PATCH', '/api/v1/namespaces/shop/pods/web-0', { query: { fieldManager: 'm', force: true }, body: {} });
      await http.write('GET', '/api/v1/pods', { query: { labelSelector: 'a in (x,y)', limit: 2, continue: undefined } });
      expect(requests.map((r) => r.url)).to.deep.equal([
        '/proxy/cluster-a/api/v1/namespaces/shop/pods/web-0?fieldManager=m&force=true',
        '/proxy/cluster-a/api/v1/pods?labelSelector=a%20in%20(x%2Cy)&limit=2',
      ]);
      expect(requests.map((r) => r.headers.host)).to.deep.equal(Array(2).fill(new URL(cluster.server).host));
      http.close();
    });
  });

  it('over mutual TLS, presents the client certificate and keeps one connection for a run of requests', async function () {
    this.timeout(20_000); // openssl makes the certificates
    const dir = await mkdtemp(path.join(tmpdir(), 'kube-http-'));
    const ca = await createCertificateAuthority(dir, 'ca', 'test-ca');
    const serving = await issueCertificate(dir, ca, 'server', '/CN=kube-apiserver', { sans: ['IP:127.0.0.1'] });
    const client = await issueCertificate(dir, ca, 'client', '/CN=immutability-operator');
    let connections = 0;
    const subjects: string[] = [];
    const server = createHttpsServer({
      cert: await readFile(serving.cert), key: await readFile(serving.key), ca: await readFile(ca.cert), requestCert: true, rejectUnauthorized: true,
    }, (req, res) => {
      subjects.push((req.socket as TLSSocket).getPeerX509Certificate()?.subject ?? 'none');
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caFile: ca.cert }],
      users: [{ name: 'u', certFile: client.cert, keyFile: client.key }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }], currentContext: 'ctx',
    });
    const http = new KubeHttp(kc);
    try {
      for (let i = 0; i < 20; i++) await http.write('PATCH', `/api/v1/namespaces/shop/pods/web-${i}`, { body: {} });
      expect(subjects).to.have.length(20);
      expect(new Set(subjects)).to.deep.equal(new Set(['CN=immutability-operator']));
      expect(connections).to.equal(1);
    } finally {
      http.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pools connections by host and port, without spelling the certificates into the pool key on every request', () => {
    const pem = Buffer.from(`-----BEGIN CERTIFICATE-----\n${'A'.repeat(1500)}\n-----END CERTIFICATE-----\n`);
    const options = { host: '10.0.0.1', port: 6443, ca: pem, cert: pem, key: pem, rejectUnauthorized: true };
    const agent = new ApiServerAgent({ keepAlive: true, ...options });
    expect(agent.getName(options)).to.equal(new HttpAgent().getName(options)).and.to.have.length.below(64);
    agent.destroy();
  });

  it('reads the credentials once for a burst of requests, and again after a 401', async () => {
    const seen: string[] = [];
    await withServer((req, res) => {
      seen.push(String(req.headers.authorization));
      res.statusCode = req.headers.authorization === 'Bearer secret-token' && seen.length === 3 ? 401 : 200;
      res.end('{}');
    }, async (kc) => {
      const http = new KubeHttp(kc);
      await http.write('GET', '/a');
      kc.users = [{ name: 'u', token: 'rotated-token' }];
      await http.write('GET', '/b');
      const refused = await http.write('GET', '/c').then(() => undefined, (e: unknown) => e);
      expect((refused as StatusError).status).to.equal(401);
      await http.write('GET', '/d');
      expect(seen).to.deep.equal(['Bearer secret-token', 'Bearer secret-token', 'Bearer secret-token', 'Bearer rotated-token']);
      http.close();
    });
  });

  it('bounds requests in flight to maxRequestsInFlight, and an open watch takes none of them', async () => {
    let inFlight = 0;
    let most = 0;
    await withServer((req, res) => {
      if (req.url?.startsWith('/watch')) {
        res.write('{"type":"BOOKMARK"}\n'); // held open, like a watch
        return;
      }
      most = Math.max(most, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('{}');
      }, 20);
    }, async (kc) => {
      const http = new KubeHttp(kc, { maxRequestsInFlight: 2 });
      const watch = await http.stream('/watch');
      await Promise.all(Array.from({ length: 6 }, () => http.write('PATCH', '/p', { body: {} })));
      expect(most).to.equal(2);
      watch.destroy();
      http.close();
    });
  });

  it('aborting a signal cancels every request in flight under it, through one abort listener, and no other', async () => {
    const held: (() => void)[] = [];
    await withServer((req, res) => {
      if (req.url?.startsWith('/answered')) {
        res.end('{}');
        return;
      }
      held.push(() => res.end('{}')); // no answer until released: in flight
    }, async (kc, requests) => {
      const http = new KubeHttp(kc, { maxRequestsInFlight: 8 });
      const term = new AbortController();
      const other = new AbortController();
      await http.write('PATCH', '/answered', { body: {}, signal: term.signal });
      const outcome = (p: Promise<void>): Promise<unknown> => p.then(() => 'answered', (e: unknown) => e);
      const cancelled = Array.from({ length: 5 }, (_, i) => outcome(http.write('PATCH', `/held-${i}`, { body: {}, signal: term.signal })));
      const untouched = outcome(http.write('PATCH', '/held-other', { body: {}, signal: other.signal }));
      while (requests.length < 7) await new Promise((r) => setTimeout(r, 5));
      expect(getEventListeners(term.signal, 'abort')).to.have.length(1);
      term.abort();
      for (const err of await Promise.all(cancelled)) expect((err as Error).name).to.equal('AbortError');
      // A request sent under an aborted signal fails at once, without reaching the server.
      expect(((await outcome(http.write('PATCH', '/late', { body: {}, signal: term.signal }))) as Error).name).to.equal('AbortError');
      expect(requests.map((r) => r.url)).to.not.include('/late');
      for (const release of held) release();
      expect(await untouched).to.equal('answered');
      expect(getEventListeners(other.signal, 'abort')).to.have.length(1);
      http.close();
    });
  });

  it('a Lease renewal goes out while every request connection is busy, and writes MicroTime', async () => {
    const held: (() => void)[] = [];
    let leaseBody = '';
    await withServer((req, res) => {
      if (req.url?.startsWith('/apis/coordination.k8s.io/')) {
        req.on('data', (c: Buffer) => (leaseBody += c.toString()));
        req.on('end', () => res.end(leaseBody));
        return;
      }
      held.push(() => res.end('{}')); // a backlog of writes the API server answers slowly
    }, async (kc) => {
      const http = new KubeHttp(kc, { maxRequestsInFlight: 2 });
      const backlog = Promise.all(Array.from({ length: 4 }, () => http.write('PATCH', '/api/v1/namespaces/n/pods/p', { body: {} })));
      await new Promise((r) => setTimeout(r, 50));
      expect(held).to.have.length(2);
      const renewed = await leaseClient(http).replace('ns', 'l', {
        metadata: { name: 'l', namespace: 'ns', resourceVersion: '7' },
        spec: { holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:01.234Z' },
      });
      expect(renewed.spec).to.deep.equal({ holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:01.234000Z' });
      expect(JSON.parse(leaseBody)).to.include({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
      while (held.length > 0) {
        held.splice(0).forEach((answer) => answer());
        await new Promise((r) => setTimeout(r, 20));
      }
      await backlog;
      http.close();
    });
  });
});
