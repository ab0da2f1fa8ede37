import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * A TCP port that is free right now on `host` (whoever binds it next may still race for it).
 * It is picked below the kernel's ephemeral range: a port the OS hands out for listen(0) comes from the
 * same range as the source ports of outgoing connections, so any connect() between this check and the
 * bind (a ZeroMQ socket reconnecting, a test's client) could take it ("address already in use").
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const range = portsBelowEphemeral();
  for (let i = 0; range && i < 50; i++) {
    const port = range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));
    if ((await listenOn(host, port)) === port) return port;
  }
  return (await listenOn(host, 0)) ?? Promise.reject(new Error(`no free TCP port on ${host}`));
}

/** [10000, first ephemeral port - 1] on Linux, if that leaves room; otherwise undefined (let the OS pick). */
function portsBelowEphemeral(): [number, number] | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 12_000 ? [10_000, low - 1] : undefined;
  } catch {
    return undefined;
  }
}

/** Listens on `port` (0: any) and closes again; the port it got, or undefined if it was taken. */
function listenOn(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(undefined) : reject(e),
    );
    s.listen(port, host, () => {
      const got = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(got));
    });
  });
}
