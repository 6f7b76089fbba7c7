// The fast path for reading manifests: js-yaml, which builds plain objects directly and reads a large
// multi-document file about ten times faster than `yaml` (which first builds a document tree with source
// ranges). `check` on 5,000 Deployments spent most of its time in `yaml` (docs/benchmarks.md).
//
// `yaml` stays the reference: every text this module declines — one that js-yaml rejects, or that uses
// anchors, merge keys or directives, where the two libraries could read differently or `yaml`'s bounds on
// alias expansion matter — is read by `yaml` as before, so errors keep their wording and positions. The
// scalar rules below are `yaml`'s YAML 1.1 schema as input.ts configures it (no timestamps, no sexagesimal
// numbers), written with the same patterns and conversions; test/unit/cli/yaml-fast.test.ts checks both
// libraries agree on every case.
import { FAILSAFE_SCHEMA, loadAll, Type } from 'js-yaml';
import type { LoadOptions } from 'js-yaml';

/**
 * A plain-scalar rule: `pattern` decides, `construct` converts. The tag names are private, so an explicit
 * tag such as `!!int` is unknown to js-yaml and the text goes to `yaml`.
 */
function scalar(name: string, pattern: RegExp, construct: (text: string) => unknown): Type {
  return new Type(`tag:immutability.dev,2026:yaml-1.1-${name}`, {
    kind: 'scalar',
    resolve: (text: unknown) => typeof text === 'string' && pattern.test(text),
    construct: (text: string) => construct(text),
  });
}

/** `yaml`'s YAML 1.1 integer conversion: sign, then digits after `offset` without underscores. */
function integer(offset: number, radix: number): (text: string) => number {
  return (text) => {
    const sign = text[0];
    const digits = text.substring(sign === '-' || sign === '+' ? offset + 1 : offset).replace(/_/g, '');
    const n = parseInt(digits, radix);
    return sign === '-' ? -1 * n : n;
  };
}

// In `yaml`'s order: the first rule whose pattern matches a plain scalar decides its type.
const YAML_1_1_SCALARS = [
  scalar('null', /^(?:~|[Nn]ull|NULL)?$/, () => null),
  scalar('true', /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/, () => true),
  scalar('false', /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/, () => false),
  scalar('int-binary', /^[-+]?0b[0-1_]+$/, integer(2, 2)),
  scalar('int-octal', /^[-+]?0[0-7_]+$/, integer(1, 8)),
  scalar('int', /^[-+]?[0-9][0-9_]*$/, integer(0, 10)),
  scalar('int-hex', /^[-+]?0x[0-9a-fA-F_]+$/, integer(2, 16)),
  scalar('float-special', /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/, (text) =>
    text.slice(-3).toLowerCase() === 'nan' ? NaN : text[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY),
  scalar('float-exponent', /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/, (text) => parseFloat(text.replace(/_/g, ''))),
  scalar('float', /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/, (text) => parseFloat(text.replace(/_/g, ''))),
];

const SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: YAML_1_1_SCALARS });

/**
 * Rare in manifests, and read differently by the two libraries, so `yaml` reads them: merge keys (`<<`),
 * directives (`%YAML`, `%TAG`), and a null key (`~:`, `null:`), which is "" to `yaml` and "null" to js-yaml.
 */
const DECLINED_TEXT = /<<|^%|(?:^|[\s,{[?-])(?:~|[Nn]ull|NULL)[ \t]*:(?:[ \t]|$)/m;

class Declined extends Error {}

/**
 * The documents of a YAML stream, in order, an empty document as null or undefined; or undefined when this
 * fast path declines the text (see above) and `yaml` must read it.
 */
export function readYamlFast(text: string): unknown[] | undefined {
  if (DECLINED_TEXT.test(text)) return undefined;
  const options: LoadOptions = {
    schema: SCHEMA,
    // An anchor (and so any alias) sends the text to `yaml`, which bounds alias expansion.
    listener(event, state) {
      // js-yaml keeps the anchor of the node being closed in its (untyped) state.
      const { anchor } = state as { anchor?: string | null };
      if (event === 'close' && typeof anchor === 'string') throw new Declined();
    },
  };
  try {
    return loadAll(text, null, options);
  } catch {
    // js-yaml's own errors too: `yaml` reports them in the words and positions the CLI documents.
    return undefined;
  }
}
