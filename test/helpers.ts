/** Shared test helpers: free loopback ports, polling, and a sim+collectors+arbiter pipeline on real ZeroMQ. */
import { freePort } from '../src/util/freePort.js';

export { freePort };

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
