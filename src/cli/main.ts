#!/usr/bin/env node
// The `immutability-operator` command: `run` (the controller), `check` (offline policy evaluation for CI),
// `version`. Errors end as one readable line and a non-zero exit code, never a stack trace.
// Each command imports what it needs when it runs: `check` in a pre-commit hook or a CI step pays for node's
// start and its own modules, not for the controller's (client-node, winston, rxjs).
import { packageInfo } from './package-info.js';

const USAGE = `Usage: immutability-operator <command> [flags]

Commands:
  run       run the controller (see: immutability-operator run --help)
  check     evaluate manifests against ImmutabilityPolicies offline, for CI (see: check --help)
  version   print the version
`;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => (data += c));
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { parseRunConfig, RUN_USAGE } = await import('../config.js');
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(RUN_USAGE);
        return 0;
      }
      const { runOperator } = await import('../main.js');
      return runOperator(parseRunConfig(rest, process.env));
    }
    case 'check': {
      const { runCheck } = await import('./check.js');
      return runCheck(rest, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
        readStdin,
        now: new Date(),
      });
    }
    case 'version':
    case '--version':
      process.stdout.write(`${packageInfo().version}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (err: unknown) => {
    const { ConfigError } = await import('../config.js');
    const message = err instanceof ConfigError ? `invalid flags: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`immutability-operator: ${message}\n`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  },
);
