import { expect } from 'chai';
import { MalformedStreamError, StatusError, statusCodeOf } from '../../../src/runtime/errors.js';
import {
  WatchLineDecoder,
  metadataKeyOf,
  parseWatchLine,
  resourceVersionOf,
  statusErrorFromEvent,
  type WatchEvent,
} from '../../../src/runtime/list-watch.js';

describe('watch stream decoding', () => {
  it('parses a watch event line', () => {
    expect(parseWatchLine('{"type":"ADDED","object":{"metadata":{"name":"a"}}}')).to.deep.equal({
      type: 'ADDED',
      object: { metadata: { name: 'a' } },
    });
  });

  for (const line of ['{"type":"ADDED","obj', 'not json', '{"type":"EXPLODED","object":{}}', '{"type":"ADDED"}', '[]']) {
    it(`rejects ${JSON.stringify(line)} as malformed`, () => {
      expect(() => parseWatchLine(line)).to.throw(MalformedStreamError);
    });
  }

  it('reassembles lines split across chunks and skips blank lines', () => {
    const events: WatchEvent[] = [];
    const d = new WatchLineDecoder((ev) => events.push(ev));
    d.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MOD');
    d.write('IFIED","object":{"metadata":{"name":"a"}}}\n\n');
    d.write('{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\r\n');
    d.end();
    expect(events.map((e) => e.type)).to.deep.equal(['ADDED', 'MODIFIED', 'BOOKMARK']);
  });

  it('reports a stream that ends in the middle of an event', () => {
    const d = new WatchLineDecoder(() => undefined);
    d.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"ADD');
    expect(() => d.end()).to.throw(MalformedStreamError, /ended mid-event/);
  });
});

describe('object helpers', () => {
  it('reads resourceVersion and namespace/name keys from metadata', () => {
    expect(resourceVersionOf({ metadata: { resourceVersion: '42' } })).to.equal('42');
    expect(resourceVersionOf({ metadata: {} })).to.equal(undefined);
    expect(metadataKeyOf({ metadata: { name: 'p', namespace: 'ns' } })).to.equal('ns/p');
    expect(metadataKeyOf({ metadata: { name: 'cluster-scoped' } })).to.equal('cluster-scoped');
    expect(metadataKeyOf({})).to.equal(undefined);
  });

  it('turns an ERROR event Status into a StatusError with its code and reason', () => {
    const err = statusErrorFromEvent({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
    expect(err).to.be.instanceOf(StatusError);
    expect([err.status, err.reason, err.message]).to.deep.equal([410, 'Expired', 'too old']);
    expect(statusErrorFromEvent('garbage').status).to.equal(500);
  });
});

describe('statusCodeOf', () => {
  const cases: Array<[string, unknown, number | undefined]> = [
    ['StatusError', new StatusError(410, 'gone'), 410],
    ['client-node ApiException', Object.assign(new Error('HTTP-Code: 409'), { code: 409, body: '{}' }), 409],
    ['client-node Watch error', Object.assign(new Error('Gone'), { statusCode: 410 }), 410],
    ['node system error', Object.assign(new Error('reset'), { code: 'ECONNRESET' }), undefined],
    ['plain error', new Error('x'), undefined],
    ['not an error', 'boom', undefined],
  ];
  for (const [name, err, want] of cases) {
    it(`${name} → ${want}`, () => expect(statusCodeOf(err)).to.equal(want));
  }
});
