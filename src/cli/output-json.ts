// `check -o json`: one JSON object, a stable format for CI tooling (documented in docs/check-output.md).
// Fields are copied explicitly so that an engine type growing a field does not silently change the format.
import type { CheckReport, CheckResult } from './check-report.js';

function resultJson(result: CheckResult): Record<string, unknown> {
  const { plan } = result;
  return {
    policy: result.policy,
    source: result.source,
    kind: result.kind,
    namespace: result.namespace,
    name: result.name,
    compliant: result.compliant,
    findings: result.findings.map(({ container, containerType, rule, subject, fieldPath, message }) => ({
      container,
      containerType,
      rule,
      ...(subject === undefined ? {} : { subject }),
      fieldPath,
      message,
    })),
    skips: result.skips.map(({ container, rule, reason }) => ({ ...(container === undefined ? {} : { container }), rule, reason })),
    plan:
      plan === null
        ? null
        : {
            mode: plan.mode,
            patchedRules: plan.patchedRules,
            patch: plan.patch,
            message: plan.message,
            warnings: plan.warnings,
            unpatchable: plan.unpatchable.map(({ container, containerType, rule, fieldPath, message }) => ({
              container,
              containerType,
              rule,
              fieldPath,
              message,
            })),
          },
  };
}

export function renderJson(report: CheckReport): string {
  const { summary } = report;
  const document = {
    results: report.results.map(resultJson),
    notes: report.notes,
    errors: report.errors,
    summary: {
      policies: summary.policies,
      objects: summary.objects,
      compliant: summary.compliant,
      violating: summary.violating,
      unmatched: summary.unmatched,
      skipped: summary.skipped,
      errors: summary.errors,
    },
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
