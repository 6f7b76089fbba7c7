// The fault tier's TCP proxy stands for the network; these check that it behaves like one, on loopback
// sockets only: latency delays bytes without throttling them, nothing sent before a close is lost, a stall
// holds everything and a cut resets.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { TcpProxy } from '../../support/faults/tcp-proxy.js';

/** A server that answers each connection with `lines`, one write each, then closes it (as a watch that times out). */
async function talker(lines: string[]): Promise<Server> {
  const server = createServer((socket) => {
    for (const line of lines) socket.write(`${line}\n`);
    socket.end();
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Everything a client reads until the connection ends, and when the first and last bytes came. */
async function readAll(port: number): Promise<{ text: string; firstMs: number; endMs: number; reset: boolean }> {
  const started = Date.now();
  const socket: Socket = connect(port, '127.0.0.1');
  let text = '';
  let firstMs = -1;
  let reset = false;
  socket.on('data', (chunk: Buffer) => {
    if (firstMs < 0) firstMs = Date.now() - started;
    text += chunk.toString();
  });
  socket.on('error', () => (reset = true));
  await new Promise((resolve) => socket.on('close', resolve));
  return { text, firstMs, endMs: Date.now() - started, reset };
}

describe('fault tier TCP proxy', function () {
  const servers: Server[] = [];
  const proxies: TcpProxy[] = [];

  async function proxyTo(lines: string[]): Promise<TcpProxy> {
    const server = await talker(lines);
    servers.push(server);
    const proxy = await new TcpProxy({ host: '127.0.0.1', port: portOf(server) }).start();
    proxies.push(proxy);
    return proxy;
  }

  afterEach(async function () {
    for (const proxy of proxies.splice(0)) await proxy.stop();
    for (const server of servers.splice(0)) server.close();
  });

  it('forwards everything a server sent before it closed', async function () {
    const lines = Array.from({ length: 200 }, (_, i) => `event-${i}`);
    const proxy = await proxyTo(lines);
    const { text, reset } = await readAll(proxy.port);
    expect(text).to.equal(lines.map((l) => `${l}\n`).join(''));
    expect(reset).to.equal(false);
  });

  it('delays bytes without throttling them, and delivers the close after the data', async function () {
    const lines = Array.from({ length: 50 }, (_, i) => `event-${i}`);
    const proxy = await proxyTo(lines);
    proxy.setMode({ kind: 'delay', ms: 300 });
    const { text, firstMs, endMs, reset } = await readAll(proxy.port);
    // Every line arrives, in order, although the server closed long before the first one was passed on.
    expect(text).to.equal(lines.map((l) => `${l}\n`).join(''));
    expect(reset).to.equal(false);
    expect(firstMs).to.be.at.least(300);
    // Latency, not a turnstile: the chunks travel together, so the whole answer takes about one delay.
    expect(endMs).to.be.below(1_500);
  });

  it('holds everything while stalled and passes it on when the stall ends', async function () {
    const proxy = await proxyTo(['held']);
    proxy.setMode({ kind: 'stall' });
    const reading = readAll(proxy.port);
    await new Promise((resolve) => setTimeout(resolve, 300));
    proxy.setMode({ kind: 'forward' });
    const { text, firstMs } = await reading;
    expect(text).to.equal('held\n');
    expect(firstMs).to.be.at.least(300);
  });

  it('resets new connections while cut', async function () {
    const proxy = await proxyTo(['never']);
    proxy.setMode({ kind: 'cut' });
    const { text, reset } = await readAll(proxy.port);
    expect(text).to.equal('');
    expect(reset).to.equal(true);
  });
});
