import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Where free ports are looked for: below the kernel's ephemeral range. A port taken from inside that range
 * (listen on 0) can later be handed to an outgoing connection as its local port while the test still
 * expects to bind it — a listener started long after the port was chosen (the audit webhook's port lives as
 * long as the control plane) then fails with EADDRINUSE. Ports below the range are only ever taken by
 * listeners.
 */
function candidateRange(): { low: number; high: number } {
  let ephemeralLow = 32768;
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > 12_000) ephemeralLow = low;
  } catch { /* not Linux: keep the common default */ }
  return { low: 10_000, high: ephemeralLow - 1 };
}

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port that is free now and outside the ephemeral range. Callers start their server promptly. */
export async function freePort(): Promise<number> {
  const { low, high } = candidateRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free loopback port found in ${low}-${high}`);
}
