// The operator's one HTTP path to the API server. A kubeconfig (`./kubeconfig.ts`) supplies the server, TLS
// material and credentials (refreshed per request, so rotating service-account tokens and exec plugins keep working);
// requests share one keep-alive agent, because a TLS handshake per label write would dominate at 100 pods/s.
// Watches get their own agent: each holds its connection for minutes, and must never take a slot of the
// bounded pool that requests share (nor wait for one). Leader election has its own too: a Lease renewal that
// waited behind a backlog of label writes for a free connection would cost the leader its lease exactly when it
// has the most work (client-go's components likewise give leader election a client of its own).
import { Agent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { request as httpRequest, Agent as HttpAgent, type ClientRequest, type IncomingMessage } from 'node:http';
import { packageInfo } from '../cli/package-info.js';
import type { HttpsOptions, KubeCredentials } from './kubeconfig.js';
import { abortError } from '../runtime/abort.js';
import { statusErrorFromBody } from './errors.js';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** The Accept header; default application/json. */
  accept?: string;
  signal?: AbortSignal;
  /** Whole-request timeout; streams pass 0 and rely on their own inactivity timeout. */
  timeoutMs?: number;
  /**
   * Which connections carry it: `work` (default) shares the bounded pool of `maxRequestsInFlight`;
   * `leaderElection` has a keep-alive connection of its own that no backlog of work can hold up.
   */
  lane?: 'work' | 'leaderElection';
}

export const ContentTypes = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** Answers a client can ask for in `accept`. */
export const AcceptTypes = {
  json: 'application/json',
  /**
   * An object's metadata only (meta.k8s.io/v1 PartialObjectMetadata): kube-apiserver converts the answer of any
   * verb, PATCH included, and still answers failures with a JSON Status (checked on v1.36).
   */
  objectMetadata: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
  /** A LIST's items as metadata only (PartialObjectMetadataList): no specs, no statuses. */
  listMetadata: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
} as const;

const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * How long one reading of the kubeconfig's credentials serves requests. client-node re-reads files (CA, token,
 * client certificate) and builds an agent on every call — a good part of a request's CPU in a burst of
 * thousands. Rotated credentials are picked up within this bound (client-go re-reads a token file once a
 * minute), and at once after a 401.
 */
const CREDENTIALS_REUSE_MS = 5_000;
/** Requests in flight at once (besides watches) unless told otherwise: the `--max-requests-in-flight` default. */
export const DEFAULT_MAX_REQUESTS_IN_FLIGHT = 64;

export interface KubeHttpOptions {
  /**
   * Requests in flight at once, besides watches; more wait for a free connection. The client's only bound
   * on its rate: kube-apiserver's API Priority and Fairness shares the server between clients and answers
   * 429 when the operator's share is full, which the workers back off from.
   */
  maxRequestsInFlight?: number;
  /**
   * The User-Agent of every request; default `immutability-operator/<version>`. kube-apiserver's audit log
   * records it, so that an administrator (or the idle benchmark) can tell the operator's requests apart.
   */
  userAgent?: string;
}

/** The operator's User-Agent, as client-go's `<binary>/<version> (<os>/<arch>)`. */
export function operatorUserAgent(): string {
  return `immutability-operator/${packageInfo().version} (${process.platform}/${process.arch}) node/${process.versions.node}`;
}

/**
 * An https.Agent for one API server with one TLS configuration, pooling connections by host and port. Node's
 * own pool key spells out the CA, client certificate and key: kilobytes of PEM turned from Buffers into a
 * string and hashed on every request, 40-60 us of each label write's CPU. Nothing else in that key can differ
 * within one of our agents.
 */
export class ApiServerAgent extends Agent {
  override getName(options?: HttpsRequestOptions): string {
    return HttpAgent.prototype.getName.call(this, options);
  }
}

export class KubeHttp {
  private agents?: Record<'requests' | 'streams' | 'leaderElection', Agent | HttpAgent>;
  private readonly server: URL;
  private credentials?: { headers: Record<string, string>; until: number };
  private readonly maxRequestsInFlight: number;
  private readonly userAgent: string;

  /** Where requests go: the server's protocol, host and port (the path is the request's). */
  private readonly endpoint: { protocol: string; hostname: string; port: string };
  /** The server URL's own path (an API server behind a path-routing proxy), without its trailing slash. */
  private readonly basePath: string;
  private readonly doRequest: typeof httpRequest;
  /** Requests in flight by the signal that cancels them (see `cancelOn`). */
  private readonly inFlight = new WeakMap<AbortSignal, Set<ClientRequest>>();

  constructor(private readonly kc: KubeCredentials, opts: KubeHttpOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    // As URL.hostname, but an IPv6 literal without its brackets, as http.request's `hostname` expects it.
    this.endpoint = { protocol: this.server.protocol, hostname: this.server.hostname.replace(/^\[(.*)\]$/, '$1'), port: this.server.port };
    this.basePath = this.server.pathname.replace(/\/$/, '');
    this.doRequest = this.server.protocol === 'https:' ? httpsRequest : httpRequest;
    this.maxRequestsInFlight = opts.maxRequestsInFlight ?? DEFAULT_MAX_REQUESTS_IN_FLIGHT;
    this.userAgent = opts.userAgent ?? operatorUserAgent();
  }

  /** A JSON request; resolves with the parsed body, rejects with KubeApiError for non-2xx answers. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await readBody(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw statusErrorFromBody(status, res.statusMessage ?? '', text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * A write whose answer the caller does not read (label applies, status writes, evictions): the body of a
   * success is drained unread. The API server echoes the whole object; parsing thousands of them during an
   * initial sync only feeds the garbage collector.
   */
  async write(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    const res = await this.send(method, path, opts);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw statusErrorFromBody(status, res.statusMessage ?? '', await readBody(res));
    await new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
  }

  /** A streaming GET (watch); the caller consumes and destroys the response. */
  async stream(path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.send('GET', path, { ...opts, timeoutMs: 0 }, true);
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      const text = await readBody(res);
      throw statusErrorFromBody(status, res.statusMessage ?? '', text);
    }
    // Readers of the stream must see an AbortError, not a bare "aborted" socket error, when we cancel it.
    const signal = opts.signal;
    if (signal) {
      const onAbort = (): void => void res.destroy(abortError(signal));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      res.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return res;
  }

  private async send(method: string, path: string, opts: RequestOptions, streaming = false): Promise<IncomingMessage> {
    // A fresh reading of the credentials is the rule; only its expiry (every CREDENTIALS_REUSE_MS) waits.
    const agents = this.agents;
    const credentials = this.credentials;
    const current = agents && credentials && Date.now() < credentials.until ? { agents, headers: credentials.headers } : await this.connection();
    const agent = streaming ? current.agents.streams : opts.lane === 'leaderElection' ? current.agents.leaderElection : current.agents.requests;
    const payload = opts.body === undefined ? undefined
      : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    // Object.assign, not a spread: V8 spreads this small object of dashed keys ~30 times slower (2.4 us here).
    const headers: Record<string, string> = Object.assign({}, current.headers);
    headers.accept = opts.accept ?? AcceptTypes.json;
    headers['user-agent'] = this.userAgent;
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? ContentTypes.json;
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    // The request line from strings, not a URL object and its searchParams per request: a label write's path
    // and query are a few constant parts.
    const options = { ...this.endpoint, method, path: this.basePath + path + queryString(opts.query), headers, agent };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.doRequest(options, (res) => {
        if (res.statusCode === 401) this.credentials = undefined; // rotated or expired: read them again
        resolve(res);
      });
      const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      }
      req.on('error', reject);
      if (opts.signal) this.cancelOn(opts.signal, req);
      req.end(payload);
    });
  }

  /**
   * Destroys `req` (answer included) with an AbortError when `signal` aborts. One listener per signal for all
   * its requests, not one each: the workers pass the leadership term's signal to every write, and http.request's
   * own `signal` option added and removed an abort listener (and an end-of-stream watcher) per request, 2 % of
   * the operator's CPU in a backlog of label writes (profile of owned-20000).
   */
  private cancelOn(signal: AbortSignal, req: ClientRequest): void {
    if (signal.aborted) {
      req.destroy(abortError(signal));
      return;
    }
    let requests = this.inFlight.get(signal);
    if (requests === undefined) {
      const live = new Set<ClientRequest>();
      requests = live;
      this.inFlight.set(signal, live);
      signal.addEventListener('abort', () => {
        this.inFlight.delete(signal);
        for (const r of live) r.destroy(abortError(signal));
        live.clear();
      }, { once: true });
    }
    const live = requests;
    live.add(req);
    req.once('close', () => live.delete(req));
  }

  private async connection(): Promise<{ headers: Record<string, string>; agents: NonNullable<KubeHttp['agents']> }> {
    const now = Date.now();
    const opts: HttpsOptions = { headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    if (!this.agents) {
      const agent = (maxSockets: number): Agent | HttpAgent => this.server.protocol === 'https:'
        ? new ApiServerAgent({ keepAlive: true, maxSockets, ca: opts.ca, cert: opts.cert, key: opts.key,
          rejectUnauthorized: opts.rejectUnauthorized, servername: opts.servername })
        : new HttpAgent({ keepAlive: true, maxSockets });
      this.agents = { requests: agent(this.maxRequestsInFlight), streams: agent(Infinity), leaderElection: agent(Infinity) };
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = String(v);
    // client-node's KubeConfig puts basic auth here rather than in a header.
    if (opts.auth && !headers.authorization) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.credentials = { headers, until: now + CREDENTIALS_REUSE_MS };
    return { headers, agents: this.agents };
  }

  close(): void {
    for (const agent of Object.values(this.agents ?? {})) agent.destroy();
  }
}

/**
 * `?k=v&...` of the parameters that are set, each part percent-encoded (as encodeURIComponent: a space is %20,
 * which the API server decodes as URLSearchParams' `+`); empty when none is.
 */
export function queryString(query: RequestOptions['query']): string {
  let out = '';
  if (query) {
    for (const k in query) {
      const v = query[k];
      if (v !== undefined) out += `${out ? '&' : '?'}${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`;
    }
  }
  return out;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (data += c));
    res.on('end', () => resolve(data));
    res.on('error', reject);
  });
}

