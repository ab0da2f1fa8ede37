/**
 * Parse + apply per venue: bookwire vs tardis-dev vs ccxt on the same generated stream in each venue's wire
 * format (Binance spot: bench/gen.ts; Binance USD-M, OKX, Bybit linear, Kraken, Coinbase, Gemini v2:
 * bench/gen-venues.ts).
 *
 *   node dist/bench/book.js [n ...]                          Binance spot; default n: 200000 1000000
 *   node dist/bench/book.js --venue okx [n ...]              one venue (binance, binance-usdm, okx, bybit-linear,
 *                                                            kraken, coinbase, gemini-v2; or several, by commas)
 *   node dist/bench/book.js --venue all [--quick] [n ...]    every venue, each in its own process, one table
 *
 * incl = from the frame text, through each library's own parse path for that venue:
 *   bookwire    the venue adapter's parse + its sequence rule's check + OrderBook.apply
 *   tardis-dev  JSON.parse + normalizeBookChanges(<its exchange id>) mapper + its OrderBook.update
 *               (binance, binance-futures, okex with channel books, bybit with orderbook.50)
 *   ccxt        JSON.parse + its pro exchange's order book handler, fed without a network:
 *               binance and binanceusdm handleOrderBookMessage (parses the levels and stores them; the
 *               U/u/pu checks of handleOrderBook are not run), okx and bybit handleOrderBook (the whole
 *               path: okx checks prevSeqId against its nonce), coinbase and gemini handleOrderBook (the whole
 *               path of their l2_data / v2 l2_updates handlers)
 * Coinbase Advanced Trade level2 and Gemini v2 l2 (no per-book sequence: merge 'replica'):
 *   bookwire    the adapter's parse + the collector's check of Coinbase's per-connection sequence_num (a skip
 *               throws) + OrderBook.apply
 *   tardis-dev  gemini: its mapper reads v2 l2_updates as they are. coinbase: it has NO mapper for Advanced
 *               Trade (its coinbase mapper reads the Coinbase Exchange snapshot/l2update feed), so it is fed
 *               the same stream in that format (a shorter text: changes as [side, price, size] arrays), and
 *               its impl column says so
 * Kraken (v2 `book` at depth 100; no sequence ids; a CRC32 of the top 10 in every message) -- incl includes
 * the checksum where the library has one:
 *   bookwire    the adapter's parse, which keeps the levels' text and the checksum (delta.integrity, one
 *               decode: what a verifier beside the parser reads; the arbiter service, which gets the text over
 *               the bus, reads the same with integrity.read(raw)) + HashedBook.apply(bids, asks, strings) on a
 *               keepStrings OrderBook, truncated to the adapter's bookDepth (what the replica arbiter runs per
 *               feed) + integrity.verify(book.topStrings(10), checksum); a mismatch throws (FAILED)
 *   tardis-dev  speaks only v1 (its kraken mapper reads [channelID, {a}, {b, c}, "book-100", pair] arrays): it
 *               is fed the same stream written in v1 format; it has no checksum validation, and its OrderBook
 *               does not truncate (levels pushed out of the depth stay: its depth is read up to 100)
 *   ccxt        JSON.parse + pro kraken handleOrderBook (v2), one exchange instance per book, with option
 *               watchOrderBook.checksum true when its handler survives that on the snapshot frame; when it
 *               does not (ccxt 4.5.84: its formatNumber calls .split on the JSON numbers, a TypeError on every
 *               message) the row runs with checksum off and its impl column says why
 * excl = levels converted beforehand to each library's native input (untimed); only book updates are timed:
 *   bookwire    OrderBook.apply(Level[], Level[]) (Kraken: HashedBook.apply with the strings + truncation)
 *   tardis-dev  OrderBook.update(BookChange)
 *   ccxt        OrderBook asks/bids .store(price, size), as its handlers call it (Kraken: then .limit())
 * Each implementation's final top 10 levels per side and depth must equal the generator's truth; a row that
 * does not is reported FAILED (and the process exits non-zero).
 *
 * Method: events are kept as latin1 bytes off the JS heap and decoded (and, for excl, converted) CHUNK at a
 * time, untimed, followed by a full GC; then each (repeat, implementation) pair applies the chunk to its own
 * book, round-robin. Every book sees the whole stream in order; the machine may be shared, so the best repeat
 * is reported, both by wall-clock time and by process CPU time (which also counts GC helper threads).
 * Warm-up: each implementation runs the first WARMUP_EVENTS events twice, both ways, before measuring.
 * Several venues run one after the other, each in a child process of its own, so that one venue's code
 * shapes never slow another's.
 */
import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { OrderBook as TardisOrderBook, normalizeBookChanges, type BookChange, type BookPriceLevel } from 'tardis-dev';
import { OrderBook } from '../src/core/book.js';
import { HashedBook } from '../src/core/hashedBook.js';
import { type IntegrityInfo, verifyTop } from '../src/core/integrity.js';
import type { BookDelta, BookSnapshot, Level } from '../src/core/types.js';
import { venue as findAdapter } from '../src/venues/index.js';
import type { VenueAdapter } from '../src/venues/types.js';
import { generateEvents } from './gen.js';
import { generateVenueEvents, type GeneratedVenue } from './gen-venues.js';

export type BenchVenue = 'binance' | GeneratedVenue;
export const BENCH_VENUES: readonly BenchVenue[] = [
  'binance',
  'binance-usdm',
  'okx',
  'bybit-linear',
  'kraken',
  'coinbase',
  'gemini-v2',
];

/** Events per venue: Binance spot as before this bench covered other venues; the others by frame size. */
export const DEFAULT_SIZES: Record<BenchVenue, { full: number[]; quick: number[] }> = {
  binance: { full: [200_000, 1_000_000], quick: [200_000] },
  'binance-usdm': { full: [200_000], quick: [50_000] },
  okx: { full: [200_000], quick: [50_000] },
  'bybit-linear': { full: [1_000_000], quick: [200_000] },
  kraken: { full: [1_000_000], quick: [200_000] },
  coinbase: { full: [1_000_000], quick: [200_000] },
  'gemini-v2': { full: [1_000_000], quick: [200_000] },
};

export type ImplName = 'bookwire' | 'tardis-dev' | 'ccxt';
const IMPLS: readonly ImplName[] = ['bookwire', 'tardis-dev', 'ccxt'];

export interface Row {
  venue: BenchVenue;
  n: number;
  impl: ImplName;
  parsing: 'incl' | 'excl';
  /** Best wall-clock time over the repeats, and the events/s it gives. */
  seconds: number;
  eventsPerSec: number;
  /** Best process CPU time (user + system) over the repeats, and the events/s it gives. */
  cpuSeconds: number;
  eventsPerCpuSec: number;
  /** Final book equals the generator's truth in every repeat. */
  ok: boolean;
  detail?: string;
  /** What differs in how this implementation ran (shown after its name). */
  note?: string;
}

interface FinalBook {
  bids: Level[];
  asks: Level[];
  bidDepth: number;
  askDepth: number;
  /** The venue sequence id the book ended at, for implementations that track it here. */
  seq?: number;
}

/** What a subscriber's book holds at the end of the stream. */
interface Truth extends FinalBook {
  /** The sequence id of the stream's last event. */
  lastSeq: number;
}

/** One competitor. Loops that are timed live inside applyTexts/applyParsed, so each stays monomorphic. */
interface Impl<B, X> {
  name: ImplName;
  /**
   * Reads the stream's legacy texts (Kraken v1, Coinbase Exchange: for a library that only speaks the older
   * format), in applyTexts and convert.
   */
  legacy?: boolean;
  note?: string;
  /** A fresh book holding the stream's snapshot. */
  newBook(): B;
  applyTexts(book: B, texts: readonly string[], count: number): void;
  convert(text: string): X;
  applyParsed(book: B, xs: readonly X[]): void;
  final(book: B): FinalBook;
}

const CHUNK = 50_000;
const WARMUP_EVENTS = 20_000;

/** A full synchronous GC, also without --expose-gc (the flag is enabled for a fresh context). */
const gc: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Accumulates wall time and process CPU time over start/stop pairs. On a shared machine wall time includes
 * time the thread was descheduled; CPU time does not (but counts GC helper threads), so both are reported.
 */
class Clock {
  wall = 0;
  cpu = 0;
  private t0 = 0n;
  private c0: NodeJS.CpuUsage = { user: 0, system: 0 };
  start(): void {
    this.c0 = process.cpuUsage();
    this.t0 = process.hrtime.bigint();
  }
  stop(): void {
    this.wall += Number(process.hrtime.bigint() - this.t0) / 1e9;
    const c = process.cpuUsage(this.c0);
    this.cpu += (c.user + c.system) / 1e6;
  }
}

// ---------------------------------------------------------------- the stream

/**
 * The stream's event texts, CHUNK per Buffer (latin1 bytes + offsets). Off the JS heap, so 1M events cost
 * ~300 MB of plain memory and no GC work; each chunk is decoded to strings (untimed) just before use.
 */
interface PackedStream {
  venue: BenchVenue;
  symbol: string;
  n: number;
  /** The initial book as the venue sends it: REST body (Binance) or the websocket snapshot frame. */
  snapshotText: string;
  truth: Truth;
  chunks: { buf: Buffer; offsets: Uint32Array }[];
  /** Kraken, Coinbase: the same stream in the older format (Kraken v1, Coinbase Exchange), chunk for chunk. */
  legacy?: { snapshotText: string; chunks: { buf: Buffer; offsets: Uint32Array }[] };
}

/** Packs texts CHUNK at a time. */
function packer(): { chunks: PackedStream['chunks']; add(text: string): void; flush(): void } {
  const chunks: PackedStream['chunks'] = [];
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const offsets = new Uint32Array(pending.length + 1);
    let bytes = 0;
    pending.forEach((t, i) => {
      offsets[i] = bytes;
      bytes += t.length; // ASCII: one byte per char
    });
    offsets[pending.length] = bytes;
    const buf = Buffer.allocUnsafe(bytes);
    pending.forEach((t, i) => buf.write(t, offsets[i], 'latin1'));
    chunks.push({ buf, offsets });
    pending = [];
  };
  return {
    chunks,
    add(text) {
      pending.push(text);
      if (pending.length === CHUNK) flush();
    },
    flush,
  };
}

function generatePacked(venue: BenchVenue, n: number, seed: number): PackedStream {
  const main = packer();
  const legacy = packer();
  const emit = (text: string, legacyText?: string) => {
    main.add(text);
    if (legacyText !== undefined) legacy.add(legacyText);
  };
  let head: Omit<PackedStream, 'chunks' | 'n' | 'venue'>;
  if (venue === 'binance') {
    const s = generateEvents(n, seed, 'BTCUSDT', emit);
    head = {
      symbol: s.symbol,
      snapshotText: JSON.stringify(s.snapshot),
      truth: { ...s.truth, lastSeq: s.truth.lastUpdateId },
    };
  } else {
    const s = generateVenueEvents(venue, n, seed, emit);
    head = { symbol: s.symbol, snapshotText: s.snapshotText, truth: s.truth };
    if (s.legacySnapshotText !== undefined) head.legacy = { snapshotText: s.legacySnapshotText, chunks: legacy.chunks };
  }
  main.flush();
  legacy.flush();
  return { ...head, venue, n, chunks: main.chunks };
}

function decode(chunk: PackedStream['chunks'][number]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < chunk.offsets.length; i++)
    out.push(chunk.buf.toString('latin1', chunk.offsets[i], chunk.offsets[i + 1]));
  return out;
}

// ---------------------------------------------------------------- bookwire

function adapterOf(venue: BenchVenue): VenueAdapter {
  return findAdapter(venue);
}

/** The stream's snapshot through the bookwire adapter (untimed; also the ccxt books' starting point). */
function bookwireSnapshot(s: PackedStream): BookSnapshot {
  const a = adapterOf(s.venue);
  if (a.snapshotSource === 'rest') {
    const r = a.parseSnapshot!(s.snapshotText, s.symbol, 'bench', 0);
    if (r.snapshot === undefined) throw new Error(`bad generated snapshot: ${r.error}`);
    return r.snapshot;
  }
  const r = a.parse(s.snapshotText, 'bench', 0);
  if (r.snapshot === undefined) throw new Error(`bad generated snapshot frame: ${r.error ?? r.ignored}`);
  return r.snapshot;
}

function parseEvent(a: VenueAdapter, text: string): BookDelta {
  const r = a.parse(text, 'bench', 0);
  if (r.delta === undefined) throw new Error(`generator produced an unparsable event: ${r.error ?? r.ignored}`);
  return r.delta;
}

function bookwireImpl(s: PackedStream): Impl<{ book: OrderBook; seq: number }, BookDelta> {
  const a = adapterOf(s.venue);
  const snap = bookwireSnapshot(s);
  return {
    name: 'bookwire',
    newBook() {
      const book = new OrderBook();
      book.applySnapshot(snap.bids, snap.asks);
      return { book, seq: snap.seq };
    },
    applyTexts(state, texts, count) {
      const book = state.book;
      const rule = a.rule;
      let seq = state.seq;
      for (let i = 0; i < count; i++) {
        const r = a.parse(texts[i], 'bench', 0);
        const d = r.delta;
        if (d === undefined) throw new Error(r.error ?? r.ignored ?? 'a snapshot mid-stream');
        const verdict = rule.check(seq, d);
        if (verdict === 'apply') {
          book.apply(d.bids, d.asks);
          seq = d.last;
        } else if (verdict === 'gap') throw new Error(`gap after ${seq}`);
      }
      state.seq = seq;
    },
    convert: (text) => parseEvent(a, text),
    applyParsed(state, xs) {
      const book = state.book;
      for (let i = 0; i < xs.length; i++) book.apply(xs[i].bids, xs[i].asks);
      if (xs.length > 0) state.seq = xs[xs.length - 1].last;
    },
    final({ book, seq }) {
      return { ...book.top(10), bidDepth: book.bidDepth, askDepth: book.askDepth, seq };
    },
  };
}

/** A replica venue's event as bookwire's feed gets it: the delta and the connection counter beside it. */
interface ReplicaParsed {
  delta: BookDelta;
  connectionSeq?: number;
}

/**
 * Venues without a per-book sequence (Coinbase, Gemini v2: merge 'replica'): the adapter's parse, the
 * collector's check of the venue's per-connection counter where there is one (Coinbase sequence_num; a
 * skip throws: FAILED), OrderBook.apply. The final seq is the last counter (checked against the truth).
 */
function bookwireReplicaImpl(s: PackedStream): Impl<{ book: OrderBook; seq?: number }, ReplicaParsed> {
  const a = adapterOf(s.venue);
  const snapFrame = a.parse(s.snapshotText, 'bench', 0);
  const snap = snapFrame.snapshot;
  if (snap === undefined) throw new Error(`bad generated snapshot frame: ${snapFrame.error ?? snapFrame.ignored}`);
  return {
    name: 'bookwire',
    newBook() {
      const book = new OrderBook();
      book.applySnapshot(snap.bids, snap.asks);
      return { book, seq: snapFrame.connectionSeq };
    },
    applyTexts(state, texts, count) {
      const book = state.book;
      let seq = state.seq;
      for (let i = 0; i < count; i++) {
        const r = a.parse(texts[i], 'bench', 0);
        const d = r.delta;
        if (d === undefined) throw new Error(r.error ?? r.ignored ?? 'a snapshot mid-stream');
        const n = r.connectionSeq;
        if (n !== undefined) {
          if (seq !== undefined && n !== seq + 1) throw new Error(`connection counter skips from ${seq} to ${n}`);
          seq = n;
        }
        book.apply(d.bids, d.asks);
      }
      state.seq = seq;
    },
    convert(text) {
      const r = a.parse(text, 'bench', 0);
      if (r.delta === undefined) throw new Error(`generator produced an unparsable event: ${r.error ?? r.ignored}`);
      return r.connectionSeq === undefined ? { delta: r.delta } : { delta: r.delta, connectionSeq: r.connectionSeq };
    },
    applyParsed(state, xs) {
      const book = state.book;
      for (let i = 0; i < xs.length; i++) book.apply(xs[i].delta.bids, xs[i].delta.asks);
      if (xs.length > 0 && xs[xs.length - 1].connectionSeq !== undefined) state.seq = xs[xs.length - 1].connectionSeq;
    },
    final({ book, seq }) {
      return {
        ...book.top(10),
        bidDepth: book.bidDepth,
        askDepth: book.askDepth,
        ...(seq !== undefined ? { seq } : {}),
      };
    },
  };
}

// ---------------------------------------------------------------- tardis-dev

type TardisMapper = ReturnType<typeof normalizeBookChanges>;

/**
 * tardis-dev's exchange id for a venue, and how a frame becomes the message its mapper takes; legacy: its
 * mapper reads an older format of the venue's feed, fed the same stream in it (tardisLegacyImpl).
 */
const TARDIS: Record<BenchVenue, { exchange: string; raw: boolean; legacy?: boolean; note?: string }> = {
  // a raw /ws stream: tardis records (and its mapper reads) the combined {stream, data} shape
  binance: { exchange: 'binance', raw: true },
  'binance-usdm': { exchange: 'binance-futures', raw: false },
  okx: { exchange: 'okex', raw: false },
  'bybit-linear': { exchange: 'bybit', raw: false },
  kraken: { exchange: 'kraken', raw: false, legacy: true, note: 'v1 format, no checksum' },
  coinbase: {
    exchange: 'coinbase',
    raw: false,
    legacy: true,
    note: 'no Advanced Trade mapper: Coinbase Exchange l2update format',
  },
  // its gemini mapper reads v2 l2_updates (a snapshot: the one with auction_events)
  'gemini-v2': { exchange: 'gemini', raw: false },
};

function tardisImpl(s: PackedStream): Impl<{ book: TardisOrderBook; mapper: TardisMapper }, BookChange> {
  const a = adapterOf(s.venue);
  const now = new Date();
  const { exchange, raw } = TARDIS[s.venue];
  const stream = `${s.symbol.toLowerCase()}@depth@100ms`;
  const lv = (l: Level): BookPriceLevel => ({ price: l[0], amount: l[1] });
  const change = (d: Pick<BookDelta, 'bids' | 'asks'>, isSnapshot: boolean): BookChange => ({
    type: 'book_change',
    symbol: s.symbol,
    exchange: exchange as BookChange['exchange'],
    isSnapshot,
    bids: d.bids.map(lv),
    asks: d.asks.map(lv),
    timestamp: now,
    localTimestamp: now,
  });
  // Binance: tardis' mapper takes the REST snapshot as a (tardis-generated) depthSnapshot message
  const snapshotMessage = () =>
    a.snapshotSource === 'rest'
      ? {
          stream: `${s.symbol.toLowerCase()}@depthSnapshot`,
          generated: true,
          data: JSON.parse(s.snapshotText) as unknown,
        }
      : (JSON.parse(s.snapshotText) as unknown);
  return {
    name: 'tardis-dev',
    newBook() {
      const book = new TardisOrderBook();
      const mapper = normalizeBookChanges(exchange as Parameters<typeof normalizeBookChanges>[0], now);
      for (const bc of mapper.map(snapshotMessage(), now) ?? []) book.update(bc);
      return { book, mapper };
    },
    applyTexts: raw
      ? ({ book, mapper }, texts, count) => {
          for (let i = 0; i < count; i++) {
            const changes = mapper.map({ stream, data: JSON.parse(texts[i]) }, now);
            if (changes !== undefined) for (const bc of changes) book.update(bc);
          }
        }
      : ({ book, mapper }, texts, count) => {
          for (let i = 0; i < count; i++) {
            const changes = mapper.map(JSON.parse(texts[i]), now);
            if (changes !== undefined) for (const bc of changes) book.update(bc);
          }
        },
    convert: (text) => change(parseEvent(a, text), false),
    applyParsed({ book }, xs) {
      for (let i = 0; i < xs.length; i++) book.update(xs[i]);
    },
    final({ book }) {
      const take = (it: IterableIterator<BookPriceLevel>) => {
        const out: Level[] = [];
        let depth = 0;
        for (const l of it) {
          if (out.length < 10) out.push([l.price, l.amount]);
          depth++;
        }
        return { out, depth };
      };
      const b = take(book.bids());
      const as = take(book.asks());
      return { bids: b.out, asks: as.out, bidDepth: b.depth, askDepth: as.depth };
    },
  };
}

// ---------------------------------------------------------------- ccxt

/** The slice of ccxt's (untyped, generated) order book classes used here. */
interface CcxtSide extends Array<Level> {
  store(price: number, size: number): void;
}
interface CcxtBook {
  bids: CcxtSide;
  asks: CcxtSide;
  reset(snapshot: { bids: Level[]; asks: Level[] }): void;
  /** Truncates each side to the book's depth. */
  limit(): void;
}
interface CcxtClient {
  url: string;
  subscriptions: Record<string, unknown>;
  resolve(result: unknown, messageHash: string): void;
  reject(error: unknown, messageHash?: string): void;
}
interface CcxtExchange {
  orderbooks: Record<string, CcxtBook>;
  orderBook(snapshot?: object, depth?: number): CcxtBook;
  safeMarket(id: string, market?: unknown, delimiter?: unknown, type?: string): { symbol: string };
  handleOrderBookMessage(client: unknown, message: unknown, orderbook: CcxtBook): CcxtBook;
  handleOrderBook(client: CcxtClient, message: unknown): void;
}
type CcxtPro = Record<
  'binance' | 'binanceusdm' | 'okx' | 'bybit' | 'kraken' | 'coinbase' | 'gemini',
  new (config?: object) => CcxtExchange
>;

/**
 * ccxt pro handlers that keep their books in exchange.orderbooks, built from the websocket snapshot frame:
 * its class, url, the subscription hash the handler reads, and the market type its symbol lookup needs.
 */
const CCXT_WS: Partial<
  Record<BenchVenue, { cls: keyof CcxtPro; url: string; hash: (symbol: string) => string; type?: string }>
> = {
  okx: { cls: 'okx', url: 'wss://ws.okx.com:8443/ws/v5/public', hash: (x) => `books:${x}` },
  'bybit-linear': {
    cls: 'bybit',
    url: 'wss://stream.bybit.com/v5/public/linear',
    hash: (x) => `orderbook:${x}`,
    type: 'contract',
  },
  // l2_data: the book is made anew on the snapshot event and every update stored (limit from the subscription)
  coinbase: { cls: 'coinbase', url: 'wss://advanced-trade-ws.coinbase.com', hash: (x) => `level2::${x}` },
  // v2 l2_updates: the message with auction_events, trades and changes makes a new book
  'gemini-v2': { cls: 'gemini', url: 'wss://api.gemini.com/v2/marketdata', hash: (x) => `orderbook:${x}` },
};

/** A websocket client as ccxt's handlers use it: they resolve futures by hash; nobody awaits them here. */
function ccxtClient(url: string, subscribed: string): CcxtClient {
  return {
    url,
    subscriptions: { [subscribed]: true },
    resolve() {},
    reject(e) {
      throw e instanceof Error ? e : new Error(String(e));
    },
  };
}

interface CcxtState {
  ex: CcxtExchange;
  client: CcxtClient;
  book: CcxtBook;
}

async function ccxtImpl(s: PackedStream): Promise<Impl<CcxtState, BookDelta>> {
  const pro = ((await import('ccxt')) as unknown as { pro: CcxtPro }).pro;
  const a = adapterOf(s.venue);
  const snap = bookwireSnapshot(s);
  const copy = (levels: Level[]) => levels.map((l): Level => [l[0], l[1]]);
  let newBook: () => CcxtState;
  let applyTexts: (st: CcxtState, texts: readonly string[], count: number) => void;
  if (s.venue === 'binance' || s.venue === 'binance-usdm') {
    const ex = new pro[s.venue === 'binance' ? 'binance' : 'binanceusdm']();
    const client = ccxtClient('', '');
    newBook = () => {
      const book = ex.orderBook({}, Number.MAX_SAFE_INTEGER);
      // reset() keeps the level arrays it is given and mutates them later: give it copies
      book.reset({ bids: copy(snap.bids), asks: copy(snap.asks) });
      return { ex, client, book };
    };
    applyTexts =
      s.venue === 'binance'
        ? ({ book }, texts, count) => {
            for (let i = 0; i < count; i++) ex.handleOrderBookMessage(undefined, JSON.parse(texts[i]), book);
          }
        : ({ book }, texts, count) => {
            // the combined stream's envelope, unwrapped as ccxt's handleMessage does
            for (let i = 0; i < count; i++) {
              ex.handleOrderBookMessage(undefined, (JSON.parse(texts[i]) as { data: unknown }).data, book);
            }
          };
  } else {
    // the others keep their books in exchange.orderbooks: one exchange instance per book
    const ws = CCXT_WS[s.venue];
    if (ws === undefined) throw new Error(`ccxt: no handler set up for ${s.venue}`);
    const Ex = pro[ws.cls];
    newBook = () => {
      const ex = new Ex();
      const symbol = ex.safeMarket(s.symbol, undefined, undefined, ws.type).symbol;
      const client = ccxtClient(ws.url, ws.hash(symbol));
      ex.handleOrderBook(client, JSON.parse(s.snapshotText));
      // (gemini keys its book by the lower-cased id it is sent: the one book there is)
      const book = ex.orderbooks[symbol] ?? Object.values(ex.orderbooks)[0];
      if (book === undefined) throw new Error(`ccxt ${s.venue}: the snapshot frame made no book for ${symbol}`);
      return { ex, client, book };
    };
    applyTexts = ({ ex, client }, texts, count) => {
      for (let i = 0; i < count; i++) ex.handleOrderBook(client, JSON.parse(texts[i]));
    };
  }
  return {
    name: 'ccxt',
    newBook,
    applyTexts,
    convert: (text) => parseEvent(a, text),
    applyParsed({ book }, xs) {
      const bookAsks = book.asks;
      const bookBids = book.bids;
      for (let e = 0; e < xs.length; e++) {
        const asks = xs[e].asks;
        const bids = xs[e].bids;
        for (let i = 0; i < asks.length; i++) bookAsks.store(asks[i][0], asks[i][1]);
        for (let i = 0; i < bids.length; i++) bookBids.store(bids[i][0], bids[i][1]);
      }
    },
    final({ ex, book }) {
      // websocket-snapshot handlers may replace the book (a snapshot frame, or after an error): read the current one
      const b = CCXT_WS[s.venue] !== undefined ? (Object.values(ex.orderbooks)[0] ?? book) : book;
      const side = (x: CcxtSide) => x.slice(0, 10).map((l) => [l[0], l[1]] as Level);
      return { bids: side(b.bids), asks: side(b.asks), bidDepth: b.bids.length, askDepth: b.asks.length };
    },
  };
}

// ---------------------------------------------------------------- Kraken (v2 book, checksum per message)

/** A Kraken update as bookwire's feed applies it: the levels, and their text with the checksum. */
interface KrakenParsed {
  bids: Level[];
  asks: Level[];
  info: IntegrityInfo;
}

function bookwireKrakenImpl(s: PackedStream): Impl<HashedBook, KrakenParsed> {
  const a = adapterOf(s.venue);
  const integrity = a.integrity!;
  const depth = a.bookDepth ?? Infinity;
  const snap = bookwireSnapshot(s);
  const snapInfo = integrity.read(s.snapshotText);
  if (snapInfo === undefined) throw new Error('kraken: the generated snapshot has no checksum');
  const convert = (text: string): KrakenParsed => {
    const d = parseEvent(a, text);
    const info = integrity.read(text);
    if (info === undefined) throw new Error('generator produced an update without a checksum');
    return { bids: d.bids, asks: d.asks, info };
  };
  return {
    name: 'bookwire',
    newBook() {
      const book = new HashedBook(true, depth);
      book.reset(snap.bids, snap.asks, snapInfo);
      if (!integrity.verify(book.book.topStrings(integrity.depth), snapInfo.checksum))
        throw new Error('kraken: the snapshot fails its checksum');
      return book;
    },
    applyTexts(book, texts, count) {
      for (let i = 0; i < count; i++) {
        const text = texts[i];
        const r = a.parse(text, 'bench', 0);
        const d = r.delta;
        if (d === undefined) throw new Error(r.error ?? r.ignored ?? 'a snapshot mid-stream');
        const info = d.integrity;
        if (info === undefined) throw new Error('an update without a checksum');
        book.apply(d.bids, d.asks, info);
        if (!verifyTop(integrity, book.book, info.checksum)) throw new Error(`checksum mismatch: ${info.checksum}`);
      }
    },
    convert,
    applyParsed(book, xs) {
      for (let i = 0; i < xs.length; i++) book.apply(xs[i].bids, xs[i].asks, xs[i].info);
    },
    final(book) {
      const b = book.book;
      return { ...b.top(10), bidDepth: b.bidDepth, askDepth: b.askDepth };
    },
  };
}

/**
 * tardis-dev on the legacy texts, for venues whose current format its mapper does not read: Kraken (its
 * mapper reads only v1 arrays; no checksum, no truncation) and Coinbase (its mapper reads Coinbase Exchange
 * snapshot/l2update, not Advanced Trade l2_data).
 */
function tardisLegacyImpl(s: PackedStream): Impl<{ book: TardisOrderBook; mapper: TardisMapper }, BookChange> {
  const legacy = s.legacy;
  if (legacy === undefined) throw new Error(`${s.venue}: the stream has no legacy texts`);
  const now = new Date();
  const { exchange, note } = TARDIS[s.venue];
  const depth = adapterOf(s.venue).bookDepth ?? Infinity;
  const mapper = () => normalizeBookChanges(exchange as Parameters<typeof normalizeBookChanges>[0], now);
  const converter = mapper();
  return {
    name: 'tardis-dev',
    legacy: true,
    ...(note !== undefined ? { note } : {}),
    newBook() {
      const book = new TardisOrderBook();
      const m = mapper();
      for (const bc of m.map(JSON.parse(legacy.snapshotText), now) ?? []) book.update(bc);
      return { book, mapper: m };
    },
    applyTexts({ book, mapper: m }, texts, count) {
      for (let i = 0; i < count; i++) {
        const changes = m.map(JSON.parse(texts[i]), now);
        if (changes !== undefined) for (const bc of changes) book.update(bc);
      }
    },
    convert(text) {
      for (const bc of converter.map(JSON.parse(text), now) ?? []) return bc;
      throw new Error('tardis-dev mapped a legacy update to nothing');
    },
    applyParsed({ book }, xs) {
      for (let i = 0; i < xs.length; i++) book.update(xs[i]);
    },
    final({ book }) {
      // Kraken: its book keeps the levels pushed out of the depth without a delete: read the top `depth`
      const take = (it: IterableIterator<BookPriceLevel>) => {
        const out: Level[] = [];
        let n = 0;
        for (const l of it) {
          if (n >= depth) break;
          if (out.length < 10) out.push([l.price, l.amount]);
          n++;
        }
        return { out, n };
      };
      const b = take(book.bids());
      const as = take(book.asks());
      return { bids: b.out, asks: as.out, bidDepth: b.n, askDepth: as.n };
    },
  };
}

/** ccxt pro kraken (v2 book), checksum on if its handler survives it on the snapshot, else off and said. */
async function ccxtKrakenImpl(s: PackedStream): Promise<Impl<CcxtState, BookDelta>> {
  const Kraken = ((await import('ccxt')) as unknown as { pro: CcxtPro }).pro.kraken;
  const a = adapterOf(s.venue);
  const url = 'wss://ws.kraken.com/v2';
  const symbol = s.symbol; // its handler keys books by the v2 symbol as sent (BTC/USD)
  const make = (checksum: boolean) => {
    const ex = new Kraken({ options: { watchOrderBook: { checksum } } });
    const client = ccxtClient(url, `orderbook::${symbol}`);
    ex.handleOrderBook(client, JSON.parse(s.snapshotText));
    const book = ex.orderbooks[symbol];
    if (book === undefined) throw new Error(`ccxt kraken: the snapshot frame made no book for ${symbol}`);
    return { ex, client, book };
  };
  let checksum = true;
  let note = 'checksum on';
  try {
    const probe = make(true);
    const first = decode(s.chunks[0])[0];
    probe.ex.handleOrderBook(probe.client, JSON.parse(first));
  } catch (e) {
    checksum = false;
    note = `checksum OFF: on, its handler throws ${String((e as Error).message).slice(0, 60)}`;
  }
  return {
    name: 'ccxt',
    note,
    newBook: () => make(checksum),
    applyTexts({ ex, client }, texts, count) {
      for (let i = 0; i < count; i++) ex.handleOrderBook(client, JSON.parse(texts[i]));
    },
    convert: (text) => parseEvent(a, text),
    applyParsed({ book }, xs) {
      const bookAsks = book.asks;
      const bookBids = book.bids;
      for (let e = 0; e < xs.length; e++) {
        const asks = xs[e].asks;
        const bids = xs[e].bids;
        for (let i = 0; i < asks.length; i++) bookAsks.store(asks[i][0], asks[i][1]);
        for (let i = 0; i < bids.length; i++) bookBids.store(bids[i][0], bids[i][1]);
        book.limit();
      }
    },
    final({ ex, book }) {
      const b = ex.orderbooks[symbol] ?? book;
      const side = (x: CcxtSide) => x.slice(0, 10).map((l) => [l[0], l[1]] as Level);
      return { bids: side(b.bids), asks: side(b.asks), bidDepth: b.bids.length, askDepth: b.asks.length };
    },
  };
}

// ---------------------------------------------------------------- harness

function compare(final: FinalBook, t: Truth): string | undefined {
  const same = (a: Level[], b: Level[]) =>
    a.length === b.length && a.every((l, i) => l[0] === b[i][0] && l[1] === b[i][1]);
  if (final.seq !== undefined && final.seq !== t.lastSeq) return `sequence ended at ${final.seq}, not ${t.lastSeq}`;
  if (!same(final.bids, t.bids))
    return `bids ${JSON.stringify(final.bids.slice(0, 2))} != ${JSON.stringify(t.bids.slice(0, 2))}`;
  if (!same(final.asks, t.asks))
    return `asks ${JSON.stringify(final.asks.slice(0, 2))} != ${JSON.stringify(t.asks.slice(0, 2))}`;
  if (final.bidDepth !== t.bidDepth || final.askDepth !== t.askDepth) {
    return `depth ${final.bidDepth}/${final.askDepth} != ${t.bidDepth}/${t.askDepth}`;
  }
  return undefined;
}

interface Measured {
  clocks: Clock[];
  mismatch?: string;
}

/**
 * Chunk-major: each chunk is decoded once, then every (repeat, implementation) pair applies it to its own book,
 * round-robin, so a burst of load from other processes hits all implementations alike and best-of-repeats
 * filters it out. Every book still sees the whole stream in order. An implementation that throws is FAILED
 * with the error, and stops; the others carry on.
 */
function measure(impls: Impl<unknown, unknown>[], s: PackedStream, parsing: boolean, repeats: number): Measured[] {
  const books = impls.map((impl) => Array.from({ length: repeats }, () => impl.newBook()));
  const clocks = impls.map(() => Array.from({ length: repeats }, () => new Clock()));
  const errors: (string | undefined)[] = impls.map(() => undefined);
  for (let c = 0; c < s.chunks.length; c++) {
    const main = decode(s.chunks[c]);
    const legacy = s.legacy === undefined ? main : decode(s.legacy.chunks[c]);
    const own = impls.map((impl) => (impl.legacy === true ? legacy : main));
    const inputs = impls.map((impl, i) =>
      parsing || errors[i] !== undefined ? own[i] : own[i].map((t) => impl.convert(t)),
    );
    gc(); // collect what decoding/conversion left behind now, not inside a timed loop
    for (let r = 0; r < repeats; r++) {
      impls.forEach((impl, i) => {
        if (errors[i] !== undefined) return;
        const clock = clocks[i][r];
        try {
          clock.start();
          if (parsing) impl.applyTexts(books[i][r], own[i], own[i].length);
          else impl.applyParsed(books[i][r], inputs[i]);
          clock.stop();
        } catch (e) {
          errors[i] = `threw: ${(e as Error).message}`.slice(0, 200);
        }
      });
    }
  }
  return impls.map((impl, i) => {
    let mismatch = errors[i];
    for (const b of books[i]) mismatch ??= compare(impl.final(b), s.truth);
    return { clocks: clocks[i], mismatch };
  });
}

function warmUp(impls: Impl<unknown, unknown>[], s: PackedStream): void {
  const main = decode(s.chunks[0]).slice(0, WARMUP_EVENTS);
  const legacy = s.legacy === undefined ? main : decode(s.legacy.chunks[0]).slice(0, WARMUP_EVENTS);
  for (const impl of impls) {
    const texts = impl.legacy === true ? legacy : main;
    for (let w = 0; w < 2; w++) {
      try {
        impl.applyTexts(impl.newBook(), texts, texts.length);
        impl.applyParsed(
          impl.newBook(),
          texts.map((t) => impl.convert(t)),
        );
      } catch {
        // measure() runs it again and reports the error
      }
    }
  }
}

/** One venue, one size, in this process. */
export async function benchBook(
  n: number,
  options: { venue?: BenchVenue; seed?: number; repeats?: number } = {},
): Promise<Row[]> {
  const venue = options.venue ?? 'binance';
  const s = generatePacked(venue, n, options.seed ?? 1);
  const repeats = options.repeats ?? 3;
  const impls = (
    venue === 'kraken'
      ? [bookwireKrakenImpl(s), tardisLegacyImpl(s), await ccxtKrakenImpl(s)]
      : [
          adapterOf(venue).merge === 'replica' ? bookwireReplicaImpl(s) : bookwireImpl(s),
          TARDIS[venue].legacy === true ? tardisLegacyImpl(s) : tardisImpl(s),
          await ccxtImpl(s),
        ]
  ) as Impl<unknown, unknown>[];
  warmUp(impls, s);
  const rows: Row[] = [];
  for (const parsing of [true, false]) {
    measure(impls, s, parsing, repeats).forEach((m, i) => {
      const wall = Math.min(...m.clocks.map((c) => c.wall));
      const cpu = Math.min(...m.clocks.map((c) => c.cpu));
      rows.push({
        venue,
        n,
        impl: impls[i].name,
        parsing: parsing ? 'incl' : 'excl',
        seconds: wall,
        eventsPerSec: n / wall,
        cpuSeconds: cpu,
        eventsPerCpuSec: n / cpu,
        ok: m.mismatch === undefined,
        detail: m.mismatch,
        ...(impls[i].note !== undefined ? { note: impls[i].note } : {}),
      });
    });
  }
  return rows;
}

/**
 * Every venue (and size) of `venues`, each in a child process of its own (same node and flags), one after
 * the other. Sizes default to DEFAULT_SIZES (quick or full).
 */
export async function benchVenues(
  venues: readonly BenchVenue[] = BENCH_VENUES,
  options: { quick?: boolean; sizes?: number[]; onRows?: (rows: Row[]) => void } = {},
): Promise<Row[]> {
  const script = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  for (const venue of venues) {
    const sizes = options.sizes ?? DEFAULT_SIZES[venue][options.quick ? 'quick' : 'full'];
    for (const n of sizes) {
      const out = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          [...process.execArgv, script, '--venue', venue, '--json', String(n)],
          { maxBuffer: 1 << 24 },
          (err, stdout, stderr) =>
            err && stdout.length === 0
              ? reject(new Error(`${venue} n=${n}: ${stderr || err.message}`))
              : resolve(stdout),
        );
      });
      const got = JSON.parse(out.trim().split('\n').pop()!) as Row[];
      rows.push(...got);
      options.onRows?.(got);
    }
  }
  return rows;
}

// ---------------------------------------------------------------- report

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const times = (x: number) => `${x.toFixed(2)}x`;

/**
 * One table for any number of venues and sizes: events/s including parsing (best wall-clock run | best
 * CPU-time run), bookwire's events/s divided by each implementation's (same measure), the same for apply
 * only, and whether the final book equals the truth. Then one line per venue and size: bookwire against
 * the faster peer, and the targets.
 */
export function formatTable(rows: Row[]): string {
  const lines: string[] = [];
  const head = [
    'venue',
    'n',
    'impl',
    'incl ev/s wall',
    'incl ev/s cpu',
    'bookwire÷impl incl (wall / cpu)',
    'excl ev/s wall',
    'excl ev/s cpu',
    'bookwire÷impl excl (wall / cpu)',
    'final book',
  ];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map((h, i) => (i === 1 || (i >= 3 && i <= 8) ? ' ---: |' : ' --- |')).join('')}`);
  const groups = [...new Set(rows.map((r) => `${r.venue} ${r.n}`))];
  const summary: string[] = [];
  for (const g of groups) {
    const [venue, nText] = g.split(' ');
    const n = Number(nText);
    const at = (impl: ImplName, parsing: Row['parsing']) =>
      rows.find((r) => r.venue === venue && r.n === n && r.impl === impl && r.parsing === parsing)!;
    for (const impl of IMPLS) {
      const i = at(impl, 'incl');
      const e = at(impl, 'excl');
      const bi = at('bookwire', 'incl');
      const be = at('bookwire', 'excl');
      const ok = i.ok && e.ok ? 'OK' : `FAILED: ${[i.detail, e.detail].filter((x) => x !== undefined).join('; ')}`;
      lines.push(
        `| ${[
          venue,
          fmt(n),
          i.note !== undefined ? `${impl} (${i.note})` : impl,
          fmt(i.eventsPerSec),
          fmt(i.eventsPerCpuSec),
          `${times(bi.eventsPerSec / i.eventsPerSec)} / ${times(bi.eventsPerCpuSec / i.eventsPerCpuSec)}`,
          fmt(e.eventsPerSec),
          fmt(e.eventsPerCpuSec),
          `${times(be.eventsPerSec / e.eventsPerSec)} / ${times(be.eventsPerCpuSec / e.eventsPerCpuSec)}`,
          ok,
        ].join(' | ')} |`,
      );
    }
    // against the faster peer whose book is right; a failed bookwire row meets nothing
    const peer = (parsing: Row['parsing'], key: 'eventsPerSec' | 'eventsPerCpuSec') => {
      const ok = (['tardis-dev', 'ccxt'] as const).map((p) => at(p, parsing)).filter((r) => r.ok);
      return ok.length === 0 ? NaN : Math.max(...ok.map((r) => r[key]));
    };
    const bw = at('bookwire', 'incl');
    const bwOk = bw.ok && at('bookwire', 'excl').ok;
    const wall = bw.eventsPerSec / peer('incl', 'eventsPerSec');
    const cpu = bw.eventsPerCpuSec / peer('incl', 'eventsPerCpuSec');
    const met = bwOk && wall >= 2 && cpu >= 2;
    let line = `${venue} n=${fmt(n)}: bookwire incl parsing is ${times(wall)} (wall) / ${times(cpu)} (cpu) the faster peer: 2x target ${met ? 'met' : 'NOT MET'}`;
    if (venue === 'binance') {
      const spot = bwOk && bw.eventsPerSec >= 1e6 && bw.eventsPerCpuSec >= 1e6;
      const spotCpu = bwOk && bw.eventsPerCpuSec >= 1e6;
      line += `; parse+apply >= 1.0 M events/s ${spot ? 'met' : spotCpu ? 'met by CPU time only' : 'NOT MET'}`;
    }
    summary.push(line);
  }
  return [...lines, '', ...summary].join('\n');
}

// ---------------------------------------------------------------- command line

function parseArgs(argv: string[]): { venues: BenchVenue[]; sizes: number[]; json: boolean; quick: boolean } {
  let venues: BenchVenue[] = ['binance'];
  const sizes: number[] = [];
  let json = false;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--quick') quick = true;
    else if (a === '--venue') {
      const v = argv[++i] ?? '';
      venues = v === 'all' ? [...BENCH_VENUES] : (v.split(',') as BenchVenue[]);
      for (const x of venues)
        if (!BENCH_VENUES.includes(x)) throw new Error(`--venue ${x}: one of ${BENCH_VENUES.join(', ')} or all`);
    } else if (Number(a) > 0) sizes.push(Number(a));
    else throw new Error(`unknown argument ${a}`);
  }
  return { venues, sizes, json, quick };
}

/** The 1, 5 and 15 minute load averages, for printing next to figures measured on a shared machine. */
export function loadLine(): string {
  return `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} (${cpus().length} CPUs)`;
}

async function main(): Promise<void> {
  const { venues, sizes, json, quick } = parseArgs(process.argv.slice(2));
  const sizesOf = (v: BenchVenue) => (sizes.length > 0 ? sizes : DEFAULT_SIZES[v][quick ? 'quick' : 'full']);
  const rows: Row[] = [];
  if (json) {
    // one venue, in this process (a child of benchVenues)
    for (const n of sizesOf(venues[0])) rows.push(...(await benchBook(n, { venue: venues[0] })));
    console.log(JSON.stringify(rows));
    return;
  }
  console.log(`node ${process.version}, ${new Date().toISOString()}, ${loadLine()}`);
  if (venues.length === 1) {
    for (const n of sizesOf(venues[0])) rows.push(...(await benchBook(n, { venue: venues[0] })));
  } else {
    const onRows = (r: Row[]) => process.stderr.write(`${r[0].venue} n=${r[0].n} done, ${loadLine()}\n`);
    rows.push(...(await benchVenues(venues, { quick, sizes: sizes.length > 0 ? sizes : undefined, onRows })));
  }
  console.log(formatTable(rows));
  console.log(`${new Date().toISOString()}, ${loadLine()}`);
  if (rows.some((r) => !r.ok)) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
