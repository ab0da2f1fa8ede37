/** `bookwire record`, `bookwire replay`, `bookwire book-at`: the recorder's commands (docs/recording.md). */
import { DEFAULT_VENUE, VENUE_IDS } from '../venues/index.js';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config, DeepPartial } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { createTransport } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import { BookReplica } from '../core/replica.js';
import { decodeAny, encode, topics } from '../wire/messages.js';
import { Recorder, RecorderError } from '../recorder/recorder.js';
import { PostgresSink, PostgresSinkError } from '../recorder/postgres.js';
import { replay, toMicros, type ReplaySpeed } from '../recorder/replay.js';
import { bookAt, recordedRange } from '../recorder/reader.js';
import { lostTimes, SkipLog } from '../recorder/skips.js';
import { UnsupportedVersionError } from '../recorder/format.js';
import { ExportError, exportParquet } from '../recorder/export.js';
import { addBusOptions, addCommonOptions, addSymbolOption, num, positive, upperSymbol } from './options.js';
import { busTransport, serveMetricsFor, untilSignal, zmqSecurity } from './commands.js';
import { registerRecorderMetrics } from '../metrics/recorder.js';
import type { MetricsServer } from '../metrics/exporter.js';
import { UserError } from './errors.js';

type Opts = Record<string, unknown>;
type ConfigFn = (o: Opts, extra?: DeepPartial<Config>) => Config;

/** The recorder's transport: the book channel as configured, raw on the recorder's own ingest endpoint. */
export function recorderTransport(cfg: Config, log: Logger): Transport {
  if (cfg.bus.kind !== 'zeromq') return busTransport(cfg, log);
  return createTransport({
    kind: 'zeromq',
    endpoints: { ingest: [cfg.recorder.ingest], publish: cfg.bus.publish, snapshot: cfg.bus.snapshot },
    receiveHighWaterMark: cfg.bus.receiveHighWaterMark,
    ...zmqSecurity(cfg),
    logger: log,
  });
}

export async function runRecordCommand(cfg: Config, durationS?: number): Promise<void> {
  const log = createLogger('recorder', cfg.log.level);
  const transport = recorderTransport(cfg, log);
  const r = cfg.recorder;
  // The database first: a wrong URL or a server that is down is a user error before anything runs.
  let sink: PostgresSink | undefined;
  if (r.postgres) {
    try {
      sink = new PostgresSink({ ...r.postgres, logger: log });
      await sink.start();
    } catch (e) {
      await transport.close();
      if (e instanceof PostgresSinkError) throw new UserError(e.message);
      throw e;
    }
  }
  const rec = new Recorder({
    transport,
    dir: path.resolve(r.dir),
    book: r.book,
    raw: r.raw,
    maxPendingBytes: r.maxPendingBytes,
    storage: {
      codec: r.codec,
      level: r.level,
      blockBytes: r.blockBytes,
      flushIntervalMs: r.flushIntervalMs,
      fsync: r.fsync,
      fsyncIntervalMs: r.fsyncIntervalMs,
      segmentBytes: r.segmentBytes,
      segmentMs: r.segmentMinutes * 60_000,
      checkpointEvents: r.checkpointEvents,
      compressIn: r.compressIn,
      encoding: r.encoding,
    },
    logger: log,
    sink,
  });
  let metrics: MetricsServer | undefined;
  try {
    metrics = await serveMetricsFor(
      r.metrics,
      { process: 'recorder', id: 'recorder' },
      (reg) => registerRecorderMetrics(reg, rec, sink),
      log,
    );
    await rec.start();
  } catch (e) {
    await metrics?.close();
    await sink?.stop(0);
    await transport.close();
    if (e instanceof RecorderError) throw new UserError(e.message);
    throw e;
  }
  log.info(
    { dir: path.resolve(r.dir), ingest: r.ingest, publish: cfg.bus.publish, metrics: metrics?.url },
    'recorder running',
  );
  await untilSignal(
    log,
    async () => {
      await rec.stop();
      await sink?.stop();
      await transport.close();
      await metrics?.close();
    },
    durationS,
  );
}

function speedOf(v: string): ReplaySpeed {
  if (v === 'recorded' || v === 'max') return v;
  const n = Number(v.replace(/x$/i, ''));
  if (!(n > 0) || !Number.isFinite(n))
    throw new UserError(`--speed: expected recorded, max or a factor like 10, got "${v}"`);
  return n;
}

function instant(flag: string) {
  return (v: string): number => {
    try {
      return toMicros(/^\d+$/.test(v) ? Number(v) : v);
    } catch {
      throw new UserError(`${flag}: expected an ISO 8601 time like 2026-11-23T10:00:00Z, got "${v}"`);
    }
  };
}

/** Progress on a terminal (rate, ETA), nothing when stderr is piped. */
function progress(total: number) {
  const tty = process.stderr.isTTY === true;
  const t0 = Date.now();
  let last = 0;
  return {
    update(n: number, doneFraction: number) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      const s = (now - t0) / 1000;
      const rate = n / Math.max(s, 0.001);
      const eta = doneFraction > 0 ? (s / doneFraction) * (1 - doneFraction) : NaN;
      process.stderr.write(
        `\r${n} messages  ${Math.round(rate)}/s  ${(doneFraction * 100).toFixed(1)}%  ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}   `,
      );
    },
    end() {
      if (tty && total >= 0) process.stderr.write('\n');
    },
  };
}

/** What a read skipped, one line each on stderr (after the command's own output). */
function printSkips(skips: SkipLog): void {
  for (const l of skips.lines()) process.stderr.write(l + '\n');
}

export interface ReplayCommandOptions {
  dir: string;
  venue: string;
  symbols: string[];
  from?: number;
  to?: number;
  speed: ReplaySpeed;
  raw: boolean;
  waitMs: number;
}

/** Publish a recorded range onto the bus (book channel; raw onto ingest with --raw), serving snapshots too. */
export async function runReplayCommand(cfg: Config, o: ReplayCommandOptions): Promise<void> {
  const log = createLogger('replay', cfg.log.level);
  const transport = busTransport(cfg, log);
  const replicas = new Map<string, BookReplica>();
  const pub = await transport.publisher('book');
  const rawPub = o.raw ? await transport.publisher('ingest') : undefined;
  // Late joiners (an unchanged subscribe() client) ask for a snapshot: answer from the replayed book.
  const snap = await transport.snapshotServer((topic, payload) => {
    const q = decodeAny(payload) as { venue?: string; symbol?: string };
    const r = replicas.get(topics.book(String(q.venue), String(q.symbol)));
    if (!r || !r.synced) throw new Error(`book ${q.venue}.${q.symbol} is not in sync in this replay`);
    const { bids, asks } = r.book.snapshot();
    return encode({
      v: 1,
      type: 'snapshot',
      venue: q.venue,
      symbol: q.symbol,
      seq: r.seq,
      bids,
      asks,
      exchTime: 0,
      pubTime: Date.now() * 1000,
      reason: 'reply',
    });
  });
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let n = 0;
  // each skipped stretch logged once as it is met, and listed again at the end
  const skips = new SkipLog((msg, detail) => log.warn(detail, msg));
  try {
    await new Promise((r) => setTimeout(r, o.waitMs)); // subscribers connect before the first message
    const streams = o.raw ? (['book', 'raw'] as const) : (['book'] as const);
    const ranges = o.symbols
      .flatMap((s) => streams.map((st) => recordedRange(o.dir, o.venue, s, st, skips.add)))
      .filter((x) => x !== undefined);
    if (ranges.length === 0) {
      printSkips(skips);
      throw new UserError(
        `nothing ${skips.size ? 'readable ' : ''}recorded for ${o.venue} ${o.symbols.join(',')} in ${o.dir}`,
      );
    }
    const start = o.from ?? Math.min(...ranges.map((r) => r.first));
    const end = o.to ?? Math.max(...ranges.map((r) => r.last));
    const bar = progress(end - start);
    for await (const it of replay({
      dir: o.dir,
      venue: o.venue,
      symbol: o.symbols,
      from: o.from,
      to: o.to,
      speed: o.speed,
      raw: o.raw,
      signal: ac.signal,
      onWarning: skips.add,
    })) {
      if (it.kind !== 'message') continue;
      if (it.stream === 'raw') {
        rawPub?.send(it.topic, it.payload);
      } else {
        let r = replicas.get(it.topic);
        if (!r) replicas.set(it.topic, (r = new BookReplica()));
        if (it.message) r.onMessage(it.message);
        pub.send(it.topic, it.payload);
      }
      n++;
      if ((n & 255) === 0) bar.update(n, end > start ? (it.time - start) / (end - start) : 1);
    }
    bar.end();
    log.info({ messages: n, skipped: skips.size }, 'replay finished');
    process.stdout.write(
      `replayed ${n} messages${skips.size ? ` (${skips.size} damaged stretches skipped, listed on stderr)` : ''}\n`,
    );
    printSkips(skips);
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await pub.flush();
    await new Promise((r) => setTimeout(r, 100));
    await snap.close();
    await transport.close();
  }
}

export function formatBookTable(b: { bids: [number, number][]; asks: [number, number][] }, depth: number): string {
  const rows = ['      bid size         bid |         ask      ask size'];
  for (let i = 0; i < depth; i++) {
    const bid = b.bids[i];
    const ask = b.asks[i];
    if (!bid && !ask) break;
    const l = bid ? `${String(bid[1]).padStart(14)} ${String(bid[0]).padStart(11)}` : ' '.repeat(26);
    const r = ask ? `${String(ask[0]).padStart(12)} ${String(ask[1]).padStart(13)}` : '';
    rows.push(`${l} | ${r}`);
  }
  return rows.join('\n');
}

/** Register record, replay and book-at on the program (main.ts). */
export function registerRecordCommands(program: Command, config: ConfigFn): void {
  const duration = (c: Command) =>
    c.option('--duration <seconds>', 'stop after this many seconds', positive('--duration'));
  const dirOpt = (c: Command) => c.option('--dir <dir>', 'recording directory (default ./data, config recorder.dir)');

  const rec = duration(dirOpt(addBusOptions(addCommonOptions(program.command('record')))))
    .description('record the consolidated (book.*) and raw (raw.*) streams to segment files')
    .option(
      '--recorder-ingest <endpoint>',
      "endpoint the recorder binds for raw messages (list it in the collectors' --ingest too)",
    )
    .option('--no-book', 'do not record the consolidated stream')
    .option('--no-raw', 'do not record the raw per-collector stream')
    .option('--codec <codec>', 'brotli | gzip | none')
    .option('--level <n>', 'compression level (brotli 0-11, gzip 1-9)', num('--level'))
    .option('--block-bytes <n>', 'uncompressed bytes per block', num('--block-bytes'))
    .option(
      '--flush-interval-ms <ms>',
      'write a block at least this often (what a process crash can lose)',
      num('--flush-interval-ms'),
    )
    .option('--fsync <policy>', 'none | interval | every-block')
    .option('--fsync-interval-ms <ms>', 'fsync period with --fsync interval', num('--fsync-interval-ms'))
    .option('--segment-bytes <n>', 'rotate segments past this size', num('--segment-bytes'))
    .option('--segment-minutes <n>', 'rotate segments past this age', num('--segment-minutes'))
    .option(
      '--max-pending-bytes <n>',
      'pause reading the bus while this much waits for the disk',
      num('--max-pending-bytes'),
    )
    .option(
      '--checkpoint-events <n>',
      'book stream: a checkpoint of the book every n records, 0 for none (book-at applies at most n)',
      num('--checkpoint-events'),
    )
    .option('--compress-in <where>', 'main-thread (less CPU) | thread-pool (off the receive loop)')
    .option('--encoding <form>', 'consolidated messages stored as binary (format 02) | json')
    .option(
      '--metrics <[host:]port>',
      'serve Prometheus metrics (/metrics, /healthz) here; default off (config recorder.metrics)',
    )
    .option(
      '--postgres <url>',
      'also write to PostgreSQL (postgresql://user:password@host:port/db), config recorder.postgres',
    );
  rec.action(async (o: Opts) => {
    const explicit = (k: string) => (rec.getOptionValueSource(k) === 'cli' ? o[k] : undefined);
    const cfg = config(o, {
      recorder: {
        dir: o.dir as string | undefined,
        ingest: o.recorderIngest as string | undefined,
        book: explicit('book') as boolean | undefined,
        raw: explicit('raw') as boolean | undefined,
        codec: o.codec as Config['recorder']['codec'] | undefined,
        level: o.level as number | undefined,
        blockBytes: o.blockBytes as number | undefined,
        flushIntervalMs: o.flushIntervalMs as number | undefined,
        fsync: o.fsync as Config['recorder']['fsync'] | undefined,
        fsyncIntervalMs: o.fsyncIntervalMs as number | undefined,
        segmentBytes: o.segmentBytes as number | undefined,
        segmentMinutes: o.segmentMinutes as number | undefined,
        maxPendingBytes: o.maxPendingBytes as number | undefined,
        checkpointEvents: o.checkpointEvents as number | undefined,
        compressIn: o.compressIn as Config['recorder']['compressIn'] | undefined,
        encoding: o.encoding as Config['recorder']['encoding'] | undefined,
        postgres: o.postgres !== undefined ? { url: o.postgres as string } : undefined,
        metrics: o.metrics as string | undefined,
      },
    });
    await runRecordCommand(cfg, o.duration as number | undefined);
  });

  dirOpt(addSymbolOption(addBusOptions(addCommonOptions(program.command('replay')))))
    .description('publish a recorded time range onto the bus (book channel) at recorded speed, N x, or max')
    .option('--venue <venue>', `venue: ${VENUE_IDS.join(', ')}`, DEFAULT_VENUE)
    .option('--symbol <symbol>', 'one symbol (default: --symbols, or every configured symbol)', upperSymbol)
    .option('--from <time>', 'start (ISO 8601, e.g. 2026-11-23T10:00:00Z)', instant('--from'))
    .option('--to <time>', 'end (ISO 8601)', instant('--to'))
    .option('--speed <speed>', 'recorded | max | a factor like 10', 'recorded')
    .option('--raw', 'also publish the raw per-collector messages onto the ingest endpoints')
    .option(
      '--wait-ms <ms>',
      'wait for subscribers before the first message',
      positive('--wait-ms', { zero: true }),
      500,
    )
    .action(async (o: Opts) => {
      const cfg = config(o, { recorder: { dir: o.dir as string | undefined } });
      const symbols = o.symbol ? [(o.symbol as string).toUpperCase()] : cfg.symbols;
      await runReplayCommand(cfg, {
        dir: path.resolve(cfg.recorder.dir),
        venue: o.venue as string,
        symbols,
        from: o.from as number | undefined,
        to: o.to as number | undefined,
        speed: speedOf(o.speed as string),
        raw: o.raw === true,
        waitMs: o.waitMs as number,
      });
    });

  dirOpt(addSymbolOption(addCommonOptions(program.command('export'))))
    .description('export a recorded range to Parquet (top.parquet, levels.parquet) for DuckDB, pandas, polars')
    .option('--format <format>', 'parquet (the only one so far)', 'parquet')
    .requiredOption('--out <dir>', 'output directory')
    .option('--venue <venue>', `venue: ${VENUE_IDS.join(', ')}`, DEFAULT_VENUE)
    .option('--from <time>', 'start (ISO 8601)', instant('--from'))
    .option('--to <time>', 'end (ISO 8601)', instant('--to'))
    .action(async (o: Opts) => {
      if (o.format !== 'parquet') throw new UserError(`--format: only parquet is supported, got "${String(o.format)}"`);
      const cfg = config(o, { recorder: { dir: o.dir as string | undefined } });
      const log = createLogger('export', cfg.log.level === 'info' ? 'warn' : cfg.log.level);
      const dir = path.resolve(cfg.recorder.dir);
      const venue = o.venue as string;
      const skips = new SkipLog((msg, d) => log.debug(d, msg));
      const ranges = cfg.symbols
        .map((s) => recordedRange(dir, venue, s, 'book', skips.add))
        .filter((x) => x !== undefined);
      if (ranges.length === 0) {
        printSkips(skips);
        throw new UserError(
          `nothing ${skips.size ? 'readable ' : ''}recorded for ${venue} ${cfg.symbols.join(',')} in ${dir}`,
        );
      }
      const start = (o.from as number | undefined) ?? Math.min(...ranges.map((r) => r.first));
      const end = (o.to as number | undefined) ?? Math.max(...ranges.map((r) => r.last));
      const bar = progress(end - start);
      const r = await exportParquet({
        dir,
        venue,
        symbols: cfg.symbols,
        from: o.from as number | undefined,
        to: o.to as number | undefined,
        out: path.resolve(o.out as string),
        onWarning: skips.add,
        onProgress: (n, t) => bar.update(n, end > start ? (t - start) / (end - start) : 1),
      }).catch((e: unknown) => {
        bar.end();
        throw e instanceof ExportError ? new UserError(e.message) : e;
      });
      bar.end();
      process.stdout.write(
        `exported ${r.topRows} book rows to ${r.files.top} and ${r.levelRows} level rows to ${r.files.levels}${r.gaps ? ` (${r.gaps} recorder gaps)` : ''}${skips.size ? ` (${skips.size} damaged stretches skipped, listed on stderr)` : ''}\n`,
      );
      printSkips(skips);
    });

  dirOpt(addCommonOptions(program.command('book-at')))
    .description('print the recorded consolidated book at an instant (nearest snapshot before it + deltas)')
    .option('--venue <venue>', `venue: ${VENUE_IDS.join(', ')}`, DEFAULT_VENUE)
    .requiredOption('--symbol <symbol>', 'symbol, e.g. BTCUSDT', upperSymbol)
    .requiredOption('--at <time>', 'the instant (ISO 8601, e.g. 2026-11-23T10:00:00Z)', instant('--at'))
    .option('--depth <n>', 'levels per side', positive('--depth', { integer: true }), 10)
    .option('--json', 'print JSON instead of a table')
    .action(async (o: Opts) => {
      const cfg = config(o, { recorder: { dir: o.dir as string | undefined } });
      const log = createLogger('book-at', cfg.log.level === 'info' ? 'warn' : cfg.log.level);
      const dir = path.resolve(cfg.recorder.dir);
      const venue = o.venue as string;
      const symbol = (o.symbol as string).toUpperCase();
      const at = o.at as number;
      let b: ReturnType<typeof bookAt>;
      const skips = new SkipLog((msg, d) => log.debug(d, msg));
      try {
        b = bookAt({ dir, venue, symbol, at, onWarning: skips.add });
      } catch (e) {
        if (e instanceof UnsupportedVersionError) throw new UserError(e.message); // a newer recording: one line, exit 2
        throw e;
      }
      printSkips(skips);
      if (!b)
        throw new UserError(
          `no ${skips.size ? 'readable ' : ''}recorded snapshot of ${venue} ${symbol} at or before ${new Date(at / 1000).toISOString()} in ${dir}`,
        );
      // the book spans records that could not be read: say so with the book, on stdout too
      const spans = b.skipped.map((k) => `${lostTimes(k) || 'records'} were unreadable (${k.file}: ${k.reason})`);
      const depth = Math.max(1, Math.floor(o.depth as number));
      const top = b.book.top(depth);
      const iso = (t: number) => new Date(t / 1000).toISOString();
      if (o.json) {
        process.stdout.write(
          JSON.stringify({
            venue,
            symbol,
            at: iso(at),
            seq: b.seq,
            synced: b.synced,
            snapshotTime: iso(b.snapshotTime),
            lastTime: iso(b.lastTime),
            messagesApplied: b.messagesApplied,
            skipped: b.skipped.map((k) => ({
              ...k,
              afterTime: k.afterTime === undefined ? undefined : iso(k.afterTime),
              beforeTime: k.beforeTime === undefined ? undefined : iso(k.beforeTime),
            })),
            bids: top.bids,
            asks: top.asks,
          }) + '\n',
        );
        return;
      }
      process.stdout.write(
        `${venue} ${symbol} at ${iso(at)}: seq ${b.seq}${b.synced ? '' : b.skipped.length ? ' (NOT in sync: records since the snapshot were unreadable)' : ' (NOT in sync: a gap was not healed before this instant)'}\n` +
          `from the snapshot at ${iso(b.snapshotTime)} + ${b.messagesApplied - 1} messages, last at ${iso(b.lastTime)}\n` +
          spans.map((l) => `WARNING: since that snapshot, ${l}\n`).join('') +
          formatBookTable(top, depth) +
          '\n',
      );
    });
}
