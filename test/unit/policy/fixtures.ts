// Loads the YAML fixtures of test/fixtures/policy. Compiled tests live in dist/test/unit/policy/, so the
// fixtures are four levels up from here, back in the source tree.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const FIXTURE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/policy');

export function loadFixture<T>(relativePath: string): T {
  // Fixtures are test data written alongside the tests; their shape is asserted by the tests that use them.
  return parse(readFileSync(join(FIXTURE_DIR, relativePath), 'utf8')) as T;
}

export interface CaseFile<C> {
  defaults?: { now?: string };
  cases: C[];
}

/** The cases of a fixture file; fails loudly when the file has none, so a broken fixture cannot pass. */
export function loadCases<C>(relativePath: string): { defaults: { now?: string }; cases: C[] } {
  const file = loadFixture<CaseFile<C>>(relativePath);
  if (!Array.isArray(file.cases) || file.cases.length === 0) {
    throw new Error(`${relativePath} has no cases`);
  }
  return { defaults: file.defaults ?? {}, cases: file.cases };
}

export function fixtureFiles(relativeDir: string): string[] {
  return readdirSync(join(FIXTURE_DIR, relativeDir))
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => join(relativeDir, name));
}

/** `null` in YAML stands for "absent" in the engine's optional parameters. */
export function absentIfNull<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}
