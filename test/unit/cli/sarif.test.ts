// `check -o sarif`, read the way code-scanning tools read it, and validated by Microsoft's SARIF multitool (the
// reference validator: the SARIF 2.1.0 schema plus the spec's rules).
import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { RUNTIME_RULES, SPEC_RULES } from '../../../src/api/types.js';
import { packageInfo } from '../../../src/cli/package-info.js';
import { check, fixture } from './run-check.js';

interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: {
    physicalLocation?: { artifactLocation: { uri: string }; region?: { startLine: number } };
    logicalLocations: { fullyQualifiedName: string; name: string }[];
  }[];
  partialFingerprints: Record<string, string>;
  properties: { policy: string; container: string; kind: string; name: string };
}
interface SarifLog {
  version: string;
  runs: {
    tool: { driver: { name: string; version: string; rules: { id: string; name: string; helpUri: string; help: { text: string; markdown: string } }[] } };
    invocations: { executionSuccessful: boolean }[];
    results: SarifResult[];
  }[];
}

interface ValidationLog {
  runs: { results: (Omit<SarifResult, 'locations'> & { locations?: SarifResult['locations'] })[] }[];
}

const run = promisify(execFile);

/** The platform binary the package resolves to; called directly because its bin.js passes arguments through a shell. */
function multitoolBinary(): string {
  return createRequire(import.meta.url)('@microsoft/sarif-multitool') as string;
}

/**
 * Runs `sarif-multitool validate` once over several logs (it takes a second or two to start) and returns the
 * problems it reports per log (its output is itself a SARIF log whose results point at the validated files).
 */
async function validate(logs: Record<string, string>): Promise<Record<string, { level: string; ruleId: string; text: string }[]>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sarif-'));
  try {
    const names = Object.keys(logs);
    for (const name of names) await writeFile(path.join(dir, `${name}.sarif`), logs[name]!);
    const output = path.join(dir, 'validation.json');
    // No ICU on a minimal machine: .NET's invariant globalization mode needs none and changes nothing here.
    await run(multitoolBinary(), ['validate', ...names.map((n) => path.join(dir, `${n}.sarif`)), '--output', output, '--log', 'ForceOverwrite'],
      { env: { ...process.env, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1' } });
    const validation = JSON.parse(await readFile(output, 'utf8')) as ValidationLog;
    const run0 = validation.runs[0]!;
    const problems = Object.fromEntries(names.map((n) => [n, [] as { level: string; ruleId: string; text: string }[]]));
    for (const result of run0.results) {
      const uri = result.locations?.[0]?.physicalLocation?.artifactLocation.uri ?? '';
      const name = path.basename(uri).replace(/\.sarif$/, '');
      (problems[name] ?? (problems[name] = [])).push({ level: result.level, ruleId: result.ruleId, text: result.message.text });
    }
    return problems;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function sarifOf(argv: string[], stdin = ''): Promise<{ code: number; text: string; log: SarifLog }> {
  const result = await check([...argv, '-o', 'sarif'], stdin);
  expect(result.stderr).to.equal('');
  return { code: result.code, text: result.stdout, log: JSON.parse(result.stdout) as SarifLog };
}

describe('check -o sarif', function () {
  this.timeout(60_000); // the multitool is a .NET program: a second or two to start

  it('npm installed the multitool runnable, although npm 11 skipped its chmod install script', async () => {
    await access(multitoolBinary(), constants.X_OK);
  });

  it('describes every immutability rule once, with help text and a docs link, and names the tool and its version', async () => {
    const { code, log } = await sarifOf(['--policy', fixture('policies'), '-f', fixture('objects')]);
    expect(code).to.equal(1);
    expect(log.version).to.equal('2.1.0');
    const { driver } = log.runs[0]!.tool;
    expect(driver.name).to.equal('immutability-operator');
    expect(driver.version).to.equal(packageInfo().version);
    expect(driver.rules.map((r) => r.id)).to.deep.equal([...SPEC_RULES, ...RUNTIME_RULES]);
    const rulesDoc = await readFile(new URL('../../../../docs/rules.md', import.meta.url), 'utf8');
    for (const rule of driver.rules) {
      expect(rulesDoc, `docs/rules.md has a section for ${rule.id}`).to.include(`\n## ${rule.id}\n`);
      expect(rule.helpUri).to.equal(`${packageInfo().homepage}/blob/main/docs/rules.md#${rule.id.toLowerCase()}`);
      expect(rule.help.text).to.match(/Fix: /);
      expect(rule.name).to.not.equal(rule.id);
    }
  });

  it('has one result per finding, at the file and line of the offending container', async () => {
    const json = JSON.parse((await check(['--policy', fixture('policies'), '-f', fixture('objects'), '-o', 'json'])).stdout) as {
      results: { findings: unknown[] }[];
    };
    const findings = json.results.reduce((sum, r) => sum + r.findings.length, 0);
    const { log } = await sarifOf(['--policy', fixture('policies'), '-f', fixture('objects')]);
    const { results, tool } = log.runs[0]!;
    expect(results).to.have.length(findings);
    expect(findings).to.be.greaterThan(2);
    for (const result of results) {
      expect(tool.driver.rules[result.ruleIndex]?.id).to.equal(result.ruleId);
      const location = result.locations[0]!;
      const file = location.physicalLocation!.artifactLocation.uri;
      const line = location.physicalLocation!.region!.startLine;
      const text = (await readFile(file.startsWith('file:') ? new URL(file) : file, 'utf8')).split('\n');
      // The line is the container's entry: `- name: <container>` (YAML) or `"name": "<container>"` (JSON).
      expect(text[line - 1], `${file}:${line}`).to.match(new RegExp(`(- name: ${result.properties.container}$)|("name": "${result.properties.container}")`));
      expect(location.logicalLocations[0]?.name).to.equal(result.properties.container);
    }
  });

  it('keeps fingerprints when lines move, and tells different findings apart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sarif-moved-'));
    try {
      const original = await readFile(fixture('objects/violating.yaml'), 'utf8');
      await writeFile(path.join(dir, 'moved.yaml'), `# a comment\n# and another\n${original}`);
      const before = (await sarifOf(['--policy', fixture('policies'), '-f', fixture('objects/violating.yaml')])).log.runs[0]!.results;
      const after = (await sarifOf(['--policy', fixture('policies'), '-f', path.join(dir, 'moved.yaml')])).log.runs[0]!.results;
      const prints = (results: SarifResult[]): string[] => results.map((r) => Object.values(r.partialFingerprints).join());
      expect(prints(after)).to.deep.equal(prints(before));
      expect(new Set(prints(before)).size).to.equal(before.length);
      after.forEach((result, i) => {
        expect(result.locations[0]!.physicalLocation!.region!.startLine).to.equal(before[i]!.locations[0]!.physicalLocation!.region!.startLine + 2);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes the SARIF multitool\'s validation without errors or warnings: files, stdin, a compliant run', async () => {
    const files = await sarifOf(['--policy', fixture('policies'), '-f', fixture('objects')]);
    const stdin = await sarifOf(['--policy', fixture('policies'), '-f', '-'], await readFile(fixture('objects/violating.yaml'), 'utf8'));
    expect(stdin.log.runs[0]!.results.length).to.be.greaterThan(0);
    // Nothing to point at for stdin: the result names namespace/kind/name/container instead.
    expect(stdin.log.runs[0]!.results[0]!.locations[0]!.physicalLocation).to.equal(undefined);
    const compliant = await sarifOf(['--policy', fixture('policies'), '-f', fixture('objects/compliant.yaml')]);
    expect(compliant.code).to.equal(0);
    expect(compliant.log.runs[0]!.results).to.deep.equal([]);
    // A log the validator must reject, so that "no problems" above cannot come from a validator that checks nothing.
    const broken = JSON.parse(files.text) as { runs: { results: { ruleIndex: number }[] }[] };
    broken.runs[0]!.results[0]!.ruleIndex = 99;

    const problems = await validate({ files: files.text, stdin: stdin.text, compliant: compliant.text, broken: JSON.stringify(broken) });
    expect({ files: problems.files, stdin: problems.stdin, compliant: problems.compliant }).to.deep.equal({ files: [], stdin: [], compliant: [] });
    expect(problems.broken?.map((p) => p.level)).to.include('error');
  });
});
