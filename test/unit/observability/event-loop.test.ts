import { expect } from 'chai';
import { watchEventLoop } from '../../../src/observability/event-loop.js';
import { RecordingLogger } from './helpers.js';

describe('observability/event-loop watchEventLoop', () => {
  it('logs a window in which a synchronous job held the event loop, with the delay it caused', async () => {
    const logger = new RecordingLogger();
    const stop = watchEventLoop({ logger, windowMs: 400, blockedMs: 150 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const until = Date.now() + 300;
      while (Date.now() < until) {
        // a long synchronous job: nothing else can run meanwhile
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      stop();
    }
    const blocked = logger.entries.filter((e) => e.msg === 'event loop was blocked');
    expect(blocked, JSON.stringify(logger.entries)).to.have.length.of.at.least(1);
    expect(blocked[0]!.level).to.equal('warn');
    expect(blocked[0]!.fields['maxDelayMs']).to.be.at.least(150);
  });
});
