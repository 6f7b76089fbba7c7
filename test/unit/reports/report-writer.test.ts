// The Report writer: one write per change, deletes once, and no crash or retry storm without the CRD.
import { expect } from 'chai';
import { StatusError } from '../../../src/k8s/errors.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import type { OpenReport } from '../../../src/reports/openreport.js';
import { ReportWriter } from '../../../src/reports/report-writer.js';

function report(fail: number): OpenReport {
  return {
    apiVersion: 'openreports.io/v1alpha1', kind: 'Report',
    metadata: { name: 'immutability-deployment-web', namespace: 'shop', labels: {} },
    source: 'immutability-operator', scope: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
    summary: { pass: 0, fail, warn: 0, error: 0, skip: 0 }, results: [],
  };
}

describe('reports/report-writer', () => {
  it('applies a report only when it changed, and deletes a gone one once', async () => {
    const calls: string[] = [];
    const writer = new ReportWriter({
      applyReport: (r) => { calls.push(`apply ${(r['summary'] as { fail: number }).fail}`); return Promise.resolve(); },
      deleteReport: (ns, name) => { calls.push(`delete ${ns}/${name}`); return Promise.resolve(); },
    }, noopLogger, () => new Date(0));
    await writer.sync('shop', 'immutability-deployment-web', report(1));
    await writer.sync('shop', 'immutability-deployment-web', report(1));
    await writer.sync('shop', 'immutability-deployment-web', report(0));
    await writer.sync('shop', 'immutability-deployment-web', undefined);
    await writer.sync('shop', 'immutability-deployment-web', undefined);
    expect(calls).to.deep.equal(['apply 1', 'apply 0', 'delete shop/immutability-deployment-web']);
  });

  it('without the CRD, writes nothing and tries again on the next pass; other errors are the caller\'s to retry', async () => {
    let crd = false;
    let applied = 0;
    const writer = new ReportWriter({
      applyReport: () => {
        if (!crd) return Promise.reject(new StatusError(404, 'the server could not find the requested resource'));
        applied++;
        return Promise.resolve();
      },
      deleteReport: () => Promise.reject(new StatusError(500, 'etcd is down')),
    }, noopLogger, () => new Date(0));
    await writer.sync('shop', 'r', report(1));
    crd = true;
    await writer.sync('shop', 'r', report(1));
    expect(applied).to.equal(1);
    let thrown: unknown;
    await writer.sync('shop', 'r', undefined).catch((err: unknown) => { thrown = err; });
    expect(thrown).to.be.instanceOf(StatusError);
  });
});
