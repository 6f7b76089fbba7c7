import { expect } from 'chai';
import { hostname } from 'node:os';
import { ConfigError, parseRunConfig, RUN_USAGE, type RunConfig } from '../../src/config.js';

const NO_ENV: NodeJS.ProcessEnv = {};

function configError(argv: string[], env: NodeJS.ProcessEnv = NO_ENV): ConfigError {
  try {
    parseRunConfig(argv, env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).name).to.equal('ConfigError');
    return err as ConfigError;
  }
  expect.fail(`expected a ConfigError for ${JSON.stringify(argv)}`);
}

const WEBHOOK_TLS = ['--audit-webhook-bind-address', ':9443', '--audit-tls-cert-file', '/c', '--audit-tls-key-file', '/k'];

describe('config parseRunConfig', () => {
  it('takes the Lease timing in seconds and refuses timings a leader could not keep', () => {
    const timing = parseRunConfig(['--leader-elect-lease-duration-seconds', '30', '--leader-elect-renew-deadline-seconds', '20',
      '--leader-elect-retry-period-seconds', '1'], NO_ENV).leaderElection;
    expect(timing).to.deep.equal({ leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 1_000 });
    expect(configError(['--leader-elect-renew-deadline-seconds', '15']).message).to.match(/lease-duration-seconds must be greater/);
    expect(configError(['--leader-elect-retry-period-seconds', '9']).message).to.match(/1\.2 × --leader-elect-retry-period-seconds/);
    expect(configError(['--leader-elect-retry-period-seconds', '0.5']).message).to.match(/positive integer/);
  });

  it('has documented defaults', () => {
    const config = parseRunConfig([], { POD_NAME: 'op-0' });
    const expected: RunConfig = {
      kubeconfig: undefined,
      metricsBindAddress: '127.0.0.1:8443',
      metricsAuth: 'kube',
      metricsCertFile: undefined,
      metricsKeyFile: undefined,
      healthProbeBindAddress: '127.0.0.1:8081',
      logLevel: 'info',
      logFormat: 'json',
      leaderElect: false,
      leaderElectionNamespace: 'immutability-system',
      leaderElectionId: 'immutability-operator',
      leaderElection: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
      identity: 'op-0',
      podWorkers: 64,
      maxRequestsInFlight: 64,
      workloadWorkers: 16,
      policyWorkers: 2,
      statusIntervalMs: 1000,
      watchTimeoutSeconds: 300,
      admissionResyncMs: 10_000,
      resyncPeriodMs: 600_000,
      reports: 'none',
      audit: {
        webhookBindAddress: undefined, tlsCertFile: undefined, tlsKeyFile: undefined, clientCaFile: undefined,
        tokenFile: undefined, maxBodyBytes: 4 * 1024 * 1024, logFile: undefined,
      },
      falco: { bindAddress: undefined, certFile: undefined, keyFile: undefined, clientCaFile: undefined, tokenFile: undefined, queueCapacity: 10_000 },
    };
    expect(config).to.deep.equal(expected);
  });

  it('reads every flag', () => {
    const config = parseRunConfig([
      '--kubeconfig', '/kc',
      '--metrics-bind-address', '0',
      '--metrics-auth', 'none',
      '--metrics-cert-file', '/mc', '--metrics-key-file', '/mk',
      '--health-probe-bind-address', ':8082',
      '--log-level', 'debug',
      '--log-format', 'text',
      '--leader-elect',
      '--leader-election-namespace', 'ops',
      '--leader-election-id', 'lease',
      '--workers', '3',
      '--max-requests-in-flight', '20',
      '--status-interval-ms', '250',
      '--watch-timeout-seconds', '30',
      '--workload-workers', '8',
      '--resync-period-seconds', '30',
      '--reports', 'openreports',
      '--audit-webhook-bind-address', ':9443',
      '--audit-tls-cert-file', '/ac', '--audit-tls-key-file', '/ak',
      '--audit-client-ca-file', '/ca',
      '--audit-token-file', '/tok',
      '--audit-max-body-bytes', '1024',
      '--audit-log-file', '/var/log/audit.log',
      '--falco-bind-address', ':9445',
      '--falco-cert-file', '/fc', '--falco-key-file', '/fk',
      '--falco-client-ca-file', '/fca',
      '--falco-token-file', '/ftok',
      '--falco-queue-size', '50',
    ], { POD_NAME: 'op-0', POD_NAMESPACE: 'ignored-because-flag-wins' });
    expect(config).to.deep.equal({
      kubeconfig: '/kc',
      ownPod: { namespace: 'ignored-because-flag-wins', name: 'op-0' },
      metricsBindAddress: '0',
      metricsAuth: 'none',
      metricsCertFile: '/mc',
      metricsKeyFile: '/mk',
      healthProbeBindAddress: ':8082',
      logLevel: 'debug',
      logFormat: 'text',
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      leaderElectionId: 'lease',
      leaderElection: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
      identity: 'op-0',
      podWorkers: 3,
      maxRequestsInFlight: 20,
      workloadWorkers: 8,
      policyWorkers: 2,
      statusIntervalMs: 250,
      watchTimeoutSeconds: 30,
      admissionResyncMs: 10_000,
      resyncPeriodMs: 30_000,
      reports: 'openreports',
      audit: {
        webhookBindAddress: ':9443', tlsCertFile: '/ac', tlsKeyFile: '/ak', clientCaFile: '/ca', tokenFile: '/tok',
        maxBodyBytes: 1024, logFile: '/var/log/audit.log',
      },
      falco: { bindAddress: ':9445', certFile: '/fc', keyFile: '/fk', clientCaFile: '/fca', tokenFile: '/ftok', queueCapacity: 50 },
    } satisfies RunConfig);
  });

  it('refuses an unknown --reports value, naming the choices', () => {
    expect(configError(['--reports', 'policyreports']).message).to.equal('--reports must be none or openreports; got "policyreports"');
  });

  it('accepts the --flag=value spelling', () => {
    const config = parseRunConfig(['--workers=5', '--log-level=warn'], NO_ENV);
    expect(config.podWorkers).to.equal(5);
    expect(config.logLevel).to.equal('warn');
  });

  it('lets the last occurrence of a repeated flag win', () => {
    expect(parseRunConfig(['--workers', '2', '--workers', '4'], NO_ENV).podWorkers).to.equal(4);
  });

  for (const level of ['error', 'warn', 'info', 'debug'] as const) {
    it(`accepts --log-level ${level}`, () => {
      expect(parseRunConfig(['--log-level', level], NO_ENV).logLevel).to.equal(level);
    });
  }

  describe('environment (downward API)', () => {
    it('takes the Lease namespace from POD_NAMESPACE when the flag is absent', () => {
      expect(parseRunConfig([], { POD_NAMESPACE: 'ops' }).leaderElectionNamespace).to.equal('ops');
    });
    it('prefers --leader-election-namespace over POD_NAMESPACE', () => {
      expect(parseRunConfig(['--leader-election-namespace', 'flag'], { POD_NAMESPACE: 'env' }).leaderElectionNamespace).to.equal('flag');
    });
    it('knows its own pod only when both POD_NAME and POD_NAMESPACE are set (and not empty)', () => {
      expect(parseRunConfig([], { POD_NAME: 'op-0', POD_NAMESPACE: 'ops' }).ownPod).to.deep.equal({ namespace: 'ops', name: 'op-0' });
      expect(parseRunConfig([], { POD_NAME: 'op-0' }).ownPod).to.equal(undefined);
      expect(parseRunConfig([], { POD_NAME: '', POD_NAMESPACE: 'ops' }).ownPod).to.equal(undefined);
    });
    it('ignores empty POD_NAME and POD_NAMESPACE', () => {
      const config = parseRunConfig([], { POD_NAME: '', POD_NAMESPACE: '' });
      expect(config.identity).to.match(/-\d+$/);
      expect(config.leaderElectionNamespace).to.equal('immutability-system');
    });
    it('takes the identity from POD_NAME', () => {
      expect(parseRunConfig([], { POD_NAME: 'immutability-operator-7d9-abcde' }).identity).to.equal('immutability-operator-7d9-abcde');
    });
    it('falls back to hostname-pid for the identity without POD_NAME', () => {
      expect(parseRunConfig([], NO_ENV).identity).to.equal(`${hostname()}-${process.pid}`);
    });
    it('reads only the env object it is given, not process.env', () => {
      const saved = process.env.POD_NAMESPACE;
      process.env.POD_NAMESPACE = 'from-process-env';
      try {
        expect(parseRunConfig([], NO_ENV).leaderElectionNamespace).to.equal('immutability-system');
      } finally {
        if (saved === undefined) delete process.env.POD_NAMESPACE;
        else process.env.POD_NAMESPACE = saved;
      }
    });
  });

  describe('the result is frozen', () => {
    it('rejects writes to top-level fields', () => {
      const config = parseRunConfig([], NO_ENV) as RunConfig;
      expect(Object.isFrozen(config)).to.equal(true);
      expect(() => { config.podWorkers = 99; }).to.throw(TypeError);
      expect(config.podWorkers).to.equal(64);
    });

    it('rejects writes to the nested audit settings', () => {
      const config = parseRunConfig([], NO_ENV);
      expect(Object.isFrozen(config.audit)).to.equal(true);
      expect(Object.isFrozen(config.falco)).to.equal(true);
    });
  });

  describe('errors', () => {
    const table: { name: string; argv: string[]; message: string; exact?: boolean }[] = [
      { name: 'an unknown flag', argv: ['--nope'], message: "Unknown option '--nope'" },
      { name: 'a positional argument', argv: ['extra'], message: "Unexpected argument 'extra'" },
      { name: 'a string flag without a value', argv: ['--workers'], message: "Option '--workers <value>' argument missing" },
      { name: 'a value for a boolean flag', argv: ['--leader-elect=false'], message: "Option '--leader-elect' does not take an argument" },
      { name: 'an unknown log level', argv: ['--log-level', 'trace'], message: '--log-level must be one of error, warn, info, debug; got "trace"', exact: true },
      { name: 'a log level in the wrong case', argv: ['--log-level', 'INFO'], message: '--log-level must be one of error, warn, info, debug; got "INFO"', exact: true },
      { name: 'an unknown log format', argv: ['--log-format', 'xml'], message: '--log-format must be json or text; got "xml"', exact: true },
      { name: 'an unknown metrics auth', argv: ['--metrics-auth', 'basic'], message: '--metrics-auth must be kube or none; got "basic"', exact: true },
      { name: 'a metrics cert without key', argv: ['--metrics-cert-file', '/c'], message: '--metrics-cert-file and --metrics-key-file go together', exact: true },
      { name: 'a metrics key without cert', argv: ['--metrics-key-file', '/k'], message: '--metrics-cert-file and --metrics-key-file go together', exact: true },
      { name: 'zero workers', argv: ['--workers', '0'], message: '--workers must be a positive integer, got "0"', exact: true },
      { name: 'negative workers', argv: ['--workers=-2'], message: '--workers must be a positive integer, got "-2"', exact: true },
      { name: 'negative workers given as a separate argument', argv: ['--workers', '-2'], message: "Option '--workers' argument is ambiguous" },
      { name: 'fractional workers', argv: ['--workers', '1.5'], message: '--workers must be a positive integer, got "1.5"', exact: true },
      { name: 'non-numeric workers', argv: ['--workers', 'many'], message: '--workers must be a positive integer, got "many"', exact: true },
      { name: 'empty workers', argv: ['--workers', ''], message: '--workers must be a positive integer, got ""', exact: true },
      { name: 'zero status interval', argv: ['--status-interval-ms', '0'], message: '--status-interval-ms must be a positive integer, got "0"', exact: true },
      { name: 'non-numeric status interval', argv: ['--status-interval-ms', '1s'], message: '--status-interval-ms must be a positive integer, got "1s"', exact: true },
      { name: 'zero audit body limit', argv: ['--audit-max-body-bytes', '0'], message: '--audit-max-body-bytes must be a positive integer, got "0"', exact: true },
      { name: 'a non-numeric audit body limit', argv: ['--audit-max-body-bytes', '4Mi'], message: '--audit-max-body-bytes must be a positive integer, got "4Mi"', exact: true },
      {
        name: 'an audit webhook without TLS files', argv: ['--audit-webhook-bind-address', ':9443', '--audit-token-file', '/t'],
        message: '--audit-webhook-bind-address needs --audit-tls-cert-file and --audit-tls-key-file', exact: true,
      },
      {
        name: 'an audit webhook with a cert but no key',
        argv: ['--audit-webhook-bind-address', ':9443', '--audit-tls-cert-file', '/c', '--audit-token-file', '/t'],
        message: '--audit-webhook-bind-address needs --audit-tls-cert-file and --audit-tls-key-file', exact: true,
      },
      {
        name: 'an audit webhook with a key but no cert',
        argv: ['--audit-webhook-bind-address', ':9443', '--audit-tls-key-file', '/k', '--audit-client-ca-file', '/ca'],
        message: '--audit-webhook-bind-address needs --audit-tls-cert-file and --audit-tls-key-file', exact: true,
      },
      {
        name: 'a Falco endpoint without TLS files', argv: ['--falco-bind-address', ':9445', '--falco-token-file', '/t'],
        message: '--falco-bind-address needs --falco-cert-file and --falco-key-file', exact: true,
      },
      {
        name: 'an unauthenticated Falco endpoint', argv: ['--falco-bind-address', ':9445', '--falco-cert-file', '/c', '--falco-key-file', '/k'],
        message: '--falco-bind-address needs --falco-client-ca-file or --falco-token-file: the endpoint is never unauthenticated', exact: true,
      },
      { name: 'a zero Falco queue', argv: ['--falco-queue-size', '0'], message: '--falco-queue-size must be a positive integer, got "0"', exact: true },
      {
        name: 'an unauthenticated audit webhook', argv: WEBHOOK_TLS,
        message: '--audit-webhook-bind-address needs --audit-client-ca-file or --audit-token-file: the endpoint is never unauthenticated', exact: true,
      },
    ];
    for (const c of table) {
      it(`rejects ${c.name}`, () => {
        const err = configError(c.argv);
        if (c.exact) expect(err.message).to.equal(c.message);
        else expect(err.message).to.include(c.message);
      });
    }
  });

  describe('audit sources', () => {
    it('accepts a webhook authenticated by client CA only, or by token only', () => {
      expect(parseRunConfig([...WEBHOOK_TLS, '--audit-client-ca-file', '/ca'], NO_ENV).audit.clientCaFile).to.equal('/ca');
      expect(parseRunConfig([...WEBHOOK_TLS, '--audit-token-file', '/t'], NO_ENV).audit.tokenFile).to.equal('/t');
    });
    it('accepts a log file without any webhook flag', () => {
      const { audit } = parseRunConfig(['--audit-log-file', '/a.log'], NO_ENV);
      expect(audit.logFile).to.equal('/a.log');
      expect(audit.webhookBindAddress).to.equal(undefined);
    });
  });

  it('documents every flag it accepts in RUN_USAGE', () => {
    const flags = [
      'kubeconfig', 'metrics-bind-address', 'metrics-auth', 'metrics-cert-file', 'metrics-key-file', 'health-probe-bind-address',
      'log-level', 'log-format', 'leader-elect', 'leader-election-namespace', 'leader-election-id', 'workers', 'status-interval-ms', 'watch-timeout-seconds',
      'audit-webhook-bind-address', 'audit-tls-cert-file', 'audit-tls-key-file', 'audit-client-ca-file', 'audit-token-file',
      'audit-max-body-bytes', 'audit-log-file',
    ];
    // The same list "reads every flag" passes to the parser.
    for (const flag of flags) expect(RUN_USAGE, flag).to.include(`--${flag} `);
  });
});
