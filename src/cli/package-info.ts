// The package's own identity (name, version, where its docs live), read once from package.json so that
// `version`, SARIF's tool section and documentation links cannot disagree with what was released.
import { readFileSync } from 'node:fs';

export interface PackageInfo {
  name: string;
  version: string;
  /** The project's home page; documentation links are built from it. */
  homepage: string;
}

let cached: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (cached === undefined) {
    // dist/src/cli/ → the package root, where package.json sits next to dist/.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as PackageInfo;
    cached = { name: pkg.name, version: pkg.version, homepage: pkg.homepage.replace(/#.*$/, '') };
  }
  return cached;
}

/** A link to a document on the default branch of the repository, e.g. `docs/rules.md#privileged`. */
export function docsUrl(path: string): string {
  return `${packageInfo().homepage}/blob/main/${path}`;
}
