// Every value the Helm chart accepts is documented in its README's table: values.schema.json (which refuses
// any other key) is the list, so a value added to the chart without a line in the README fails here.
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';

const CHART = new URL('../../../../charts/immutability-operator/', import.meta.url);

interface SchemaNode { properties?: Record<string, SchemaNode>; additionalProperties?: unknown }

/** Dotted paths of the values a user sets: the leaves of the schema's closed objects. */
function valuePaths(node: SchemaNode, prefix = ''): string[] {
  const closed = node.additionalProperties === false && node.properties !== undefined;
  if (!closed) return [prefix];
  return Object.entries(node.properties!).flatMap(([key, child]) => valuePaths(child, prefix === '' ? key : `${prefix}.${key}`));
}

/** The first cell of each row of the README's tables. */
function documentedCells(readme: string): string[] {
  return readme.split('\n').filter((line) => line.startsWith('| `')).map((line) => line.split('|')[1]!.trim());
}

/** `a.b.c` is documented by a cell naming it, or by the shorthand `a.b.x` / `.c` of one row. */
function isDocumented(path: string, cells: string[]): boolean {
  const parent = path.slice(0, path.lastIndexOf('.'));
  const last = path.slice(path.lastIndexOf('.') + 1);
  return cells.some((cell) => cell.includes(`\`${path}\``) || (parent !== '' && cell.includes(`\`${parent}.`) && cell.includes(`\`.${last}\``)));
}

describe('Helm chart values (charts/immutability-operator)', () => {
  it('documents every value of values.schema.json in the README\'s table', async () => {
    const schema = JSON.parse(await readFile(new URL('values.schema.json', CHART), 'utf8')) as SchemaNode;
    const cells = documentedCells(await readFile(new URL('README.md', CHART), 'utf8'));
    const paths = valuePaths(schema);
    expect(paths).to.include.members(['image.repository', 'metrics.service.type', 'reports.openreports', 'resources']);
    expect(paths.filter((path) => !isDocumented(path, cells))).to.deep.equal([]);
  });

  it('would notice an undocumented value', () => {
    const cells = ['`serviceAccount.create` / `.name`', '`metrics.port`'];
    expect(isDocumented('serviceAccount.name', cells)).to.equal(true);
    expect(isDocumented('metrics.port', cells)).to.equal(true);
    expect(isDocumented('serviceAccount.annotations', cells)).to.equal(false);
    expect(isDocumented('metrics.auth', cells)).to.equal(false);
  });
});
