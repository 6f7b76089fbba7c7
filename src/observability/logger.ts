// Structured logging over winston. The rest of the operator depends only on the small `Logger` interface
// below, so winston stays an implementation detail and tests can pass a recording fake.
//
// Values always travel as fields, never inside the message: `log.info('reconciled', { policy, pods })`.
// That keeps messages greppable and lets log pipelines index `policy`, `key`, `controller` and so on.
import { Writable } from 'node:stream';
import winston from 'winston';

import type { LogFields, Logger } from '../runtime/logger.js';

export type { LogFields, Logger } from '../runtime/logger.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'text';

export interface LoggerOptions {
  level: string;
  format: LogFormat;
  /**
   * Where lines go, each as it is logged. Defaults to stderr (through a LineBatcher) so that stdout stays clean
   * for command output (`check --output json`); the kubelet captures both.
   */
  stream?: Writable;
  /** Source of timestamps; injectable so tests can assert exact lines. */
  clock?: { now(): number };
}

const LEVEL_PRIORITY: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

// winston's finished-line slot (triple-beam's MESSAGE); a registered symbol, so no extra import is needed.
const MESSAGE = Symbol.for('message');

// The keys every line starts with; a field of the same name is renamed so it cannot overwrite them.
const RESERVED_KEYS = new Set(['timestamp', 'level', 'msg']);

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(opts: LoggerOptions): Logger {
  if (!isLogLevel(opts.level)) {
    throw new Error(`unknown log level "${opts.level}" (expected one of ${LOG_LEVELS.join(', ')})`);
  }
  const withStacks = opts.level === 'debug';
  const clock = opts.clock ?? Date;
  const render = opts.format === 'json' ? renderJson : renderText;
  const lineFormat = winston.format((info) => {
    const fields = normalizeFields(info['fields'], withStacks);
    const timestamp = new Date(clock.now()).toISOString();
    const message = typeof info.message === 'string' ? info.message : String(info.message);
    (info as Record<symbol, unknown>)[MESSAGE] = render(timestamp, info.level, message, fields);
    return info;
  });
  const base = winston.createLogger({
    levels: LEVEL_PRIORITY,
    level: opts.level,
    format: lineFormat(),
    transports: [new winston.transports.Stream({ stream: opts.stream ?? stderrLines() })],
    exitOnError: false,
  });
  return new WinstonLogger(base, {});
}

/** Characters a LineBatcher holds before it writes them without waiting for the end of the loop turn. */
const BATCH_FLUSH_CHARS = 64 * 1024;

/**
 * Collects the lines logged during one turn of the event loop and writes them to `out` in one write at its end
 * (setImmediate), or at once past BATCH_FLUSH_CHARS. Written line by line, each line to stderr was a system call
 * of its own — a third of the logger's CPU in a backlog of thousands of label writes, each with its info line
 * (profile of owned-20000, 2026-12-01). Nothing is held beyond the turn: `flush()` empties it, and the
 * process's stderr batcher does at exit, uncaught exceptions included.
 */
export class LineBatcher extends Writable {
  private pending = '';
  private scheduled = false;

  constructor(private readonly out: Pick<Writable, 'write'>) {
    super({ decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.pending.length >= BATCH_FLUSH_CHARS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.flush();
    done();
  }

  /** Writes what is held, now. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.out.write(text);
  };
}

let stderrBatcher: LineBatcher | undefined;

/** The process's one batcher of stderr lines, flushed at exit (stderr writes are synchronous then). */
function stderrLines(): LineBatcher {
  if (!stderrBatcher) {
    const batcher = new LineBatcher(process.stderr);
    process.once('exit', batcher.flush);
    stderrBatcher = batcher;
  }
  return stderrBatcher;
}

class WinstonLogger implements Logger {
  constructor(
    private readonly base: winston.Logger,
    private readonly bound: LogFields,
  ) {}

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new WinstonLogger(this.base, Object.assign({}, this.bound, fields));
  }

  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    // winston formats a line before its transports drop it for its level: a thousand filtered `info` lines
    // of a burst of patches cost as much CPU as writing them.
    if (!this.base.isLevelEnabled(level)) return;
    // Fields travel under one key so that names like `message` or `level` cannot confuse winston. Object.assign
    // rather than a spread: V8 spreads these small objects an order of magnitude slower.
    this.base.log({ level, message: msg, fields: fields ? Object.assign({}, this.bound, fields) : this.bound });
  }
}

function renderJson(timestamp: string, level: string, msg: string, fields: LogFields): string {
  return JSON.stringify(Object.assign({ timestamp, level, msg }, fields));
}

// One human-readable line for a terminal: `2026-11-22T10:00:00.000Z INFO  reconciled policy=prod pods=3`.
function renderText(timestamp: string, level: string, msg: string, fields: LogFields): string {
  const parts = [timestamp, level.toUpperCase().padEnd(5), msg];
  for (const [key, value] of Object.entries(fields)) {
    parts.push(`${key}=${textValue(value)}`);
  }
  return parts.join(' ');
}

function textValue(value: unknown): string {
  if (typeof value === 'string') {
    return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  }
  return JSON.stringify(value) ?? String(value);
}

function normalizeFields(raw: unknown, withStacks: boolean): LogFields {
  const out: LogFields = {};
  if (raw === null || typeof raw !== 'object') {
    return out;
  }
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) {
      continue;
    }
    const name = RESERVED_KEYS.has(key) ? `field_${key}` : key;
    // Strings, numbers and booleans, most fields, render as they are: no cycle set to build for them.
    const type = typeof value;
    out[name] = type === 'string' || type === 'number' || type === 'boolean' ? value : toLoggable(value, withStacks, new WeakSet());
  }
  return out;
}

// Turns a field value into something JSON.stringify renders faithfully: errors become their useful parts,
// bigints become strings, and cycles are cut instead of throwing inside a log call.
function toLoggable(value: unknown, withStacks: boolean, seen: WeakSet<object>): unknown {
  if (typeof value === 'bigint') {
    return value.toString();
  }
  if (value instanceof Error) {
    return serializeError(value, withStacks);
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  }
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? String(value) : value;
  }
  if (seen.has(value)) {
    return '[Circular]';
  }
  seen.add(value);
  if (Array.isArray(value)) {
    return value.map((item) => toLoggable(item, withStacks, seen));
  }
  if (value instanceof Map || value instanceof Set) {
    return toLoggable([...value], withStacks, seen);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = toLoggable(item, withStacks, seen);
  }
  return out;
}

export interface SerializedError {
  message: string;
  name?: string;
  /** HTTP status of a failed API call, when the error carries one. */
  status?: number;
  /** Kubernetes Status `reason` (NotFound, Conflict, ...), when the API server returned one. */
  reason?: string;
  stack?: string;
  cause?: SerializedError;
}

/**
 * The parts of an error an operator needs to read: message, HTTP status and Kubernetes reason. The API
 * client's own message embeds the whole response body and headers, so a Kubernetes Status message is
 * preferred when one is available. Stacks only appear at debug level.
 */
export function serializeError(err: Error, withStack = false, depth = 0): SerializedError {
  const out: SerializedError = { message: err.message };
  if (err.name && err.name !== 'Error') {
    out.name = err.name;
  }
  const record = err as unknown as Record<string, unknown>;
  const status = [record['code'], record['statusCode'], record['status']].find(
    (v): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 100 && v < 600,
  );
  if (status !== undefined) {
    out.status = status;
    const body = kubeStatusBody(record['body']);
    if (body?.message) {
      out.message = body.message;
    } else {
      // "HTTP-Code: 500\nMessage: ...\nBody: ...\nHeaders: ..." — keep the first lines, not the headers.
      out.message = err.message.split('\nBody:')[0]?.replace(/\n/g, ' ') ?? err.message;
    }
    if (body?.reason) {
      out.reason = body.reason;
    }
  }
  if (withStack && err.stack) {
    // Frames only: the stack's first line repeats the message, which for API errors embeds the whole
    // response body and headers.
    out.stack = err.stack
      .split('\n')
      .filter((line) => /^\s+at /.test(line))
      .map((line) => line.trim())
      .join('\n');
  }
  if (err.cause instanceof Error && depth < 3) {
    out.cause = serializeError(err.cause, withStack, depth + 1);
  }
  return out;
}

function kubeStatusBody(body: unknown): { message?: string; reason?: string } | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (parsed === null || typeof parsed !== 'object') {
    return undefined;
  }
  const { message, reason } = parsed as Record<string, unknown>;
  return {
    ...(typeof message === 'string' && message !== '' ? { message } : {}),
    ...(typeof reason === 'string' && reason !== '' ? { reason } : {}),
  };
}
