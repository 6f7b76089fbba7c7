// Shared set-up steps for integration specs, each idempotent so specs can run alone or together.
import path from 'node:path';
import { repoRoot } from './controlplane/binaries.js';
import { eventually, kubectl, kubectlOk } from './kubectl.js';
import { cluster } from './integration-hooks.js';
import { KubeApi } from '../../src/k8s/api.js';
import { StatusError } from '../../src/k8s/errors.js';
import { KubeHttp } from '../../src/k8s/http.js';
import { loadKubeCredentials } from '../../src/k8s/kubeconfig.js';

export const CRD_FILE = path.join(repoRoot(), 'crds', 'immutability.dev_immutabilitypolicies.yaml');

export async function installCrd(): Promise<void> {
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', CRD_FILE]);
  // `kubectl wait` fails outright when the CRD has no status yet, so poll the condition instead.
  await eventually('CRD Established', async () => {
    const out = await kubectlOk(['get', 'crd', 'immutabilitypolicies.immutability.dev', '-o',
      'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
    return out === 'True' ? true : undefined;
  }, 60_000);
}

/** The API server's refusal of `write`: its StatusError; throws if the write was accepted or failed otherwise. */
export async function refusal(write: Promise<unknown>): Promise<StatusError> {
  try {
    await write;
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  throw new Error('the write was accepted');
}

/** Creates `namespace` and a KubeApi with the suite's admin credentials, for specs that call the API directly. */
export async function adminApiIn(namespace: string): Promise<KubeApi> {
  await kubectl(['create', 'namespace', namespace]);
  return new KubeApi(new KubeHttp(await loadKubeCredentials(cluster().info.kubeconfig)));
}
