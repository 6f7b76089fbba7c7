import { expect } from 'chai';
import { heapFit } from '../../../src/observability/heap-limit.js';

const MiB = 1024 * 1024;
const MACHINE = 24 * 1024 * MiB;
// heap_size_limit as V8 reports it: old space plus the young generation (12 MiB with --max-semi-space-size=4).
const heapOf = (oldSpaceMiB: number): number => (oldSpaceMiB + 12) * MiB;

describe('observability/heap-limit heapFit', () => {
  it('is quiet for the shipped pairing (160 MiB of old space under 256 Mi) and without a container limit', () => {
    expect(heapFit(heapOf(160), 256 * MiB, MACHINE)).to.equal(undefined);
    expect(heapFit(heapOf(2048), 0, MACHINE)).to.equal(undefined);
    expect(heapFit(heapOf(2048), MACHINE, MACHINE)).to.equal(undefined);
  });

  it("warns when Node's own heap size outgrows a small limit (256 MiB of old space under 256 Mi), with the flag that fits", () => {
    const fit = heapFit(heapOf(256), 256 * MiB, MACHINE);
    expect(fit?.level).to.equal('warn');
    expect(fit?.fields).to.deep.equal({ heapLimitMiB: 268, memoryLimitMiB: 256, fits: 'NODE_OPTIONS=--max-old-space-size=160' });
  });

  it('says so when a raised memory limit is left unused by the old flag', () => {
    const fit = heapFit(heapOf(160), 1024 * MiB, MACHINE);
    expect(fit?.level).to.equal('info');
    expect(fit?.fields.fits).to.equal('NODE_OPTIONS=--max-old-space-size=640');
  });
});
