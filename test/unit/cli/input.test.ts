import { expect } from 'chai';
import { parseManifests } from '../../../src/cli/input.js';

describe('parseManifests', () => {
  it('reads YAML as kubectl does: 1.1 booleans and octals, timestamps kept as strings', () => {
    const { documents, errors } = parseManifests('a: yes\nb: off\nc: 0644\nd: 2027-01-31T00:00:00Z\ne: 1:30\n', 'x.yaml');
    expect(errors).to.deep.equal([]);
    expect(documents.map(({ source, object }) => ({ source, object }))).to.deep.equal([{ source: 'x.yaml#1', object: { a: true, b: false, c: 420, d: '2027-01-31T00:00:00Z', e: '1:30' } }]);
  });

  it('numbers documents from 1, skipping empty ones but keeping their place', () => {
    const { documents } = parseManifests('---\n# only a comment\n---\nkind: A\n---\nkind: B\n', 'm.yaml');
    expect(documents.map((d) => d.source)).to.deep.equal(['m.yaml#2', 'm.yaml#3']);
  });

  it('expands List and typed lists, nested', () => {
    const text = JSON.stringify({
      kind: 'List',
      items: [{ kind: 'Pod' }, { kind: 'PodList', items: [{ kind: 'Pod', metadata: { name: 'p' } }] }],
    });
    const { documents } = parseManifests(text, 'l.json');
    expect(documents.map(({ source, object }) => ({ source, object }))).to.deep.equal([
      { source: 'l.json#1 items[0]', object: { kind: 'Pod' } },
      { source: 'l.json#1 items[1] items[0]', object: { kind: 'Pod', metadata: { name: 'p' } } },
    ]);
  });

  it('locates nodes by line, through List items, and keeps the file it was read from', () => {
    const text = [
      'kind: A', // 1
      '---',
      'kind: List', // 3
      'items:',
      '- kind: Pod', // 5
      '  spec:',
      '    containers:',
      '    - name: a', // 8
      '    - name: b', // 9
      '',
    ].join('\n');
    const { documents } = parseManifests(text, 'f.yaml', 'dir/f.yaml');
    expect(documents.map((d) => d.file)).to.deep.equal(['dir/f.yaml', 'dir/f.yaml']);
    expect(documents[0]?.lineOf(['kind'])).to.equal(1);
    expect(documents[1]?.lineOf([])).to.equal(5);
    expect(documents[1]?.lineOf(['spec', 'containers', 1])).to.equal(9);
    expect(documents[1]?.lineOf(['spec', 'containers', 2])).to.equal(undefined);
    expect(parseManifests('kind: A\n', '<stdin>').documents[0]?.file).to.equal(undefined);
  });

  it('reports a syntax error with its document, line and column, and keeps the other documents', () => {
    const { documents, errors } = parseManifests('kind: A\n---\nkind: [B\n---\nkind: C\n', 'e.yaml');
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^e\.yaml#2: .+ at line \d+, column \d+$/);
    expect(documents.map((d) => d.source)).to.deep.equal(['e.yaml#1', 'e.yaml#3']);
  });

  it('rejects duplicate keys, as kubectl does', () => {
    const { errors } = parseManifests('kind: A\nkind: B\n', 'd.yaml');
    expect(errors[0]).to.match(/^d\.yaml#1: Map keys must be unique at line 2, column 1$/);
  });

  it('bounds alias expansion', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    const { errors } = parseManifests(lines.join('\n'), 'bomb.yaml');
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^bomb\.yaml#1: /);
  });
});
