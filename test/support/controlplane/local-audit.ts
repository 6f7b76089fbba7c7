// Audit wiring for the local control plane: kube-apiserver's webhook backend posts audit events to the
// operator's loopback endpoint. The certificates are made before the cluster starts (the API server reads
// the webhook kubeconfig at start-up), under their own CA: the operator serves with `server.crt` and
// trusts API server clients signed by `ca.crt`.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate } from './certs.js';
import { writeAuditWebhookKubeconfig } from './controlplane.js';
import { repoRoot } from './binaries.js';

/** Where `make run` serves the audit webhook; fixed so the API server can be told before the operator runs. */
export const LOCAL_AUDIT_WEBHOOK_PORT = 9444;

export interface LocalAudit {
  apiServer: { policyFile: string; webhookConfigFile: string };
  dir: string;
}

export async function prepareLocalAudit(dir: string, port = LOCAL_AUDIT_WEBHOOK_PORT): Promise<LocalAudit> {
  await mkdir(dir, { recursive: true });
  const ca = await createCertificateAuthority(dir, 'ca', 'immutability-audit-ca');
  await issueCertificate(dir, ca, 'server', '/CN=immutability-operator-audit', { sans: ['IP:127.0.0.1', 'DNS:localhost'] });
  const client = await issueCertificate(dir, ca, 'apiserver-client', '/CN=kube-apiserver-audit');
  const webhookConfigFile = path.join(dir, 'webhook.kubeconfig');
  await writeAuditWebhookKubeconfig(webhookConfigFile, {
    url: `https://127.0.0.1:${port}/audit`,
    caFile: ca.cert,
    client,
  });
  return {
    dir,
    apiServer: { policyFile: path.join(repoRoot(), 'config', 'audit', 'policy.yaml'), webhookConfigFile },
  };
}
