import { expect } from 'chai';
import { normalizeMountPath, readableVolumeName } from '../../../src/policy/index.js';

describe('policy/volume-name', () => {
  it('derives readable DNS-1123 names from paths', () => {
    expect(readableVolumeName('/var/cache/nginx')).to.equal('immutability-tmp-var-cache-nginx');
    expect(readableVolumeName('/tmp')).to.equal('immutability-tmp-tmp');
    expect(readableVolumeName('/Data/My_App')).to.equal('immutability-tmp-data-my-app');
    expect(readableVolumeName('/')).to.equal('immutability-tmp-root');
  });

  it('keeps long names within 63 characters, distinct and stable', () => {
    const a = readableVolumeName(`/${'x'.repeat(100)}/a`);
    const b = readableVolumeName(`/${'x'.repeat(100)}/b`);
    expect(a.length).to.be.at.most(63);
    expect(a).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).to.not.equal(b);
    expect(readableVolumeName(`/${'x'.repeat(100)}/a`)).to.equal(a);
  });

  it('does not end a cut name on a dash before the fingerprint', () => {
    // 37 characters of slug fit; this path puts a separator exactly at the cut.
    const name = readableVolumeName(`/${'a'.repeat(36)}/${'b'.repeat(40)}`);
    expect(name).to.match(/^immutability-tmp-a{36}-[0-9a-f]{8}$/);
  });

  it('normalises mount paths', () => {
    expect(normalizeMountPath('/var/run/')).to.equal('/var/run');
    expect(normalizeMountPath('//var//run')).to.equal('/var/run');
    expect(normalizeMountPath('/')).to.equal('/');
  });
});
