// `check -o sarif`: SARIF 2.1.0 for code-scanning tools. One rule per immutability rule (with help text and a
// link to docs/rules.md), one result per finding located at the line of the offending container, and a
// fingerprint that stays the same when lines move, so a tool tracks a finding across commits.
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RUNTIME_RULES, SPEC_RULES } from '../api/types.js';
import type { RuleName } from '../api/types.js';
import type { Finding } from '../policy/index.js';
import { containerKey } from './check-report.js';
import type { CheckReport, CheckResult } from './check-report.js';
import { RULE_DOCS, ruleAnchor } from './rule-docs.js';

export const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
/** Name and version of the fingerprint scheme; bump the version if the hashed fields ever change. */
export const FINGERPRINT_KEY = 'immutabilityFinding/v1';

export interface SarifTool {
  name: string;
  version: string;
  /** The project's home page. */
  informationUri: string;
  /** Builds a documentation link from a repository path such as `docs/rules.md#privileged`. */
  docsUrl: (path: string) => string;
}

const ALL_RULES: readonly RuleName[] = [...SPEC_RULES, ...RUNTIME_RULES];

function ruleDescriptor(rule: RuleName, tool: SarifTool): Record<string, unknown> {
  const doc = RULE_DOCS[rule];
  const helpUri = tool.docsUrl(`docs/rules.md#${ruleAnchor(rule)}`);
  const scope = doc.source === 'spec'
    ? 'Checked in the pod spec of Pods and workloads, offline by `check` and in the cluster by the operator.'
    : 'Runtime drift: judged in the cluster from audit events, never by `check`.';
  return {
    id: rule,
    name: doc.problem,
    shortDescription: { text: doc.summary },
    fullDescription: { text: `${doc.summary} ${doc.why}` },
    help: {
      text: `${doc.why} Fix: ${doc.fix} ${scope} See ${helpUri}`,
      markdown: `${doc.why}\n\n**Fix:** ${doc.fix}\n\n${scope}\n\n[Documentation](${helpUri})`,
    },
    helpUri,
    defaultConfiguration: { level: 'error' },
    properties: {
      tags: ['security', 'kubernetes', 'immutability'],
      precision: 'very-high',
      'problem.severity': 'error',
      'security-severity': doc.securitySeverity.toFixed(1),
    },
  };
}

/** A URI reference for a file as given on the command line: relative paths stay relative (to the checkout). */
function fileUri(file: string): string {
  if (isAbsolute(file)) return pathToFileURL(file).href;
  return file.split(/[\\/]/).filter((part) => part !== '.').map(encodeURIComponent).join('/');
}

function fingerprint(result: CheckResult, finding: Finding): string {
  const identity = [result.policy, result.kind, result.namespace, result.name, finding.containerType, finding.container, finding.rule];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

function location(result: CheckResult, finding: Finding): Record<string, unknown> {
  const workload = `${result.namespace}/${result.kind}/${result.name}`;
  const logical = [{ fullyQualifiedName: `${workload}/${finding.container}`, name: finding.container, kind: 'object' }];
  const { file } = result.location;
  // stdin has no file to point at; the logical location (namespace/kind/name/container) still names the spot.
  if (file === undefined) return { logicalLocations: logical };
  const line = result.location.containerLines.get(containerKey(finding.containerType, finding.container)) ?? result.location.line;
  const physicalLocation: Record<string, unknown> = { artifactLocation: { uri: fileUri(file) } };
  if (line !== undefined) physicalLocation['region'] = { startLine: line };
  return { physicalLocation, logicalLocations: logical };
}

function sarifResult(result: CheckResult, finding: Finding): Record<string, unknown> {
  const mode = result.plan?.mode ?? 'Audit';
  return {
    ruleId: finding.rule,
    ruleIndex: ALL_RULES.indexOf(finding.rule),
    kind: 'fail',
    level: 'error',
    message: {
      text: `${finding.message} ${result.kind} ${result.namespace}/${result.name} is governed by ImmutabilityPolicy ${result.policy} (${mode}).`,
    },
    locations: [location(result, finding)],
    partialFingerprints: { [FINGERPRINT_KEY]: fingerprint(result, finding) },
    properties: {
      policy: result.policy,
      mode,
      kind: result.kind,
      namespace: result.namespace,
      name: result.name,
      container: finding.container,
      containerType: finding.containerType,
      fieldPath: finding.fieldPath,
    },
  };
}

export function renderSarif(report: CheckReport, tool: SarifTool): string {
  const notifications = [
    ...report.errors.map((text) => ({ level: 'error', message: { text } })),
    ...report.notes.map((text) => ({ level: 'note', message: { text } })),
  ];
  const log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: tool.name,
            version: tool.version,
            semanticVersion: tool.version,
            informationUri: tool.informationUri,
            rules: ALL_RULES.map((rule) => ruleDescriptor(rule, tool)),
          },
        },
        invocations: [{ executionSuccessful: report.errors.length === 0, toolExecutionNotifications: notifications }],
        results: report.results.flatMap((result) => result.findings.map((finding) => sarifResult(result, finding))),
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
