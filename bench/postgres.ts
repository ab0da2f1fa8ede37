/**
 * The recorder's PostgreSQL sink: sustained insert rate through COPY, on a throwaway local server
 * (test/pg-helpers.ts, Debian's binaries, fsync ON, default schema with its indexes).
 *
 * Workload: what the recorder sees for one exchange event stream -- each event once per collector on
 * raw.* (2 collectors) and once consolidated on book.*, plus a 1000-level consolidated snapshot every
 * 1000 events. All of it is queued up front (queue bound raised so nothing drops) and the clock runs
 * from the first record() to the last commit, so the figure is what the sink and the server sustain
 * together, encode + COPY + indexes + commit.
 *
 * `node dist/bench/postgres.js [--quick]`  (also part of `npm run bench` when the binaries exist)
 */
import { PostgresSink } from '../src/recorder/postgres.js';
import { PG_BIN, startTestPostgres } from '../test/pg-helpers.js';

export const postgresBenchSkip: string | false = PG_BIN
  ? false
  : 'PostgreSQL rows skipped: server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)';

export interface PostgresBenchRow {
  workload: string;
  batch: number;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  mbPerSec: number;
}

interface Ev {
  stream: 'raw' | 'book';
  symbol: string;
  payload: Buffer;
}

/** n exchange events -> 2n raw + n consolidated messages (+ a snapshot every 1000). */
function workload(n: number, kinds: 'mixed' | 'raw' | 'book'): Ev[] {
  const out: Ev[] = [];
  const t0 = 1_795_428_000_000_000;
  let seq = 1_000_000;
  const snapshot = (s: number) => {
    const bids = Array.from({ length: 1000 }, (_, i) => [50000 - i * 0.01, 1 + (i % 7) / 10]);
    const asks = Array.from({ length: 1000 }, (_, i) => [50000.01 + i * 0.01, 1 + (i % 5) / 10]);
    return Buffer.from(
      `{"v":1,"type":"snapshot","venue":"binance","symbol":"BTCUSDT","seq":${s},"bids":${JSON.stringify(bids)},"asks":${JSON.stringify(asks)},"exchTime":0,"pubTime":${t0},"reason":"periodic"}`,
    );
  };
  for (let i = 0; i < n; i++) {
    const first = seq + 1;
    const last = seq + 3;
    const t = t0 + i * 100;
    const b = JSON.stringify([
      [50000 - (i % 50) * 0.01, (i % 13) / 10],
      [49999.5 - (i % 30) * 0.01, 0],
    ]);
    const a = JSON.stringify([[50000.01 + (i % 40) * 0.01, (i % 11) / 10]]);
    if (kinds !== 'book')
      for (const c of ['a', 'b']) {
        const venue = `{"e":"depthUpdate","E":${Math.floor(t / 1000)},"s":"BTCUSDT","U":${first},"u":${last},"b":${JSON.stringify(JSON.parse(b).map((l: number[]) => l.map(String)))},"a":${JSON.stringify(JSON.parse(a).map((l: number[]) => l.map(String)))}}`;
        out.push({
          stream: 'raw',
          symbol: 'BTCUSDT',
          payload: Buffer.from(
            `{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","first":${first},"last":${last},"exchTime":${Math.floor(t / 1000)},"recvTime":${t},"collector":"${c}","bids":${b},"asks":${a}}\n${venue}`,
          ),
        });
      }
    if (kinds !== 'raw') {
      out.push({
        stream: 'book',
        symbol: 'BTCUSDT',
        payload: Buffer.from(
          `{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","seq":${last},"prev":${seq},"first":${first},"bids":${b},"asks":${a},"exchTime":${Math.floor(t / 1000)},"recvTime":${t},"pubTime":${t + 20},"feed":"a"}`,
        ),
      });
      if (i % 1000 === 0) out.push({ stream: 'book', symbol: 'BTCUSDT', payload: snapshot(last) });
    }
    seq = last;
  }
  return out;
}

async function one(url: string, prefix: string, evs: Ev[], batch: number, label: string): Promise<PostgresBenchRow> {
  const sink = new PostgresSink({ url, tablePrefix: prefix, batch, flushMs: 50, maxQueueBytes: 4 * 1024 ** 3 });
  await sink.start();
  let bytes = 0;
  const t0 = performance.now();
  let time = Date.now() * 1000;
  for (const e of evs) {
    sink.record(e.stream, 'binance', e.symbol, time++, e.payload);
    bytes += e.payload.length;
  }
  await sink.flush(600_000);
  const seconds = (performance.now() - t0) / 1000;
  const s = sink.stats();
  await sink.stop();
  if (s.dropped || s.skipped) throw new Error(`bench: ${s.dropped} dropped, ${s.skipped} skipped`);
  const rows = s.rawRows + s.bookRows;
  return { workload: label, batch, rows, seconds, rowsPerSec: rows / seconds, mbPerSec: bytes / 1e6 / seconds };
}

export async function benchPostgres(events: number): Promise<PostgresBenchRow[]> {
  const hooks: (() => Promise<void> | void)[] = [];
  const db = await startTestPostgres({ after: (fn) => void hooks.push(fn) }, { durable: true });
  const rows: PostgresBenchRow[] = [];
  try {
    let k = 0;
    rows.push(await one(db.url, `b${k++}`, workload(events, 'mixed'), 5000, 'mixed: 2 raw + 1 book per event'));
    rows.push(await one(db.url, `b${k++}`, workload(events, 'raw'), 5000, 'raw only'));
    rows.push(await one(db.url, `b${k++}`, workload(events, 'book'), 5000, 'book only (+ snapshot / 1000)'));
    rows.push(await one(db.url, `b${k++}`, workload(events, 'mixed'), 500, 'mixed, batch 500'));
  } finally {
    for (const h of hooks) await h();
  }
  return rows;
}

export function formatPostgresResult(rows: PostgresBenchRow[]): string {
  const head = `${'workload'.padEnd(34)} ${'batch'.padStart(6)} ${'rows'.padStart(9)} ${'s'.padStart(7)} ${'rows/s'.padStart(9)} ${'MB/s'.padStart(6)}`;
  return [
    head,
    ...rows.map(
      (r) =>
        `${r.workload.padEnd(34)} ${String(r.batch).padStart(6)} ${String(r.rows).padStart(9)} ${r.seconds.toFixed(2).padStart(7)} ${Math.round(r.rowsPerSec).toString().padStart(9)} ${r.mbPerSec.toFixed(1).padStart(6)}`,
    ),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (postgresBenchSkip) {
    console.log(postgresBenchSkip);
  } else {
    const quick = process.argv.includes('--quick');
    console.log(formatPostgresResult(await benchPostgres(quick ? 30_000 : 100_000)));
  }
}
