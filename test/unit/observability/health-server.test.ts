import { expect } from 'chai';
import { startHealthServer } from '../../../src/observability/health-server.js';
import type { HealthCheck } from '../../../src/observability/health-server.js';
import type { RunningServer } from '../../../src/observability/http-server.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { httpRequest } from './helpers.js';

describe('observability/health-server', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(readiness: HealthCheck[], liveness: HealthCheck[] = []): Promise<string> {
    server = await startHealthServer({ host: '127.0.0.1', port: 0, readiness, liveness, checkTimeoutMs: 100, logger: noopLogger });
    expect(server.port).to.be.greaterThan(0);
    return `http://127.0.0.1:${server.port}`;
  }

  it('/healthz answers ok while the process runs, whatever readiness says', async () => {
    const base = await start([{ name: 'caches-synced', check: () => false }]);
    const res = await httpRequest(`${base}/healthz`);
    expect(res.status).to.equal(200);
    expect(res.body).to.equal('ok\n');
  });

  it('/readyz is 200 when every check passes', async () => {
    const base = await start([
      { name: 'caches-synced', check: () => true },
      { name: 'async', check: () => Promise.resolve(true) },
    ]);
    const res = await httpRequest(`${base}/readyz`);
    expect(res.status).to.equal(200);
    expect(res.body).to.equal('ok\n');
  });

  it('/readyz is 503 and names the failing checks (false, throw, rejection, timeout)', async () => {
    let synced = false;
    const base = await start([
      { name: 'caches-synced', check: () => synced },
      { name: 'leader-lease', check: () => true },
      { name: 'throws', check: () => { throw new Error('x'); } },
      { name: 'rejects', check: () => Promise.reject(new Error('y')) },
      { name: 'hangs', check: () => new Promise<boolean>(() => undefined) },
    ]);
    const res = await httpRequest(`${base}/readyz`);
    expect(res.status).to.equal(503);
    expect(res.body).to.equal(
      '[-]caches-synced failed\n[+]leader-lease ok\n[-]throws failed\n[-]rejects failed\n[-]hangs failed\nreadyz check failed\n',
    );
    synced = true;
    const again = await httpRequest(`${base}/readyz`);
    expect(again.body).to.contain('[+]caches-synced ok');
  });

  it('/readyz?verbose lists the checks when healthy', async () => {
    const base = await start([{ name: 'caches-synced', check: () => true }]);
    const res = await httpRequest(`${base}/readyz?verbose`);
    expect(res.status).to.equal(200);
    expect(res.body).to.equal('[+]caches-synced ok\nreadyz check passed\n');
  });

  it('/healthz fails when a liveness check fails', async () => {
    const base = await start([], [{ name: 'watch-progress', check: () => false }]);
    const res = await httpRequest(`${base}/healthz`);
    expect(res.status).to.equal(503);
    expect(res.body).to.contain('[-]watch-progress failed');
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const base = await start([]);
    expect((await httpRequest(`${base}/metrics`)).status).to.equal(404);
    const post = await httpRequest(`${base}/readyz`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers['allow']).to.equal('GET, HEAD');
  });
});
