// Shared set-up steps for integration specs, each idempotent so specs can run alone or together.
import path from 'node:path';
import { repoRoot } from './controlplane/binaries.js';
import { eventually, kubectlOk } from './kubectl.js';

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
