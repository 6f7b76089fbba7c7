import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { gzipSync } from 'node:zlib';
import { startAuditWebhook, tokenMatches, type RunningAuditWebhook } from '../../../src/audit/webhook-server.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { createCertificateAuthority, issueCertificate } from '../../support/controlplane/certs.js';
import { auditEvent, eventList } from './helpers.js';
import { createHash } from 'node:crypto';

const logger = { ...noopLogger, error: () => undefined, child: () => logger };

interface Pem { ca: Buffer; cert: Buffer; key: Buffer; clientCert: Buffer; clientKey: Buffer; otherCert: Buffer; otherKey: Buffer }

interface Reply { status: number; body: string }

function post(port: number, pem: Pem, opts: { path?: string; method?: string; headers?: Record<string, string>; body?: Buffer | string; client?: 'trusted' | 'untrusted' | 'none'; chunks?: Buffer[] } = {}): Promise<Reply> {
  const client = opts.client ?? 'trusted';
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: opts.path ?? '/audit', method: opts.method ?? 'POST', ca: pem.ca, agent: false,
      headers: { 'Content-Type': 'application/json', ...opts.headers },
      ...(client === 'trusted' ? { cert: pem.clientCert, key: pem.clientKey } : client === 'untrusted' ? { cert: pem.otherCert, key: pem.otherKey } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    if (opts.chunks) {
      const write = (i: number): void => {
        if (i >= opts.chunks!.length) return void req.end();
        if (!req.write(opts.chunks![i])) req.once('drain', () => write(i + 1));
        else setImmediate(() => write(i + 1));
      };
      write(0);
      req.on('error', () => undefined);
    } else {
      req.end(opts.body);
    }
  });
}

describe('audit webhook server', function () {
  this.timeout(20_000);
  let dir: string;
  let pem: Pem;
  let server: RunningAuditWebhook;
  let received: unknown[];

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), 'audit-webhook-'));
    const ca = await createCertificateAuthority(dir, 'ca', 'test-audit-ca');
    const serverPair = await issueCertificate(dir, ca, 'server', '/CN=audit', { sans: ['IP:127.0.0.1'] });
    const clientPair = await issueCertificate(dir, ca, 'client', '/CN=kube-apiserver');
    const otherCa = await createCertificateAuthority(dir, 'other-ca', 'someone-else');
    const otherPair = await issueCertificate(dir, otherCa, 'other', '/CN=intruder');
    const r = (f: string): Promise<Buffer> => readFile(f);
    pem = {
      ca: await r(ca.cert), cert: await r(serverPair.cert), key: await r(serverPair.key),
      clientCert: await r(clientPair.cert), clientKey: await r(clientPair.key),
      otherCert: await r(otherPair.cert), otherKey: await r(otherPair.key),
    };
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async function () {
    received = [];
    server = await startAuditWebhook({
      host: '127.0.0.1', port: 0, cert: pem.cert, key: pem.key, clientCa: pem.ca, token: 's3cret-token',
      maxBodyBytes: 64 * 1024, logger, onEvents: (items) => received.push(...items),
      timeouts: { headersMs: 500, requestMs: 1000, idleMs: 1000, handshakeMs: 1000 },
    });
  });
  afterEach(async function () {
    await server.close();
  });

  const body = JSON.stringify(eventList([auditEvent(), auditEvent()]));

  it('accepts an EventList from a client certificate signed by the CA', async function () {
    const res = await post(server.port, pem, { body });
    expect(res.status).to.equal(200);
    expect(received).to.have.length(2);
  });

  it('accepts the bearer token instead of a certificate', async function () {
    const res = await post(server.port, pem, { body, client: 'none', headers: { Authorization: 'Bearer s3cret-token' } });
    expect(res.status).to.equal(200);
  });

  for (const [what, opts] of [
    ['no credentials', { client: 'none' }],
    ['a certificate from another CA', { client: 'untrusted' }],
    ['a wrong token', { client: 'none', headers: { Authorization: 'Bearer s3cret-tokeN' } }],
    ['a token prefix', { client: 'none', headers: { Authorization: 'Bearer s3cret' } }],
  ] as const) {
    it(`refuses ${what} with 401 and reads nothing`, async function () {
      const res = await post(server.port, pem, { body, ...opts });
      expect(res.status).to.equal(401);
      expect(received).to.have.length(0);
    });
  }

  it('refuses a client without a certificate that comes back resuming its TLS session', async function () {
    // Node reports a resumed TLS 1.3 session as authorized even when no certificate was ever presented.
    const agent = new https.Agent({ ca: pem.ca, keepAlive: true });
    const attempt = (): Promise<{ status: number; resumed: boolean }> => new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: server.port, path: '/audit', method: 'POST', agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, resumed: (res.socket as tls.TLSSocket).isSessionReused() }));
      });
      req.on('error', reject);
      req.end(body);
    });
    try {
      expect(await attempt()).to.deep.equal({ status: 401, resumed: false });
      expect(await attempt()).to.deep.equal({ status: 401, resumed: true });
      expect(received).to.have.length(0);
    } finally {
      agent.destroy();
    }
  });

  it('serves only POST /audit', async function () {
    expect((await post(server.port, pem, { path: '/other', body })).status).to.equal(404);
    expect((await post(server.port, pem, { method: 'GET' })).status).to.equal(405);
    expect((await post(server.port, pem, { body, headers: { 'Content-Type': 'text/plain' } })).status).to.equal(415);
  });

  it('refuses a declared oversized body with 413 before reading it', async function () {
    const big = Buffer.alloc(100 * 1024, 0x20);
    const res = await post(server.port, pem, { body: big });
    expect(res.status).to.equal(413);
  });

  it('refuses a streamed (chunked) body once it passes the limit', async function () {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(4096, 0x20));
    const res = await post(server.port, pem, { chunks, headers: { 'Transfer-Encoding': 'chunked' } });
    expect(res.status).to.equal(413);
    expect(received).to.have.length(0);
  });

  it('inflates gzip, and refuses a zip bomb with 413', async function () {
    const ok = await post(server.port, pem, { body: gzipSync(body), headers: { 'Content-Encoding': 'gzip' } });
    expect(ok.status).to.equal(200);
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20)); // ~10 KiB on the wire, 10 MiB inflated
    expect(bomb.length).to.be.below(64 * 1024);
    const res = await post(server.port, pem, { body: bomb, headers: { 'Content-Encoding': 'gzip' } });
    expect(res.status).to.equal(413);
    expect((await post(server.port, pem, { body: Buffer.from('not gzip'), headers: { 'Content-Encoding': 'gzip' } })).status).to.equal(400);
    expect((await post(server.port, pem, { body, headers: { 'Content-Encoding': 'br' } })).status).to.equal(415);
  });

  it('refuses bodies that are not an audit.k8s.io/v1 EventList with 400', async function () {
    for (const bad of ['{', '[]', JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', items: [] }),
      JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: 'x' })]) {
      expect((await post(server.port, pem, { body: bad })).status, bad).to.equal(400);
    }
    expect(received).to.have.length(0);
  });

  it('cuts off a client that dribbles its headers (slowloris)', async function () {
    const started = Date.now();
    const closed = await new Promise<boolean>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: pem.ca, cert: pem.clientCert, key: pem.clientKey }, () => {
        socket.write('POST /audit HTTP/1.1\r\nHost: x\r\n');
        const timer = setInterval(() => socket.write('X-Slow: 1\r\n'), 100);
        socket.on('close', () => {
          clearInterval(timer);
          resolve(true);
        });
      });
      socket.on('error', () => undefined);
      setTimeout(() => resolve(false), 5000);
    });
    expect(closed).to.equal(true);
    expect(Date.now() - started).to.be.below(4000);
  });

  it('compares tokens in constant time over digests', function () {
    const d = createHash('sha256').update('abc').digest();
    expect(tokenMatches('Bearer abc', d)).to.equal(true);
    expect(tokenMatches('bearer abc ', d)).to.equal(true);
    expect(tokenMatches('Bearer abcd', d)).to.equal(false);
    expect(tokenMatches('Basic abc', d)).to.equal(false);
    expect(tokenMatches(undefined, d)).to.equal(false);
  });

  it('never starts without a way to authenticate', async function () {
    let error: unknown;
    try {
      await startAuditWebhook({ host: '127.0.0.1', port: 0, cert: pem.cert, key: pem.key, maxBodyBytes: 1, logger, onEvents: () => undefined });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/client CA or a token/);
  });
});
