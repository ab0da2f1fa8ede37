/**
 * Client SDK: `for await (const u of subscribe({ venue: 'binance', symbol: 'BTCUSDT' }))`.
 * Clone pattern: subscribe first, then ask the snapshot service, apply buffered deltas on top; after
 * that every delta is checked by sequence. A gap (messages dropped at the high-water mark, a reconnect,
 * an arbiter resync we missed) stops updates until a fresh snapshot heals it: never a silently wrong book.
 */
import { BookReplica } from '../core/replica.js';
import type { OrderBook } from '../core/book.js';
import { nowMicros } from '../core/clock.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { createTransport } from '../transport/index.js';
import { DEFAULT_VENUE, findVenue } from '../venues/index.js';
import type { SnapshotClient, Transport, ZmqEndpoints } from '../transport/types.js';
import {
  decodeBookMessage,
  decodeConsolidated,
  encode,
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

export interface BookUpdate {
  venue: string;
  symbol: string;
  /**
   * snapshot/delta: the book changed. stale: the book stopped being current (see `staleSince`): do not act
   * on it as if it were. fresh: it is current again without having changed (a quiet book whose feed returned).
   */
  kind: 'snapshot' | 'delta' | 'stale' | 'fresh';
  /** True while the book may be old: no live feed at any arbiter, or no arbiter heard from. */
  stale: boolean;
  /** Epoch µs since when the book has been stale (while `stale`). */
  staleSince?: number;
  /** Consolidated sequence (the exchange's last update id) the book is at. */
  seq: number;
  /** The live book (mutated by later updates: copy what you keep). */
  book: OrderBook;
  /** What caused the update: the consolidated message, or for stale/fresh the heartbeat (a silence: one made up here, arbiter ''). */
  message: ConsolidatedMessage | ConsolidatedHeartbeat;
  /** Local receive time, epoch µs. */
  receivedAt: number;
  /** Gaps detected (and healed by snapshot) so far. */
  gaps: number;
}

type Next =
  { msg: IteratorResult<{ topic: string; payload: Buffer }> } | { snap: ConsolidatedMessage | Error } | { wake: true };

/** What the staleness timer resolves its promise with. */
const WAKE: unique symbol = Symbol('wake');

/** What one arbiter last said of the book in a heartbeat. */
interface ArbiterWord {
  stale: boolean;
  since: number;
  /** Local time (µs) it was heard. */
  at: number;
}

export async function* subscribe(opts: SubscribeOptions): AsyncGenerator<BookUpdate, void, undefined> {
  const venue = opts.venue ?? DEFAULT_VENUE;
  // either spelling (BTC-USDT-SWAP or BTC/USDT:USDT); topics carry the venue's
  const symbol = findVenue(venue)?.venueSymbol(opts.symbol) ?? opts.symbol;
  const topic = topics.book(venue, symbol);
  const log = opts.logger ?? silentLogger;
  const owned = !opts.transport;
  const transport = opts.transport ?? createTransport({ kind: 'zeromq', endpoints: opts.endpoints });
  const sub = await transport.subscriber('book', [topic], {
    highWaterMark: opts.highWaterMark,
    receiveBufferSize: opts.receiveBufferSize,
  });
  let snapClient: SnapshotClient | undefined;
  const replica = new BookReplica();
  const timeout = opts.snapshotTimeoutMs ?? 2000;
  const it = sub[Symbol.asyncIterator]();
  let pendingMsg = it.next();
  let pendingSnap: Promise<Next> | undefined;
  let nextSnapAt = 0;
  const onAbort = () => void sub.close();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const askSnapshot = async (): Promise<Next> => {
    try {
      const client = (snapClient ??= await transport.snapshotClient());
      const reply = await client.request(topic, encode({ v: 1, type: 'snapshot-query', venue, symbol }), timeout);
      return { snap: decodeConsolidated(reply) };
    } catch (e) {
      return { snap: e as Error };
    }
  };

  // Staleness: silence on the topic, or every arbiter heard from recently saying it has no live feed.
  const staleAfter = (opts.staleAfterMs ?? 3000) * 1000;
  let lastHeard = nowMicros();
  let lastApplied = 0;
  const words = new Map<string, ArbiterWord>();
  let staleSince: number | undefined;
  const judge = (now: number): number | undefined => {
    if (now - lastHeard > staleAfter) return lastHeard;
    let since: number | undefined;
    for (const w of words.values()) {
      if (now - w.at > staleAfter) continue;
      if (!w.stale || w.at < lastApplied) return undefined; // one arbiter live, or data since it spoke
      since = since === undefined ? w.since : Math.min(since, w.since);
    }
    return since;
  };
  let wake: (() => void) | undefined;
  const armWake = () => new Promise<typeof WAKE>((r) => (wake = () => r(WAKE)));
  let wakeP = armWake();
  const timer = setInterval(
    () => {
      if (replica.synced && (judge(nowMicros()) === undefined) !== (staleSince === undefined)) wake?.();
    },
    Math.max(10, Math.min(250, staleAfter / 4000)),
  );
  timer.unref();
  const update = (kind: BookUpdate['kind'], m: ConsolidatedMessage | ConsolidatedHeartbeat): BookUpdate => ({
    venue,
    symbol,
    kind,
    stale: staleSince !== undefined,
    ...(staleSince === undefined ? {} : { staleSince }),
    seq: replica.seq,
    book: replica.book,
    message: m,
    receivedAt: nowMicros(),
    gaps: replica.gaps,
  });

  try {
    pendingSnap = askSnapshot();
    for (;;) {
      if (opts.signal?.aborted) return;
      if (!pendingSnap && !replica.synced && nowMicros() >= nextSnapAt) pendingSnap = askSnapshot();
      let next: Next;
      if (pendingSnap) {
        const got = await Promise.race([pendingMsg.then((msg) => ({ msg })), pendingSnap, wakeP]);
        next = got === WAKE ? { wake: true } : got;
      } else {
        // the hot path: one race per message, no wrapper promise
        const got = await Promise.race([pendingMsg, wakeP]);
        next = got === WAKE ? { wake: true } : { msg: got };
      }
      let m: ConsolidatedMessage | ConsolidatedHeartbeat;
      if ('wake' in next) {
        wakeP = armWake();
        const now = nowMicros();
        const since = judge(now);
        if (!replica.synced || (since === undefined) === (staleSince === undefined)) continue;
        staleSince = since;
        const silent: ConsolidatedHeartbeat = {
          v: 1,
          type: 'heartbeat',
          venue,
          symbol,
          seq: replica.seq,
          pubTime: 0,
          arbiter: '',
          stale: since !== undefined,
          ...(since === undefined ? {} : { staleSince: since }),
        };
        log.info({ topic, stale: since !== undefined }, since === undefined ? 'book fresh again' : 'book stale');
        yield update(since === undefined ? 'fresh' : 'stale', silent);
        continue;
      }
      if ('snap' in next) {
        pendingSnap = undefined;
        if (next.snap instanceof Error) {
          // Service down or resyncing: retry later; the periodic in-stream snapshot may heal us first.
          log.debug({ err: next.snap.message, topic }, 'snapshot request failed');
          nextSnapAt = nowMicros() + 500_000;
          continue;
        }
        m = next.snap;
      } else {
        if (next.msg.done) return;
        pendingMsg = it.next();
        if (next.msg.value.topic !== topic) continue; // prefix match of a longer symbol
        try {
          m = decodeBookMessage(next.msg.value.payload);
        } catch (e) {
          log.warn({ err: (e as Error).message, topic }, 'undecodable consolidated message dropped');
          continue;
        }
        lastHeard = nowMicros();
      }
      if (m.type === 'heartbeat') {
        words.set(m.arbiter, { stale: m.stale, since: m.staleSince ?? lastHeard, at: lastHeard });
        if (words.size > 16) words.delete(words.keys().next().value!); // bounded: a few arbiters at most
        if (replica.onHeartbeat(m) === 'gap') {
          log.info(
            { topic, seq: replica.seq, arbiterSeq: m.seq },
            'heartbeat ahead of our book: messages lost; resyncing',
          );
          if (!pendingSnap) pendingSnap = askSnapshot();
          continue;
        }
        const since = replica.synced ? judge(lastHeard) : undefined;
        if (replica.synced && (since === undefined) !== (staleSince === undefined)) {
          staleSince = since;
          yield update(since === undefined ? 'fresh' : 'stale', m);
        }
        continue;
      }
      const v = replica.onMessage(m);
      if (v === 'gap') {
        log.info({ topic, seq: replica.seq, got: m.seq }, 'gap in consolidated stream; resyncing by snapshot');
        if (!pendingSnap) pendingSnap = askSnapshot();
        continue;
      }
      if (v === 'applied' || v === 'reset') {
        const now = nowMicros();
        // a snapshot that says the arbiter has no live feed is the old book: still stale
        if (m.type === 'snapshot' && m.stale) {
          staleSince = m.staleSince ?? staleSince ?? now;
        } else {
          lastApplied = now;
          staleSince = undefined;
        }
        yield update(m.type, m);
      }
    }
  } finally {
    clearInterval(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    await sub.close();
    await snapClient?.close();
    if (owned) await transport.close();
  }
}
