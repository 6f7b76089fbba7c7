// A loopback TCP proxy between the operator and kube-apiserver, for network faults the API server itself
// cannot produce: every byte can be delayed, the proxy can stall (stop forwarding but keep connections
// open, as a dead NAT entry or a hung load balancer does) or cut (reset every connection and refuse new
// ones, as the API server's host going away does). TLS passes through untouched, so the operator still
// verifies the API server's certificate.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode =
  | { kind: 'forward' }
  /**
   * Latency: every chunk, in both directions, is passed on this long after it arrived, in order; chunks in
   * flight overlap, as packets on a slow link do. A peer's orderly close (FIN) travels behind its data.
   */
  | { kind: 'delay'; ms: number }
  /** Nothing is forwarded and nothing is closed; new connections are accepted and then stall too. */
  | { kind: 'stall' }
  /** Every open connection is reset; new ones are closed at once. */
  | { kind: 'cut' };

/** One direction of a connection: the bytes from one socket to the other, in the order they came. */
class Direction {
  /** Settles once everything handed to send() so far has been written (or dropped with a closed socket). */
  private tail: Promise<void> = Promise.resolve();
  /** What a stall caught: at most one chunk (reading pauses after it) and perhaps the peer's close. */
  private held: Buffer[] = [];
  private endHeld = false;

  constructor(readonly from: Socket, readonly to: Socket) {}

  send(chunk: Buffer, delayMs: number): void {
    const due = Date.now() + delayMs;
    this.tail = this.tail.then(async () => {
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.to.destroyed || this.to.writableEnded) return;
      if (!this.to.write(chunk)) {
        this.from.pause();
        this.to.once('drain', () => this.from.resume());
      }
    });
  }

  /** Stalled: keep the chunk and stop reading, so that TCP back-pressure builds up behind it. */
  hold(chunk: Buffer): void {
    this.from.pause();
    this.held.push(chunk);
  }

  /** Stalled: the peer's close waits too (a paused socket still reports its end once its buffer is empty). */
  holdEnd(): void {
    this.endHeld = true;
  }

  /** The stall is over: pass on what it held, in order, and read again. */
  release(): void {
    for (const chunk of this.held.splice(0)) this.send(chunk, 0);
    this.from.resume();
    if (this.endHeld) {
      this.endHeld = false;
      this.endAfterData();
    }
  }

  /**
   * The peer ended its side: end ours once what it sent before has gone through. Resetting both sockets at
   * once instead dropped the chunks still on their way: behind a slow link, every watch the API server
   * closed (its timeoutSeconds) lost all but its first events, and the operator resumed from there again
   * and again — an artefact of the proxy, not of a network, which delivers the FIN after the data.
   */
  endAfterData(): void {
    void this.tail.then(() => {
      if (!this.to.destroyed && !this.to.writableEnded) this.to.end();
    });
  }
}

interface Pipe {
  client: Socket;
  upstream: Socket;
  directions: Direction[];
}

export class TcpProxy {
  private server?: Server;
  private readonly pipes = new Set<Pipe>();
  private mode: ProxyMode = { kind: 'forward' };
  /** Connections accepted since start, a measure of how often the operator reconnected. */
  connections = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    // Half-open allowed: a peer's FIN ends one direction only; the other ends when its own data is through.
    const server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
    return this;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind === 'cut') {
      for (const pipe of this.pipes) this.close(pipe);
    } else if (mode.kind !== 'stall') {
      for (const pipe of this.pipes) for (const direction of pipe.directions) direction.release();
    }
  }

  async stop(): Promise<void> {
    for (const pipe of this.pipes) this.close(pipe);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    if (this.mode.kind === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ port: this.target.port, host: this.target.host, allowHalfOpen: true });
    const pipe = { client, upstream, directions: [new Direction(client, upstream), new Direction(upstream, client)] };
    this.pipes.add(pipe);
    for (const direction of pipe.directions) this.forward(direction);
    // An error resets the connection at once, as an RST does; an orderly close travels behind the data
    // (forward() ends the other side), and the pipe is forgotten once both sockets are closed.
    const failed = (): void => this.close(pipe);
    const closed = (): void => {
      if (client.destroyed && upstream.destroyed) this.pipes.delete(pipe);
    };
    client.on('error', failed).on('close', closed);
    upstream.on('error', failed).on('close', closed);
  }

  private forward(direction: Direction): void {
    const { from } = direction;
    from.on('data', (chunk: Buffer) => {
      const mode = this.mode;
      if (mode.kind === 'stall') direction.hold(chunk);
      else direction.send(chunk, mode.kind === 'delay' ? mode.ms : 0);
    });
    from.on('end', () => (this.mode.kind === 'stall' ? direction.holdEnd() : direction.endAfterData()));
  }

  private close(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    reset(pipe.client);
    reset(pipe.upstream);
  }
}

/**
 * Resets a connection (RST, as a vanished host does), or just destroys it when it is already ending: Node's
 * resetAndDestroy() on a socket whose end() is under way (the peer sent FIN, so Node ended its side too) is
 * refused by libuv (EINVAL for a handle that is shutting down), and Node then keeps that handle "closing"
 * forever: the test process finished its run and spun at exit in Environment::CleanupHandles. That was the
 * open handle behind the fault tier's hang (found with gdb on the spinning process, reproduced in five lines).
 */
function reset(socket: Socket): void {
  if (socket.writableEnded || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}
