import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import { TerminalError, WorkQueue, runWorkers, type ReconcileOutcome } from '../../../src/runtime/workqueue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function setup(rateLimit = { baseDelayMs: 10, maxDelayMs: 10_000 }) {
  const clock = new FakeClock(0);
  const queue = new WorkQueue<string>({ clock, rateLimit });
  const ac = new AbortController();
  const results: Array<[string, ReconcileOutcome]> = [];
  return { clock, queue, ac, results };
}

describe('runWorkers', () => {
  it('reconciles each key and reports success', async () => {
    const { clock, queue, ac, results } = setup();
    const seen: string[] = [];
    const run = runWorkers(queue, {
      concurrency: 2,
      maxRetries: 3,
      signal: ac.signal,
      clock,
      reconcile: (key) => {
        seen.push(key);
        return Promise.resolve();
      },
      onResult: (key, _ms, outcome) => results.push([key, outcome]),
    });
    queue.add('a');
    queue.add('b');
    await clock.flush();
    ac.abort();
    await run;
    expect(seen.sort()).to.deep.equal(['a', 'b']);
    expect(results.sort()).to.deep.equal([
      ['a', 'success'],
      ['b', 'success'],
    ]);
  });

  it('never runs more than `concurrency` reconciles at once, and never one key twice at once', async () => {
    const { clock, queue, ac } = setup();
    const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
    let active = 0;
    let maxActive = 0;
    const activeKeys = new Set<string>();
    let overlap = false;
    const run = runWorkers(queue, {
      concurrency: 2,
      maxRetries: 0,
      signal: ac.signal,
      clock,
      reconcile: async (key) => {
        if (activeKeys.has(key)) overlap = true;
        activeKeys.add(key);
        active++;
        maxActive = Math.max(maxActive, active);
        const gate = deferred();
        gates.set(key, gate);
        await gate.promise;
        active--;
        activeKeys.delete(key);
      },
    });
    for (const k of ['a', 'b', 'c', 'd']) queue.add(k);
    await clock.flush();
    expect(active).to.equal(2);
    expect(queue.len()).to.equal(2);
    expect(queue.processingCount()).to.equal(2);
    queue.add('a'); // while a is running
    gates.get('a')!.resolve();
    await clock.flush();
    gates.get('b')!.resolve();
    await clock.flush();
    for (let i = 0; i < 5; i++) {
      for (const g of gates.values()) g.resolve();
      await clock.flush();
    }
    expect(maxActive).to.equal(2);
    expect(overlap).to.equal(false);
    ac.abort();
    await run;
  });

  it('requeues after requeueAfterMs and forgets failure history on success', async () => {
    const { clock, queue, ac, results } = setup();
    let calls = 0;
    const run = runWorkers(queue, {
      concurrency: 1,
      maxRetries: 5,
      signal: ac.signal,
      clock,
      reconcile: () => Promise.resolve(++calls === 1 ? { requeueAfterMs: 1000 } : undefined),
      onResult: (key, _ms, outcome) => results.push([key, outcome]),
    });
    queue.add('k');
    await clock.advance(999);
    expect(calls).to.equal(1);
    await clock.advance(1);
    expect(calls).to.equal(2);
    expect(results.map((r) => r[1])).to.deep.equal(['requeue', 'success']);
    ac.abort();
    await run;
  });

  it('retries errors rate-limited, then drops the key after maxRetries and reports it', async () => {
    const { clock, queue, ac, results } = setup();
    const attempts: number[] = [];
    const errors: number[] = [];
    const dropped: string[] = [];
    const run = runWorkers(queue, {
      concurrency: 1,
      maxRetries: 3,
      signal: ac.signal,
      clock,
      reconcile: () => {
        attempts.push(clock.now());
        return Promise.reject(new Error('api down'));
      },
      onError: (_k, _e, retries) => errors.push(retries),
      onDrop: (k) => dropped.push(k),
      onResult: (key, _ms, outcome) => results.push([key, outcome]),
    });
    queue.add('k');
    await clock.advance(10_000);
    expect(attempts).to.deep.equal([0, 10, 30, 70]);
    expect(errors).to.deep.equal([0, 1, 2]);
    expect(dropped).to.deep.equal(['k']);
    expect(results.map((r) => r[1])).to.deep.equal(['error', 'error', 'error', 'dropped']);
    expect(queue.numRequeues('k')).to.equal(0);
    ac.abort();
    await run;
  });

  it('does not retry a TerminalError', async () => {
    const { clock, queue, ac, results } = setup();
    let calls = 0;
    const errors: unknown[] = [];
    const run = runWorkers(queue, {
      concurrency: 1,
      maxRetries: 3,
      signal: ac.signal,
      clock,
      reconcile: () => {
        calls++;
        return Promise.reject(new TerminalError('invalid spec'));
      },
      onError: (_k, e) => errors.push(e),
      onResult: (key, _ms, outcome) => results.push([key, outcome]),
    });
    queue.add('k');
    await clock.advance(60_000);
    expect(calls).to.equal(1);
    expect(errors[0]).to.be.instanceOf(TerminalError);
    expect(results).to.deep.equal([['k', 'error']]);
    ac.abort();
    await run;
  });

  it('survives callbacks that throw', async () => {
    const { clock, queue, ac } = setup();
    let calls = 0;
    const run = runWorkers(queue, {
      concurrency: 1,
      maxRetries: 3,
      signal: ac.signal,
      clock,
      reconcile: () => {
        calls++;
        return Promise.resolve();
      },
      onResult: () => {
        throw new Error('metrics broke');
      },
    });
    queue.add('a');
    await clock.flush();
    queue.add('b');
    await clock.flush();
    expect(calls).to.equal(2);
    ac.abort();
    await run;
  });

  it('on abort, passes the signal to in-flight reconciles and resolves only after they finish', async () => {
    const { clock, queue, ac } = setup();
    let sawAbort = false;
    let finished = false;
    const gate = deferred();
    const run = runWorkers(queue, {
      concurrency: 1,
      maxRetries: 3,
      signal: ac.signal,
      clock,
      reconcile: async (_k, signal) => {
        signal.addEventListener('abort', () => (sawAbort = true));
        await gate.promise;
        finished = true;
      },
    });
    queue.add('k');
    await clock.flush();
    let resolved = false;
    void run.then(() => (resolved = true));
    ac.abort();
    await clock.flush();
    expect(sawAbort).to.equal(true);
    expect(resolved).to.equal(false);
    gate.resolve();
    await run;
    expect(finished).to.equal(true);
    expect(queue.isShuttingDown()).to.equal(true);
  });
});
