import { expect } from 'chai';
import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LogFollower } from '../../../src/audit/log-follower.js';
import { FakeClock } from '../../../src/runtime/clock.js';
import { noopLogger } from '../../../src/runtime/logger.js';

const logger = { ...noopLogger, error: () => undefined, child: () => logger };

describe('audit log follower', function () {
  let dir: string;
  let file: string;
  let lines: string[];
  let oversized: number;
  let follower: LogFollower;

  beforeEach(async function () {
    dir = await mkdtemp(path.join(tmpdir(), 'follower-'));
    file = path.join(dir, 'audit.log');
    lines = [];
    oversized = 0;
    follower = new LogFollower({
      path: file, clock: new FakeClock(), logger, maxLineBytes: 64,
      onLine: (l) => lines.push(l), onOversizedLine: () => oversized++,
    });
  });
  afterEach(async function () {
    await follower.closeFile();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts at the end of an existing file, skipping a half-written last line', async function () {
    await writeFile(file, '{"old":1}\n{"old":');
    await follower.poll(true);
    await appendFile(file, '2}\n{"new":1}\n');
    await follower.poll();
    expect(lines).to.deep.equal(['{"new":1}']);
  });

  it('reads a file that appears after start from its beginning', async function () {
    await follower.poll(true);
    await writeFile(file, '{"a":1}\n');
    await follower.poll();
    expect(lines).to.deep.equal(['{"a":1}']);
  });

  it('hands out a line only once its newline is written', async function () {
    await writeFile(file, '');
    await follower.poll(true);
    await appendFile(file, '{"a":');
    await follower.poll();
    expect(lines).to.deep.equal([]);
    await appendFile(file, '1}\r\n\n{"b":2}\n');
    await follower.poll();
    expect(lines).to.deep.equal(['{"a":1}', '{"b":2}']);
  });

  it('follows a rename-and-create rotation, finishing the old file first', async function () {
    await writeFile(file, '');
    await follower.poll(true);
    await appendFile(file, '{"a":1}\n');
    await follower.poll();
    await appendFile(file, '{"b":2}\n{"c":3}'); // written just before the rotation; the last line lacks its newline
    await rename(file, path.join(dir, 'audit-2026-01-01T00-00-00.000.log'));
    await follower.poll(); // renamed away, nothing new yet: keep the old file
    await writeFile(file, '{"d":4}\n');
    await follower.poll();
    await appendFile(file, '{"e":5}\n');
    await follower.poll();
    expect(lines).to.deep.equal(['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}', '{"e":5}']);
  });

  it('starts over after truncation', async function () {
    await writeFile(file, '');
    await follower.poll(true);
    await appendFile(file, '{"a":1}\n{"b":2}\n');
    await follower.poll();
    await truncate(file, 0);
    await appendFile(file, '{"c":3}\n');
    await follower.poll();
    expect(lines).to.deep.equal(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('starts over after truncation even when the file grew past where it had read before the next poll', async function () {
    await writeFile(file, '');
    await follower.poll(true);
    await appendFile(file, '{"a":1}\n');
    await follower.poll();
    // copytruncate, then more written than had been read: the size alone does not show it.
    await truncate(file, 0);
    await appendFile(file, '{"longer":"line"}\n{"d":4}\n');
    await follower.poll();
    await appendFile(file, '{"e":5}\n');
    await follower.poll();
    expect(lines).to.deep.equal(['{"a":1}', '{"longer":"line"}', '{"d":4}', '{"e":5}']);
  });

  it('skips a line longer than the limit and reports it, then carries on', async function () {
    await writeFile(file, '');
    await follower.poll(true);
    await appendFile(file, `{"big":"${'x'.repeat(40)}`);
    await follower.poll();
    await appendFile(file, `${'y'.repeat(60)}"}\n{"ok":1}\n`);
    await follower.poll();
    expect(lines).to.deep.equal(['{"ok":1}']);
    expect(oversized).to.equal(1);
  });

  it('runs until aborted, polling on the clock', async function () {
    const clock = new FakeClock();
    const seen: string[] = [];
    const f = new LogFollower({ path: file, clock, logger, pollMs: 100, onLine: (l) => seen.push(l) });
    await writeFile(file, '');
    const ac = new AbortController();
    const running = f.run(ac.signal);
    await new Promise((r) => setTimeout(r, 20));
    await appendFile(file, '{"x":1}\n');
    await clock.advance(100);
    await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await running;
    expect(seen).to.deep.equal(['{"x":1}']);
  });

  it('reads no further while its consumer is not ready, and loses nothing meanwhile', async function () {
    let waits = 0;
    let readyNow: (() => void) | undefined;
    const slow = new LogFollower({
      path: file, clock: new FakeClock(), logger, onLine: (l) => lines.push(l),
      ready: () => {
        waits++;
        return waits === 1 ? new Promise<void>((resolve) => { readyNow = resolve; }) : new Promise<void>((r) => setTimeout(r, 5));
      },
    });
    // About 100 KiB: two 64 KiB reads of 1 KiB lines, each preceded by a wait for the consumer.
    const line = (i: number): string => `{"n":${i},"pad":"${'x'.repeat(1000)}"}`;
    await writeFile(file, Array.from({ length: 100 }, (_, i) => `${line(i)}\n`).join(''));
    const polled = slow.poll();
    for (let i = 0; i < 20 && !readyNow; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    expect(lines, 'nothing read before the consumer is ready').to.deep.equal([]);
    readyNow?.();
    await polled;
    expect(lines).to.have.length(100);
    expect(lines[99]).to.equal(line(99));
    expect(waits, 'a wait before each read: two with lines, one that finds the end').to.equal(3);
    await slow.closeFile();
  });
});
