import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FalcoAlert } from '../../../src/falco/alert.js';
import { startFalcoEndpoint } from '../../../src/falco/endpoint.js';
import type { RunningIngestServer } from '../../../src/audit/ingest-server.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { createCertificateAuthority, issueCertificate } from '../../support/controlplane/certs.js';
import { falcoAlert, falcosidekickAlert } from '../../support/falco-alerts.js';

interface Reply { status: number; body: Record<string, unknown>; headers: Record<string, unknown> }

const target = { namespace: 'demo', pod: 'nginx-1', container: 'nginx' };

describe('Falco endpoint', function () {
  this.timeout(20_000);
  let dir: string;
  let pem: { ca: Buffer; cert: Buffer; key: Buffer; clientCert: Buffer; clientKey: Buffer };
  let server: RunningIngestServer;
  let queued: FalcoAlert[];
  let full: boolean;
  let refused: number;

  function post(body: string | Buffer, o: { token?: string; cert?: boolean; type?: string | null; path?: string } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (o.type !== null) headers['Content-Type'] = o.type ?? 'application/json';
      if (o.token) headers.Authorization = `Bearer ${o.token}`;
      const req = https.request({
        host: '127.0.0.1', port: server.port, path: o.path ?? '/falco', method: 'POST', ca: pem.ca, agent: false, headers,
        ...(o.cert ? { cert: pem.clientCert, key: pem.clientKey } : {}),
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown>, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), 'falco-endpoint-'));
    const ca = await createCertificateAuthority(dir, 'ca', 'test-falco-ca');
    const serverPair = await issueCertificate(dir, ca, 'server', '/CN=falco', { sans: ['IP:127.0.0.1'] });
    const clientPair = await issueCertificate(dir, ca, 'client', '/CN=falco-client');
    pem = {
      ca: await readFile(ca.cert), cert: await readFile(serverPair.cert), key: await readFile(serverPair.key),
      clientCert: await readFile(clientPair.cert), clientKey: await readFile(clientPair.key),
    };
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async function () {
    queued = [];
    full = false;
    refused = 0;
    server = await startFalcoEndpoint({
      host: '127.0.0.1', port: 0, cert: pem.cert, key: pem.key, clientCa: pem.ca, token: 'falco-token', logger: noopLogger,
      ingest: { offer: (alerts) => (full ? false : (queued.push(...alerts), true)) },
      onRefused: () => refused++,
      maxRequestBytes: 1024 * 1024,
    });
  });
  afterEach(async function () {
    await server.close();
  });

  it('accepts an http_output alert with a client certificate and a Falcosidekick batch with the token', async function () {
    expect((await post(JSON.stringify(falcoAlert('Terminal shell in container', target)), { cert: true })).status).to.equal(200);
    const batch = [falcosidekickAlert('Read sensitive file untrusted', target, 'u-1'), falcosidekickAlert('Drop and execute new binary in container', target, 'u-2')]
      .map((a) => JSON.stringify(a)).join('\n');
    const res = await post(batch, { token: 'falco-token', type: 'application/x-ndjson' });
    expect(res).to.deep.include({ status: 200, body: { status: 'Success', alerts: 2 } });
    expect(queued.map((a) => a.rule)).to.deep.equal(['Terminal shell in container', 'Read sensitive file untrusted', 'Drop and execute new binary in container']);
  });

  it('refuses no credentials and a wrong token with 401', async function () {
    const body = JSON.stringify(falcoAlert('Terminal shell in container', target));
    expect((await post(body)).status).to.equal(401);
    expect((await post(body, { token: 'guess' })).status).to.equal(401);
    expect(queued).to.have.length(0);
  });

  it('refuses text output with 415 and names what it expects', async function () {
    const res = await post('10:20:05.408091526: Notice A shell was spawned', { token: 'falco-token', type: 'text/plain' });
    expect(res.status).to.equal(415);
    expect(res.body.message).to.match(/application\/json/);
  });

  it('refuses a malformed alert with 400 naming the field, and takes a valid one next', async function () {
    const res = await post(JSON.stringify({ ...falcoAlert('Terminal shell in container', target), priority: 'Loud' }), { token: 'falco-token' });
    expect(res.status).to.equal(400);
    expect(res.body.message).to.match(/^priority: /);
    expect(refused).to.equal(1);
    expect((await post(JSON.stringify(falcoAlert('Terminal shell in container', target)), { token: 'falco-token' })).status).to.equal(200);
    expect(queued).to.have.length(1);
  });

  it('refuses an oversized request with 413', async function () {
    const res = await post(Buffer.alloc(1024 * 1024 + 1, 0x20), { token: 'falco-token' });
    expect(res.status).to.equal(413);
  });

  it('answers 503 with Retry-After when the queue is full', async function () {
    full = true;
    const res = await post(JSON.stringify(falcoAlert('Terminal shell in container', target)), { token: 'falco-token' });
    expect(res.status).to.equal(503);
    expect(res.headers['retry-after']).to.equal('1');
  });

  it('serves only POST /falco', async function () {
    expect((await post('{}', { token: 'falco-token', path: '/audit' })).status).to.equal(404);
  });
});
