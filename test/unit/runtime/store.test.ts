import { expect } from 'chai';
import { deepEqual } from '../../../src/runtime/json.js';
import { Store, type StoreEvent } from '../../../src/runtime/store.js';

interface Item {
  name: string;
  owner?: string;
  tags?: string[];
  v?: number;
}

function store(): { s: Store<Item>; events: string[] } {
  const s = new Store<Item>((o) => o.name);
  const events: string[] = [];
  s.onChange((ev: StoreEvent<Item>) => events.push(`${ev.type}:${ev.key}${ev.old ? `<-${ev.old.v}` : ''}`));
  return { s, events };
}

describe('Store', () => {
  it('upsert emits added, then updated with the old object, and nothing for an unchanged object', () => {
    const { s, events } = store();
    s.upsert({ name: 'a', v: 1 });
    s.upsert({ name: 'a', v: 2 });
    s.upsert({ name: 'a', v: 2 });
    expect(events).to.deep.equal(['added:a', 'updated:a<-1']);
    expect(s.get('a')).to.deep.equal({ name: 'a', v: 2 });
    expect(s.size).to.equal(1);
  });

  it('upsert of the cached object itself is no change and compares nothing', () => {
    let compared = 0;
    const s = new Store<Item>((o) => o.name, { equals: (a, b) => (compared++, deepEqual(a, b)) });
    const events: string[] = [];
    s.onChange((ev) => events.push(`${ev.type}:${ev.key}`));
    const a = { name: 'a', v: 1 };
    s.upsert(a);
    s.upsert(a);
    expect(compared).to.equal(0);
    s.upsert({ name: 'a', v: 1 });
    expect(compared).to.equal(1);
    expect(events).to.deep.equal(['added:a']);
  });

  it('keeps index entries through an update that keeps the index values, and moves them when they change', () => {
    const s = new Store<Item>((o) => o.name);
    s.addIndex('owner', (o) => (o.owner ? [o.owner, o.owner] : [])); // duplicates count once
    s.upsert({ name: 'a', owner: 'x', v: 1 });
    s.upsert({ name: 'a', owner: 'x', v: 2 });
    expect(s.byIndex('owner', 'x')).to.deep.equal([{ name: 'a', owner: 'x', v: 2 }]);
    s.upsert({ name: 'a', owner: 'y', v: 3 });
    expect(s.keysByIndex('owner', 'x')).to.deep.equal([]);
    expect(s.keysByIndex('owner', 'y')).to.deep.equal(['a']);
    s.delete('a');
    expect(s.keysByIndex('owner', 'y')).to.deep.equal([]);
  });

  it('a listener that unsubscribes another during an event does not stop that event reaching it', () => {
    const s = new Store<Item>((o) => o.name);
    const got: string[] = [];
    let offB: () => void = () => undefined;
    s.onChange(() => { got.push('a'); offB(); });
    offB = s.onChange(() => got.push('b'));
    s.upsert({ name: 'x' });
    s.upsert({ name: 'y' });
    expect(got).to.deep.equal(['a', 'b', 'a']);
  });

  it('delete emits deleted with the last known object, and nothing for an unknown key', () => {
    const { s, events } = store();
    const seen: Array<Item | undefined> = [];
    s.onChange((ev) => seen.push(ev.obj));
    s.upsert({ name: 'a', v: 1 });
    s.delete('a');
    s.delete('zzz');
    expect(events).to.deep.equal(['added:a', 'deleted:a']);
    expect(seen[1]).to.deep.equal({ name: 'a', v: 1 });
    expect(s.get('a')).to.equal(undefined);
  });

  it('replace diffs against the cache: deletes what vanished, adds what is new, updates what changed', () => {
    const { s, events } = store();
    s.replace([{ name: 'a', v: 1 }, { name: 'b', v: 1 }, { name: 'c', v: 1 }], '10');
    events.length = 0;
    s.replace([{ name: 'a', v: 1 }, { name: 'b', v: 2 }, { name: 'd', v: 1 }], '20');
    expect(events).to.deep.equal(['deleted:c', 'updated:b<-1', 'added:d']);
    expect(s.keys().sort()).to.deep.equal(['a', 'b', 'd']);
    expect(s.resourceVersion).to.equal('20');
  });

  it('uses a custom equality to decide what counts as a change', () => {
    const s = new Store<Item>((o) => o.name, { equals: (a, b) => a.v === b.v });
    const events: string[] = [];
    s.onChange((ev) => events.push(ev.type));
    s.upsert({ name: 'a', v: 1, tags: ['x'] });
    s.upsert({ name: 'a', v: 1, tags: ['y'] });
    expect(events).to.deep.equal(['added']);
    expect(s.get('a')?.tags).to.deep.equal(['y']); // newest copy kept
  });

  it('maintains secondary indexes through upsert, update, delete and replace', () => {
    const { s } = store();
    s.upsert({ name: 'p1', owner: 'rs1', tags: ['x', 'y'] });
    s.addIndex('owner', (o) => (o.owner ? [o.owner] : []));
    s.addIndex('tag', (o) => o.tags ?? []);
    s.upsert({ name: 'p2', owner: 'rs1', tags: ['y'] });
    expect(s.byIndex('owner', 'rs1').map((o) => o.name).sort()).to.deep.equal(['p1', 'p2']);
    expect(s.byIndex('tag', 'y').map((o) => o.name).sort()).to.deep.equal(['p1', 'p2']);

    s.upsert({ name: 'p2', owner: 'rs2', tags: ['z'] });
    expect(s.byIndex('owner', 'rs1').map((o) => o.name)).to.deep.equal(['p1']);
    expect(s.byIndex('owner', 'rs2').map((o) => o.name)).to.deep.equal(['p2']);
    expect(s.byIndex('tag', 'y').map((o) => o.name)).to.deep.equal(['p1']);

    s.delete('p1');
    expect(s.byIndex('owner', 'rs1')).to.deep.equal([]);

    s.replace([{ name: 'p3', owner: 'rs2' }], '5');
    expect(s.byIndex('owner', 'rs2').map((o) => o.name)).to.deep.equal(['p3']);
    expect(s.byIndex('tag', 'z')).to.deep.equal([]);
  });

  it('rejects unknown and duplicate index names', () => {
    const { s } = store();
    s.addIndex('i', () => []);
    expect(() => s.addIndex('i', () => [])).to.throw(/already exists/);
    expect(() => s.byIndex('nope', 'x')).to.throw(/does not exist/);
  });

  it('delivers an event to every listener even if one throws, then rethrows', () => {
    const s = new Store<Item>((o) => o.name);
    const seen: string[] = [];
    s.onChange(() => {
      throw new Error('listener bug');
    });
    s.onChange((ev) => seen.push(ev.key));
    expect(() => s.upsert({ name: 'a' })).to.throw('listener bug');
    expect(seen).to.deep.equal(['a']);
    expect(s.get('a')).to.deep.equal({ name: 'a' });
  });

  it('unsubscribes listeners', () => {
    const s = new Store<Item>((o) => o.name);
    const seen: string[] = [];
    const off = s.onChange((ev) => seen.push(ev.key));
    s.upsert({ name: 'a' });
    off();
    s.upsert({ name: 'b' });
    expect(seen).to.deep.equal(['a']);
  });
});

describe('deepEqual', () => {
  const cases: Array<[unknown, unknown, boolean]> = [
    [{ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined }, true],
    [{ a: 1 }, { a: 2 }, false],
    [[1, 2], [2, 1], false],
    [[], {}, false],
    [null, {}, false],
    ['x', 'x', true],
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: undefined }, { b: undefined }, true],
    [{ a: 1 }, { b: 1 }, false],
    [{ a: 1, b: 2 }, { a: 1 }, false],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [[1, [2]], [1, [3]], false],
    [[1, 2], [1, 2, 3], false],
  ];
  for (const [a, b, want] of cases) {
    it(`${JSON.stringify(a)} vs ${JSON.stringify(b)} → ${want}`, () => expect(deepEqual(a, b)).to.equal(want));
  }
});
