// `immutability-operator check`: evaluates manifests against ImmutabilityPolicies offline, for CI pipelines.
// Exit status 0 = every checked object complies, 1 = violations, 2 = invalid input or usage. It never throws
// and never prints a stack trace: every failure becomes a message naming the file and document.
import { validatePolicyObject } from '../api/validation.js';
import { CHECK_USAGE, parseCheckArgs } from './check-args.js';
import type { CheckOptions } from './check-args.js';
import { buildCheckReport } from './check-report.js';
import type { CheckPolicy, CheckReport } from './check-report.js';
import { readManifests } from './input.js';
import type { SourceDocument } from './input.js';
import { renderJson } from './output-json.js';
import { renderSarif } from './output-sarif.js';
import { renderTable } from './output-table.js';
import { docsUrl, packageInfo } from './package-info.js';

export const EXIT_COMPLIANT = 0;
export const EXIT_VIOLATIONS = 1;
export const EXIT_INVALID = 2;

export interface CheckIo {
  /** Receives complete text, newlines included (e.g. `(s) => process.stdout.write(s)`). */
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
  /** Used for exemption expiry unless --now is given. */
  now: Date;
}

/** `argv` holds the arguments after `check`. Resolves to the exit status. */
export async function runCheck(argv: string[], io: CheckIo): Promise<number> {
  try {
    return await check(argv, io);
  } catch (error) {
    // Only a defect gets here (input problems are reported where they are found); still no stack trace.
    io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_INVALID;
  }
}

async function check(argv: string[], io: CheckIo): Promise<number> {
  const parsed = parseCheckArgs(argv);
  if (parsed.kind === 'help') {
    io.stdout(CHECK_USAGE);
    return EXIT_COMPLIANT;
  }
  if (parsed.kind === 'error') {
    io.stderr(`error: ${parsed.message}\n\n${CHECK_USAGE}`);
    return EXIT_INVALID;
  }
  const { options } = parsed;
  const inputs = await readInputs(options, io);
  if ('errors' in inputs) {
    for (const message of inputs.errors) io.stderr(`error: ${message}\n`);
    return EXIT_INVALID;
  }
  const report = buildCheckReport(inputs.policies, inputs.objects, options.now ?? io.now);
  io.stdout(render(report, options.output));
  for (const message of report.errors) io.stderr(`error: ${message}\n`);
  if (report.errors.length > 0) return EXIT_INVALID;
  return report.summary.violating > 0 ? EXIT_VIOLATIONS : EXIT_COMPLIANT;
}

function render(report: CheckReport, output: CheckOptions['output']): string {
  switch (output) {
    case 'json':
      return renderJson(report);
    case 'sarif': {
      const { name, version, homepage } = packageInfo();
      return renderSarif(report, { name, version, informationUri: homepage, docsUrl });
    }
    case 'table':
      return renderTable(report);
  }
}

type Inputs = { policies: CheckPolicy[]; objects: SourceDocument[] } | { errors: string[] };

/** Reads and validates everything before evaluating anything: a bad input must not yield a partial verdict. */
async function readInputs(options: CheckOptions, io: CheckIo): Promise<Inputs> {
  const stdinUse = { used: false };
  const policyRead = await readManifests(options.policyPaths, io.readStdin, stdinUse);
  const objectRead = await readManifests(options.objectPaths, io.readStdin, stdinUse);
  const errors = [...policyRead.errors, ...objectRead.errors];
  const policies = policiesFrom(policyRead.documents, errors);
  if (errors.length === 0 && policies.length === 0) {
    errors.push(`no ImmutabilityPolicy found in ${options.policyPaths.join(', ')}`);
  }
  return errors.length > 0 ? { errors } : { policies, objects: objectRead.documents };
}

function policiesFrom(documents: readonly SourceDocument[], errors: string[]): CheckPolicy[] {
  const policies: CheckPolicy[] = [];
  const seen = new Map<string, string>();
  for (const { source, object } of documents) {
    if (typeof object !== 'object' || object === null || (object as { kind?: unknown }).kind !== 'ImmutabilityPolicy') {
      continue; // --policy may point at a directory that also holds the workloads
    }
    const result = validatePolicyObject(object);
    if (!result.ok) {
      errors.push(...result.errors.map((message) => `${source}: ${message}`));
      continue;
    }
    const name = result.policy.metadata.name;
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      errors.push(`${source}: ImmutabilityPolicy ${name} is also defined in ${earlier}`);
      continue;
    }
    seen.set(name, source);
    policies.push({ name, source, policy: result.policy });
  }
  return policies;
}
