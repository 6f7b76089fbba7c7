// Posting to the operator's audit webhook as kube-apiserver (or an attacker) would, and the audit events
// that drive drift detection.
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { paced } from './faults/paced.js';
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

export interface Flood {
  /** Pre-serialised bodies, sent round-robin: the sender does no JSON work while it floods. */
  bodies: readonly Buffer[];
  eventsPerBody: number;
  /** Events offered per second, and for how long. */
  rate: number;
  seconds: number;
  /** Requests in flight at once, each on its own keep-alive connection. */
  inflight: number;
  client: { ca: Buffer; cert: Buffer; key: Buffer };
}

export interface FloodResult {
  /** Events in the requests sent (each answered, whatever the answer). */
  sentEvents: number;
  /** From the first request to the last answer. */
  seconds: number;
  /** Requests by HTTP status (0: no answer). */
  answers: Map<number, number>;
}

/**
 * Floods the suite's audit webhook as a busy kube-apiserver's batch backend would, only faster: pre-built
 * EventList bodies paced at `rate` events a second over `inflight` keep-alive TLS connections. The rate it
 * reaches is the receiver's: a receiver that does not answer holds the sender back.
 */
export async function floodAuditWebhook(flood: Flood): Promise<FloodResult> {
  const { audit } = cluster();
  const agent = new https.Agent({ ...flood.client, keepAlive: true, maxSockets: flood.inflight });
  const answers = new Map<number, number>();
  const post = (body: Buffer): Promise<void> => new Promise((resolve) => {
    const req = https.request({
      host: '127.0.0.1', port: audit.port, path: '/audit', method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.length) },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        answers.set(res.statusCode ?? 0, (answers.get(res.statusCode ?? 0) ?? 0) + 1);
        resolve();
      });
    });
    req.on('error', () => {
      answers.set(0, (answers.get(0) ?? 0) + 1);
      resolve();
    });
    req.end(body);
  });
  // One request per `eventsPerBody` events: the request rate that makes the event rate.
  const { calls, seconds } = await paced({ rate: flood.rate / flood.eventsPerBody, seconds: flood.seconds, inflight: flood.inflight },
    (n) => post(flood.bodies[n % flood.bodies.length] as Buffer));
  agent.destroy();
  return { sentEvents: calls * flood.eventsPerBody, seconds, answers };
}
