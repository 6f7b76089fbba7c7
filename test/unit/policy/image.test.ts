import { expect } from 'chai';
import { imageSpellings, parseImageReference } from '../../../src/policy/index.js';
import type { ImageReference } from '../../../src/policy/index.js';
import { loadFixture } from './fixtures.js';

interface ImagesFixture {
  references: { image: string; reference: ImageReference }[];
  spellings: { image: string; includes: string[]; excludes?: string[] }[];
}

describe('policy/image', () => {
  const fixture = loadFixture<ImagesFixture>('images.yaml');
  expect(fixture.references).to.not.be.empty;
  expect(fixture.spellings).to.not.be.empty;

  for (const c of fixture.references) {
    it(`parses ${c.image}`, () => {
      expect(parseImageReference(c.image)).to.deep.equal(c.reference);
    });
  }
  for (const c of fixture.spellings) {
    it(`spells ${c.image} every way a glob may write it`, () => {
      const spellings = imageSpellings(c.image);
      expect(spellings[0]).to.equal(c.image);
      expect(spellings).to.include.members(c.includes);
      for (const excluded of c.excludes ?? []) expect(spellings).to.not.include(excluded);
      expect(new Set(spellings).size).to.equal(spellings.length);
    });
  }
});
