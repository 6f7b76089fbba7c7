// Mocha root hooks: one real control plane for the whole integration run, started only when integration
// specs are loaded, always torn down (also on Ctrl-C, which mocha turns into a normal end of run).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlPlane, type ControlPlaneInfo } from './controlplane/controlplane.js';
import { controlPlaneBinaries } from './controlplane/binaries.js';
import { prepareLocalAudit } from './controlplane/local-audit.js';
import { freePort } from './controlplane/ports.js';

/** The audit webhook the API server posts to: an operator started by a spec serves it on this port. */
export interface AuditWiring {
  port: number;
  /** CA that signed `serverCert` and the API server's client certificate. */
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** kube-apiserver's audit log (the log backend runs alongside the webhook). */
  logFile: string;
}

let controlPlane: ControlPlane | undefined;
let info: ControlPlaneInfo | undefined;
let audit: AuditWiring | undefined;
let auditDir: string | undefined;

/** The shared control plane; throws when called outside the integration tier. */
export function cluster(): { info: ControlPlaneInfo; controlPlane: ControlPlane; audit: AuditWiring } {
  if (!controlPlane || !info || !audit) throw new Error('the integration control plane is not running');
  return { info, controlPlane, audit };
}

/** True when the run includes integration, fault or e2e specs: unit-only runs never pay for a control plane. */
function integrationSpecsLoaded(ctx: Mocha.Context): boolean {
  const root = ctx.test?.parent;
  return root?.suites.some((s) => ['integration', 'faults', 'e2e'].some((tier) => s.file?.includes(`${path.sep}${tier}${path.sep}`))) ?? false;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    if (!integrationSpecsLoaded(this) || controlPlane) return;
    this.timeout(30 * 60_000); // a cold build of the binaries takes a while; later runs use the cache
    const started = Date.now();
    const binDir = await controlPlaneBinaries({ onProgress: (l) => process.stderr.write(`${l}\n`) });
    auditDir = await mkdtemp(path.join(tmpdir(), 'immutability-audit-'));
    const port = await freePort();
    const prepared = await prepareLocalAudit(auditDir, port);
    audit = {
      port,
      caFile: path.join(auditDir, 'ca.crt'),
      serverCert: path.join(auditDir, 'server.crt'),
      serverKey: path.join(auditDir, 'server.key'),
      logFile: path.join(auditDir, 'audit.log'),
    };
    controlPlane = new ControlPlane({ binDir, nodes: 2, audit: { ...prepared.apiServer, logFile: audit.logFile } });
    const stop = (): void => void controlPlane?.stop().finally(() => process.exit(130));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    info = await controlPlane.start();
    process.stderr.write(`control plane up in ${Date.now() - started} ms (${info.server})\n`);
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await controlPlane?.stop();
    controlPlane = undefined;
    if (auditDir) await rm(auditDir, { recursive: true, force: true });
  },
};
