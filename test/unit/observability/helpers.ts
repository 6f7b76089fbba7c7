// Shared helpers for the observability tests: a capturing stream, a settable clock and a tiny HTTP client
// (node:http/https rather than fetch, so that a test can trust its own CA).
import http from 'node:http';
import https from 'node:https';
import { Writable } from 'node:stream';
import type { Logger, LogFields } from '../../../src/observability/logger.js';

export class CapturedStream extends Writable {
  readonly chunks: string[] = [];
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    done();
  }
  lines(): string[] {
    return this.chunks.join('').split('\n').filter((l) => l !== '');
  }
}

/** Winston hands lines to its transports through streams; give them a turn before reading. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface LogEntry {
  level: string;
  msg: string;
  fields: LogFields;
}

/** A Logger that remembers what it was told, for asserting that failures are logged. */
export class RecordingLogger implements Logger {
  constructor(
    readonly entries: LogEntry[] = [],
    private readonly bound: LogFields = {},
  ) {}
  debug(msg: string, fields?: LogFields): void {
    this.entries.push({ level: 'debug', msg, fields: { ...this.bound, ...fields } });
  }
  info(msg: string, fields?: LogFields): void {
    this.entries.push({ level: 'info', msg, fields: { ...this.bound, ...fields } });
  }
  warn(msg: string, fields?: LogFields): void {
    this.entries.push({ level: 'warn', msg, fields: { ...this.bound, ...fields } });
  }
  error(msg: string, fields?: LogFields): void {
    this.entries.push({ level: 'error', msg, fields: { ...this.bound, ...fields } });
  }
  child(fields: LogFields): Logger {
    return new RecordingLogger(this.entries, { ...this.bound, ...fields });
  }
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; ca?: Buffer } = {},
): Promise<HttpResult> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: opts.method ?? 'GET', headers: opts.headers, ca: opts.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
