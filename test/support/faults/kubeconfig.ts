// Kubeconfigs that reach the API server another way: through a fault proxy, keeping the admin credentials.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { cluster } from '../integration-hooks.js';
import type { TcpProxy } from './tcp-proxy.js';

interface Kubeconfig {
  clusters?: { name: string; cluster: { server: string } }[];
}

/** A copy of `base` (default: the admin kubeconfig) whose server is the proxy. TLS still names 127.0.0.1. */
export async function proxiedKubeconfig(proxy: TcpProxy, base = cluster().info.kubeconfig): Promise<string> {
  const config = parse(await readFile(base, 'utf8')) as Kubeconfig;
  for (const c of config.clusters ?? []) c.cluster.server = proxy.url;
  const file = path.join(cluster().info.workDir, `proxied-${proxy.port}.kubeconfig`);
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}
