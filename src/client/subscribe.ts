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
import { decodeConsolidated, encode, topics, type ConsolidatedMessage } from '../wire/messages.js';

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
  /** Yield only after the book is synced (default true); false also yields 'gap' notices. */
  signal?: AbortSignal;
  logger?: Logger;
}

export interface BookUpdate {
  venue: string;
  symbol: string;
  kind: 'snapshot' | 'delta';
  /** Consolidated sequence (the exchange's last update id) the book is at. */
  seq: number;
  /** The live book (mutated by later updates: copy what you keep). */
  book: OrderBook;
  message: ConsolidatedMessage;
  /** Local receive time, epoch µs. */
  receivedAt: number;
  /** Gaps detected (and healed by snapshot) so far. */
  gaps: number;
}

type Next = { msg: IteratorResult<{ topic: string; payload: Buffer }> } | { snap: ConsolidatedMessage | Error };

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

  try {
    pendingSnap = askSnapshot();
    for (;;) {
      if (opts.signal?.aborted) return;
      if (!pendingSnap && !replica.synced && nowMicros() >= nextSnapAt) pendingSnap = askSnapshot();
      const next: Next = pendingSnap
        ? await Promise.race([pendingMsg.then((msg) => ({ msg })), pendingSnap])
        : { msg: await pendingMsg };
      let m: ConsolidatedMessage;
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
          m = decodeConsolidated(next.msg.value.payload);
        } catch (e) {
          log.warn({ err: (e as Error).message, topic }, 'undecodable consolidated message dropped');
          continue;
        }
      }
      const v = replica.onMessage(m);
      if (v === 'gap') {
        log.info({ topic, seq: replica.seq, got: m.seq }, 'gap in consolidated stream; resyncing by snapshot');
        if (!pendingSnap) pendingSnap = askSnapshot();
        continue;
      }
      if (v === 'applied' || v === 'reset')
        yield {
          venue,
          symbol,
          kind: m.type,
          seq: replica.seq,
          book: replica.book,
          message: m,
          receivedAt: nowMicros(),
          gaps: replica.gaps,
        };
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await sub.close();
    await snapClient?.close();
    if (owned) await transport.close();
  }
}
