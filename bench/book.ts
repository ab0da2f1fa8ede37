/**
 * Order book throughput: bookwire vs tardis-dev vs ccxt on the same generated Binance diff stream.
 *
 *   node dist/bench/book.js [n ...]        default: 200000 1000000
 *
 * incl = from the depthUpdate text, through each library's own Binance parse path:
 *   bookwire    parseMessage + U/u sequence check + OrderBook.apply
 *   tardis-dev  JSON.parse + normalizeBookChanges('binance') mapper + OrderBook.update
 *   ccxt        JSON.parse + pro.binance handleOrderBookMessage (parses the levels and stores them)
 * excl = levels converted beforehand to each library's native input (untimed); only book updates are timed:
 *   bookwire    OrderBook.apply(Level[], Level[])
 *   tardis-dev  OrderBook.update(BookChange)
 *   ccxt        OrderBook asks/bids .store(price, size), as its Binance handler calls it
 * Each implementation's final top 10 levels per side and depth must equal the generator's truth.
 *
 * Method: events are kept as latin1 bytes off the JS heap and decoded (and, for excl, converted) CHUNK at a
 * time, untimed, followed by a full GC; then each (repeat, implementation) pair applies the chunk to its own
 * book, round-robin. Every book sees the whole stream in order; the machine may be shared, so the best repeat
 * is reported, both by wall-clock time and by process CPU time (which also counts GC helper threads).
 * Warm-up: each implementation runs the first WARMUP_EVENTS events twice, both ways, before measuring.
 */
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { OrderBook as TardisOrderBook, normalizeBookChanges, type BookChange, type BookPriceLevel } from 'tardis-dev';
import { OrderBook } from '../src/core/book.js';
import type { BookDelta, Level } from '../src/core/types.js';
import { parseMessage, parseSnapshot, sequenceRule } from '../src/venues/binance.js';
import { generateEvents, type GeneratedStream } from './gen.js';

type StreamHeader = Omit<GeneratedStream, 'events'>;

export interface Row {
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
}

type ImplName = 'bookwire' | 'tardis-dev' | 'ccxt';

interface FinalBook {
  bids: Level[];
  asks: Level[];
  bidDepth: number;
  askDepth: number;
}

/** One competitor. Loops that are timed live inside applyTexts/applyParsed, so each stays monomorphic. */
interface Impl<B, X> {
  name: ImplName;
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

function parseEvent(text: string): BookDelta {
  const r = parseMessage(text, 'bench', 0);
  if (r.delta === undefined) throw new Error(`generator produced an unparsable event: ${r.error ?? r.ignored}`);
  return r.delta;
}

function snapshotOf(s: StreamHeader): { bids: Level[]; asks: Level[]; seq: number } {
  const r = parseSnapshot(JSON.stringify(s.snapshot), s.symbol, 'bench', 0);
  if (r.snapshot === undefined) throw new Error(`bad generated snapshot: ${r.error}`);
  return { bids: r.snapshot.bids, asks: r.snapshot.asks, seq: r.snapshot.seq };
}

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

// ---------------------------------------------------------------- bookwire

function bookwireImpl(s: StreamHeader): Impl<{ book: OrderBook; seq: number }, BookDelta> {
  const snap = snapshotOf(s);
  return {
    name: 'bookwire',
    newBook() {
      const book = new OrderBook();
      book.applySnapshot(snap.bids, snap.asks);
      return { book, seq: snap.seq };
    },
    applyTexts(state, texts, count) {
      const book = state.book;
      let seq = state.seq;
      for (let i = 0; i < count; i++) {
        const r = parseMessage(texts[i], 'bench', 0);
        const d = r.delta;
        if (d === undefined) throw new Error(r.error ?? r.ignored);
        const verdict = sequenceRule.check(seq, d);
        if (verdict === 'apply') {
          book.apply(d.bids, d.asks);
          seq = d.last;
        } else if (verdict === 'gap') throw new Error(`gap after ${seq}`);
      }
      state.seq = seq;
    },
    convert: parseEvent,
    applyParsed(state, xs) {
      const book = state.book;
      for (let i = 0; i < xs.length; i++) book.apply(xs[i].bids, xs[i].asks);
    },
    final({ book }) {
      return { ...book.top(10), bidDepth: book.bidDepth, askDepth: book.askDepth };
    },
  };
}

// ---------------------------------------------------------------- tardis-dev

type TardisMapper = ReturnType<typeof normalizeBookChanges>;

function tardisImpl(s: StreamHeader): Impl<{ book: TardisOrderBook; mapper: TardisMapper }, BookChange> {
  const now = new Date();
  const stream = `${s.symbol.toLowerCase()}@depth@100ms`;
  const lv = (l: Level): BookPriceLevel => ({ price: l[0], amount: l[1] });
  const change = (d: Pick<BookDelta, 'bids' | 'asks'>, isSnapshot: boolean): BookChange => ({
    type: 'book_change',
    symbol: s.symbol,
    exchange: 'binance',
    isSnapshot,
    bids: d.bids.map(lv),
    asks: d.asks.map(lv),
    timestamp: now,
    localTimestamp: now,
  });
  return {
    name: 'tardis-dev',
    newBook() {
      const book = new TardisOrderBook();
      const mapper = normalizeBookChanges('binance', now);
      // tardis' Binance mapper takes the REST snapshot as a (tardis-generated) depthSnapshot message
      const snapMsg = { stream: `${s.symbol.toLowerCase()}@depthSnapshot`, generated: true, data: structuredClone(s.snapshot) };
      for (const bc of mapper.map(snapMsg, now) ?? []) book.update(bc);
      return { book, mapper };
    },
    applyTexts({ book, mapper }, texts, count) {
      for (let i = 0; i < count; i++) {
        const changes = mapper.map({ stream, data: JSON.parse(texts[i]) }, now);
        if (changes !== undefined) for (const bc of changes) book.update(bc);
      }
    },
    convert: (text) => change(parseEvent(text), false),
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
      const a = take(book.asks());
      return { bids: b.out, asks: a.out, bidDepth: b.depth, askDepth: a.depth };
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
}
interface CcxtBinance {
  orderBook(snapshot?: object, depth?: number): CcxtBook;
  handleOrderBookMessage(client: unknown, message: unknown, orderbook: CcxtBook): CcxtBook;
}

async function ccxtImpl(s: StreamHeader): Promise<Impl<CcxtBook, BookDelta>> {
  const ccxt = (await import('ccxt')) as unknown as { pro: { binance: new () => CcxtBinance } };
  const ex = new ccxt.pro.binance();
  const snap = snapshotOf(s);
  return {
    name: 'ccxt',
    newBook() {
      const book = ex.orderBook({}, Number.MAX_SAFE_INTEGER);
      // reset() keeps the level arrays it is given and mutates them later: give it copies
      book.reset({ bids: snap.bids.map((l) => [l[0], l[1]]), asks: snap.asks.map((l) => [l[0], l[1]]) });
      return book;
    },
    applyTexts(book, texts, count) {
      for (let i = 0; i < count; i++) ex.handleOrderBookMessage(undefined, JSON.parse(texts[i]), book);
    },
    convert: parseEvent,
    applyParsed(book, xs) {
      const bookAsks = book.asks;
      const bookBids = book.bids;
      for (let e = 0; e < xs.length; e++) {
        const asks = xs[e].asks;
        const bids = xs[e].bids;
        for (let i = 0; i < asks.length; i++) bookAsks.store(asks[i][0], asks[i][1]);
        for (let i = 0; i < bids.length; i++) bookBids.store(bids[i][0], bids[i][1]);
      }
    },
    final(book) {
      const side = (x: CcxtSide) => x.slice(0, 10).map((l) => [l[0], l[1]] as Level);
      return { bids: side(book.bids), asks: side(book.asks), bidDepth: book.bids.length, askDepth: book.asks.length };
    },
  };
}

// ---------------------------------------------------------------- harness

/**
 * The stream's event texts, CHUNK per Buffer (latin1 bytes + offsets). Off the JS heap, so 1M events cost
 * ~300 MB of plain memory and no GC work; each chunk is decoded to strings (untimed) just before use.
 */
interface PackedStream extends Omit<GeneratedStream, 'events'> {
  n: number;
  chunks: { buf: Buffer; offsets: Uint32Array }[];
}

function generatePacked(n: number, seed: number): PackedStream {
  const chunks: PackedStream['chunks'] = [];
  let pending: string[] = [];
  const flush = () => {
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
  const rest = generateEvents(n, seed, 'BTCUSDT', (text) => {
    pending.push(text);
    if (pending.length === CHUNK) flush();
  });
  if (pending.length > 0) flush();
  return { ...rest, n, chunks };
}

function decode(chunk: PackedStream['chunks'][number]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < chunk.offsets.length; i++) out.push(chunk.buf.toString('latin1', chunk.offsets[i], chunk.offsets[i + 1]));
  return out;
}

function compare(final: FinalBook, s: PackedStream): string | undefined {
  const t = s.truth;
  const same = (a: Level[], b: Level[]) => a.length === b.length && a.every((l, i) => l[0] === b[i][0] && l[1] === b[i][1]);
  if (!same(final.bids, t.bids)) return `bids ${JSON.stringify(final.bids.slice(0, 2))} != ${JSON.stringify(t.bids.slice(0, 2))}`;
  if (!same(final.asks, t.asks)) return `asks ${JSON.stringify(final.asks.slice(0, 2))} != ${JSON.stringify(t.asks.slice(0, 2))}`;
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
 * filters it out. Every book still sees the whole stream in order.
 */
function measure(impls: Impl<unknown, unknown>[], s: PackedStream, parsing: boolean, repeats: number): Measured[] {
  const books = impls.map((impl) => Array.from({ length: repeats }, () => impl.newBook()));
  const clocks = impls.map(() => Array.from({ length: repeats }, () => new Clock()));
  for (const chunk of s.chunks) {
    const texts = decode(chunk);
    const inputs = impls.map((impl) => (parsing ? texts : texts.map((t) => impl.convert(t))));
    gc(); // collect what decoding/conversion left behind now, not inside a timed loop
    for (let r = 0; r < repeats; r++) {
      impls.forEach((impl, i) => {
        const clock = clocks[i][r];
        clock.start();
        if (parsing) impl.applyTexts(books[i][r], texts, texts.length);
        else impl.applyParsed(books[i][r], inputs[i]);
        clock.stop();
      });
    }
  }
  return impls.map((impl, i) => {
    let mismatch: string | undefined;
    for (const b of books[i]) mismatch ??= compare(impl.final(b), s);
    return { clocks: clocks[i], mismatch };
  });
}

function warmUp(impls: Impl<unknown, unknown>[], s: PackedStream): void {
  const texts = decode(s.chunks[0]).slice(0, WARMUP_EVENTS);
  for (const impl of impls) {
    for (let w = 0; w < 2; w++) {
      impl.applyTexts(impl.newBook(), texts, texts.length);
      impl.applyParsed(impl.newBook(), texts.map((t) => impl.convert(t)));
    }
  }
}

export async function benchBook(n: number, options: { seed?: number; repeats?: number } = {}): Promise<Row[]> {
  const s = generatePacked(n, options.seed ?? 1);
  const repeats = options.repeats ?? 3;
  const impls = [bookwireImpl(s), tardisImpl(s), await ccxtImpl(s)] as Impl<unknown, unknown>[];
  warmUp(impls, s);
  const rows: Row[] = [];
  for (const parsing of [true, false]) {
    measure(impls, s, parsing, repeats).forEach((m, i) => {
      const wall = Math.min(...m.clocks.map((c) => c.wall));
      const cpu = Math.min(...m.clocks.map((c) => c.cpu));
      rows.push({
        n,
        impl: impls[i].name,
        parsing: parsing ? 'incl' : 'excl',
        seconds: wall,
        eventsPerSec: n / wall,
        cpuSeconds: cpu,
        eventsPerCpuSec: n / cpu,
        ok: m.mismatch === undefined,
        detail: m.mismatch,
      });
    });
  }
  return rows;
}

export function formatRows(rows: Row[]): string {
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const col = (x: string) => x.padStart(14);
  const lines: string[] = [];
  for (const n of [...new Set(rows.map((r) => r.n))]) {
    const at = (impl: ImplName, parsing: Row['parsing']) => rows.find((r) => r.n === n && r.impl === impl && r.parsing === parsing)!;
    const ratio = (parsing: Row['parsing'], key: 'eventsPerSec' | 'eventsPerCpuSec') => {
      const peer = Math.max(at('tardis-dev', parsing)[key], at('ccxt', parsing)[key]);
      return col(`${(at('bookwire', parsing)[key] / peer).toFixed(2)}x`);
    };
    lines.push(`n=${fmt(n)} events; events/s by best wall-clock run and by best process-CPU-time run`);
    lines.push(`${'impl'.padEnd(14)}${col('incl wall')}${col('excl wall')}${col('incl cpu')}${col('excl cpu')}   final book`);
    for (const impl of ['bookwire', 'tardis-dev', 'ccxt'] as const) {
      const i = at(impl, 'incl');
      const e = at(impl, 'excl');
      const ok = i.ok && e.ok ? 'OK' : `MISMATCH ${i.detail ?? ''} ${e.detail ?? ''}`.trim();
      lines.push(
        `${impl.padEnd(14)}${col(fmt(i.eventsPerSec))}${col(fmt(e.eventsPerSec))}${col(fmt(i.eventsPerCpuSec))}${col(fmt(e.eventsPerCpuSec))}   ${ok}`,
      );
    }
    lines.push(
      `${'vs faster peer'.padEnd(14)}${ratio('incl', 'eventsPerSec')}${ratio('excl', 'eventsPerSec')}${ratio('incl', 'eventsPerCpuSec')}${ratio('excl', 'eventsPerCpuSec')}`,
    );
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  const rows: Row[] = [];
  for (const n of sizes.length > 0 ? sizes : [200_000, 1_000_000]) {
    const r = await benchBook(n);
    rows.push(...r);
    console.log(formatRows(r));
  }
  if (rows.some((r) => !r.ok)) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
