import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createPolicyValidator, defaultCrdPath } from '../../../src/api/validation.js';
import { GENERATED_VALIDATOR_PATH, renderPolicyValidator } from '../../../tools/generate-policy-validator.js';
import { INVALID_POLICIES, validPolicy } from './invalid-policies.js';

describe('api/policy-validator.generated.ts', () => {
  it('is what the generator makes of the CRD today (run `npm run generate` after editing the CRD)', () => {
    const committed = readFileSync(GENERATED_VALIDATOR_PATH, 'utf8');
    const regenerated = renderPolicyValidator();
    expect(regenerated.length).to.be.greaterThan(10_000);
    expect(committed === regenerated, 'src/api/policy-validator.generated.ts is stale: run `npm run generate`').to.equal(true);
  });

  it('judges every policy as compiling the CRD does, errors and defaults alike', () => {
    // Another CRD text (a comment added) has another digest, so this validator compiles the schema.
    const directory = mkdtempSync(join(tmpdir(), 'crd-'));
    try {
      const crdCopy = join(directory, 'crd.yaml');
      writeFileSync(crdCopy, `${readFileSync(defaultCrdPath(), 'utf8')}\n# a copy\n`);
      const compiled = createPolicyValidator(crdCopy);
      const generated = createPolicyValidator();
      expect(generated(validPolicy())).to.deep.equal(compiled(validPolicy()));
      expect(generated(validPolicy())).to.deep.include({ ok: true });
      for (const { name, mutate } of INVALID_POLICIES) {
        const policy = validPolicy();
        mutate(policy);
        expect(generated(policy), name).to.deep.equal(compiled(policy));
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
