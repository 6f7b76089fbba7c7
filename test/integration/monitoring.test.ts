// The Grafana dashboard and the alerts in config/monitoring/ name only metrics a running operator exports: a
// renamed metric would otherwise leave an empty panel or an alert that can never fire. Their PromQL is read by
// Prometheus' own parser (hack/controlplane/promql): it must parse, and match only on labels and values the
// operator exports.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { ACTION_RESULTS, FALCO_ALERT_OUTCOMES, REMEDIATION_ACTIONS, WATCH_RESTART_REASONS, createMetrics } from '../../src/observability/metrics.js';
import { repoRoot } from '../support/controlplane/binaries.js';
import { cluster } from '../support/integration-hooks.js';
import { withOperator } from '../support/operator-fixture.js';

const run = promisify(execFile);
const MONITORING = path.join(repoRoot(), 'config', 'monitoring');
/** The operator's own metrics and the Node.js process metrics it exports under their standard names. */
const METRIC_NAME = /\b(?:immutability_operator|process|nodejs)_[a-z0-9_]+\b/g;

function namesIn(text: string): string[] {
  return [...new Set(text.match(METRIC_NAME) ?? [])];
}

/** Every PromQL expression of the dashboard: panel targets and template-variable queries. */
function dashboardExpressions(dashboard: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'expr' || key === 'definition') && typeof value === 'string') found.push(value);
        else walk(value);
      }
    }
  };
  walk(dashboard);
  return found;
}

/** A name is exported when a sample carries it or it is a declared metric (histograms add _bucket/_sum/_count). */
function exported(name: string, exposition: string): boolean {
  const declared = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return declared.has(name) || declared.has(base) || new RegExp(`^${name}[{ ]`, 'm').test(exposition);
}

/** Labels Prometheus adds to every scraped sample (ServiceMonitor and Kubernetes service discovery). */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'service', 'container', 'endpoint']);
/** The labels that take a closed set of values, from the operator's metric definitions. */
const CLOSED_VALUES: Record<string, Record<string, readonly string[]>> = {
  immutability_operator_watch_restarts_total: { reason: WATCH_RESTART_REASONS },
  immutability_operator_actions_total: { action: REMEDIATION_ACTIONS, result: ACTION_RESULTS },
  immutability_operator_falco_alerts_total: { outcome: FALCO_ALERT_OUTCOMES },
};

/** Label names of the operator's metrics as declared (a counter not yet incremented shows none on /metrics). */
function declaredLabels(): Map<string, Set<string>> {
  const { registry } = createMetrics(new Registry(), { defaultMetrics: false });
  return new Map(registry.getMetricsAsArray().map((metric) => {
    const { labelNames = [] } = metric as unknown as { labelNames?: string[] };
    return [metric.name, new Set(labelNames)] as const;
  }));
}

interface Parsed {
  /** Prometheus' parse error, if the expression does not parse. */
  error?: string;
  selectors: { metric: string; matchers: { label: string; op: string; value: string }[] }[];
  /** Labels of by/without and on/ignoring/group_left/group_right clauses. */
  grouping: string[];
}

/**
 * Parses PromQL with Prometheus' own parser (hack/controlplane/promql, built by hack/controlplane/build.sh).
 * What Grafana adds to PromQL is read as what it stands for: interval macros ($__rate_interval) as a duration,
 * a variable's `label_values(selector, label)` as `group by (label) (selector)`; its variables are used inside
 * quotes only.
 */
async function parsePromQL(expressions: string[]): Promise<Parsed[]> {
  const promql = expressions.map((e) => e
    .replace(/\$__[a-z_]+/g, '5m')
    .replace(/^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s, 'group by ($2) ($1)'));
  const child = run(path.join(cluster().info.binDir, 'promql'), []);
  child.child.stdin?.end(JSON.stringify(promql));
  return JSON.parse((await child).stdout) as Parsed[];
}

/** Problems with what an expression says: a parse error, unknown label names, values the operator never sets. */
function labelProblems(expr: Parsed, declared: Map<string, Set<string>>): string[] {
  if (expr.error !== undefined) return [expr.error];
  const problems: string[] = [];
  const labelsOf = (metric: string): Set<string> | undefined =>
    declared.get(metric) ?? (metric.endsWith('_bucket') ? new Set([...declared.get(metric.replace(/_bucket$/, '')) ?? [], 'le']) : undefined)
      ?? declared.get(metric.replace(/_(sum|count)$/, ''));
  for (const { metric, matchers } of expr.selectors) {
    const labels = labelsOf(metric);
    if (labels === undefined) continue; // process_* and nodejs_*: prom-client's standard metrics
    for (const { label, op, value } of matchers) {
      if (!labels.has(label) && !TARGET_LABELS.has(label)) problems.push(`${metric} has no label ${label}`);
      if (value.startsWith('$')) continue;
      const closed = CLOSED_VALUES[metric]?.[label];
      if (closed === undefined) {
        problems.push(`${metric}{${label}${op}"${value}"}: the values of ${label} are not listed in CLOSED_VALUES`);
        continue;
      }
      // A literal, or a regex that is an alternation of literals (all a dashboard or alert needs here).
      const values = op.endsWith('~') ? value.split('|') : [value];
      for (const v of values.filter((x) => !closed.includes(x))) problems.push(`${metric}{${label}${op}"${value}"}: the operator never sets ${label}="${v}"`);
    }
  }
  const metrics = expr.selectors.map((s) => s.metric);
  for (const label of expr.grouping) {
    const known = TARGET_LABELS.has(label) || metrics.some((m) => labelsOf(m)?.has(label));
    if (!known) problems.push(`grouped by ${label}, which none of ${metrics.join(', ')} has`);
  }
  return problems;
}

describe('monitoring (config/monitoring)', function () {
  const operator = withOperator({ operator: { metrics: 'open' } });
  let exposition = '';

  before(async function () {
    const res = await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`);
    expect(res.status).to.equal(200);
    exposition = await res.text();
  });

  it('the Grafana dashboard names only exported metrics, and shows what the issue asks for', async function () {
    const dashboard = JSON.parse(await readFile(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as { panels: { title: string }[] };
    const names = namesIn(dashboardExpressions(dashboard).join('\n'));
    expect(names).to.include.members([
      'immutability_operator_violating_pods', 'immutability_operator_actions_total', 'immutability_operator_reconcile_duration_seconds_bucket',
      'immutability_operator_queue_depth', 'immutability_operator_watch_restarts_total', 'immutability_operator_audit_events_total',
      'immutability_operator_falco_alerts_total',
    ]);
    expect(names.filter((name) => !exported(name, exposition)), 'dashboard metrics missing from /metrics').to.deep.equal([]);
  });

  it('the PrometheusRule names only exported metrics and has the four alerts', async function () {
    const rule = parse(await readFile(path.join(MONITORING, 'prometheusrule.yaml'), 'utf8')) as {
      spec: { groups: { rules: { alert: string; expr: string }[] }[] };
    };
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).to.include.members([
      'ImmutabilityOperatorDown', 'ImmutabilityRemediationFailing', 'ImmutabilityEvictionBlocked', 'ImmutabilityWatchRestartsHigh',
    ]);
    const names = namesIn(rules.map((r) => r.expr).join('\n'));
    expect(names.length).to.be.greaterThan(3);
    expect(names.filter((name) => !exported(name, exposition)), 'alert metrics missing from /metrics').to.deep.equal([]);
  });

  it('dashboard and alerts parse as PromQL, and match only on labels the metrics have and values the operator sets', async function () {
    const declared = declaredLabels();
    const rule = parse(await readFile(path.join(MONITORING, 'prometheusrule.yaml'), 'utf8')) as { spec: { groups: { rules: { expr: string }[] }[] } };
    const dashboard = JSON.parse(await readFile(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as unknown;
    const expressions = [...rule.spec.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboardExpressions(dashboard)];
    expect(expressions.length).to.be.greaterThan(10);
    expect((await parsePromQL(expressions)).flatMap((expr) => labelProblems(expr, declared))).to.deep.equal([]);
  });

  it('would catch a metric that is not exported, a label it lacks, a value never set or a parse error', async function () {
    const declared = declaredLabels();
    const [neverSet, noSuchLabel, unbalanced] = await parsePromQL([
      'sum(increase(immutability_operator_watch_restarts_total{reason!="expired"}[15m]))',
      'sum by (policy) (immutability_operator_queue_depth{result="failure"})',
      'sum by (policy) (rate(immutability_operator_actions_total[$__rate_interval])',
    ]);
    expect(labelProblems(neverSet!, declared))
      .to.deep.equal(['immutability_operator_watch_restarts_total{reason!="expired"}: the operator never sets reason="expired"']);
    expect(labelProblems(noSuchLabel!, declared)).to.deep.equal([
      'immutability_operator_queue_depth has no label result',
      'immutability_operator_queue_depth{result="failure"}: the values of result are not listed in CLOSED_VALUES',
      'grouped by policy, which none of immutability_operator_queue_depth has',
    ]);
    expect(labelProblems(unbalanced!, declared)).to.have.length(1).and.to.match(/parse error: unclosed left parenthesis/);

    expect(exported('immutability_operator_no_such_metric_total', exposition)).to.equal(false);
    expect(exported('immutability_operator_reconcile_duration_seconds_bucket', exposition)).to.equal(true);
  });
});
