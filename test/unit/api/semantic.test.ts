import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import * as semantic from '../../../src/api/semantic.js';
import { defaultCrdPath } from '../../../src/api/validation.js';

/** Every `message` of an x-kubernetes-validations rule anywhere in the CRD. */
function celMessages(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(celMessages);
  if (typeof node !== 'object' || node === null) return [];
  const record = node as Record<string, unknown>;
  const own = Array.isArray(record['x-kubernetes-validations'])
    ? (record['x-kubernetes-validations'] as { message?: string }[]).map((rule) => rule.message ?? '(no message)')
    : [];
  return [...own, ...Object.values(record).flatMap(celMessages)];
}

describe('semanticErrors', () => {
  it('mirrors every CEL rule of the CRD, message for message', () => {
    const crdMessages = new Set(celMessages(parse(readFileSync(defaultCrdPath(), 'utf8'))));
    const mirrored = new Set(
      Object.entries(semantic)
        .filter(([name]) => name.startsWith('MESSAGE_'))
        .map(([, value]) => value as string),
    );
    expect([...crdMessages].sort()).to.deep.equal([...mirrored].sort());
  });

  it('accepts a spec that narrows its exemptions and uses absolute paths', () => {
    expect(
      semantic.semanticErrors({
        match: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Exists' }] } },
        exemptions: [{ images: ['registry.example.com/legacy/*'], reason: 'LEGACY-1' }],
        remediation: { patchOwner: { writablePaths: ['/tmp', '/var/cache/..nginx'] } },
      }),
    ).to.deep.equal([]);
  });

  it('reports each broken rule with its field path', () => {
    expect(
      semantic.semanticErrors({
        match: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: [] }] } },
        exemptions: [{ containers: ['app'], reason: 'ok' }, { reason: ' ' }],
        remediation: { patchOwner: { writablePaths: ['/tmp/..', 'var'] } },
      }),
    ).to.deep.equal([
      `spec.match.namespaceSelector.matchExpressions[0]: ${semantic.MESSAGE_SELECTOR_VALUES}`,
      `spec.exemptions[1]: ${semantic.MESSAGE_EXEMPTION_NARROW}`,
      `spec.exemptions[1].reason: ${semantic.MESSAGE_REASON_BLANK}`,
      `spec.remediation.patchOwner.writablePaths[0]: ${semantic.MESSAGE_PATH_DOTDOT}`,
      `spec.remediation.patchOwner.writablePaths[1]: ${semantic.MESSAGE_PATH_ABSOLUTE}`,
    ]);
  });
});
