// The Grafana dashboard and the alerts in config/monitoring/ name only metrics a running operator exports: a
// renamed metric would otherwise leave an empty panel or an alert that can never fire.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { repoRoot } from '../support/controlplane/binaries.js';
import { freePort } from '../support/controlplane/ports.js';
import { installCrd } from '../support/fixtures.js';
import { OperatorProcess } from '../support/operator.js';

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

describe('monitoring (config/monitoring)', function () {
  let operator: OperatorProcess | undefined;
  let exposition = '';

  before(async function () {
    await installCrd();
    const port = await freePort();
    operator = await new OperatorProcess({ args: ['--metrics-bind-address', `127.0.0.1:${port}`, '--metrics-auth', 'none'] }).start();
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).to.equal(200);
    exposition = await res.text();
  });

  after(async function () {
    await operator?.stop();
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

  it('would catch a metric that is not exported', function () {
    expect(exported('immutability_operator_no_such_metric_total', exposition)).to.equal(false);
    expect(exported('immutability_operator_reconcile_duration_seconds_bucket', exposition)).to.equal(true);
  });
});
