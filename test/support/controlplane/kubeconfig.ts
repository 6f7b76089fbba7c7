// Kubeconfig files for the local control plane's clients. Certificates are embedded as data so a
// kubeconfig copied out of the temporary directory keeps working while the cluster runs.
import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { CertPair } from './certs.js';

export async function writeKubeconfig(
  file: string,
  opts: { server: string; caFile: string; client: CertPair; user: string; cluster?: string },
): Promise<void> {
  const cluster = opts.cluster ?? 'immutability-local';
  const b64 = async (f: string): Promise<string> => (await readFile(f)).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: opts.server, 'certificate-authority-data': await b64(opts.caFile) } }],
    users: [{
      name: opts.user,
      user: { 'client-certificate-data': await b64(opts.client.cert), 'client-key-data': await b64(opts.client.key) },
    }],
    contexts: [{ name: cluster, context: { cluster, user: opts.user } }],
    'current-context': cluster,
  };
  await writeFile(file, stringify(config), { mode: 0o600 });
}
