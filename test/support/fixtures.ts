// Shared set-up steps for integration specs, each idempotent so specs can run alone or together.
import path from 'node:path';
import { repoRoot } from './controlplane/binaries.js';
import { kubectlOk } from './kubectl.js';

export const CRD_FILE = path.join(repoRoot(), 'crds', 'immutability.dev_immutabilitypolicies.yaml');

export async function installCrd(): Promise<void> {
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', CRD_FILE]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/immutabilitypolicies.immutability.dev']);
}
