// Keeps one OpenReports Report per governed workload in step with its pods: applied (server-side) only when
// its content changed since the last write, deleted when the workload has nothing left to report. Idempotent
// and safe to repeat after a restart: the first pass after one re-applies each report once. Without the
// openreports.io CRD, nothing is written and a warning says so (at most every five minutes); the next
// reconcile of each workload tries again, so installing the CRD later needs no restart.
import { isMissingKind } from '../k8s/errors.js';
import type { KubeApi } from '../k8s/api.js';
import type { Logger } from '../observability/logger.js';
import type { OpenReport } from './openreport.js';

const MISSING_CRD_WARNING_INTERVAL_MS = 5 * 60_000;

export class ReportWriter {
  /**
   * What the cluster holds per `namespace/name` as far as this process knows: the last content written, or
   * null once deleted. A key it has never seen (after a restart) is written or deleted once to be sure.
   */
  private readonly known = new Map<string, string | null>();
  private lastMissingCrdWarning = -Infinity;

  constructor(
    private readonly api: Pick<KubeApi, 'applyReport' | 'deleteReport'>,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

  /** `report` undefined: the workload is gone or no longer governed, so its report `namespace/name` goes. */
  async sync(namespace: string, name: string, report: OpenReport | undefined, signal?: AbortSignal): Promise<void> {
    const key = `${namespace}/${name}`;
    const content = report === undefined ? null : JSON.stringify(report);
    if (this.known.has(key) && this.known.get(key) === content) return;
    try {
      if (report === undefined) await this.api.deleteReport(namespace, name, signal);
      else await this.api.applyReport(report as unknown as OpenReport & Record<string, unknown>, signal);
    } catch (err) {
      if (!isMissingKind(err)) throw err;
      const now = this.now().getTime();
      if (now - this.lastMissingCrdWarning >= MISSING_CRD_WARNING_INTERVAL_MS) {
        this.lastMissingCrdWarning = now;
        this.logger.warn('--reports=openreports is set but the API server does not serve openreports.io/v1alpha1 Report: install its CRD (config/openreports/crd)', { report: key });
      }
      return;
    }
    this.known.set(key, content);
  }
}
