/**
 * Order book throughput: bookwire vs tardis-dev vs ccxt on the same generated Binance diff stream.
 *
 *   node dist/bench/book.js [n ...]        default: 200000 1000000
 *
 * "incl" = from the depthUpdate text: JSON.parse plus each library's own Binance parse path
 *   bookwire: parseMessage + U/u sequence check + OrderBook.apply
 *   tardis-dev: JSON.parse + normalizeBookChanges('binance') mapper + OrderBook.update
 *   ccxt: JSON.parse + binance (pro) handleOrderBookMessage, which parses and stores into its OrderBook
 * "excl" = levels converted to each library's native input beforehand (untimed, in chunks to bound memory);
 *   only the book updates are timed.
 * Each implementation's final top 10 levels per side and depth must equal the generator's truth.
 */
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { OrderBook as TardisOrderBook, normalizeBookChanges, type BookChange } from 'tardis-dev';
import { OrderBook } from '../src/core/book.js';
import type { Level } from '../src/core/types.js';
import { parseMessage, parseSnapshot, sequenceRule } from '../src/venues/binance.js';
import { generateStream, type GeneratedStream } from './gen.js';

export interface Row {
  n: number;
  impl: 'bookwire' | 'tardis-dev' | 'ccxt';
  parsing: 'incl' | 'excl';
  /** Best wall-clock time over the repeats, and the events/s it gives. */
  seconds: number;
  eventsPerSec: number;
  /** Best process CPU time (user + system) over the repeats, and the events/s it gives. */
  cpuSeconds: number;
  eventsPerCpuSec: number;
  /** Final book equals the generator's truth. */
  ok: boolean;
  detail?: string;
}

interface FinalBook {
  bids: Level[];
  asks: Level[];
  bidDepth: number;
  askDepth: number;
}

const CHUNK = 50_000;

/** A full synchronous GC, also without --expose-gc (the flag is enabled for a fresh context). */
const gc: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
const WARMUP_EVENTS = 50_000;

function parseEvent(text: string) {
  const r = parseMessage(text, 'bench', 0);
  if (r.delta === undefined) throw new Error(`generator produced an unparsable event: ${r.error ?? r.ignored}`);
  return r.delta;
}

function snapshotLevels(s: GeneratedStream): { bids: Level[]; asks: Level[]; seq: number } {
  const r = parseSnapshot(JSON.stringify(s.snapshot), s.symbol, 'bench', 0);
  if (r.snapshot === undefined) throw new Error(`bad generated snapshot: ${r.error}`);
  return { bids: r.snapshot.bids, asks: r.snapshot.asks, seq: r.snapshot.seq };
}

/**
 * Events [0, count) converted to an implementation's native input, CHUNK at a time to bound memory.
 * Callers time only their own (inlined, monomorphic) loop over each chunk, never the conversion.
 */
function* chunks<T>(events: readonly string[], count: number, convert: (text: string) => T): Generator<T[]> {
  for (let start = 0; start < count; start += CHUNK) {
    const end = Math.min(count, start + CHUNK);
    const buf: T[] = [];
    for (let i = start; i < end; i++) buf.push(convert(events[i]));
    gc(); // finish GC work caused by the conversion, so it does not run (on helper threads) while timing
    yield buf;
  }
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

interface RunResult {
  clock: Clock;
  final: FinalBook;
}

// ---------------------------------------------------------------- bookwire

function bookwire(s: GeneratedStream, count: number, parsing: boolean): RunResult {
  const snap = snapshotLevels(s);
  const book = new OrderBook();
  book.applySnapshot(snap.bids, snap.asks);
  let seq = snap.seq;
  const clock = new Clock();
  if (parsing) {
    const events = s.events;
    clock.start();
    for (let i = 0; i < count; i++) {
      const r = parseMessage(events[i], 'bench', 0);
      const d = r.delta;
      if (d === undefined) throw new Error(r.error ?? r.ignored);
      const verdict = sequenceRule.check(seq, d);
      if (verdict === 'apply') {
        book.apply(d.bids, d.asks);
        seq = d.last;
      } else if (verdict === 'gap') throw new Error(`gap at ${seq}`);
    }
    clock.stop();
  } else {
    for (const buf of chunks(s.events, count, parseEvent)) {
      clock.start();
      for (let i = 0; i < buf.length; i++) book.apply(buf[i].bids, buf[i].asks);
      clock.stop();
    }
  }
  const top = book.top(10);
  return { clock, final: { ...top, bidDepth: book.bidDepth, askDepth: book.askDepth } };
}

// ---------------------------------------------------------------- tardis-dev

function tardisFinal(ob: TardisOrderBook): FinalBook {
  const take = (it: IterableIterator<{ price: number; amount: number }>) => {
    const out: Level[] = [];
    let depth = 0;
    for (const l of it) {
      if (out.length < 10) out.push([l.price, l.amount]);
      depth++;
    }
    return { out, depth };
  };
  const b = take(ob.bids());
  const a = take(ob.asks());
  return { bids: b.out, asks: a.out, bidDepth: b.depth, askDepth: a.depth };
}

function tardis(s: GeneratedStream, count: number, parsing: boolean): RunResult {
  const ob = new TardisOrderBook();
  const now = new Date();
  const stream = `${s.symbol.toLowerCase()}@depth@100ms`;
  const clock = new Clock();
  if (parsing) {
    const mapper = normalizeBookChanges('binance', now);
    // tardis' Binance mapper takes the REST snapshot as a (tardis-generated) depthSnapshot message
    const snapMsg = { stream: `${s.symbol.toLowerCase()}@depthSnapshot`, generated: true, data: structuredClone(s.snapshot) };
    for (const bc of mapper.map(snapMsg, now) ?? []) ob.update(bc);
    const events = s.events;
    clock.start();
    for (let i = 0; i < count; i++) {
      const changes = mapper.map({ stream, data: JSON.parse(events[i]) }, now);
      if (changes !== undefined) for (const bc of changes) ob.update(bc);
    }
    clock.stop();
  } else {
    const snap = snapshotLevels(s);
    const lv = (l: Level) => ({ price: l[0], amount: l[1] });
    const change = (bids: Level[], asks: Level[], isSnapshot: boolean): BookChange => ({
      type: 'book_change',
      symbol: s.symbol,
      exchange: 'binance',
      isSnapshot,
      bids: bids.map(lv),
      asks: asks.map(lv),
      timestamp: now,
      localTimestamp: now,
    });
    ob.update(change(snap.bids, snap.asks, true));
    for (const buf of chunks(s.events, count, (t) => {
      const d = parseEvent(t);
      return change(d.bids, d.asks, false);
    })) {
      clock.start();
      for (let i = 0; i < buf.length; i++) ob.update(buf[i]);
      clock.stop();
    }
  }
  return { clock, final: tardisFinal(ob) };
}

// ---------------------------------------------------------------- ccxt

/** The slice of ccxt's (untyped, generated) order book classes this benchmark touches. */
interface CcxtSide extends Array<Level> {
  storeArray(delta: Level): void;
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

let ccxtExchange: CcxtBinance | undefined;
async function ccxtBinance(): Promise<CcxtBinance> {
  if (ccxtExchange === undefined) {
    const ccxt = (await import('ccxt')) as unknown as { pro: { binance: new () => CcxtBinance } };
    ccxtExchange = new ccxt.pro.binance();
  }
  return ccxtExchange;
}

function ccxtRun(ex: CcxtBinance, s: GeneratedStream, count: number, parsing: boolean): RunResult {
  const snap = snapshotLevels(s);
  const ob = ex.orderBook({}, Number.MAX_SAFE_INTEGER);
  ob.reset({ bids: snap.bids.map((l) => [l[0], l[1]]), asks: snap.asks.map((l) => [l[0], l[1]]) });
  const clock = new Clock();
  if (parsing) {
    const events = s.events;
    clock.start();
    for (let i = 0; i < count; i++) ex.handleOrderBookMessage(undefined, JSON.parse(events[i]), ob);
    clock.stop();
  } else {
    // storeArray keeps the array it is given, so each run needs fresh ones: chunked() converts per run
    for (const buf of chunks(s.events, count, parseEvent)) {
      clock.start();
      for (let e = 0; e < buf.length; e++) {
        const asks = buf[e].asks;
        const bids = buf[e].bids;
        for (let i = 0; i < asks.length; i++) ob.asks.storeArray(asks[i]);
        for (let i = 0; i < bids.length; i++) ob.bids.storeArray(bids[i]);
      }
      clock.stop();
    }
  }
  const side = (x: CcxtSide) => x.slice(0, 10).map((l) => [l[0], l[1]] as Level);
  return { clock, final: { bids: side(ob.bids), asks: side(ob.asks), bidDepth: ob.bids.length, askDepth: ob.asks.length } };
}

// ---------------------------------------------------------------- harness

function compare(final: FinalBook, s: GeneratedStream, count: number): string | undefined {
  if (count !== s.events.length) return undefined; // truth is for the whole stream (warm-up runs are partial)
  const t = s.truth;
  const same = (a: Level[], b: Level[]) => a.length === b.length && a.every((l, i) => l[0] === b[i][0] && l[1] === b[i][1]);
  if (!same(final.bids, t.bids)) return `bids ${JSON.stringify(final.bids.slice(0, 2))} != ${JSON.stringify(t.bids.slice(0, 2))}`;
  if (!same(final.asks, t.asks)) return `asks ${JSON.stringify(final.asks.slice(0, 2))} != ${JSON.stringify(t.asks.slice(0, 2))}`;
  if (final.bidDepth !== t.bidDepth || final.askDepth !== t.askDepth) {
    return `depth ${final.bidDepth}/${final.askDepth} != ${t.bidDepth}/${t.askDepth}`;
  }
  return undefined;
}


export async function benchBook(n: number, options: { seed?: number; repeats?: number } = {}): Promise<Row[]> {
  const seed = options.seed ?? 1;
  const repeats = options.repeats ?? (n >= 1_000_000 ? 3 : 5);
  const s = generateStream(n, seed);
  const ex = await ccxtBinance();
  type Runner = (count: number, parsing: boolean) => RunResult;
  const impls: [Row['impl'], Runner][] = [
    ['bookwire', (c, p) => bookwire(s, c, p)],
    ['tardis-dev', (c, p) => tardis(s, c, p)],
    ['ccxt', (c, p) => ccxtRun(ex, s, c, p)],
  ];
  const rows: Row[] = [];
  for (const parsing of [true, false]) {
    for (const [, run] of impls) {
      run(Math.min(n, WARMUP_EVENTS), parsing);
      run(Math.min(n, WARMUP_EVENTS), parsing);
    }
    // round-robin repeats, best of each: spreads bursts of load from other processes over all implementations
    const best = impls.map(() => ({ wall: Infinity, cpu: Infinity, mismatch: undefined as string | undefined }));
    for (let r = 0; r < repeats; r++) {
      impls.forEach(([, run], i) => {
        gc();
        const res = run(n, parsing);
        best[i].wall = Math.min(best[i].wall, res.clock.wall);
        best[i].cpu = Math.min(best[i].cpu, res.clock.cpu);
        best[i].mismatch ??= compare(res.final, s, n);
      });
    }
    impls.forEach(([impl], i) => {
      const b = best[i];
      rows.push({
        n,
        impl,
        parsing: parsing ? 'incl' : 'excl',
        seconds: b.wall,
        cpuSeconds: b.cpu,
        eventsPerSec: n / b.wall,
        eventsPerCpuSec: n / b.cpu,
        ok: b.mismatch === undefined,
        detail: b.mismatch,
      });
    });
  }
  return rows;
}

export function formatRows(rows: Row[]): string {
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const col = (x: string) => x.padStart(15);
  const lines: string[] = [];
  for (const n of [...new Set(rows.map((r) => r.n))]) {
    const at = (impl: Row['impl'], parsing: Row['parsing']) => rows.find((r) => r.n === n && r.impl === impl && r.parsing === parsing)!;
    const ratio = (parsing: Row['parsing'], key: 'eventsPerSec' | 'eventsPerCpuSec') => {
      const peer = Math.max(at('tardis-dev', parsing)[key], at('ccxt', parsing)[key]);
      return col(`${(at('bookwire', parsing)[key] / peer).toFixed(2)}x`);
    };
    lines.push(`n=${fmt(n)} events (events/s; wall = best wall-clock run, cpu = best process-CPU-time run)`);
    lines.push(`${'impl'.padEnd(12)}${col('incl wall')}${col('excl wall')}${col('incl cpu')}${col('excl cpu')}   final book`);
    for (const impl of ['bookwire', 'tardis-dev', 'ccxt'] as const) {
      const i = at(impl, 'incl');
      const e = at(impl, 'excl');
      const ok = i.ok && e.ok ? 'OK' : `MISMATCH ${i.detail ?? ''} ${e.detail ?? ''}`.trim();
      lines.push(
        `${impl.padEnd(12)}${col(fmt(i.eventsPerSec))}${col(fmt(e.eventsPerSec))}${col(fmt(i.eventsPerCpuSec))}${col(fmt(e.eventsPerCpuSec))}   ${ok}`,
      );
    }
    lines.push(
      `${'vs faster'.padEnd(12)}${ratio('incl', 'eventsPerSec')}${ratio('excl', 'eventsPerSec')}${ratio('incl', 'eventsPerCpuSec')}${ratio('excl', 'eventsPerCpuSec')}`,
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
