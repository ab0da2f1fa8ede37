/**
 * Every book of a venue on one subscription: `for await (const u of subscribeVenue({ venue: 'binance' }))`.
 * One SUB socket on `book.<venue>.`, one BookFollower per book (the same rules as subscribe()), snapshot
 * requests paced below the snapshot service's per-client bounds (a whole market asks for thousands), and
 * each update says how many books are synced out of how many are known.
 */
import { nowMicros } from '../core/clock.js';
import type { ConsolidatedHeartbeat, ConsolidatedMessage } from '../core/consolidated.js';
import { silentLogger } from '../log.js';
import { createTransport } from '../transport/index.js';
import { clientCurve } from './curve.js';
import type { SnapshotClient } from '../transport/types.js';
import type { SubscribeOptions } from './subscribe.js';
import { Pacer } from '../util/pacer.js';
import { findVenue } from '../venues/index.js';
import { decodeBookMessage, querySnapshot, topics } from '../wire/messages.js';
import { BookFollower, type BookUpdate, type Step } from './follower.js';

/** As SubscribeOptions, for every book of `venue` (or those in `symbols`). */
export interface VenueSubscribeOptions extends Omit<SubscribeOptions, 'venue' | 'symbol'> {
  venue: string;
  /** Only these books (either spelling); default every book the arbiters publish for the venue. */
  symbols?: string[];
  /** Most books followed (default 10,000): topics beyond it are ignored and counted (a flood of made-up books). */
  maxBooks?: number;
}

export interface VenueUpdate extends BookUpdate {
  /** Books known so far (seen on the topic, or listed in `symbols`) and how many of them are synced now. */
  books: number;
  synced: number;
  /** Book topics ignored because maxBooks was reached. */
  ignoredBooks: number;
}

/** Longer than any venue's symbol (config symbols are 2-40 characters): a made-up topic, not a book. */
const MAX_SYMBOL_LENGTH = 64;

export async function* subscribeVenue(opts: VenueSubscribeOptions): AsyncGenerator<VenueUpdate, void, undefined> {
  const venue = opts.venue;
  const adapter = findVenue(venue);
  const prefix = topics.book(venue, '');
  const log = opts.logger ?? silentLogger;
  const staleAfterMs = opts.staleAfterMs ?? 3000;
  const maxBooks = opts.maxBooks ?? 10_000;
  const only = opts.symbols ? new Set(opts.symbols.map((s) => adapter?.venueSymbol(s) ?? s)) : undefined;
  const owned = !opts.transport;
  const transport =
    opts.transport ?? createTransport({ kind: 'zeromq', endpoints: opts.endpoints, ...clientCurve(opts.curve) });
  const sub = await transport.subscriber('book', [prefix], {
    highWaterMark: opts.highWaterMark,
    receiveBufferSize: opts.receiveBufferSize,
  });
  const books = new Map<string, BookFollower>();
  let synced = 0;
  let ignoredBooks = 0;
  let snapClient: SnapshotClient | undefined;
  const pacer = new Pacer(40, 16);
  const timeout = opts.snapshotTimeoutMs ?? 2000;
  /** Work for the loop from outside it (replies, the timer's verdicts), and a way to wake it. */
  const inbox: { f: BookFollower; run: () => Step | undefined }[] = [];
  let wake: (() => void) | undefined;
  const WAKE = Symbol('wake');
  const armWake = () => new Promise<typeof WAKE>((r) => (wake = () => r(WAKE)));
  let wakeP = armWake();
  const post = (f: BookFollower, run: () => Step | undefined) => {
    inbox.push({ f, run });
    wake?.();
  };

  const follower = (symbol: string): BookFollower | undefined => {
    let f = books.get(symbol);
    if (f !== undefined) return f;
    if (only !== undefined && !only.has(symbol)) return undefined;
    if (symbol.length === 0 || symbol.length > MAX_SYMBOL_LENGTH) return undefined; // not a book a venue lists
    if (books.size >= maxBooks) {
      if (ignoredBooks++ === 0) log.warn({ venue, maxBooks }, 'more books than maxBooks on the venue topic; ignoring');
      return undefined;
    }
    f = new BookFollower(venue, symbol, staleAfterMs, nowMicros(), log);
    books.set(symbol, f);
    return f;
  };
  const ask = (f: BookFollower) => {
    f.asking = true;
    void pacer
      .run(async (): Promise<ConsolidatedMessage | Error> => {
        try {
          const client = (snapClient ??= await transport.snapshotClient());
          return await querySnapshot(client, venue, f.symbol, timeout);
        } catch (e) {
          return e as Error;
        }
      }, new Error('closed'))
      .then((reply) => post(f, () => f.onReply(reply, nowMicros())));
  };
  /** Apply a step's outcome to the counts; the update to yield, if any. */
  const settle = (f: BookFollower, wasSynced: boolean, step: Step | undefined): VenueUpdate | undefined => {
    if (f.replica.synced !== wasSynced) synced += f.replica.synced ? 1 : -1;
    if (step?.ask && !f.asking) ask(f);
    return step?.update && { ...step.update, books: books.size, synced, ignoredBooks };
  };

  for (const s of only ?? []) follower(s);
  const timer = setInterval(() => {
    const now = nowMicros();
    for (const f of books.values()) {
      if (f.wantsSnapshot(now)) ask(f);
      const u = f.tick(now);
      // a message since the verdict may have said otherwise already
      if (u !== undefined) post(f, () => (u.stale === f.stale ? { update: u } : undefined));
    }
  }, 250);
  const it = sub[Symbol.asyncIterator]();
  let pendingMsg = it.next();
  const onAbort = () => void sub.close();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (opts.signal?.aborted) return;
      const got = await Promise.race([pendingMsg, wakeP]);
      if (got === WAKE) {
        wakeP = armWake();
        while (inbox.length > 0) {
          const { f, run } = inbox.shift()!;
          const wasSynced = f.replica.synced;
          const u = settle(f, wasSynced, run());
          if (u) yield u;
        }
        continue;
      }
      if (got.done) return;
      pendingMsg = it.next();
      const { topic, payload } = got.value;
      const f = follower(topic.slice(prefix.length));
      if (f === undefined) continue;
      let m: ConsolidatedMessage | ConsolidatedHeartbeat;
      try {
        m = decodeBookMessage(payload);
      } catch (e) {
        log.warn({ err: (e as Error).message, topic }, 'undecodable consolidated message dropped');
        continue;
      }
      const wasSynced = f.replica.synced;
      const u = settle(f, wasSynced, f.onMessage(m, nowMicros()));
      if (u) yield u;
    }
  } finally {
    clearInterval(timer);
    pacer.close();
    opts.signal?.removeEventListener('abort', onAbort);
    await sub.close();
    await snapClient?.close();
    if (owned) await transport.close();
  }
}
