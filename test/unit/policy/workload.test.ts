import { expect } from 'chai';
import { applyJsonPatch, workloadFromObject } from '../../../src/policy/index.js';
import type { JsonPatchOperation } from '../../../src/policy/index.js';
import { loadCases } from './fixtures.js';

interface WorkloadCase {
  name: string;
  object: unknown;
  workload?: { kind: string; namespace: string; name: string; podSpecPath: string };
  error?: string;
}

describe('policy/workload', () => {
  const { cases } = loadCases<WorkloadCase>('workload.yaml');
  for (const c of cases) {
    it(c.name, () => {
      const result = workloadFromObject(c.object);
      if (c.error !== undefined) {
        expect(result).to.have.property('error').that.includes(c.error);
        return;
      }
      if ('error' in result) throw new Error(`unexpected error: ${result.error}`);
      const { podSpec, ...identity } = result;
      expect(identity).to.deep.equal(c.workload);
      // podSpecPath really points at podSpec: a `test` operation at that pointer passes.
      const check: JsonPatchOperation[] = [{ op: 'test', path: result.podSpecPath, value: podSpec }];
      expect(() => applyJsonPatch(c.object, check)).to.not.throw();
    });
  }
});
