import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { GENERATED_TYPES_PATH, renderApiTypes } from '../../../tools/generate-api-types.js';

describe('api/generated.ts', () => {
  it('is what the generator makes of the CRD today (run `npm run generate` after editing the CRD)', async () => {
    const committed = readFileSync(GENERATED_TYPES_PATH, 'utf8');
    const regenerated = await renderApiTypes();
    expect(regenerated.length).to.be.greaterThan(1000);
    expect(committed, 'src/api/generated.ts is stale: run `npm run generate`').to.equal(regenerated);
  });
});
