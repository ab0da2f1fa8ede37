/**
 * Client SDK: `for await (const u of subscribe({ venue: 'binance', symbol: 'BTCUSDT' }))`.
 * Clone pattern: subscribe first, then ask the snapshot service, apply buffered deltas on top; after
 * that every delta is checked by sequence. A gap (messages dropped at the high-water mark, a reconnect,
 * an arbiter resync we missed) stops updates until a fresh snapshot heals it: never a silently wrong book.
 */
import { BookFollower, type BookUpdate, type Step } from './follower.js';
import { nowMicros } from '../core/clock.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { createTransport } from '../transport/index.js';
import { clientCurve } from './curve.js';
import { DEFAULT_VENUE, findVenue } from '../venues/index.js';
import type { SnapshotClient, Transport, ZmqEndpoints } from '../transport/types.js';
import type { ClientCurveOptions } from '../transport/keys.js';
import {
  decodeBookMessage,
  querySnapshot,
  topics,
  type ConsolidatedHeartbeat,
  type ConsolidatedMessage,
} from '../wire/messages.js';

export interface SubscribeOptions {
  /** Venue id (src/venues/index.ts), default binance. */
  venue?: string;
  /** The venue's spelling (BTCUSDT, BTC-USDT-SWAP) or the unified one (BTC/USDT, BTC/USDT:USDT). */
  symbol: string;
  /** A transport to use (shared, not closed by us); default: ZeroMQ on `endpoints`. */
  transport?: Transport;
  endpoints?: Partial<ZmqEndpoints>;
  /**
   * Connect with CURVE to arbiters that run it (docs/security.md): the server's public key and this
   * client's key pair, as files or keys. Ignored with `transport` (give that transport its own `curve`).
   */
  curve?: ClientCurveOptions;
  /** Receive high-water mark of the subscription (messages beyond it are dropped and healed by snapshot). */
  highWaterMark?: number;
  /** Kernel receive buffer of the subscription, bytes (default: the OS's). */
  receiveBufferSize?: number;
  snapshotTimeoutMs?: number;
  /**
   * The book is reported stale (an update of kind 'stale') when nothing came on its topic for this long
   * (arbiter dead or cut off: arbiters send a heartbeat every second), or when every arbiter heard from says
   * it has no live feed. Default 3000 ms.
   */
  staleAfterMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

export type { BookUpdate } from './follower.js';

type Next =
  { msg: IteratorResult<{ topic: string; payload: Buffer }> } | { snap: ConsolidatedMessage | Error } | { wake: true };

/** What the staleness timer resolves its promise with. */
const WAKE: unique symbol = Symbol('wake');

export async function* subscribe(opts: SubscribeOptions): AsyncGenerator<BookUpdate, void, undefined> {
  const venue = opts.venue ?? DEFAULT_VENUE;
  // either spelling (BTC-USDT-SWAP or BTC/USDT:USDT); topics carry the venue's
  const symbol = findVenue(venue)?.venueSymbol(opts.symbol) ?? opts.symbol;
  const topic = topics.book(venue, symbol);
  const log = opts.logger ?? silentLogger;
  const owned = !opts.transport;
  const transport =
    opts.transport ?? createTransport({ kind: 'zeromq', endpoints: opts.endpoints, ...clientCurve(opts.curve) });
  const sub = await transport.subscriber('book', [topic], {
    highWaterMark: opts.highWaterMark,
    receiveBufferSize: opts.receiveBufferSize,
  });
  let snapClient: SnapshotClient | undefined;
  const book = new BookFollower(venue, symbol, opts.staleAfterMs ?? 3000, nowMicros(), log);
  const timeout = opts.snapshotTimeoutMs ?? 2000;
  const it = sub[Symbol.asyncIterator]();
  let pendingMsg = it.next();
  let pendingSnap: Promise<Next> | undefined;
  const onAbort = () => void sub.close();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const askSnapshot = async (): Promise<Next> => {
    book.asking = true;
    try {
      const client = (snapClient ??= await transport.snapshotClient());
      return { snap: await querySnapshot(client, venue, symbol, timeout) };
    } catch (e) {
      return { snap: e as Error };
    }
  };

  let wake: (() => void) | undefined;
  const armWake = () => new Promise<typeof WAKE>((r) => (wake = () => r(WAKE)));
  let wakeP = armWake();
  const staleAfter = (opts.staleAfterMs ?? 3000) * 1000;
  let due: BookUpdate | undefined;
  const timer = setInterval(
    () => {
      const now = nowMicros();
      if (due === undefined) due = book.tick(now);
      if (due !== undefined || (pendingSnap === undefined && book.askDue(now))) wake?.();
    },
    Math.max(10, Math.min(250, staleAfter / 4000)),
  );
  timer.unref();

  try {
    // (the first snapshot is asked once the topic delivers: BookFollower, the slow joiner)
    for (;;) {
      if (opts.signal?.aborted) return;
      if (!pendingSnap && book.wantsSnapshot(nowMicros())) pendingSnap = askSnapshot();
      let next: Next;
      if (pendingSnap) {
        const got = await Promise.race([pendingMsg.then((msg) => ({ msg })), pendingSnap, wakeP]);
        next = got === WAKE ? { wake: true } : got;
      } else {
        // the hot path: one race per message, no wrapper promise
        const got = await Promise.race([pendingMsg, wakeP]);
        next = got === WAKE ? { wake: true } : { msg: got };
      }
      let step: Step;
      if ('wake' in next) {
        wakeP = armWake();
        const u = due;
        due = undefined;
        // a message since the timer's verdict may have said otherwise already
        if (u !== undefined && u.stale === book.stale) yield u;
        continue;
      }
      if ('snap' in next) {
        pendingSnap = undefined;
        step = book.onReply(next.snap, nowMicros());
      } else {
        if (next.msg.done) return;
        pendingMsg = it.next();
        if (next.msg.value.topic !== topic) continue; // prefix match of a longer symbol
        let m: ConsolidatedMessage | ConsolidatedHeartbeat;
        try {
          m = decodeBookMessage(next.msg.value.payload);
        } catch (e) {
          log.warn({ err: (e as Error).message, topic }, 'undecodable consolidated message dropped');
          continue;
        }
        step = book.onMessage(m, nowMicros());
      }
      if (step.ask && !pendingSnap) pendingSnap = askSnapshot();
      if (step.update) yield step.update;
    }
  } finally {
    clearInterval(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    await sub.close();
    await snapClient?.close();
    if (owned) await transport.close();
  }
}
