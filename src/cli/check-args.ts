// Command-line arguments of `immutability-operator check`. Parsing is strict: an unknown flag or a stray
// argument is a usage error (exit 2), never silently ignored, because a CI gate that misreads its flags passes.
import { parseArgs } from 'node:util';
import { parseRfc3339 } from '../policy/index.js';

export const OUTPUT_FORMATS = ['table', 'json', 'sarif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface CheckOptions {
  policyPaths: string[];
  objectPaths: string[];
  output: OutputFormat;
  /** From --now; undefined means the caller's clock. */
  now?: Date;
}

export type ParsedCheckArgs = { kind: 'run'; options: CheckOptions } | { kind: 'help' } | { kind: 'error'; message: string };

export const CHECK_USAGE = `Usage: immutability-operator check --policy <file|dir|-> -f <file|dir|-> [-o table|json|sarif] [--now <RFC 3339>]

Evaluates Kubernetes manifests against ImmutabilityPolicies offline, as the operator would in a cluster.

Options:
  -p, --policy <path>    ImmutabilityPolicy manifests: a file, a directory (read recursively) or - for stdin.
                         Repeatable. Other kinds in these files are ignored.
  -f, --filename <path>  Manifests to check: Pods and workloads (Deployment, StatefulSet, DaemonSet,
                         ReplicaSet, Job, CronJob), as files, directories or - for stdin. Repeatable.
                         Namespace objects given here supply labels for match.namespaceSelector.
  -o, --output <format>  table (default), json (a stable format, see docs/check-output.md) or sarif
                         (SARIF 2.1.0 for code scanning: one result per finding at the container's line).
      --now <time>       Evaluate exemption expiry at this RFC 3339 time instead of the current time.
  -h, --help             Show this help.

Exit status: 0 all checked objects comply, 1 violations found, 2 invalid input or usage.
`;

function isOutputFormat(value: string): value is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(value);
}

export function parseCheckArgs(argv: readonly string[]): ParsedCheckArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        policy: { type: 'string', short: 'p', multiple: true },
        filename: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'table' },
        now: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    // parseArgs explains the problem itself ("Unknown option '--x'..."); keep its words.
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  if (values.help === true) return { kind: 'help' };
  const policyPaths = values.policy ?? [];
  const objectPaths = values.filename ?? [];
  if (policyPaths.length === 0) return { kind: 'error', message: 'missing --policy <file|dir|->' };
  if (objectPaths.length === 0) return { kind: 'error', message: 'missing -f <file|dir|->' };
  const output = values.output;
  if (!isOutputFormat(output)) {
    return { kind: 'error', message: `--output must be one of ${OUTPUT_FORMATS.join(', ')}, not ${JSON.stringify(output)}` };
  }
  const options: CheckOptions = { policyPaths, objectPaths, output };
  if (values.now !== undefined) {
    // The engine's parser, so that --now and exemption expiry read times identically.
    const millis = parseRfc3339(values.now);
    if (millis === undefined) {
      return { kind: 'error', message: `--now must be an RFC 3339 time such as 2027-01-31T00:00:00Z, not ${JSON.stringify(values.now)}` };
    }
    options.now = new Date(millis);
  }
  return { kind: 'run', options };
}
