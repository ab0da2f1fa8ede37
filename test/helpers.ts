/** Shared test helpers: free loopback ports, polling, and a sim+collectors+arbiter pipeline on real ZeroMQ. */
import net from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function freeEndpoints(): Promise<{ ingest: string[]; publish: string[]; snapshot: string[] }> {
  const [a, b, c] = [await freePort(), await freePort(), await freePort()];
  return {
    ingest: [`tcp://127.0.0.1:${a}`],
    publish: [`tcp://127.0.0.1:${b}`],
    snapshot: [`tcp://127.0.0.1:${c}`],
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until cond() is true; throws with `what` after timeoutMs. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
