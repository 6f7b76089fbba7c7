import { expect } from 'chai';
import { applyJsonPatch, escapePointerToken, JsonPatchError, parsePointer } from '../../../src/policy/index.js';
import type { JsonPatchOperation } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';

interface PatchCase {
  name: string;
  doc: unknown;
  ops: JsonPatchOperation[];
  result?: unknown;
  error?: string;
}

describe('policy/json-patch', () => {
  const { cases } = loadCases<PatchCase>('json-patch.yaml');
  for (const c of cases) {
    it(c.name, () => {
      const before = structuredClone(c.doc);
      if (c.error !== undefined) {
        expect(() => applyJsonPatch(c.doc, c.ops)).to.throw(JsonPatchError, c.error);
      } else {
        expect(applyJsonPatch(c.doc, c.ops)).to.deep.equal(c.result);
      }
      expect(c.doc, 'the input document is never modified').to.deep.equal(before);
    });
  }

  it('a __proto__ token does not change the prototype', () => {
    const patched = applyJsonPatch<Record<string, unknown>>({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]);
    expect(Object.getPrototypeOf(patched)).to.equal(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(patched, '__proto__')).to.equal(true);
    expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
  });

  it('JsonPatchError carries the failing operation', () => {
    const operation: JsonPatchOperation = { op: 'remove', path: '/missing' };
    try {
      applyJsonPatch({}, [operation]);
      expect.fail('expected a JsonPatchError');
    } catch (error) {
      expect(error).to.be.instanceOf(JsonPatchError);
      expect((error as JsonPatchError).operation).to.equal(operation);
      expect((error as JsonPatchError).name).to.equal('JsonPatchError');
    }
  });

  it('escapes and parses pointer tokens (RFC 6901)', () => {
    expect(escapePointerToken('a/b~c')).to.equal('a~1b~0c');
    expect(parsePointer('/a~1b~0c/d')).to.deep.equal(['a/b~c', 'd']);
    expect(parsePointer('')).to.deep.equal([]);
    expect(parsePointer('/~01')).to.deep.equal(['~1']);
    expect(() => parsePointer('a')).to.throw('does not start with "/"');
  });
});
