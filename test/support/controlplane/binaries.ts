// Finds (building on first use) the control plane's binaries: hack/controlplane/build.sh builds them from
// Go modules into a cache keyed by version and prints the directory.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root, from this module's location in either `test/` or `dist/test/`. */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const parts = here.split(path.sep);
  const idx = parts.lastIndexOf('test');
  const root = parts.slice(0, idx).join(path.sep);
  return path.basename(root) === 'dist' ? path.dirname(root) : root;
}

export async function controlPlaneBinaries(opts: { onProgress?: (line: string) => void } = {}): Promise<string> {
  const override = process.env.IMMUTABILITY_CONTROLPLANE_BIN_DIR;
  if (override) return override;
  const script = path.join(repoRoot(), 'hack', 'controlplane', 'build.sh');
  const child = run('bash', [script], { maxBuffer: 16 * 1024 * 1024 });
  child.child.stderr?.on('data', (d: Buffer) => opts.onProgress?.(d.toString().trimEnd()));
  const { stdout } = await child;
  const dir = stdout.trim().split('\n').pop();
  if (!dir) throw new Error(`${script} printed no binary directory`);
  return dir;
}
