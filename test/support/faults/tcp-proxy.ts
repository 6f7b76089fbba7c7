// A loopback TCP proxy between the operator and kube-apiserver, for network faults the API server itself
// cannot produce: every byte can be delayed, the proxy can stall (stop forwarding but keep connections
// open, as a dead NAT entry or a hung load balancer does) or cut (reset every connection and refuse new
// ones, as the API server's host going away does). TLS passes through untouched, so the operator still
// verifies the API server's certificate.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode =
  | { kind: 'forward' }
  /** Every chunk, in both directions, is held this long before it is passed on. */
  | { kind: 'delay'; ms: number }
  /** Nothing is forwarded and nothing is closed; new connections are accepted and then stall too. */
  | { kind: 'stall' }
  /** Every open connection is reset; new ones are closed at once. */
  | { kind: 'cut' };

interface Pipe {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  private server?: Server;
  private readonly pipes = new Set<Pipe>();
  private mode: ProxyMode = { kind: 'forward' };
  /** Chunks caught by a stall (at most one per direction: the direction is paused after it), in order. */
  private held: { to: Socket; chunk: Buffer }[] = [];
  /** Connections accepted since start, a measure of how often the operator reconnected. */
  connections = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    const server = createServer((client) => this.accept(client));
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
      // Leaving a stall: pass on what was held back, then let the paused sockets flow again.
      for (const { to, chunk } of this.held.splice(0)) if (!to.destroyed) to.write(chunk);
      for (const { client, upstream } of this.pipes) {
        client.resume();
        upstream.resume();
      }
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
    const upstream = connect(this.target.port, this.target.host);
    const pipe = { client, upstream };
    this.pipes.add(pipe);
    this.forward(client, upstream);
    this.forward(upstream, client);
    const done = (): void => this.close(pipe);
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  }

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      const mode = this.mode;
      if (mode.kind === 'stall') {
        // Hold this chunk until the stall ends, and stop reading so that TCP back-pressure builds up.
        from.pause();
        this.held.push({ to, chunk });
        return;
      }
      if (mode.kind === 'delay') {
        // Order is kept: the stream is paused while a chunk waits, so chunks go out one after another.
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, mode.ms);
        return;
      }
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
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
