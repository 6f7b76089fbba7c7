import { expect } from 'chai';
import { parseBindAddress, startHttpServer } from '../../../src/observability/http-server.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { RecordingLogger, httpRequest } from './helpers.js';

describe('observability/http-server', () => {
  describe('parseBindAddress', () => {
    const cases: ReadonlyArray<[string, { host: string; port: number } | undefined]> = [
      [':8443', { host: '', port: 8443 }],
      ['127.0.0.1:8081', { host: '127.0.0.1', port: 8081 }],
      ['[::1]:9000', { host: '::1', port: 9000 }],
      ['localhost:0', { host: 'localhost', port: 0 }],
      ['0', undefined],
    ];
    for (const [input, expected] of cases) {
      it(`parses ${JSON.stringify(input)}`, () => {
        expect(parseBindAddress(input)).to.deep.equal(expected);
      });
    }
    for (const bad of ['8443', ':', ':99999', 'host:port', '::1:80', '']) {
      it(`rejects ${JSON.stringify(bad)}`, () => {
        expect(() => parseBindAddress(bad)).to.throw(/invalid bind address/);
      });
    }
  });

  it('turns a failing handler into a 500 without leaking the error, and logs it', async () => {
    const logger = new RecordingLogger();
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      routes: { '/boom': () => Promise.reject(new Error('secret detail')) },
    });
    try {
      const res = await httpRequest(`http://127.0.0.1:${server.port}/boom`);
      expect(res.status).to.equal(500);
      expect(res.body).not.to.contain('secret');
      expect(logger.entries.map((e) => [e.level, e.msg, e.fields['path']])).to.deep.equal([['error', 'http handler failed', '/boom']]);
    } finally {
      await server.close();
    }
  });

  it('reports a port already in use instead of hanging', async () => {
    const first = await startHttpServer({ host: '127.0.0.1', port: 0, logger: noopLogger, routes: {} });
    try {
      let error: unknown;
      try {
        await startHttpServer({ host: '127.0.0.1', port: first.port, logger: noopLogger, routes: {} });
      } catch (err) {
        error = err;
      }
      expect((error as NodeJS.ErrnoException | undefined)?.code).to.equal('EADDRINUSE');
    } finally {
      await first.close();
    }
  });

  it('close() returns promptly even while a request is still in flight', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger: noopLogger,
      routes: { '/hang': () => arrived() },
    });
    const pending = httpRequest(`http://127.0.0.1:${server.port}/hang`).catch((err: unknown) => err);
    await requestArrived;
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).to.be.lessThan(1000);
    expect(await pending).to.be.instanceOf(Error);
  });
});
