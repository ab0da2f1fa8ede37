/**
 * Helpers for the transport tests: a subscriber reader with timeouts, slow-joiner warm-up, and a plain
 * zeromq.js SUB that plays a third-party reader (the one place outside src/transport that imports zeromq).
 */
import * as zmq from 'zeromq';
import type { BusMessage, BusSubscriber } from '../../src/transport/types.js';

/** Warm-up messages use topics ending in `.probe`; readers skip them afterwards. */
export const isProbe = (m: BusMessage): boolean => m.topic.endsWith('.probe');

const NOT_YET_VALUE = Symbol('not yet');
const NOT_YET = Promise.resolve(NOT_YET_VALUE);

/** Reads a subscriber with timeouts, so a missing message fails the test instead of hanging it. */
export class MessageReader {
  private readonly it: AsyncIterator<BusMessage>;
  private pending: Promise<IteratorResult<BusMessage>> | undefined;

  constructor(sub: BusSubscriber) {
    this.it = sub[Symbol.asyncIterator]();
  }

  /** Next message including probes, or undefined if none arrives in time; throws if the stream ended. */
  async nextRaw(timeoutMs: number): Promise<BusMessage | undefined> {
    this.pending ??= this.it.next();
    // Fast path without a timer: a promise that is already settled wins a race against a resolved sentinel.
    const ready = await Promise.race([this.pending, NOT_YET]);
    if (ready !== NOT_YET_VALUE) {
      this.pending = undefined;
      if (ready.done) throw new Error('subscriber ended');
      return ready.value;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
    const r = await Promise.race([this.pending, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') return undefined;
    this.pending = undefined;
    if (r.done) throw new Error('subscriber ended');
    return r.value;
  }

  /** Next non-probe message, or undefined if none arrives within timeoutMs. */
  async next(timeoutMs = 3000): Promise<BusMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.nextRaw(Math.max(1, deadline - Date.now()));
      if (m === undefined || !isProbe(m)) return m;
    }
  }

  /** Exactly n non-probe messages; throws (saying how many came) if they do not arrive in time. */
  async take(n: number, timeoutMs = 5000): Promise<BusMessage[]> {
    const deadline = Date.now() + timeoutMs;
    const out: BusMessage[] = [];
    while (out.length < n) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (m === undefined) throw new Error(`expected ${n} messages, got ${out.length} within ${timeoutMs} ms`);
      out.push(m);
    }
    return out;
  }

  /** Every non-probe message until none arrives for idleMs. */
  async drainUntilIdle(idleMs: number, maxMs = 10_000): Promise<BusMessage[]> {
    const deadline = Date.now() + maxMs;
    const out: BusMessage[] = [];
    for (;;) {
      const m = await this.next(idleMs);
      if (m === undefined || Date.now() > deadline) return out;
      out.push(m);
    }
  }
}

/**
 * Beat ZeroMQ's slow joiner: keep sending probes until the reader has seen a probe on every topic in
 * `probeTopics` (so each publisher's connection and the subscription are in place).
 */
export async function warmUp(
  sendProbes: () => void,
  reader: MessageReader,
  probeTopics: string[],
  timeoutMs = 5000,
): Promise<void> {
  const missing = new Set(probeTopics);
  const deadline = Date.now() + timeoutMs;
  while (missing.size > 0) {
    if (Date.now() > deadline)
      throw new Error(`slow joiner: no probe on ${[...missing].join(', ')} within ${timeoutMs} ms`);
    sendProbes();
    // Read everything already queued, then send the next round.
    for (let m = await reader.nextRaw(20); m !== undefined; m = await reader.nextRaw(5))
      if (isProbe(m)) missing.delete(m.topic);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RawSub {
  endpoint: string;
  messages: Buffer[][];
}

/** A plain zeromq.js SUB keeping every message's frames; connects to `endpoint`, or binds it with `bind`. */
export async function rawSub(
  t: { after(fn: () => Promise<void>): void },
  endpoint: string,
  prefixes: string[],
  bind = false,
): Promise<RawSub> {
  const sock = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
  if (prefixes.length === 0) sock.subscribe();
  else sock.subscribe(...prefixes);
  if (bind) await sock.bind(endpoint);
  else sock.connect(endpoint);
  const messages: Buffer[][] = [];
  let closed = false;
  const loop = (async () => {
    while (!closed) {
      try {
        messages.push(await sock.receive());
      } catch {
        return; // closed
      }
    }
  })();
  t.after(async () => {
    closed = true;
    sock.close();
    await loop;
  });
  return { endpoint: sock.lastEndpoint ?? endpoint, messages };
}

/**
 * A plain zeromq.js ROUTER bound at `endpoint` (an ingest endpoint, as a third party would read it):
 * `messages` holds each message's frames after the sender's routing id, `peers` that routing id.
 * `prefixes` filter like a subscription would (a ROUTER has none).
 */
export async function rawRouter(
  t: { after(fn: () => Promise<void>): void },
  endpoint: string,
  prefixes: string[] = [],
): Promise<RawSub & { peers: string[] }> {
  const sock = new zmq.Router({ linger: 0, receiveHighWaterMark: 0 });
  await sock.bind(endpoint);
  const messages: Buffer[][] = [];
  const peers: string[] = [];
  let closed = false;
  const loop = (async () => {
    while (!closed) {
      try {
        const [peer, ...frames] = await sock.receive();
        if (prefixes.length > 0 && !prefixes.some((p) => frames[0]?.toString().startsWith(p))) continue;
        peers.push(peer.toString());
        messages.push(frames);
      } catch {
        return; // closed
      }
    }
  })();
  t.after(async () => {
    closed = true;
    sock.close();
    await loop;
  });
  return { endpoint: sock.lastEndpoint ?? endpoint, messages, peers };
}
