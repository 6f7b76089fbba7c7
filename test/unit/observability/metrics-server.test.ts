import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import type { RunningServer } from '../../../src/observability/http-server.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { bearerToken, startMetricsServer } from '../../../src/observability/metrics-server.js';
import type { AuthorizationDecision, RequestAuthorizer } from '../../../src/observability/metrics-server.js';
import { createCertificateAuthority, issueCertificate } from '../../support/controlplane/certs.js';
import { httpRequest } from './helpers.js';

/** Knows two tokens: one allowed to read /metrics, one valid but not allowed. */
class FakeAuthorizer implements RequestAuthorizer {
  readonly calls: Array<[string, string]> = [];
  authorize(token: string, path: string): Promise<AuthorizationDecision> {
    this.calls.push([token, path]);
    if (token === 'prometheus-token') return Promise.resolve('allowed');
    if (token === 'someone-else') return Promise.resolve('forbidden');
    return Promise.resolve('unauthenticated');
  }
}

function registryWithData(): Registry {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  metrics.violations.set({ policy: 'prod' }, 3);
  return metrics.registry;
}

describe('observability/metrics-server', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  describe('with an authorizer', () => {
    let authorizer: FakeAuthorizer;
    let base: string;
    beforeEach(async () => {
      authorizer = new FakeAuthorizer();
      server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: registryWithData(), auth: authorizer, logger: noopLogger });
      base = `http://127.0.0.1:${server.port}`;
    });

    it('401 without a token, and does not ask the authorizer', async () => {
      const res = await httpRequest(`${base}/metrics`);
      expect(res.status).to.equal(401);
      expect(res.headers['www-authenticate']).to.equal('Bearer');
      expect(res.body).not.to.contain('immutability_operator');
      expect(authorizer.calls).to.deep.equal([]);
    });

    it('401 with a token the API server does not recognise', async () => {
      const res = await httpRequest(`${base}/metrics`, { headers: { Authorization: 'Bearer forged' } });
      expect(res.status).to.equal(401);
      expect(res.body).not.to.contain('immutability_operator');
    });

    it('403 for a valid identity without get on /metrics', async () => {
      const res = await httpRequest(`${base}/metrics`, { headers: { Authorization: 'Bearer someone-else' } });
      expect(res.status).to.equal(403);
      expect(res.body).not.to.contain('immutability_operator');
    });

    it('200 with the exposition text for an allowed token, checked against the request path', async () => {
      const res = await httpRequest(`${base}/metrics?x=1`, { headers: { Authorization: 'Bearer prometheus-token' } });
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      expect(res.body).to.contain('immutability_operator_violating_pods{policy="prod"} 3');
      expect(authorizer.calls).to.deep.equal([['prometheus-token', '/metrics']]);
    });

    it('500 without detail when the authorizer cannot decide', async () => {
      await server!.close();
      const failing: RequestAuthorizer = { authorize: () => Promise.reject(new Error('apiserver down')) };
      server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: registryWithData(), auth: failing, logger: noopLogger });
      const res = await httpRequest(`http://127.0.0.1:${server.port}/metrics`, { headers: { Authorization: 'Bearer t' } });
      expect(res.status).to.equal(500);
      expect(res.body).not.to.contain('apiserver');
    });

    it('serves nothing but /metrics', async () => {
      const res = await httpRequest(`${base}/healthz`, { headers: { Authorization: 'Bearer prometheus-token' } });
      expect(res.status).to.equal(404);
    });
  });

  it("serves without credentials only when auth is explicitly 'none'", async () => {
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: registryWithData(), auth: 'none', logger: noopLogger });
    const res = await httpRequest(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.body).to.contain('immutability_operator_leader 0');
  });

  describe('over HTTPS', function () {
    this.timeout(30_000);
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'metrics-tls-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('serves TLS with the given certificate and still requires a token', async () => {
      const ca = await createCertificateAuthority(dir, 'ca', 'test-ca');
      const serving = await issueCertificate(dir, ca, 'metrics', '/CN=metrics', { sans: ['IP:127.0.0.1'] });
      server = await startMetricsServer({
        host: '127.0.0.1',
        port: 0,
        registry: registryWithData(),
        auth: new FakeAuthorizer(),
        tls: { certFile: serving.cert, keyFile: serving.key },
        logger: noopLogger,
      });
      const caPem = await readFile(ca.cert);
      const url = `https://127.0.0.1:${server.port}/metrics`;
      expect((await httpRequest(url, { ca: caPem })).status).to.equal(401);
      const ok = await httpRequest(url, { ca: caPem, headers: { Authorization: 'Bearer prometheus-token' } });
      expect(ok.status).to.equal(200);
      expect(ok.body).to.contain('immutability_operator_violating_pods');
      let plainError: unknown;
      await httpRequest(`http://127.0.0.1:${server.port}/metrics`).catch((err: unknown) => (plainError = err));
      expect(plainError, 'plain HTTP to the TLS port must not be served').to.be.instanceOf(Error);
    });
  });

  describe('bearerToken', () => {
    const cases: ReadonlyArray<[string | undefined, string | undefined]> = [
      ['Bearer abc.def', 'abc.def'],
      ['bearer abc', 'abc'],
      ['Bearer  abc ', 'abc'],
      ['Basic dXNlcjpwYXNz', undefined],
      ['Bearer', undefined],
      ['Bearer a b', undefined],
      [undefined, undefined],
    ];
    for (const [header, token] of cases) {
      it(`${JSON.stringify(header)} → ${JSON.stringify(token)}`, () => {
        expect(bearerToken(header)).to.equal(token);
      });
    }
  });
});
