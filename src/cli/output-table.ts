// `check -o table` (the default): aligned columns that read well in a terminal and in CI logs, then the
// details of every violation (field path, message, the fix Enforce would apply), notes and a summary line.
// Errors are not part of the table: the caller writes them to stderr.
// No colours or other escape sequences, so logs stay clean whether or not stdout is a terminal.
import { findingKey } from '../policy/index.js';
import type { CheckReport, CheckResult } from './check-report.js';

const HEADERS = ['POLICY', 'KIND', 'NAMESPACE/NAME', 'STATUS', 'FINDINGS'] as const;

function row(result: CheckResult): string[] {
  const findings = [...new Set(result.findings.map(findingKey))].join(', ');
  return [
    result.policy,
    result.kind,
    `${result.namespace}/${result.name}`,
    result.compliant ? 'COMPLIANT' : 'VIOLATING',
    findings === '' ? '-' : findings,
  ];
}

function columns(rows: readonly string[][]): string {
  const widths = HEADERS.map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  // The last column is not padded, so lines carry no trailing spaces.
  return rows
    .map((cells) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('   '))
    .join('\n');
}

function details(result: CheckResult): string[] {
  const lines = [`${result.policy}: ${result.kind} ${result.namespace}/${result.name} (${result.source})`];
  for (const finding of result.findings) lines.push(`  violation  ${finding.fieldPath}: ${finding.message}`);
  for (const skip of result.skips) {
    lines.push(`  skipped    ${skip.container === undefined ? '' : `${skip.container}:`}${skip.rule}: ${skip.reason}`);
  }
  const { plan } = result;
  if (plan !== null) {
    const when = plan.mode === 'Enforce' ? 'Enforce' : 'Audit, planned only';
    lines.push(`  plan (${when}): ${plan.message === '' ? 'nothing the owner patch can fix' : plan.message}`);
    if (plan.patch.length > 0) lines.push(`  patch      ${JSON.stringify(plan.patch)}`);
    for (const warning of plan.warnings) lines.push(`  warning: ${warning}`);
  }
  return lines;
}

function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

export function renderTable(report: CheckReport): string {
  const out: string[] = [];
  if (report.results.length === 0) {
    out.push('No object is governed by the given policies.');
  } else {
    out.push(columns([[...HEADERS], ...report.results.map(row)]));
  }
  const detailed = report.results.filter((result) => !result.compliant || result.skips.length > 0);
  if (detailed.length > 0) out.push('', ...detailed.flatMap((result) => [...details(result), '']));
  else out.push('');
  for (const note of report.notes) out.push(`note: ${note}`);
  const { summary } = report;
  out.push(
    `Checked ${plural(summary.objects, 'object')} against ${plural(summary.policies, 'policy', 'policies')}: ` +
      `${summary.compliant} compliant, ${summary.violating} violating, ${summary.unmatched} not governed by any policy; ` +
      `${plural(summary.skipped, 'document')} of other kinds skipped` +
      (summary.errors > 0 ? `; ${plural(summary.errors, 'object')} could not be evaluated` : '') +
      '.',
  );
  return `${out.join('\n')}\n`;
}
