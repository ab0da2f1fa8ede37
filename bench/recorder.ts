/**
 * Recorder benchmarks (issue 5):
 *  - write: consolidated deltas (Binance-shaped, as the arbiter publishes them) through StreamWriter with
 *    compression, a periodic full-book snapshot every `snapEvery` events; events/s wall clock and per CPU
 *    second (process.cpuUsage: every thread of the process, so compression is counted wherever it runs:
 *    the "one core" figure), bytes per event, ratio vs JSON. Only the recorder is timed: the short run
 *    generates everything first and packs it off-heap; the long run (--hour, --long) generates each
 *    second of messages in a worker thread between timed windows (see benchLongRecording).
 *  - replay: the recording read back as fast as possible into an in-process book (BookReplica), and the
 *    same without JSON decoding (storage read speed alone).
 *  - book-at: random instants in a 10k events/s recording with 1 s snapshots.
 *
 *   node dist/bench/recorder.js [events] [--codec brotli|gzip|none] [--level n] [--encoding binary|json]
 *     [--checkpoint-events n] [--compress-in main-thread|thread-pool] [--block-bytes n]
 *   node dist/bench/recorder.js --hour | --long SECONDS [--lookups n] [--codec c] [--level n] [--checkpoint-events n]
 *     a long recording generated on the fly (see benchLongRecording: how only the recorder is timed)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { OrderBook } from '../src/core/book.js';
import { BookReplica } from '../src/core/replica.js';
import { silentLogger } from '../src/log.js';
import type { Codec } from '../src/recorder/format.js';
import { DEFAULT_STORAGE, StreamWriter, listSegments, type StorageOptions } from '../src/recorder/segment.js';
import { bookAt, readRecords } from '../src/recorder/reader.js';
import { replayBook, replaySync } from '../src/recorder/replay.js';
import { generateStream, mulberry32 } from './gen.js';

export interface RecorderBenchResult {
  codec: string;
  level: number;
  compressIn: string;
  blockBytes: number;
  events: number;
  jsonBytesPerEvent: number;
  writeSeconds: number;
  writePerSec: number;
  writePerCpuSec: number;
  bytesPerEvent: number;
  ratio: number;
  encoding: string;
  replayPerSec: number;
  replayPerCpuSec: number;
  replayBookPerSec: number;
  replayBookPerCpuSec: number;
  readOnlyPerSec: number;
  bookAtMs: {
    p50: number;
    p99: number;
    max: number;
    /** CPU time of one lookup (process.cpuUsage): what the load on a shared machine does not inflate. */
    cpuP50: number;
    cpuP99: number;
    messagesApplied: number;
    lookups: number;
    unsynced: number;
  };
  ok: boolean;
}

interface Msg {
  time: number;
  payload: Buffer;
  snapshot: boolean;
}

/** Consolidated messages at `ratePerSec` (recorder receive times), a full snapshot every `snapEvery`. */
function consolidated(n: number, ratePerSec: number, snapEvery: number): Msg[] {
  const g = generateStream(n, 3);
  const book = new OrderBook();
  book.applySnapshot(
    g.snapshot.bids.map(([p, s]) => [+p, +s]),
    g.snapshot.asks.map(([p, s]) => [+p, +s]),
  );
  let prev = g.snapshot.lastUpdateId;
  const t0 = 1_795_428_000_000_000;
  const step = 1e6 / ratePerSec;
  const out: Msg[] = [];
  const snap = (time: number) => {
    const { bids, asks } = book.snapshot();
    out.push({
      time,
      snapshot: true,
      payload: Buffer.from(
        `{"v":1,"type":"snapshot","venue":"binance","symbol":"BTCUSDT","seq":${prev},"bids":${JSON.stringify(bids)},"asks":${JSON.stringify(asks)},"exchTime":0,"pubTime":${time},"reason":"periodic"}`,
      ),
    });
  };
  snap(t0);
  for (let i = 0; i < g.events.length; i++) {
    const e = JSON.parse(g.events[i]) as {
      U: number;
      u: number;
      E: number;
      b: [string, string][];
      a: [string, string][];
    };
    const bids = e.b.map(([p, s]) => [+p, +s] as [number, number]);
    const asks = e.a.map(([p, s]) => [+p, +s] as [number, number]);
    book.apply(bids, asks);
    const time = Math.round(t0 + (i + 1) * step);
    out.push({
      time,
      snapshot: false,
      payload: Buffer.from(
        `{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","seq":${e.u},"prev":${prev},"first":${e.U},"bids":${JSON.stringify(bids)},"asks":${JSON.stringify(asks)},"exchTime":${e.E},"recvTime":${time - 120},"pubTime":${time - 40},"feed":"a"}`,
      ),
    });
    prev = e.u;
    if ((i + 1) % snapEvery === 0) snap(time + 1);
  }
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

export async function benchRecorder(
  n = 300_000,
  o: {
    codec?: Codec;
    level?: number;
    blockBytes?: number;
    lookups?: number;
    encoding?: 'binary' | 'json';
    checkpointEvents?: number;
    compressIn?: StorageOptions['compressIn'];
  } = {},
): Promise<RecorderBenchResult> {
  const codec = o.codec ?? DEFAULT_STORAGE.codec;
  const level = o.level ?? DEFAULT_STORAGE.level;
  const generated = consolidated(n, 10_000, 10_000); // 10k events/s, snapshot every second
  const deltas = generated.filter((m) => !m.snapshot);
  const jsonBytes = deltas.reduce((a, m) => a + m.payload.length, 0);
  const snapBytes = generated.filter((m) => m.snapshot).reduce((a, m) => a + m.payload.length, 0);
  // Payloads packed off-heap (one Buffer + offsets), as a socket hands them over: 300k live Buffer objects
  // would make every GC in the timed loop scan them and measure the heap, not the recorder.
  const count = generated.length;
  const packed = Buffer.concat(generated.map((m) => m.payload));
  const offsets = new Float64Array(count + 1);
  const times = new Float64Array(count);
  const isSnap = new Uint8Array(count);
  for (let i = 0, off = 0; i < count; i++) {
    offsets[i] = off;
    off += generated[i].payload.length;
    offsets[i + 1] = off;
    times[i] = generated[i].time;
    isSnap[i] = generated[i].snapshot ? 1 : 0;
  }
  generated.length = 0;
  deltas.length = 0;
  const deltaCount = count - isSnap.reduce((a, b) => a + b, 0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-rec-'));
  try {
    const storage = {
      ...DEFAULT_STORAGE,
      codec,
      level,
      blockBytes: o.blockBytes ?? DEFAULT_STORAGE.blockBytes,
      fsync: 'none' as const,
      encoding: o.encoding ?? 'binary',
      checkpointEvents: o.checkpointEvents ?? DEFAULT_STORAGE.checkpointEvents,
      compressIn: o.compressIn ?? DEFAULT_STORAGE.compressIn,
    };
    // warm-up (JIT) on the first 30 000 events into a throwaway directory: the figure is a sustained rate
    const warm = new StreamWriter(path.join(dir, 'warm-up'), 'book', 'binance', 'BTCUSDT', storage, silentLogger);
    for (let i = 0; i < Math.min(count, 30_000); i++)
      warm.appendConsolidated(times[i], packed.subarray(offsets[i], offsets[i + 1]));
    await warm.close();
    const w = new StreamWriter(dir, 'book', 'binance', 'BTCUSDT', storage, silentLogger);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      w.appendConsolidated(times[i], packed.subarray(offsets[i], offsets[i + 1]));
      // hand the event loop over now and then, as the receive loop does between socket reads
      if ((i & 4095) === 0) await new Promise<void>((r) => setImmediate(r));
    }
    await w.close();
    const writeSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const totalIn = jsonBytes + snapBytes;
    const out = w.counters.bytesOut;

    // replay into a book, as fast as possible: the generic API (decoded messages) and replayBook (binary
    // deltas applied straight into the book); wall and per CPU second (single-threaded: sync decompression)
    // best of two runs (the first one also warms up the JIT)
    const timed = (f: () => number): { n: number; perSec: number; perCpuSec: number } => {
      let best = { n: 0, perSec: 0, perCpuSec: 0 };
      for (let run = 0; run < 2; run++) {
        const c0 = process.cpuUsage();
        const t = performance.now();
        const n = f();
        const secs = (performance.now() - t) / 1000;
        const c = process.cpuUsage(c0);
        const r = { n, perSec: n / secs, perCpuSec: n / ((c.user + c.system) / 1e6) };
        if (r.perCpuSec > best.perCpuSec) best = r;
      }
      return best;
    };
    let replica = new BookReplica();
    const rep = timed(() => {
      let k = 0;
      replica = new BookReplica();
      for (const it of replaySync({ dir, symbol: 'BTCUSDT' })) {
        replica.onMessage(it.message!);
        k++;
      }
      return k;
    });
    let fastSynced = false;
    let fastGaps = 0;
    const fast = timed(() => {
      let k = 0;
      let last: BookReplica | undefined;
      for (const u of replayBook({ dir, symbol: 'BTCUSDT' })) {
        last = u.replica;
        k++;
      }
      fastSynced = last?.synced === true && sameBook(last.book, replica.book);
      fastGaps = last?.gaps ?? -1;
      return k;
    });
    const read = timed(() => {
      let rk = 0;
      for (const _ of readRecords({ dir, venue: 'binance', symbol: 'BTCUSDT', stream: 'book' })) rk++;
      return rk;
    });

    // book-at at random instants
    const look = lookups(dir, times[0], times[count - 1], o.lookups ?? 50);
    const ok =
      rep.n === count &&
      read.n === count &&
      fast.n === count &&
      replica.synced &&
      replica.gaps === 0 &&
      fastSynced &&
      fastGaps === 0;
    return {
      codec,
      level,
      compressIn: storage.compressIn ?? 'main-thread',
      encoding: o.encoding ?? 'binary',
      blockBytes: o.blockBytes ?? DEFAULT_STORAGE.blockBytes,
      events: deltaCount,
      jsonBytesPerEvent: jsonBytes / deltaCount,
      writeSeconds,
      writePerSec: count / writeSeconds,
      writePerCpuSec: count / cpuSeconds,
      bytesPerEvent: out / deltaCount,
      ratio: totalIn / out,
      replayPerSec: rep.perSec,
      replayPerCpuSec: rep.perCpuSec,
      replayBookPerSec: fast.perSec,
      replayBookPerCpuSec: fast.perCpuSec,
      readOnlyPerSec: read.perSec,
      bookAtMs: look,
      ok,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function sameBook(a: OrderBook, b: OrderBook): boolean {
  return JSON.stringify(a.snapshot()) === JSON.stringify(b.snapshot());
}

/** book-at at `n` random instants in [first, last]: latency percentiles. */
function lookups(dir: string, first: number, last: number, n: number): RecorderBenchResult['bookAtMs'] {
  const ms: number[] = [];
  const cpuMs: number[] = [];
  let applied = 0;
  let unsynced = 0;
  for (let i = 0; i < n; i++) {
    const at = first + Math.random() * (last - first);
    const c0 = process.cpuUsage();
    const b0 = performance.now();
    const b = bookAt({ dir, venue: 'binance', symbol: 'BTCUSDT', at });
    ms.push(performance.now() - b0);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    applied = Math.max(applied, b?.messagesApplied ?? 0);
    if (!b?.synced) unsynced++;
  }
  return {
    p50: pct(ms, 50),
    p99: pct(ms, 99),
    max: Math.max(...ms),
    cpuP50: pct(cpuMs, 50),
    cpuP99: pct(cpuMs, 99),
    messagesApplied: applied,
    lookups: n,
    unsynced,
  };
}

export interface HourBenchResult {
  seconds: number;
  events: number;
  snapshots: number;
  codec: string;
  level: number;
  compressIn: string;
  checkpointEvents: number;
  /** CPU ms the recorder took per recorded second (10 001 messages): its spread over the recording. */
  cpuMsPerSecond: { p50: number; p99: number };
  writePerSec: number;
  writePerCpuSec: number;
  bytesPerEvent: number;
  ratio: number;
  diskBytes: number;
  segments: number;
  generateSeconds: number;
  bookAtMs: RecorderBenchResult['bookAtMs'];
  /** book-at instants whose book differs from the one rebuilt without checkpoints (must be 0). */
  checkpointMismatches: number;
  ok: boolean;
}

/**
 * A long recording at 10k events/s with a full-book snapshot every second (a 1-hour one is 36M events:
 * too many to hold, so they are generated on the fly), written through StreamWriter with the defaults,
 * then book-at at random instants over all of it; the recording is deleted afterwards.
 *
 * What is timed is the recorder alone, one second of recording (10 001 messages) at a time:
 *  - The generator runs in a worker thread, strictly BETWEEN timed chunks: the main thread asks for
 *    second k, the worker writes its payloads (JSON text, as the arbiter publishes it) into shared memory
 *    and answers, then the main thread times the recorder on them while the worker sits idle. Generating
 *    on the main thread charged the generator's garbage to the recorder: the GCs it made ran inside the
 *    timed window (254k/CPU s; 298k with a forced GC between chunks).
 *  - The payloads reach the recorder as Buffer views of that shared memory, one per message, as a socket
 *    hands them over; no other allocation happens on the main thread outside the recorder.
 *  - Each timed chunk ends with writer.drain(): every block sealed in it is compressed and written before
 *    the clock stops, so compression (libuv threads) is charged to the chunk that produced it.
 *  - CPU time is process.cpuUsage() (user + system, every thread of the process: main thread, the
 *    compression threads, V8's GC helpers) over the timed windows only; the worker is idle in them.
 * The recorder still does all of its work per message: parse, binary encode, the sampled self-check,
 * the checkpoint book, block framing, compression, CRC, the write to a real file, the index.
 */
export async function benchLongRecording(
  seconds: number,
  lookupCount = 200,
  log?: (s: string) => void,
  storage: Partial<StorageOptions> = {},
): Promise<HourBenchResult> {
  const rate = 10_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-hour-'));
  const opts: StorageOptions = { ...DEFAULT_STORAGE, fsync: 'none', ...storage };
  const gen = new GenWorker(rate);
  try {
    const w = new StreamWriter(dir, 'book', 'binance', 'BTCUSDT', opts, silentLogger);
    const t0 = 1_795_428_000_000_000;
    let writeMs = 0;
    let cpuUs = 0;
    let genMs = 0;
    let jsonBytes = 0;
    let events = 0;
    let snapshots = 0;
    const perSecCpu: number[] = [];
    const wall0 = performance.now();
    for (let sec = 0; sec < seconds; sec++) {
      const g0 = performance.now();
      const n = await gen.chunk(t0 + sec * 1e6);
      genMs += performance.now() - g0;
      const { bytes, offsets, times } = gen;
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      for (let i = 0; i < n; i++) {
        const s = offsets[i];
        const e = offsets[i + 1];
        w.appendConsolidated(times[i], bytes.subarray(s, e));
        jsonBytes += e - s;
        if ((i & 4095) === 4095) await new Promise<void>((r) => setImmediate(r));
      }
      await w.drain();
      writeMs += performance.now() - w0;
      const c = process.cpuUsage(c0);
      cpuUs += c.user + c.system;
      perSecCpu.push((c.user + c.system) / 1000);
      events += n - 1;
      snapshots++;
      if (log && sec % 300 === 299)
        log(
          `  ... ${sec + 1} s of ${seconds} recorded (${((performance.now() - wall0) / 1000).toFixed(0)} s elapsed, ${(w.counters.bytesOut / 1e6).toFixed(0)} MB)`,
        );
    }
    await gen.stop();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await w.close();
    writeMs += performance.now() - w0;
    const c = process.cpuUsage(c0);
    cpuUs += c.user + c.system;
    const segments = listSegments(dir, 'binance', 'BTCUSDT', 'book');
    const diskBytes = segments.reduce(
      (a, s) => a + fs.statSync(s.path).size + fs.statSync(s.path.replace(/\.seg$/, '.idx')).size,
      0,
    );
    const look = lookups(dir, t0, t0 + seconds * 1e6 - 1, lookupCount);
    const mismatches = crossCheck(dir, t0, seconds, Math.min(20, lookupCount));
    return {
      seconds,
      checkpointMismatches: mismatches,
      events,
      snapshots,
      codec: opts.codec,
      level: opts.level,
      compressIn: opts.compressIn ?? 'main-thread',
      checkpointEvents: opts.checkpointEvents ?? 0,
      writePerSec: (events + snapshots) / (writeMs / 1000),
      writePerCpuSec: (events + snapshots) / (cpuUs / 1e6),
      cpuMsPerSecond: { p50: pct(perSecCpu, 50), p99: pct(perSecCpu, 99) },
      bytesPerEvent: w.counters.bytesOut / events,
      ratio: jsonBytes / w.counters.bytesOut,
      diskBytes,
      segments: segments.length,
      generateSeconds: genMs / 1000,
      bookAtMs: look,
      ok: look.unsynced === 0 && mismatches === 0 && w.counters.records === events + snapshots,
    };
  } finally {
    await gen.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * book-at (which starts from the nearest checkpoint) against the book rebuilt without checkpoints -- the
 * second's full snapshot plus every delta up to the instant -- at `n` random instants: the count that differ.
 */
function crossCheck(dir: string, t0: number, seconds: number, n: number): number {
  let bad = 0;
  const rnd = mulberry32(11);
  for (let i = 0; i < n; i++) {
    const sec = Math.floor(rnd() * seconds);
    const at = t0 + sec * 1e6 + Math.floor(rnd() * 1e6);
    const ref = new BookReplica();
    for (const r of readRecords({
      dir,
      venue: 'binance',
      symbol: 'BTCUSDT',
      stream: 'book',
      from: t0 + sec * 1e6,
      to: at,
    }))
      ref.onMessage(r.consolidated());
    const b = bookAt({ dir, venue: 'binance', symbol: 'BTCUSDT', at });
    if (!b || b.seq !== ref.seq || !sameBook(b.book, ref.book)) bad++;
  }
  return bad;
}

/** Bytes of shared memory for one generated second (10k deltas of ~330 bytes and a ~40 KB snapshot). */
const GEN_BYTES = 32 * 1024 * 1024;

/** The main thread's side of the generator worker: one second of messages at a time, in shared memory. */
class GenWorker {
  private readonly w: Worker;
  readonly bytes: Buffer;
  readonly offsets: Float64Array;
  readonly times: Float64Array;
  private waiting: ((n: number) => void) | undefined;
  private failed: Error | undefined;
  private stopped = false;

  constructor(rate: number) {
    const sb = new SharedArrayBuffer(GEN_BYTES);
    const so = new SharedArrayBuffer(8 * (rate + 2));
    const st = new SharedArrayBuffer(8 * (rate + 1));
    this.bytes = Buffer.from(sb);
    this.offsets = new Float64Array(so);
    this.times = new Float64Array(st);
    this.w = new Worker(new URL(import.meta.url), { workerData: { role: GEN_ROLE, rate, sb, so, st } });
    this.w.on('message', (n: number) => this.settle(n));
    this.w.on('error', (e) => {
      this.failed = e;
      this.settle(-1);
    });
  }

  private settle(n: number): void {
    const r = this.waiting;
    this.waiting = undefined;
    r?.(n);
  }

  /** Generate the second starting at `base` (µs); resolves with the message count (snapshot first). */
  async chunk(base: number): Promise<number> {
    const n = await new Promise<number>((resolve) => {
      this.waiting = resolve;
      this.w.postMessage(base);
    });
    if (n < 0) throw this.failed ?? new Error('generator worker failed');
    return n;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.w.terminate();
  }
}

const GEN_ROLE = 'bookwire-recorder-bench-generator';

/** The worker: DeltaGen into shared memory, on request. */
function generatorWorker(d: {
  rate: number;
  sb: SharedArrayBuffer;
  so: SharedArrayBuffer;
  st: SharedArrayBuffer;
}): void {
  const gen = new DeltaGen(7);
  const bytes = Buffer.from(d.sb);
  const offsets = new Float64Array(d.so);
  const times = new Float64Array(d.st);
  parentPort!.on('message', (base: number) => {
    let n = 0;
    let off = 0;
    const put = (time: number, text: string) => {
      if (off + text.length > bytes.length) throw new Error('generator: chunk larger than its shared buffer');
      offsets[n] = off;
      times[n++] = time;
      off += bytes.write(text, off, 'latin1');
    };
    put(base, gen.snapshot(base));
    for (let i = 1; i <= d.rate; i++) {
      const time = base + i * (1e6 / d.rate) - 1;
      put(time, gen.delta(time));
    }
    offsets[n] = off;
    parentPort!.postMessage(n);
  });
}

/**
 * A fast generator of Binance-shaped consolidated deltas (the bench/gen.ts one parses and re-serializes
 * every event: too slow for 36M): a 0.01 tick book of ~1000 levels a side, 1-20 changes an event (mostly
 * near the top, a fifth deletes), sizes on a 1e-5 grid, deltas chaining by seq/prev.
 */
export class DeltaGen {
  private readonly rnd: () => number;
  private readonly book = new OrderBook();
  private seq = 1_000_000_000;
  private bid = 5_000_000; // best bid tick
  private ask = 5_000_001;

  constructor(seed: number) {
    this.rnd = mulberry32(seed);
    const bids: [number, number][] = [];
    const asks: [number, number][] = [];
    for (let i = 0; i < 1000; i++) {
      bids.push([(this.bid - i) / 100, this.size()]);
      asks.push([(this.ask + i) / 100, this.size()]);
    }
    this.book.applySnapshot(bids, asks);
  }

  private size(): number {
    const r = this.rnd();
    return (1 + Math.floor(r * r * 500_000)) / 1e5;
  }

  snapshot(time: number): string {
    const { bids, asks } = this.book.snapshot();
    return `{"v":1,"type":"snapshot","venue":"binance","symbol":"BTCUSDT","seq":${this.seq},"bids":${JSON.stringify(bids)},"asks":${JSON.stringify(asks)},"exchTime":0,"pubTime":${time},"reason":"periodic"}`;
  }

  delta(time: number): string {
    const rnd = this.rnd;
    const r = rnd();
    const k = 1 + Math.floor(20 * r * r);
    const bids: [number, number][] = [];
    const asks: [number, number][] = [];
    const seen = new Set<number>();
    for (let c = 0; c < k; c++) {
      const isBid = rnd() < 0.5;
      const u = rnd();
      const off = u < 0.85 ? Math.floor(-Math.log(1 - rnd()) * 6) : Math.floor(rnd() * 1200);
      let tick = isBid ? this.bid - off : this.ask + off;
      if (u < 0.03) tick = isBid ? this.ask - 1 : this.bid + 1; // improve inside the spread
      if (isBid ? tick >= this.ask : tick <= this.bid) continue;
      const key = isBid ? tick : -tick;
      if (seen.has(key)) continue;
      seen.add(key);
      const depth = isBid ? this.book.bidDepth : this.book.askDepth;
      const size = rnd() < 0.2 && depth > 200 ? 0 : this.size();
      const price = tick / 100;
      this.book.setLevel(isBid ? 'bid' : 'ask', price, size);
      (isBid ? bids : asks).push([price, size]);
    }
    if (bids.length + asks.length === 0) {
      const price = this.bid / 100;
      const size = this.size();
      this.book.setLevel('bid', price, size);
      bids.push([price, size]);
    }
    this.bid = Math.round(this.book.bestBidPrice() * 100);
    this.ask = Math.round(this.book.bestAskPrice() * 100);
    const prev = this.seq;
    const first = prev + 1;
    this.seq = first + bids.length + asks.length - 1 + Math.floor(rnd() * 3);
    return `{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","seq":${this.seq},"prev":${prev},"first":${first},"bids":${JSON.stringify(bids)},"asks":${JSON.stringify(asks)},"exchTime":${Math.floor(time / 1000) - 3},"recvTime":${time - 120},"pubTime":${time - 40},"feed":"a"}`;
  }
}

export function formatRecorderResult(r: RecorderBenchResult): string {
  const k = (x: number) => `${Math.round(x / 1000)}k`;
  return [
    `codec ${r.codec} level ${r.level} (${r.compressIn}), ${r.encoding} records, blocks of ${r.blockBytes / 1024} KiB, ${r.events} consolidated deltas (${r.jsonBytesPerEvent.toFixed(0)} bytes of JSON each) + a full-book snapshot per second at 10k events/s`,
    `  write:   ${k(r.writePerSec)} events/s wall, ${k(r.writePerCpuSec)} events per CPU second (target >= 300k on one core)`,
    `  size:    ${r.bytesPerEvent.toFixed(1)} bytes/event on disk incl. snapshots and framing; compression ratio ${r.ratio.toFixed(2)} vs raw JSON`,
    `  replay:  replayBook ${k(r.replayBookPerSec)} events/s wall, ${k(r.replayBookPerCpuSec)} per CPU second (target >= 1M); replaySync + BookReplica.onMessage ${k(r.replayPerSec)}/s wall, ${k(r.replayPerCpuSec)} per CPU second; storage read alone ${k(r.readOnlyPerSec)} records/s`,
    `  book-at: ${r.bookAtMs.lookups} random instants: p50 ${r.bookAtMs.p50.toFixed(1)} ms, p99 ${r.bookAtMs.p99.toFixed(1)} ms, max ${r.bookAtMs.max.toFixed(1)} ms; CPU p50 ${r.bookAtMs.cpuP50.toFixed(1)} ms, p99 ${r.bookAtMs.cpuP99.toFixed(1)} ms (<= ${r.bookAtMs.messagesApplied} messages applied; target < 50 ms)`,
    `  check:   ${r.ok ? 'OK (every event read back, both replays end with the same book, in sync, no gaps)' : 'FAILED'}`,
  ].join('\n');
}

export function formatLongResult(r: HourBenchResult): string {
  const k = (x: number) => `${Math.round(x / 1000)}k`;
  const size = r.seconds >= 3600 ? `${(r.seconds / 3600).toFixed(r.seconds % 3600 ? 2 : 0)} hour` : `${r.seconds} s`;
  return [
    `recording of ${size} at 10k events/s: ${(r.events / 1e6).toFixed(1)}M deltas + ${r.snapshots} full-book snapshots (1 s apart), ${r.codec} ${r.level}, compressed in ${r.compressIn}, binary records, checkpoints every ${r.checkpointEvents}, ${r.segments} segments, ${(r.diskBytes / 1e6).toFixed(0)} MB on disk`,
    `  write:   ${k(r.writePerSec)} events/s wall, ${k(r.writePerCpuSec)} events per CPU second, sustained over the whole recording (target >= 300k; generator in a worker, outside the timed windows: ${r.generateSeconds.toFixed(0)} s); CPU per recorded second p50 ${r.cpuMsPerSecond.p50.toFixed(0)} ms, p99 ${r.cpuMsPerSecond.p99.toFixed(0)} ms`,
    `  size:    ${r.bytesPerEvent.toFixed(1)} bytes/event on disk; compression ratio ${r.ratio.toFixed(2)} vs raw JSON`,
    `  book-at: ${r.bookAtMs.lookups} random instants: p50 ${r.bookAtMs.p50.toFixed(1)} ms, p99 ${r.bookAtMs.p99.toFixed(1)} ms, max ${r.bookAtMs.max.toFixed(1)} ms; CPU p50 ${r.bookAtMs.cpuP50.toFixed(1)} ms, p99 ${r.bookAtMs.cpuP99.toFixed(1)} ms (<= ${r.bookAtMs.messagesApplied} messages applied; target p99 < 50 ms)`,
    `  check:   ${r.ok ? 'OK (every record written, every book-at in sync, book-at from checkpoints equals the book rebuilt from snapshot + deltas)' : `FAILED (${r.checkpointMismatches} book-at mismatches)`}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes('--hour') || opt('--long') !== undefined) {
    const secs = args.includes('--hour') ? 3600 : Number(opt('--long'));
    const storage: Partial<StorageOptions> = {};
    if (opt('--codec')) storage.codec = opt('--codec') as Codec;
    if (opt('--level')) storage.level = Number(opt('--level'));
    if (opt('--block-bytes')) storage.blockBytes = Number(opt('--block-bytes'));
    if (opt('--checkpoint-events')) storage.checkpointEvents = Number(opt('--checkpoint-events'));
    if (opt('--compress-in')) storage.compressIn = opt('--compress-in') as StorageOptions['compressIn'];
    const r = await benchLongRecording(secs, Number(opt('--lookups') ?? 200), (s) => console.log(s), storage);
    console.log(formatLongResult(r));
    if (!r.ok) process.exitCode = 1;
    return;
  }
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 300_000);
  const codecs = (opt('--codec')?.split(',') ?? ['brotli']) as Codec[];
  for (const codec of codecs) {
    const r = await benchRecorder(n, {
      codec,
      level: opt('--level') ? Number(opt('--level')) : codec === 'gzip' ? 1 : undefined,
      blockBytes: opt('--block-bytes') ? Number(opt('--block-bytes')) : undefined,
      encoding: opt('--encoding') as 'binary' | 'json' | undefined,
      checkpointEvents: opt('--checkpoint-events') ? Number(opt('--checkpoint-events')) : undefined,
      compressIn: opt('--compress-in') as StorageOptions['compressIn'],
    });
    console.log(formatRecorderResult(r));
    if (!r.ok) process.exitCode = 1;
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === GEN_ROLE)
  generatorWorker(workerData as Parameters<typeof generatorWorker>[0]);
else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
