// Posting to the operator's audit webhook as kube-apiserver (or an attacker) would, and the audit events
// that drive drift detection.
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { cluster } from './integration-hooks.js';

export interface AuditClient {
  cert?: Buffer;
  key?: Buffer;
  headers?: Record<string, string>;
}

/**
 * POSTs a raw body to the suite's audit webhook; resolves with the HTTP status, or 0 when the connection was
 * refused before any answer (e.g. a TLS handshake without an acceptable certificate). The body goes out in
 * chunks, after the headers, and stops as soon as an answer arrives.
 */
export function postAudit(body: string | Buffer, client: AuditClient = {}): Promise<number> {
  const { audit } = cluster();
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  return readFile(audit.caFile).then((ca) => new Promise<number>((resolve) => {
    let status = 0;
    const req = https.request({
      host: '127.0.0.1', port: audit.port, path: '/audit', method: 'POST', ca, agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(data.length), ...client.headers },
      ...(client.cert && client.key ? { cert: client.cert, key: client.key } : {}),
    }, (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => resolve(status));
      res.on('error', () => resolve(status));
    });
    // A refused connection (reset, broken pipe, failed handshake) ends with whatever answer came first.
    req.on('error', () => resolve(status));
    const CHUNK = 64 * 1024;
    const writeFrom = (offset: number): void => {
      while (offset < data.length && status === 0 && !req.destroyed) {
        const more = req.write(data.subarray(offset, offset + CHUNK));
        offset += CHUNK;
        if (!more) {
          req.once('drain', () => writeFrom(offset));
          return;
        }
      }
      if (offset >= data.length) req.end();
    };
    // Headers first: a refusal on Content-Length alone (413) comes back before the body is sent. Streaming an
    // oversized body at once gets a reset instead, since the server closes with the rest unread.
    req.flushHeaders();
    setTimeout(() => writeFrom(0), 100);
  }));
}

export function execEvent(ns: string, name: string, auditID: string, user: string): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    level: 'Metadata', auditID, stage: 'ResponseComplete', verb: 'create',
    requestURI: `/api/v1/namespaces/${ns}/pods/${name}/exec?command=id&container=app&stdout=true`,
    user: { username: user }, objectRef: { resource: 'pods', namespace: ns, name, apiVersion: 'v1', subresource: 'exec' },
    responseStatus: { code: 101 }, requestReceivedTimestamp: now, stageTimestamp: now,
  };
}

export const eventList = (items: unknown[]): string => JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });
