// TLS material and a client for the operator's POST /falco endpoint, as a Falco or Falcosidekick deployment
// would have them: a CA the operator trusts for client certificates (Falco http_output with mtls), a serving
// certificate for 127.0.0.1, a client certificate, and a bearer token file (Falcosidekick customHeaders).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate } from './controlplane/certs.js';

export interface FalcoEndpointFiles {
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  tokenFile: string;
}

export async function prepareFalcoEndpoint(dir: string, tokenFile = path.join(dir, 'token')): Promise<FalcoEndpointFiles> {
  await mkdir(dir, { recursive: true });
  const ca = await createCertificateAuthority(dir, 'ca', 'immutability-falco-ca');
  const server = await issueCertificate(dir, ca, 'server', '/CN=immutability-operator-falco', { sans: ['IP:127.0.0.1', 'DNS:localhost'] });
  const client = await issueCertificate(dir, ca, 'falco-client', '/CN=falco');
  await writeFile(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return { caFile: ca.cert, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key, tokenFile };
}

/** The operator's flags serving /falco on `port` with these files (both mTLS and the token). */
export function falcoFlags(files: FalcoEndpointFiles, port: number): string[] {
  return ['--falco-bind-address', `127.0.0.1:${port}`, '--falco-cert-file', files.serverCert, '--falco-key-file', files.serverKey,
    '--falco-client-ca-file', files.caFile, '--falco-token-file', files.tokenFile];
}

export interface FalcoClient {
  /**
   * POSTs `body`. With `declaredLength`, announces that many bytes but sends only `body` and waits for the
   * answer, as a large upload does when the server refuses it early (a refused sender never gets to write
   * the rest: the connection closes).
   */
  post(body: string | Buffer, opts?: {
    /** 'cert' is the client certificate the operator trusts; `{ cert, key }` any other one. */
    auth?: 'token' | 'cert' | 'none' | { token: string } | { cert: Buffer; key: Buffer };
    type?: string; declaredLength?: number; headers?: Record<string, string>;
  }): Promise<{ status: number; message?: string }>;
  close(): void;
}

/** A keep-alive HTTPS client for /falco, authenticating as told (default: the token). */
export async function falcoClient(files: FalcoEndpointFiles, port: number, opts: { maxSockets?: number } = {}): Promise<FalcoClient> {
  const [ca, cert, key, token] = await Promise.all([
    readFile(files.caFile), readFile(files.clientCert), readFile(files.clientKey), readFile(files.tokenFile, 'utf8'),
  ]);
  const agents = {
    plain: new https.Agent({ ca, keepAlive: true, maxSockets: opts.maxSockets ?? 8 }),
    cert: new https.Agent({ ca, cert, key, keepAlive: true, maxSockets: opts.maxSockets ?? 8 }),
  };
  return {
    close() {
      agents.plain.destroy();
      agents.cert.destroy();
    },
    post(body, o = {}) {
      const auth = o.auth ?? 'token';
      const headers: Record<string, string> = { 'Content-Type': o.type ?? 'application/json', ...o.headers };
      if (auth === 'token') headers.Authorization = `Bearer ${token.trim()}`;
      else if (typeof auth === 'object' && 'token' in auth) headers.Authorization = `Bearer ${auth.token}`;
      if (o.declaredLength !== undefined) headers['Content-Length'] = String(o.declaredLength);
      const agent = auth === 'cert' ? agents.cert
        : typeof auth === 'object' && 'cert' in auth ? new https.Agent({ ca, cert: auth.cert, key: auth.key }) : agents.plain;
      return new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, path: '/falco', method: 'POST', headers, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let message: string | undefined;
            try {
              message = (JSON.parse(text) as { message?: string }).message;
            } catch {
              message = undefined;
            }
            resolve({ status: res.statusCode ?? 0, ...(message ? { message } : {}) });
          });
        });
        req.on('error', reject);
        if (o.declaredLength === undefined) req.end(body);
        else req.write(body);
      });
    },
  };
}
