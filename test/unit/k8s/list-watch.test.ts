import { Readable } from 'node:stream';
import { V1MicroTime } from '@kubernetes/client-node';
import { withServer } from './loopback-server.js';
import { expect } from 'chai';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp } from '../../../src/k8s/http.js';
import { leaseFromApi, leaseToApi } from '../../../src/k8s/lease.js';
import { httpListWatch, listQuery, watchQuery, type HttpPort, type Query } from '../../../src/k8s/list-watch.js';
import { MalformedStreamError, StatusError } from '../../../src/runtime/errors.js';
import type { WatchEvent } from '../../../src/runtime/list-watch.js';

/** The query string KubeHttp sends for `query`: non-empty values only. */
function queryParams(query: Query): Record<string, string> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)]));
}

const apiListWatch = (kc: KubeConfig, path: string, opts = {}) => httpListWatch(new KubeHttp(kc), path, opts);

describe('list/watch queries', () => {
  it('builds a LIST page query with selectors, limit and continue, omitting empty values', () => {
    const query = listQuery({ labelSelector: 'app=web', limit: 500, continueToken: 'abc', resourceVersion: undefined });
    expect(queryParams(query)).to.deep.equal({ labelSelector: 'app=web', limit: '500', continue: 'abc' });
  });

  it('builds a WATCH query with bookmarks, timeout and resourceVersion', () => {
    const query = watchQuery({ resourceVersion: '123', timeoutSeconds: 290, allowBookmarks: true, fieldSelector: 'spec.nodeName=n1' });
    expect(queryParams(query)).to.deep.equal({
      watch: 'true',
      fieldSelector: 'spec.nodeName=n1',
      resourceVersion: '123',
      timeoutSeconds: '290',
      allowWatchBookmarks: 'true',
    });
  });
});

const line = (type: string, object: object): string => `${JSON.stringify({ type, object })}\n`;

describe('httpListWatch over KubeHttp', () => {
  it('LISTs with auth and query, returning items, resourceVersion and continue token', async () => {
    await withServer(
      (_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '77', continue: 'next' }, items: [{ a: 1 }] }));
      },
      async (kc, requests) => {
        const src = apiListWatch(kc, '/api/v1/pods', { labelSelector: 'x=y' });
        const page = await src.list({ limit: 2, signal: new AbortController().signal });
        expect(page).to.deep.equal({ items: [{ a: 1 }], resourceVersion: '77', continueToken: 'next' });
        expect(requests[0]!.url).to.equal('/api/v1/pods?labelSelector=x%3Dy&limit=2');
        expect(requests[0]!.headers.authorization).to.equal('Bearer secret-token');
      },
    );
  });

  it('turns a non-2xx LIST into a StatusError with the Status reason', async () => {
    await withServer(
      (_req, res) => {
        res.statusCode = 403;
        res.end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods is forbidden' }));
      },
      async (kc) => {
        const src = apiListWatch(kc, '/api/v1/pods');
        const err = await src.list({ limit: 1, signal: new AbortController().signal }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(StatusError);
        expect(err).to.include({ status: 403, reason: 'Forbidden', message: 'pods is forbidden' });
      },
    );
  });

  it('streams WATCH events split across writes and resolves when the server ends the stream', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const data = line('ADDED', { metadata: { name: 'a' } }) + line('BOOKMARK', { metadata: { resourceVersion: '9' } });
        res.write(data.slice(0, 20));
        setTimeout(() => res.end(data.slice(20)), 10);
      },
      async (kc, requests) => {
        const events: WatchEvent[] = [];
        const src = apiListWatch(kc, '/api/v1/pods');
        await src.watch(
          { resourceVersion: '5', timeoutSeconds: 300, allowBookmarks: true, signal: new AbortController().signal },
          (ev) => events.push(ev),
        );
        expect(events.map((e) => e.type)).to.deep.equal(['ADDED', 'BOOKMARK']);
        expect(requests[0]!.url).to.equal('/api/v1/pods?watch=true&resourceVersion=5&timeoutSeconds=300&allowWatchBookmarks=true');
      },
    );
  });

  it('rejects a WATCH whose stream is truncated mid-event', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200);
        res.end(line('ADDED', { metadata: { name: 'a' } }) + '{"type":"MODIFIED","object":{"meta');
      },
      async (kc) => {
        const events: WatchEvent[] = [];
        const src = apiListWatch(kc, '/api/v1/pods');
        const err = await src
          .watch({ resourceVersion: '5', timeoutSeconds: 1, allowBookmarks: true, signal: new AbortController().signal }, (ev) =>
            events.push(ev),
          )
          .catch((e: unknown) => e);
        expect(err).to.be.instanceOf(MalformedStreamError);
        expect(events).to.have.length(1);
      },
    );
  });

  it('rejects a WATCH answered with 410 as a StatusError', async () => {
    await withServer(
      (_req, res) => {
        res.statusCode = 410;
        res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }));
      },
      async (kc) => {
        const src = apiListWatch(kc, '/api/v1/pods');
        const err = await src
          .watch({ resourceVersion: '1', timeoutSeconds: 1, allowBookmarks: true, signal: new AbortController().signal }, () => undefined)
          .catch((e: unknown) => e);
        expect(err).to.include({ status: 410, reason: 'Expired' });
      },
    );
  });

  it('rejects promptly and closes the connection when the WATCH is aborted', async () => {
    let closed = false;
    await withServer(
      (req, res) => {
        res.writeHead(200);
        res.write(line('ADDED', { metadata: { name: 'a' } }));
        req.socket.on('close', () => (closed = true));
      },
      async (kc) => {
        const ac = new AbortController();
        const src = apiListWatch(kc, '/api/v1/pods');
        const watching = src.watch({ resourceVersion: '1', timeoutSeconds: 300, allowBookmarks: true, signal: ac.signal }, () =>
          ac.abort(),
        );
        const err = await watching.catch((e: unknown) => e);
        expect((err as Error).name).to.equal('AbortError');
        await new Promise((r) => setTimeout(r, 20));
        expect(closed).to.equal(true);
      },
    );
  });
});

describe('httpListWatch', () => {
  it('uses the given HTTP client for LIST and WATCH and decodes the stream', async () => {
    const calls: string[] = [];
    const http: HttpPort = {
      request<R>(method: string, path: string, opts: { query?: Record<string, unknown> }): Promise<R> {
        calls.push(`${method} ${path} limit=${String(opts.query?.limit)}`);
        return Promise.resolve({ metadata: { resourceVersion: '3' }, items: [] } as R);
      },
      stream(path, opts) {
        calls.push(`STREAM ${path} rv=${String(opts.query?.resourceVersion)}`);
        return Promise.resolve(Readable.from([line('DELETED', { metadata: { name: 'a' } })]));
      },
    };
    const src = httpListWatch(http, '/api/v1/pods');
    const signal = new AbortController().signal;
    expect(await src.list({ limit: 10, signal })).to.deep.equal({ items: [], resourceVersion: '3' });
    const events: WatchEvent[] = [];
    await src.watch({ resourceVersion: '3', timeoutSeconds: 60, allowBookmarks: true, signal }, (ev) => events.push(ev));
    expect(events.map((e) => e.type)).to.deep.equal(['DELETED']);
    expect(calls).to.deep.equal(['GET /api/v1/pods limit=10', 'STREAM /api/v1/pods rv=3']);
  });
});

describe('Lease conversion', () => {
  it('writes times as MicroTime (microsecond precision) and keeps the resourceVersion for optimistic concurrency', () => {
    const api = leaseToApi({
      metadata: { name: 'l', namespace: 'n', resourceVersion: '12' },
      spec: { holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:01.234Z', leaseTransitions: 2 },
    });
    expect(api.metadata?.resourceVersion).to.equal('12');
    expect(api.spec?.renewTime).to.equal('2026-01-01T00:00:01.234000Z');
    expect(api.spec?.acquireTime).to.equal(undefined);
  });

  it('reads times whether client-node hands them over as strings or Dates', () => {
    const plain = leaseFromApi({
      metadata: { name: 'l', namespace: 'n', resourceVersion: '12' },
      spec: {
        holderIdentity: 'me',
        renewTime: '2026-01-01T00:00:01.234567Z',
        acquireTime: new V1MicroTime(Date.UTC(2026, 0, 1)),
      },
    });
    expect(plain).to.deep.equal({
      metadata: { name: 'l', namespace: 'n', resourceVersion: '12' },
      spec: { holderIdentity: 'me', renewTime: '2026-01-01T00:00:01.234567Z', acquireTime: '2026-01-01T00:00:00.000000Z' },
    });
  });
});
