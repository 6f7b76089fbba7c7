// Runs the operator as it runs in a cluster: with the ServiceAccount and RBAC that config/rbac ships, not
// the suite's admin credentials, so a verb missing from the manifests shows up as a 403 in a test.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot } from './controlplane/binaries.js';
import { cluster } from './integration-hooks.js';
import { eventually, kubectl, kubectlOk } from './kubectl.js';

export const OPERATOR_NAMESPACE = 'immutability-system';
export const OPERATOR_SERVICE_ACCOUNT = 'immutability-operator';
/** The user name the API server gives the operator's tokens, for `kubectl auth can-i --as`. */
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
export const RBAC_DIR = path.join(repoRoot(), 'config', 'rbac');

interface AdminKubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string } }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string } }[];
}

/** Set when this module created the namespace, so that cleanup removes only what it added. */
let createdNamespace = false;

/** Applies config/rbac (kustomize) into a fresh or existing `immutability-system` namespace. Idempotent. */
export async function installOperatorRbac(): Promise<void> {
  const exists = await kubectl(['get', 'namespace', OPERATOR_NAMESPACE]);
  if (exists.code !== 0) {
    await kubectlOk(['create', 'namespace', OPERATOR_NAMESPACE]);
    createdNamespace = true;
  }
  await kubectlOk(['apply', '-k', RBAC_DIR]);
  // The RBAC authorizer learns bindings from a watch: wait until it has, or the first requests race it.
  await eventually('the ServiceAccount bound to its ClusterRole and Role', async () => {
    const clusterWide = await kubectl(['auth', 'can-i', 'watch', 'pods', '--all-namespaces', `--as=${OPERATOR_USER}`]);
    const lease = await kubectl(['auth', 'can-i', 'get', 'leases', '-n', OPERATOR_NAMESPACE, `--as=${OPERATOR_USER}`]);
    return clusterWide.stdout.trim() === 'yes' && lease.stdout.trim() === 'yes' ? true : undefined;
  }, 15_000);
}

/**
 * Installs the shipped RBAC, mints a one-hour token for the operator's ServiceAccount and writes a
 * kubeconfig that presents it (server and CA taken from the admin kubeconfig). Returns the file's path.
 * The file lives in the control plane's temporary directory, which goes away with the cluster; the token
 * expires long after any test run and works only against this cluster.
 */
export async function serviceAccountKubeconfig(): Promise<string> {
  const { info } = cluster();
  await installOperatorRbac();
  const token = (await kubectlOk(['create', 'token', OPERATOR_SERVICE_ACCOUNT, '-n', OPERATOR_NAMESPACE, '--duration=1h'])).trim();
  if (!token) throw new Error('kubectl create token printed no token');

  const admin = parse(await readFile(info.kubeconfig, 'utf8')) as AdminKubeconfig;
  const contextName = admin['current-context'];
  const clusterName = admin.contexts?.find((c) => c.name === contextName)?.context.cluster;
  const adminCluster = admin.clusters?.find((c) => c.name === clusterName)?.cluster;
  if (!adminCluster?.server || !adminCluster['certificate-authority-data']) {
    throw new Error(`${info.kubeconfig}: no server and CA data for context ${String(contextName)}`);
  }
  const name = 'immutability-local';
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: adminCluster.server, 'certificate-authority-data': adminCluster['certificate-authority-data'] } }],
    users: [{ name: OPERATOR_SERVICE_ACCOUNT, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: OPERATOR_SERVICE_ACCOUNT } }],
    'current-context': name,
  };
  const file = path.join(info.workDir, `${OPERATOR_SERVICE_ACCOUNT}.kubeconfig`);
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}

/** Removes what installOperatorRbac added: the RBAC objects, and the namespace if it created it. */
export async function uninstallOperatorRbac(): Promise<void> {
  await kubectl(['delete', '-k', RBAC_DIR, '--ignore-not-found', '--wait=false']);
  if (createdNamespace) await kubectl(['delete', 'namespace', OPERATOR_NAMESPACE, '--ignore-not-found', '--wait=false']);
  createdNamespace = false;
}
