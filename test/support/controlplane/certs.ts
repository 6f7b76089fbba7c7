// Certificates for the local control plane, made with the openssl CLI: one CA signs the API server's
// serving certificate and every client certificate (admin, controller-manager, scheduler, kwok, and the
// audit webhook's client), so a single CA file is all a client needs to trust the cluster.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

const run = promisify(execFile);

export interface CertPair {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  ca: CertPair;
  apiServer: CertPair;
  admin: CertPair;
  controllerManager: CertPair;
  scheduler: CertPair;
  kwok: CertPair;
  /** Key pair that signs and verifies service-account tokens. */
  serviceAccount: { publicKey: string; privateKey: string };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`);
  }
}

/** Issues a certificate for `subject` signed by the CA in `dir`. `sans` makes it a serving certificate. */
export async function issueCertificate(
  dir: string,
  ca: CertPair,
  name: string,
  subject: string,
  opts: { sans?: string[]; days?: number } = {},
): Promise<CertPair> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  const usage = opts.sans ? 'serverAuth,clientAuth' : 'clientAuth';
  const lines = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${usage}`];
  if (opts.sans) lines.push(`subjectAltName=${opts.sans.join(',')}`);
  await writeFile(ext, lines.join('\n') + '\n');
  await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subject], dir);
  await openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert,
      '-days', String(opts.days ?? 365), '-sha256', '-extfile', ext],
    dir,
  );
  return { cert, key };
}

export async function createCertificateAuthority(dir: string, name: string, commonName: string): Promise<CertPair> {
  const ca = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-days', '365',
      '-subj', `/CN=${commonName}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );
  return ca;
}

export async function createClusterPki(dir: string): Promise<ClusterPki> {
  const ca = await createCertificateAuthority(dir, 'ca', 'immutability-local-ca');
  const apiServer = await issueCertificate(dir, ca, 'apiserver', '/CN=kube-apiserver', {
    sans: ['IP:127.0.0.1', 'DNS:localhost', 'IP:10.0.0.1', 'DNS:kubernetes', 'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'],
  });
  // Group system:masters makes the admin a cluster-admin without any RBAC objects.
  const admin = await issueCertificate(dir, ca, 'admin', '/O=system:masters/CN=local-admin');
  // The controller-manager acts with one identity for all its controllers (no per-controller service-account
  // credentials, which would add token plumbing to every start); system:masters gives it their rights.
  const controllerManager = await issueCertificate(dir, ca, 'controller-manager', '/O=system:masters/CN=system:kube-controller-manager');
  const scheduler = await issueCertificate(dir, ca, 'scheduler', '/CN=system:kube-scheduler');
  const kwok = await issueCertificate(dir, ca, 'kwok', '/O=system:masters/CN=kwok');
  const privateKey = path.join(dir, 'sa.key');
  const publicKey = path.join(dir, 'sa.pub');
  await openssl(['genrsa', '-out', privateKey, '2048'], dir);
  await openssl(['rsa', '-in', privateKey, '-pubout', '-out', publicKey], dir);
  return { dir, ca, apiServer, admin, controllerManager, scheduler, kwok, serviceAccount: { publicKey, privateKey } };
}
