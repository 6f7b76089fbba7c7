// Mocha root hooks: one real control plane for the whole integration run, started only when integration
// specs are loaded, always torn down (also on Ctrl-C, which mocha turns into a normal end of run).
import { ControlPlane, type ControlPlaneInfo } from './controlplane/controlplane.js';
import { controlPlaneBinaries } from './controlplane/binaries.js';

let controlPlane: ControlPlane | undefined;
let info: ControlPlaneInfo | undefined;

/** The shared control plane; throws when called outside the integration tier. */
export function cluster(): { info: ControlPlaneInfo; controlPlane: ControlPlane } {
  if (!controlPlane || !info) throw new Error('the integration control plane is not running');
  return { info, controlPlane };
}

function integrationSpecsLoaded(): boolean {
  return process.argv.some((a) => a.includes('integration')) || process.env.IMMUTABILITY_INTEGRATION === '1';
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    if (!integrationSpecsLoaded() || controlPlane) return;
    this.timeout(30 * 60_000); // a cold build of the binaries takes a while; later runs use the cache
    const started = Date.now();
    const binDir = await controlPlaneBinaries({ onProgress: (l) => process.stderr.write(`${l}\n`) });
    controlPlane = new ControlPlane({ binDir, nodes: 2 });
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
  },
};
