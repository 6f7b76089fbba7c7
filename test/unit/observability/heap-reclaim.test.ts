import { expect } from 'chai';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  RECLAIM_TRIGGER_DEFAULTS, ReclaimTrigger, startHeapReclaimer, v8Heap, type ReclaimableHeap, type WorkActivity,
} from '../../../src/observability/heap-reclaim.js';
import { FakeClock } from '../../../src/runtime/clock.js';
import type { LogFields, Logger } from '../../../src/runtime/logger.js';

const MiB = 1024 * 1024;
const { quietMs, minBurst, minGrowthBytes } = RECLAIM_TRIGGER_DEFAULTS;

/** Feeds `trigger` one observation a second from `fromMs` to `toMs`; the times at which a reclaim was due. */
function dueTimes(trigger: ReclaimTrigger, fromMs: number, toMs: number, activity: WorkActivity, committedBytes: number): number[] {
  const due: number[] = [];
  for (let t = fromMs; t <= toMs; t += 1000) if (trigger.observe(t, activity, committedBytes)) due.push(t);
  return due;
}

describe('observability/heap-reclaim ReclaimTrigger', () => {
  const idle = (reconciled: number): WorkActivity => ({ pending: 0, reconciled });

  it('is due once the queues have been quiet for quietMs after a burst that grew the heap', () => {
    const trigger = new ReclaimTrigger();
    expect(trigger.observe(0, idle(0), 60 * MiB)).to.equal(false);
    expect(trigger.observe(1000, { pending: 500, reconciled: 40_000 }, 120 * MiB)).to.equal(false);
    // The last reconcile finished at 2 s; nothing since.
    expect(dueTimes(trigger, 2000, 10_000, idle(50_000), 120 * MiB)).to.deep.equal([2000 + quietMs]);
  });

  it('is never due while keys wait or are being processed, nor while reconciles keep finishing', () => {
    const trigger = new ReclaimTrigger();
    trigger.observe(0, idle(0), 60 * MiB);
    for (let t = 1000; t <= 60_000; t += 1000) {
      expect(trigger.observe(t, { pending: 1, reconciled: 5_000 }, 120 * MiB), `pending at ${t}`).to.equal(false);
    }
    // Churn that never waits in a queue: every observation sees a few more reconciles.
    for (let t = 61_000; t <= 120_000; t += 1000) {
      expect(trigger.observe(t, idle(5_000 + t / 100), 120 * MiB), `churn at ${t}`).to.equal(false);
    }
  });

  it('is not due after a handful of reconciles, however much the heap grew', () => {
    const trigger = new ReclaimTrigger();
    trigger.observe(0, idle(0), 60 * MiB);
    expect(dueTimes(trigger, 1000, 30_000, idle(minBurst - 1), 160 * MiB)).to.deep.equal([]);
  });

  it('is not due when the burst left the heap about where it was', () => {
    const trigger = new ReclaimTrigger();
    trigger.observe(0, idle(0), 60 * MiB);
    expect(dueTimes(trigger, 1000, 30_000, idle(50_000), 60 * MiB + minGrowthBytes - 1)).to.deep.equal([]);
  });

  it('is due at most once per burst: the next needs new reconciles and new growth from where the last ended', () => {
    const trigger = new ReclaimTrigger();
    trigger.observe(0, idle(0), 60 * MiB);
    expect(dueTimes(trigger, 1000, 5000, idle(50_000), 120 * MiB)).to.deep.equal([1000 + quietMs]);
    trigger.reclaimed(idle(50_000), 70 * MiB);
    expect(dueTimes(trigger, 6000, 60_000, idle(50_000), 70 * MiB), 'quiet, nothing new').to.deep.equal([]);
    // A resync reconciles everything again but leaves the heap where it was: no reclaim.
    expect(dueTimes(trigger, 61_000, 90_000, idle(100_000), 75 * MiB), 'burst without growth').to.deep.equal([]);
    // The next backlog grows it: one more.
    expect(dueTimes(trigger, 91_000, 120_000, idle(150_000), 110 * MiB)).to.deep.equal([91_000 + quietMs]);
  });

  it('does not repeat a reclaim that freed nothing', () => {
    const trigger = new ReclaimTrigger();
    trigger.observe(0, idle(0), 60 * MiB);
    expect(dueTimes(trigger, 1000, 5000, idle(50_000), 120 * MiB)).to.have.length(1);
    trigger.reclaimed(idle(50_000), 120 * MiB);
    expect(dueTimes(trigger, 6000, 600_000, idle(50_000), 120 * MiB)).to.deep.equal([]);
  });
});

interface Recorded { level: string; msg: string; fields?: LogFields }

function recordingLogger(lines: Recorded[]): Logger {
  const log = (level: string) => (msg: string, fields?: LogFields): void => void lines.push({ level, msg, ...(fields ? { fields } : {}) });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

/** A heap that gives back `perRound` bytes per collection down to `live`. */
class FakeHeap implements ReclaimableHeap {
  collections = 0;
  constructor(public committed: number, private readonly live: number, private readonly perRound: number,
    private readonly onCollect: () => void = () => undefined) {}

  committedBytes(): number {
    return this.committed;
  }

  collect(): void {
    this.collections++;
    this.committed = Math.max(this.live, this.committed - this.perRound);
    this.onCollect();
  }
}

describe('observability/heap-reclaim startHeapReclaimer', () => {
  let clock: FakeClock;
  let lines: Recorded[];
  let activity: WorkActivity;
  let freed: number[];
  let stop: () => void;

  beforeEach(() => {
    clock = new FakeClock();
    lines = [];
    freed = [];
    activity = { pending: 0, reconciled: 0 };
  });
  afterEach(() => stop());

  const start = (heap: ReclaimableHeap, maxRounds = 6): void => {
    stop = startHeapReclaimer({
      activity: () => activity, heap, clock, logger: recordingLogger(lines), onReclaimed: (b) => freed.push(b),
      maxRounds, rssBytes: () => 100 * MiB + heap.committedBytes(),
    });
  };

  /** A backlog of `reconciles` keys drained over `ms`, with the heap grown to `committed`. */
  async function backlog(heap: FakeHeap, reconciles: number, ms: number, committed: number): Promise<void> {
    activity = { pending: reconciles, reconciled: activity.reconciled };
    await clock.advance(ms);
    heap.committed = committed;
    activity = { pending: 0, reconciled: activity.reconciled + reconciles };
  }

  it('after a drained backlog, collects until a round frees little, once, and says at debug what it freed', async () => {
    const heap = new FakeHeap(60 * MiB, 64 * MiB, 20 * MiB);
    start(heap);
    await backlog(heap, 50_000, 60_000, 120 * MiB);
    expect(heap.collections, 'not during the backlog').to.equal(0);
    await clock.advance(quietMs + 3000);
    // 120 → 100 → 80 → 64 → 64: the fourth round freed nothing.
    expect(heap.collections).to.equal(4);
    expect(freed).to.deep.equal([56 * MiB]);
    const line = lines.find((l) => l.msg === 'heap reclaimed after a drained backlog');
    expect(line?.level).to.equal('debug');
    expect(line?.fields).to.include({ rounds: 4, stoppedFor: 'done' });
    expect(line?.fields?.['heapCommittedMiB']).to.deep.equal({ before: 120, after: 64 });
    expect(line?.fields?.['rssMiB']).to.deep.equal({ before: 220, after: 164 });
    await clock.advance(600_000);
    expect(heap.collections, 'once per burst').to.equal(4);
  });

  it('stops between rounds as soon as work arrives', async () => {
    const heap = new FakeHeap(60 * MiB, 20 * MiB, 10 * MiB, () => {
      // A watch event queues a key while the first collection runs.
      activity = { pending: 1, reconciled: activity.reconciled };
    });
    start(heap);
    await backlog(heap, 50_000, 60_000, 120 * MiB);
    await clock.advance(quietMs + 3000);
    expect(heap.collections).to.equal(1);
    expect(lines.find((l) => l.msg === 'heap reclaimed after a drained backlog')?.fields).to.include({ rounds: 1, stoppedFor: 'work' });
  });

  it('collects at most maxRounds times', async () => {
    const heap = new FakeHeap(60 * MiB, 0, 4 * MiB);
    start(heap, 3);
    await backlog(heap, 50_000, 60_000, 120 * MiB);
    await clock.advance(quietMs + 3000);
    expect(heap.collections).to.equal(3);
    expect(freed).to.deep.equal([12 * MiB]);
  });

  it('stops watching when told', async () => {
    const heap = new FakeHeap(60 * MiB, 20 * MiB, 20 * MiB);
    start(heap);
    stop();
    await backlog(heap, 50_000, 60_000, 120 * MiB);
    await clock.advance(60_000);
    expect(heap.collections).to.equal(0);
    expect(clock.pending()).to.equal(0);
  });
});

describe('observability/heap-reclaim v8Heap', function () {
  this.timeout(30_000);

  /**
   * Old space left unused (MiB) after six `collect`s of old space whose pages are all half free: what
   * promoted request state leaves behind once the requests are done.
   */
  function slackAfterCollecting(collect: () => void): number {
    // Promoted together, then every other object dropped: every page of old space is half free.
    let all: { i: number; s: string; owners: number[] }[][] = [];
    for (let r = 0; r < 6; r++) all.push(Array.from({ length: 50_000 }, (_, i) => ({ i, s: `pod-${r}-${i}`, owners: [i, r] })));
    collect();
    let kept = all.map((batch) => batch.filter((_, i) => i % 2 === 0));
    all = [];
    for (let i = 0; i < 6; i++) collect();
    const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!;
    expect(kept).to.have.length(6);
    kept = [];
    collect();
    return (old.space_size - old.space_used_size) / MiB;
  }

  it("compacts fragmented old space down to what is live, as a plain full collection does not, without a global 'gc'", () => {
    const heap = v8Heap();
    expect(heap).to.not.equal(undefined);
    expect((globalThis as { gc?: unknown }).gc).to.equal(undefined);
    setFlagsFromString('--expose-gc');
    const plainGc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
    const plain = slackAfterCollecting(plainGc);
    const ours = slackAfterCollecting(() => heap!.collect());
    expect(plain, 'the plain collection leaves the half-free pages (else this test proves nothing)').to.be.greaterThan(12);
    expect(ours, `plain gc() left ${Math.round(plain)} MiB free in old space`).to.be.lessThan(6);
  });
});
