/**
 * Recorder benchmarks (issue 5):
 *  - write: consolidated deltas (Binance-shaped, as the arbiter publishes them) through StreamWriter with
 *    compression, a periodic full-book snapshot every `snapEvery` events; events/s wall clock and per CPU
 *    second (main thread + compression threads: the "one core" figure), bytes per event, ratio vs JSON.
 *  - replay: the recording read back as fast as possible into an in-process book (BookReplica), and the
 *    same without JSON decoding (storage read speed alone).
 *  - book-at: random instants in a 10k events/s recording with 1 s snapshots.
 *
 *   node dist/bench/recorder.js [events] [--codec brotli|gzip|none] [--level n]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { OrderBook } from '../src/core/book.js';
import { BookReplica } from '../src/core/replica.js';
import { silentLogger } from '../src/log.js';
import { KIND_MESSAGE, type Codec } from '../src/recorder/format.js';
import { DEFAULT_STORAGE, StreamWriter } from '../src/recorder/segment.js';
import { bookAt, readRecords } from '../src/recorder/reader.js';
import { replaySync } from '../src/recorder/replay.js';
import { generateStream } from './gen.js';

export interface RecorderBenchResult {
  codec: string;
  level: number;
  blockBytes: number;
  events: number;
  jsonBytesPerEvent: number;
  writeSeconds: number;
  writePerSec: number;
  writePerCpuSec: number;
  bytesPerEvent: number;
  ratio: number;
  replayPerSec: number;
  readOnlyPerSec: number;
  bookAtMs: { p50: number; p99: number; max: number; messagesApplied: number };
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
  o: { codec?: Codec; level?: number; blockBytes?: number; lookups?: number } = {},
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
    const w = new StreamWriter(
      dir,
      'book',
      'binance',
      'BTCUSDT',
      { ...DEFAULT_STORAGE, codec, level, blockBytes: o.blockBytes ?? DEFAULT_STORAGE.blockBytes, fsync: 'none' },
      silentLogger,
    );
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      w.append(KIND_MESSAGE, times[i], packed.subarray(offsets[i], offsets[i + 1]), isSnap[i] === 1);
      // hand the event loop over now and then, as the receive loop does between socket reads
      if ((i & 4095) === 0) await new Promise<void>((r) => setImmediate(r));
    }
    await w.close();
    const writeSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const totalIn = jsonBytes + snapBytes;
    const out = w.counters.bytesOut;

    // replay into a book, as fast as possible
    const r0 = performance.now();
    const replica = new BookReplica();
    let k = 0;
    for (const it of replaySync({ dir, symbol: 'BTCUSDT' })) {
      replica.onMessage(it.message!);
      k++;
    }
    const replaySeconds = (performance.now() - r0) / 1000;
    const q0 = performance.now();
    let rk = 0;
    for (const _ of readRecords({ dir, venue: 'binance', symbol: 'BTCUSDT', stream: 'book' })) rk++;
    const readSeconds = (performance.now() - q0) / 1000;

    // book-at at random instants
    const lookupMs: number[] = [];
    let applied = 0;
    const first = times[0];
    const last = times[count - 1];
    for (let i = 0; i < (o.lookups ?? 50); i++) {
      const at = first + Math.random() * (last - first);
      const b0 = performance.now();
      const b = bookAt({ dir, venue: 'binance', symbol: 'BTCUSDT', at });
      lookupMs.push(performance.now() - b0);
      applied = Math.max(applied, b?.messagesApplied ?? 0);
    }
    const ok = k === count && rk === count && replica.synced && replica.gaps === 0;
    return {
      codec,
      level,
      blockBytes: o.blockBytes ?? DEFAULT_STORAGE.blockBytes,
      events: deltaCount,
      jsonBytesPerEvent: jsonBytes / deltaCount,
      writeSeconds,
      writePerSec: count / writeSeconds,
      writePerCpuSec: count / cpuSeconds,
      bytesPerEvent: out / deltaCount,
      ratio: totalIn / out,
      replayPerSec: k / replaySeconds,
      readOnlyPerSec: rk / readSeconds,
      bookAtMs: {
        p50: pct(lookupMs, 50),
        p99: pct(lookupMs, 99),
        max: Math.max(...lookupMs),
        messagesApplied: applied,
      },
      ok,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatRecorderResult(r: RecorderBenchResult): string {
  const k = (x: number) => `${Math.round(x / 1000)}k`;
  return [
    `codec ${r.codec} level ${r.level}, blocks of ${r.blockBytes / 1024} KiB, ${r.events} consolidated deltas (${r.jsonBytesPerEvent.toFixed(0)} bytes of JSON each) + a full-book snapshot per second at 10k events/s`,
    `  write:   ${k(r.writePerSec)} events/s wall, ${k(r.writePerCpuSec)} events per CPU second (target >= 300k on one core)`,
    `  size:    ${r.bytesPerEvent.toFixed(1)} bytes/event on disk incl. snapshots and framing; compression ratio ${r.ratio.toFixed(2)} vs raw JSON`,
    `  replay:  ${k(r.replayPerSec)} events/s decoded into a BookReplica (target >= 1M); storage read alone ${k(r.readOnlyPerSec)} records/s`,
    `  book-at: p50 ${r.bookAtMs.p50.toFixed(1)} ms, p99 ${r.bookAtMs.p99.toFixed(1)} ms, max ${r.bookAtMs.max.toFixed(1)} ms (<= ${r.bookAtMs.messagesApplied} messages applied; target < 50 ms)`,
    `  check:   ${r.ok ? 'OK (every event read back, replayed book in sync, no gaps)' : 'FAILED'}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 300_000);
  const codecs = (opt('--codec')?.split(',') ?? ['brotli']) as Codec[];
  for (const codec of codecs) {
    const r = await benchRecorder(n, {
      codec,
      level: opt('--level') ? Number(opt('--level')) : codec === 'gzip' ? 1 : undefined,
      blockBytes: opt('--block-bytes') ? Number(opt('--block-bytes')) : undefined,
    });
    console.log(formatRecorderResult(r));
    if (!r.ok) process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
