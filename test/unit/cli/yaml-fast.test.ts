import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { YAML_OPTIONS } from '../../../src/cli/input.js';
import { readYamlFast } from '../../../src/cli/yaml-fast.js';
import { generateDeployment } from '../../../bench/scenarios/check.js';

/** What `yaml` — the reference reading — makes of a text: one value per document, null for an empty one. */
function reference(text: string): unknown[] {
  return parseAllDocuments(text, YAML_OPTIONS).map((document) => {
    expect(document.errors, `yaml rejects ${JSON.stringify(text)}`).to.deep.equal([]);
    return document.toJS() as unknown;
  });
}

/**
 * Empty documents are dropped, so only the place of the others matters: an empty document is null to one
 * library and undefined to the other, and a comment-only stream is one empty document to `yaml` and none to
 * js-yaml. Trailing empty documents are trimmed.
 */
function documentsOf(values: readonly unknown[]): unknown[] {
  const out = values.map((value) => value ?? null);
  while (out.length > 0 && out[out.length - 1] === null) out.pop();
  return out;
}

/** `mayDecline`: js-yaml may refuse the text (then `yaml` reads it, as the caller does). */
function expectSameReading(text: string, mayDecline = false): void {
  const fast = readYamlFast(text);
  if (fast === undefined && mayDecline) return;
  expect(fast, `the fast path declined ${JSON.stringify(text)}`).to.not.equal(undefined);
  expect(documentsOf(fast!), JSON.stringify(text)).to.deep.equal(documentsOf(reference(text)));
}

const PLAIN_SCALARS = [
  // YAML 1.1 booleans and their look-alikes
  'y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE',
  'on', 'On', 'ON', 'off', 'Off', 'OFF', 'yES', 'tRUE', 'onn', 'ys',
  // null
  '~', 'null', 'Null', 'NULL', 'nULL', 'nil',
  // integers: decimal, octal, binary, hex, with signs and underscores, and broken ones
  '0', '00', '07', '08', '0644', '-0644', '+0644', '0_7', '0_', '12', '-12', '+12', '1_000', '0b101', '-0b1_01', '0b', '0b2',
  '0x1F', '0x_1f', '-0x1F', '0x', '0xG', '9007199254740993', '1:30', '190:20:30', '-1:30',
  // floats
  '1.5', '-1.5', '+1.5', '.5', '1.', '.', '-.', '1_0.5_0', '1e3', '1E+3', '1.5e-3', '-.5e2', 'e3', '1e', '1.5.5',
  '.inf', '.Inf', '.INF', '-.inf', '+.inf', '.nan', '.NaN', '.NAN', 'inf', 'nan', '1:30.5',
  // timestamps stay strings, as kubectl reads them
  '2027-01-31', '2027-01-31T00:00:00Z', '2027-01-31 00:00:00 +01:00',
  // strings that look like something else
  'nginx:1.27', 'registry.example/a:b', '0.0.0.0/0', '10m', '500Mi', '1Gi', 'a b', '-', 'http://x/y?a=1&b=2',
];

describe('readYamlFast (js-yaml) reads manifests exactly as yaml does', () => {
  it('resolves every plain scalar as the YAML 1.1 schema kubectl uses', () => {
    for (const scalar of PLAIN_SCALARS) {
      // `-` alone is no plain scalar to js-yaml; whatever it declines, `yaml` reads.
      expectSameReading(`value: ${scalar}\n`, scalar === '-');
      expectSameReading(`- ${scalar}\n`, scalar === '-');
      // A null key is declined (see yaml-fast.ts), so only the others are compared as keys.
      if (!/^(?:~|[Nn]ull|NULL)$/.test(scalar)) expectSameReading(`${scalar}: key\n`, scalar === '-');
    }
  });

  it('keeps quoted and block scalars as strings', () => {
    for (const text of [
      'a: "0644"\nb: \'yes\'\nc: "~"\nd: ""\n',
      'script: |\n  echo 1\n  yes\nfolded: >-\n  a\n  b\n\n  c\nkeep: |+\n  x\n\n',
      'a: "line\\nbreak \\u00e9 \\t tab"\nb: \'it\'\'s\'\n',
      'multi: first\n  second\n  third\n',
    ]) expectSameReading(text);
  });

  it('reads flow collections, nesting, empty values and odd keys the same', () => {
    for (const text of [
      'a: {b: [1, 2, {c: d}], e: []}\nf: {}\n',
      'a:\nb: ~\nc: [ ]\n',
      '? complex\n: value\n',
      '"quoted key": 1\n\'single\': 2\n',
      'a:\n- b: 1\n  c: 2\n-   - nested\n    - list\n',
      '__proto__: x\nconstructor: y\n',
      '- [a, b]\n- {a: 1}\n-\n- ""\n',
    ]) expectSameReading(text);
  });

  it('numbers documents alike: markers, empty documents, comments, end markers', () => {
    for (const text of [
      '',
      '# only a comment\n',
      '---\n',
      '---\n---\n',
      'kind: A\n---\n',
      '---\nkind: A\n',
      '---\n# only a comment\n---\nkind: A\n---\nkind: B\n',
      'kind: A\n...\n---\nkind: B\n...\n',
      'kind: A\n---\n\n---\nkind: B\n',
      '--- kind\n--- [1]\n',
      'kind: A\r\n---\r\nkind: B\r\n',
      '\uFEFFkind: A\n',
      'kind: A',
    ]) expectSameReading(text);
  });

  it('reads JSON, the test fixtures and the check benchmark\'s workload the same', () => {
    expectSameReading(JSON.stringify({ kind: 'List', items: [{ a: 1.5, b: [true, null, 'x'] }] }, null, 2));
    const fixtures = 'test/fixtures/check';
    for (const directory of readdirSync(fixtures)) {
      for (const file of readdirSync(join(fixtures, directory))) {
        const text = readFileSync(join(fixtures, directory, file), 'utf8');
        if (readYamlFast(text) !== undefined && parseAllDocuments(text, YAML_OPTIONS).every((d) => d.errors.length === 0)) {
          expectSameReading(text);
        }
      }
    }
    expectSameReading(Array.from({ length: 40 }, (_, i) => generateDeployment(i).yaml).join('\n---\n'));
  });

  it('leaves to yaml what it reads differently or bounds: anchors, merge keys, tags, directives, errors', () => {
    for (const text of [
      'a: &x 1\nb: *x\n',
      'a: &x [1]\n',
      'base: &b {x: 1}\nderived:\n  <<: *b\n',
      'derived:\n  <<: {x: 1}\n',
      'a: !!int "12"\n',
      'a: !!binary aGVsbG8=\n',
      'a: !local x\n',
      'a: !!timestamp 2027-01-31\n',
      '%YAML 1.2\n---\na: yes\n',
      'kind: A\nkind: B\n',
      'kind: [B\n',
      'a: b: c\n',
      '\tkind: A\n',
      '~: a\n',
      'a:\n  null: b\n',
      '{NULL: c}\n',
      '- ~ : d\n',
    ]) expect(readYamlFast(text), JSON.stringify(text)).to.equal(undefined);
  });
});
