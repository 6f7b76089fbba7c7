// Follows a growing JSON-lines file the way `tail -F` does, for kube-apiserver's audit log backend. It polls
// (inotify does not follow renames portably and misses events on some filesystems), and handles:
//   - rotation: the writer renames the file and creates a new one; the old file is read to its end first,
//     then the new one from its start;
//   - truncation (copytruncate rotation): reading restarts at offset 0;
//   - partial lines: a line is handed out only once its newline is written; a line longer than
//     `maxLineBytes` is skipped whole (reported), so one runaway write cannot grow memory;
//   - a consumer that falls behind (`ready`): reading waits for it, one chunk at a time.
// It starts at the END of a file that exists at start-up: events written before the operator started were
// either seen by a previous run (and recorded on the pods) or predate it, and replaying a whole log could
// evict pods for old, long-handled sessions. A file that appears later is read from its start.
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../observability/logger.js';

export interface LogFollowerOptions {
  path: string;
  onLine(line: string): void;
  /** Called for each line skipped for being longer than `maxLineBytes`. */
  onOversizedLine?(): void;
  /**
   * Resolves when the consumer can take more lines; nothing more is read until then. The file is the buffer:
   * a consumer that falls behind slows the reading down and loses nothing.
   */
  ready?(): Promise<void>;
  clock: Clock;
  logger: Logger;
  /** Default 500 ms. */
  pollMs?: number;
  /** Default 1 MiB. */
  maxLineBytes?: number;
  /** Where to begin in a file that exists at start. Default 'end'. */
  startAt?: 'end' | 'start';
}

interface OpenFile {
  handle: FileHandle;
  ino: number;
  dev: number;
  position: number;
  /** The last bytes read, just before `position`: if they change, the file was truncated and rewritten. */
  tail: Buffer;
}

/** Bytes remembered before the read position; audit lines end in unique IDs and times, so 64 tell. */
const TAIL_BYTES = 64;

const CHUNK = 64 * 1024;

function isNotFound(err: unknown): boolean {
  return (err as { code?: string }).code === 'ENOENT';
}

export class LogFollower {
  private file?: OpenFile;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Discarding the rest of the current line: too long ('report'), or begun before we started ('silent'). */
  private skipping: false | 'report' | 'silent' = false;
  private readonly maxLine: number;

  constructor(private readonly opts: LogFollowerOptions) {
    this.maxLine = opts.maxLineBytes ?? 1024 * 1024;
  }

  /** Follows until `signal` aborts; never throws for I/O errors (they are logged and retried). */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.opts;
    let first = true;
    let lastError = '';
    while (!signal.aborted) {
      try {
        await this.poll(first);
        lastError = '';
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError) logger.warn('audit log follower: read failed; retrying', { path: this.opts.path, err: message });
        lastError = message;
      }
      first = false;
      await clock.sleep(this.opts.pollMs ?? 500, signal);
    }
    await this.closeFile();
  }

  /** One round: open if needed, read what is new, then notice rotation or truncation. Exposed for tests. */
  async poll(initial = false): Promise<void> {
    if (!this.file) {
      const opened = await this.tryOpen(initial && (this.opts.startAt ?? 'end') === 'end');
      if (!opened) return;
    }
    // copytruncate followed by more writes than we had read leaves the file longer than our position: only
    // the bytes we read last, no longer where they were, show that it started over.
    if (await this.rewritten()) this.restartFromTop();
    await this.drain();
    let current;
    try {
      current = await stat(this.opts.path);
    } catch (err) {
      if (isNotFound(err)) return; // renamed away, the new file is not there yet: keep the old one open
      throw err;
    }
    const file = this.file;
    if (!file) return;
    if (current.ino !== file.ino || current.dev !== file.dev) {
      await this.drain(); // lines written between our last read and the rename
      this.flushPartial();
      this.opts.logger.info('audit log rotated; following the new file', { path: this.opts.path });
      await this.closeFile();
      if (await this.tryOpen(false)) await this.drain();
    } else if (current.size < file.position) {
      this.restartFromTop();
      await this.drain();
    }
  }

  private restartFromTop(): void {
    if (!this.file) return;
    this.opts.logger.info('audit log truncated; reading from its start', { path: this.opts.path });
    this.file.position = 0;
    this.file.tail = Buffer.alloc(0);
    this.resetPartial();
  }

  private async rewritten(): Promise<boolean> {
    const file = this.file;
    if (!file || file.tail.length === 0) return false;
    const now = Buffer.alloc(file.tail.length);
    const { bytesRead } = await file.handle.read(now, 0, now.length, file.position - file.tail.length);
    return bytesRead !== now.length || !now.equals(file.tail);
  }

  private async tryOpen(atEnd: boolean): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await open(this.opts.path, 'r');
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    const st = await handle.stat();
    this.file = { handle, ino: st.ino, dev: st.dev, position: atEnd ? st.size : 0, tail: Buffer.alloc(0) };
    this.resetPartial();
    if (atEnd && st.size > 0) {
      const tail = Buffer.alloc(Math.min(TAIL_BYTES, st.size));
      await handle.read(tail, 0, tail.length, st.size - tail.length);
      this.file.tail = tail;
      // Starting mid-line (the writer is half-way through one): its tail is not an event of ours.
      if (tail[tail.length - 1] !== 0x0a) this.skipping = 'silent';
    }
    return true;
  }

  /** Releases the open file; `run` does this when it ends, callers of `poll` must. */
  async closeFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.handle.close().catch(() => undefined);
  }

  private async drain(): Promise<void> {
    const file = this.file;
    if (!file) return;
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      await this.opts.ready?.();
      const { bytesRead } = await file.handle.read(buf, 0, CHUNK, file.position);
      if (bytesRead === 0) return;
      file.position += bytesRead;
      const keep = Math.min(TAIL_BYTES, bytesRead);
      file.tail = bytesRead >= TAIL_BYTES ? Buffer.from(buf.subarray(bytesRead - keep, bytesRead))
        : Buffer.concat([file.tail, buf.subarray(0, bytesRead)]).subarray(-TAIL_BYTES);
      this.consume(buf.subarray(0, bytesRead));
    }
  }

  private consume(data: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) {
        this.appendPartial(data.subarray(start));
        return;
      }
      this.appendPartial(data.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
  }

  private appendPartial(piece: Buffer): void {
    if (piece.length === 0 || this.skipping) return;
    if (this.partialBytes + piece.length > this.maxLine) {
      this.skipping = 'report';
      this.partial = [];
      this.partialBytes = 0;
      return;
    }
    this.partial.push(Buffer.from(piece)); // copy: the read buffer is reused
    this.partialBytes += piece.length;
  }

  private endLine(): void {
    if (this.skipping === 'report') {
      this.opts.onOversizedLine?.();
    } else if (!this.skipping) {
      const line = Buffer.concat(this.partial).toString('utf8').replace(/\r$/, '');
      if (line.trim() !== '') this.opts.onLine(line);
    }
    this.resetPartial();
  }

  /** A rotated file's last line may lack its newline; it is complete, since the writer moved on. */
  private flushPartial(): void {
    if (this.partialBytes > 0 || this.skipping === 'report') this.endLine();
  }

  private resetPartial(): void {
    this.partial = [];
    this.partialBytes = 0;
    this.skipping = false;
  }
}
