// Drives runCheck as a user would, capturing what it prints and the exit status.
import { fileURLToPath } from 'node:url';
import { runCheck } from '../../../src/cli/check.js';

export const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/check/', import.meta.url));

/** Absolute path of a fixture under test/fixtures/check. */
export function fixture(path: string): string {
  return `${FIXTURES}${path}`;
}

export interface CheckRun {
  code: number;
  stdout: string;
  stderr: string;
}

export const FIXED_NOW = new Date('2026-11-22T10:00:00Z');

export async function check(argv: string[], stdin: string | (() => Promise<string>) = ''): Promise<CheckRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCheck(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readStdin: typeof stdin === 'string' ? () => Promise.resolve(stdin) : stdin,
    now: FIXED_NOW,
  });
  return { code, stdout, stderr };
}
