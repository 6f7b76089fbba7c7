import { expect } from 'chai';
import { ApiException } from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { createLogger, LineBatcher, serializeError } from '../../../src/observability/logger.js';
import { CapturedStream, FakeClock, settle } from './helpers.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

async function jsonLines(stream: CapturedStream): Promise<Record<string, unknown>[]> {
  await settle();
  return stream.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('observability/logger', () => {
  describe('json format', () => {
    it('writes one JSON object per line with timestamp, level, msg and the fields', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'info', format: 'json', stream, clock: new FakeClock(T0) });
      log.info('reconciled', { controller: 'policy', key: 'production', pods: 3 });
      const [line, ...rest] = await jsonLines(stream);
      expect(rest).to.have.length(0);
      expect(line).to.deep.equal({
        timestamp: '2026-11-22T10:00:00.000Z',
        level: 'info',
        msg: 'reconciled',
        controller: 'policy',
        key: 'production',
        pods: 3,
      });
      expect(stream.chunks.join('')).to.match(/^\{"timestamp":"2026-11-22T10:00:00.000Z","level":"info","msg":"reconciled"/);
    });

    it('child loggers add their fields and per-call fields win', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'info', format: 'json', stream });
      const child = log.child({ controller: 'pod', key: 'a/b' }).child({ policy: 'p1' });
      child.warn('evicting', { key: 'a/c' });
      const [line] = await jsonLines(stream);
      expect(line).to.include({ level: 'warn', msg: 'evicting', controller: 'pod', key: 'a/c', policy: 'p1' });
    });

    it('drops entries below the configured level', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'warn', format: 'json', stream });
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      expect((await jsonLines(stream)).map((l) => l['msg'])).to.deep.equal(['w', 'e']);
    });

    it('keeps fields from overwriting timestamp, level and msg', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'info', format: 'json', stream });
      log.info('real', { msg: 'fake', level: 'error', message: 'm' });
      const [line] = await jsonLines(stream);
      expect(line).to.include({ msg: 'real', level: 'info', field_msg: 'fake', field_level: 'error', message: 'm' });
    });

    it('serializes errors without stacks at info level', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'info', format: 'json', stream });
      log.error('eviction failed', { err: new Error('boom') });
      const [line] = await jsonLines(stream);
      expect(line!['err']).to.deep.equal({ message: 'boom' });
    });

    it('includes stacks at debug level', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'debug', format: 'json', stream });
      log.error('eviction failed', { err: new Error('boom') });
      const [line] = await jsonLines(stream);
      expect((line!['err'] as { stack?: string }).stack).to.match(/^at .*logger\.test\.js/);
    });

    it('survives values JSON cannot represent (cycles, bigint)', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'info', format: 'json', stream });
      const cyclic: Record<string, unknown> = { name: 'x' };
      cyclic['self'] = cyclic;
      log.info('odd values', { cyclic, big: 10n, when: new Date(T0), gone: undefined });
      const [line] = await jsonLines(stream);
      expect(line).to.deep.include({ cyclic: { name: 'x', self: '[Circular]' }, big: '10', when: '2026-11-22T10:00:00.000Z' });
      expect(line).not.to.have.property('gone');
    });
  });

  describe('text format', () => {
    it('writes one readable line with key=value fields, quoting values that need it', async () => {
      const stream = new CapturedStream();
      const log = createLogger({ level: 'info', format: 'text', stream, clock: new FakeClock(T0) });
      log.info('patched owner', { key: 'shop/web', note: 'two words', pods: 2, err: new Error('x') });
      await settle();
      expect(stream.lines()).to.deep.equal([
        '2026-11-22T10:00:00.000Z INFO  patched owner key=shop/web note="two words" pods=2 err={"message":"x"}',
      ]);
    });
  });

  describe('LineBatcher (stderr)', () => {
    it('writes the lines of one turn of the event loop in one write, at its end', async () => {
      const out = new CapturedStream();
      const log = createLogger({ level: 'info', format: 'json', stream: new LineBatcher(out) });
      for (let i = 0; i < 3; i++) log.info('pod metadata applied', { key: `shop/web-${i}` });
      await settle(); // winston hands the lines on
      await settle(); // the turn they were written in ends
      expect(out.chunks).to.have.length(1);
      expect(out.lines().map((l) => (JSON.parse(l) as { key: string }).key)).to.deep.equal(['shop/web-0', 'shop/web-1', 'shop/web-2']);
      log.info('next turn');
      await settle();
      await settle();
      expect(out.chunks).to.have.length(2);
    });

    it('the process\'s stderr lines are written at exit, an uncaught exception\'s included', function () {
      this.timeout(10_000);
      const logger = new URL('../../../src/observability/logger.js', import.meta.url).href;
      const script = `import { createLogger } from '${logger}';
        const log = createLogger({ level: 'info', format: 'json' });
        log.info('the last word', { key: 'shop/web' });
        setImmediate(() => { log.info('in the turn that throws'); throw new Error('crash'); });`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(child.status).to.equal(1);
      const lines = child.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(lines).to.deep.equal(['the last word', 'in the turn that throws']);
      expect(child.stderr).to.contain('Error: crash');
    });

    it('holds no more than 64 KiB, and gives up what it holds on flush and at end', () => {
      const out = new CapturedStream();
      const batcher = new LineBatcher(out);
      const line = `${'x'.repeat(1023)}\n`;
      for (let i = 0; i < 64; i++) batcher.write(line);
      expect(out.chunks).to.have.length(1); // the 64th KiB went out without waiting
      expect(out.chunks[0]).to.have.length(64 * 1024);
      batcher.write('held\n');
      expect(out.chunks).to.have.length(1);
      batcher.flush();
      expect(out.chunks.at(-1)).to.equal('held\n');
      batcher.write('last\n');
      batcher.end();
      expect(out.chunks.at(-1)).to.equal('last\n');
    });
  });

  it('rejects an unknown level', () => {
    expect(() => createLogger({ level: 'verbose', format: 'json' })).to.throw(/unknown log level "verbose"/);
  });

  describe('serializeError', () => {
    it('reduces an API error to status, reason and the Status message, without headers', () => {
      const body = JSON.stringify({ kind: 'Status', message: 'pods "web-1" not found', reason: 'NotFound', code: 404 });
      const err = new ApiException(404, 'Unknown API Status Code!', body, { authorization: 'Bearer secret' });
      expect(serializeError(err)).to.deep.equal({ message: 'pods "web-1" not found', status: 404, reason: 'NotFound' });
    });

    it('keeps the first line of an API error without a Status body', () => {
      const err = new ApiException(401, 'Unauthorized', undefined, { 'x-header': 'h' });
      const out = serializeError(err);
      expect(out.status).to.equal(401);
      expect(out.message).to.equal('HTTP-Code: 401 Message: Unauthorized');
    });

    it('keeps only stack frames, so an API error does not repeat its body and headers', () => {
      const err = new ApiException(500, 'Unknown API Status Code!', '{}', { authorization: 'Bearer secret' });
      const out = serializeError(err, true);
      expect(out.stack).to.match(/^at /);
      expect(out.stack).not.to.contain('secret');
      expect(out.stack).not.to.contain('HTTP-Code');
    });

    it('follows causes', () => {
      const err = new TypeError('outer', { cause: new Error('inner') });
      expect(serializeError(err)).to.deep.equal({ message: 'outer', name: 'TypeError', cause: { message: 'inner' } });
    });
  });
});
