import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { inClusterCredentials, kubeconfigFileCredentials, loadKubeCredentials, type HttpsOptions } from '../../../src/k8s/kubeconfig.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'work',
    clusters: [{ name: 'other', cluster: { server: 'https://other:6443' } }, { name: 'c', cluster: { server: 'https://api.example:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'home', context: { cluster: 'other', user: 'u' } }, { name: 'work', context: { cluster: 'c', user: 'u' } }],
  });
}

async function applied(creds: { applyToHTTPSOptions(o: HttpsOptions): Promise<void> }): Promise<HttpsOptions> {
  const opts: HttpsOptions = { headers: {} };
  await creds.applyToHTTPSOptions(opts);
  return opts;
}

describe('kubeconfig credentials (without client-node\'s generated API)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'kubeconfig-test-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads the current context\'s server, CA, client certificate and key as client-node does', async () => {
    write('ca.crt', 'CA-PEM');
    const file = write('config', kubeconfig({ 'client-certificate-data': b64('CERT'), 'client-key': 'key.pem' },
      { 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes' }));
    write('key.pem', 'KEY-PEM');
    const ours = kubeconfigFileCredentials(file)!;
    expect(ours.getCurrentCluster()?.server).to.equal('https://api.example:6443');
    const opts = await applied(ours);
    expect(String(opts.ca)).to.equal('CA-PEM'); // relative to the kubeconfig's directory
    expect(String(opts.cert)).to.equal('CERT');
    expect(String(opts.key)).to.equal('KEY-PEM');
    expect(opts.servername).to.equal('kubernetes');

    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const theirs: HttpsOptions = { headers: {} };
    await kc.applyToHTTPSOptions(theirs);
    expect({ ca: String(theirs.ca), cert: String(theirs.cert), key: String(theirs.key), servername: theirs.servername })
      .to.deep.equal({ ca: String(opts.ca), cert: String(opts.cert), key: String(opts.key), servername: opts.servername });
  });

  it('sends a token, or basic auth, and skips TLS verification only when told', async () => {
    const token = await applied(kubeconfigFileCredentials(write('t', kubeconfig({ token: 'abc' }, { 'insecure-skip-tls-verify': true })))!);
    expect(token.headers?.['Authorization']).to.equal('Bearer abc');
    expect(token.rejectUnauthorized).to.equal(false);
    const basic = await applied(kubeconfigFileCredentials(write('b', kubeconfig({ username: 'ann', password: 'pw' })))!);
    expect(basic.headers?.['Authorization']).to.equal(`Basic ${b64('ann:pw')}`);
    expect(basic.rejectUnauthorized).to.equal(undefined);
  });

  it('leaves exec plugins, auth providers and proxies to client-node, which it then loads', async () => {
    const exec = write('e', kubeconfig({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } }));
    expect(kubeconfigFileCredentials(exec)).to.equal(undefined);
    expect(kubeconfigFileCredentials(write('p', kubeconfig({ token: 'x' }, { 'proxy-url': 'http://proxy:3128' })))).to.equal(undefined);
    expect(await loadKubeCredentials(exec, {})).to.be.instanceOf(KubeConfig);
  });

  it('says which context or cluster is missing', () => {
    const file = write('bad', JSON.stringify({ 'current-context': 'nope', contexts: [], clusters: [], users: [] }));
    expect(() => kubeconfigFileCredentials(file)).to.throw(/no current context "nope"/);
  });

  it('finds $KUBECONFIG first, then ~/.kube/config, then the in-cluster service account', async () => {
    const env = { KUBECONFIG: write('k', kubeconfig({ token: 'from-env' })), HOME: dir };
    expect((await applied(await loadKubeCredentials(undefined, env))).headers?.['Authorization']).to.equal('Bearer from-env');
    mkdirSync(path.join(dir, '.kube'));
    write('.kube/config', kubeconfig({ token: 'from-home' }));
    expect((await applied(await loadKubeCredentials(undefined, { HOME: dir }))).headers?.['Authorization']).to.equal('Bearer from-home');
  });

  it('in a pod: the service account\'s CA, and its token read again on every call (the kubelet rotates it)', async () => {
    write('ca.crt', 'SA-CA');
    const tokenFile = write('token', 'one\n');
    const creds = inClusterCredentials({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir)!;
    expect(creds.getCurrentCluster()?.server).to.equal('https://[fd00::1]:443');
    expect((await applied(creds)).headers?.['Authorization']).to.equal('Bearer one');
    writeFileSync(tokenFile, 'two');
    const opts = await applied(creds);
    expect(opts.headers?.['Authorization']).to.equal('Bearer two');
    expect(String(opts.ca)).to.equal('SA-CA');
    expect(inClusterCredentials({}, dir)).to.equal(undefined);
  });
});
