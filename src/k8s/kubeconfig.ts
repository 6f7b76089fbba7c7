// Where the operator's API server and credentials come from, without loading client-node's generated API.
//
// Importing client-node's `KubeConfig` loads its whole generated client (config.js imports gen/index.js): on
// Node 20 that is 53 MiB of RSS (25 MiB of live heap, 12 MiB of module source kept for lazy compilation) —
// half of the operator's footprint on an empty cluster, and a quarter of its 200 MiB budget at 50k pods. The
// operator needs none of it: it speaks plain HTTP (`./http.ts`). So the common cases — the in-cluster service
// account, and a kubeconfig file with certificates, a token, a token file or basic auth — are read here, with
// client-node's own parser of kubeconfig entries (`config_types.js`, which loads nothing else). Anything that
// needs client-node's machinery (exec plugins, auth providers, proxies, several files in $KUBECONFIG, no
// kubeconfig at all) loads the full `KubeConfig` on demand and delegates to it, so nothing a user's
// kubeconfig says is lost.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { load } from 'js-yaml';
import { newClusters, newContexts, newUsers, type Cluster, type User } from '@kubernetes/client-node/dist/config_types.js';

/** TLS material and headers of a request, as `https.request` and `https.Agent` take them. */
export interface HttpsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer | Array<string | Buffer>;
  key?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers?: Record<string, string | string[] | number | undefined>;
  /** Basic auth (`user:password`), as client-node sets it. */
  auth?: string | null;
}

/**
 * What the operator's HTTP client needs of a kubeconfig: the server, and the credentials of a request, read
 * afresh on each call (rotated tokens, exec plugins). client-node's `KubeConfig` has this shape too.
 */
export interface KubeCredentials {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: HttpsOptions): Promise<void>;
}

/** The service account's files in a pod (client-go's rest.InClusterConfig). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A cluster and user of a kubeconfig, or of the in-cluster service account. */
class FileCredentials implements KubeCredentials {
  constructor(private readonly cluster: Cluster, private readonly user: User, private readonly tokenFile?: string) {}

  getCurrentCluster(): { server: string } {
    return this.cluster;
  }

  applyToHTTPSOptions(opts: HttpsOptions): Promise<void> {
    const { cluster, user } = this;
    if (cluster.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = fileOrData(cluster.caFile, cluster.caData);
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    const headers = (opts.headers ??= {});
    if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
    // Read on every call: the kubelet rotates a projected service-account token (the caller reuses credentials
    // for seconds, not for the token's lifetime).
    const token = this.tokenFile ? readFileSync(this.tokenFile, 'utf8').trim() : user.token;
    if (token) headers['Authorization'] = `Bearer ${token}`;
    else if (user.username) headers['Authorization'] = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    return Promise.resolve();
  }
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFileSync(file);
  return undefined;
}

/** The in-cluster service account, when the process runs in a pod; undefined elsewhere. */
export function inClusterCredentials(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeCredentials | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  const tokenFile = path.join(dir, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https'; // as client-node decides
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return new FileCredentials({ name: 'inCluster', server, caFile: path.join(dir, 'ca.crt'), skipTLSVerify: false },
    { name: 'inClusterUser' }, tokenFile);
}

/**
 * The current context of one kubeconfig file, or undefined when it needs client-node's machinery (an exec
 * plugin, an auth provider, a proxy). Relative file paths are relative to the kubeconfig, as kubectl reads them.
 */
export function kubeconfigFileCredentials(file: string): KubeCredentials | undefined {
  const doc = (load(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const contexts = newContexts(doc['contexts']);
  const currentName = typeof doc['current-context'] === 'string' ? doc['current-context'] : '';
  const current = contexts.find((c) => c.name === currentName);
  if (!current) throw new Error(`kubeconfig ${file}: no current context "${currentName}"`);
  const cluster = newClusters(doc['clusters']).find((c) => c.name === current.cluster);
  if (!cluster) throw new Error(`kubeconfig ${file}: context "${current.name}" names cluster "${current.cluster}", which it does not define`);
  const user = newUsers(doc['users']).find((u) => u.name === current.user) ?? { name: current.user };
  if (user.exec || user.authProvider || cluster.proxyUrl) return undefined;
  const dir = path.dirname(path.resolve(file));
  const absolute = (f: string | undefined): string | undefined => (f ? path.resolve(dir, f) : undefined);
  return new FileCredentials({ ...cluster, caFile: absolute(cluster.caFile) },
    { ...user, certFile: absolute(user.certFile), keyFile: absolute(user.keyFile) });
}

/** client-node's full `KubeConfig`, loaded only when the kubeconfig needs it. */
async function clientNodeCredentials(file: string | undefined): Promise<KubeCredentials> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/**
 * The credentials of `file`, or where client-node's `loadFromDefault` finds them: $KUBECONFIG, then
 * ~/.kube/config, then the in-cluster service account.
 */
export async function loadKubeCredentials(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<KubeCredentials> {
  const candidates = file ? [file] : env['KUBECONFIG'] ? env['KUBECONFIG'].split(path.delimiter).filter(Boolean) : [];
  if (candidates.length === 0) {
    const home = path.join(env['HOME'] || homedir(), '.kube', 'config');
    if (existsSync(home)) candidates.push(home);
  }
  if (candidates.length === 1) return kubeconfigFileCredentials(candidates[0]!) ?? clientNodeCredentials(file ?? candidates[0]);
  if (candidates.length === 0 && process.platform !== 'win32') {
    const inCluster = inClusterCredentials(env);
    if (inCluster) return inCluster;
  }
  return clientNodeCredentials(file); // several files to merge, or nothing found: client-node's own defaults
}
