/**
 * Recorder service: a separate subscriber that writes every consolidated (book.*) and raw (raw.*)
 * message to segment files. It never sits on the arbiter's path: it only reads from the bus, and a
 * ZeroMQ PUB drops for a slow subscriber instead of waiting. When the disk is slower than the feed the
 * recorder stops reading past `maxPendingBytes` (logged and counted); the bus then drops for it alone,
 * and the sequence check below turns that into a gap marker record instead of silently missing data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { nowMicros } from '../core/clock.js';
import { EPOCH_SILENT_US } from '../core/replica.js';
import { consolidatedVerdict } from '../core/sequence.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { BusSubscriber, Transport } from '../transport/types.js';
import { decodeConsolidated, epochOfPayload, isHeartbeat } from '../wire/messages.js';
import { intAfterKey } from '../wire/scan.js';
import { isAlive } from '../util/process.js';
import { parseConsolidated, parsed } from './binrec.js';
import { KIND_GAP, KIND_MESSAGE, type GapMarker, type Stream } from './format.js';
import { DEFAULT_STORAGE, StreamWriter, recoverDir, type StorageOptions } from './segment.js';
import { makeDir } from '../util/fs.js';

export interface RecorderOptions {
  /** Subscribes 'book' (connects to the arbiters' publish endpoints) and 'ingest' (binds the recorder's own ingest endpoint). */
  transport: Transport;
  dir: string;
  storage?: Partial<StorageOptions>;
  /** Record the consolidated stream (default true). */
  book?: boolean;
  /** Record the raw per-collector stream (default true). */
  raw?: boolean;
  /** Stop reading the bus while this many bytes wait for the disk (default 64 MiB). */
  maxPendingBytes?: number;
  /** Receive high-water mark of the subscriptions. */
  highWaterMark?: number;
  logger?: Logger;
  /** Also hand every recorded message and gap marker to this (the PostgreSQL sink); must not block. */
  sink?: RecorderSink;
}

/** A secondary destination of what the recorder writes (src/recorder/postgres.ts): queues and returns. */
export interface RecorderSink {
  record(stream: Stream, venue: string, symbol: string, time: number, payload: Buffer): void;
  gap(stream: Stream, venue: string, symbol: string, time: number, gap: GapMarker): void;
}

export interface RecorderCounters {
  received: number;
  recorded: number;
  /** Gaps seen in consolidated streams (each written as a gap marker). */
  gaps: number;
  /** Times the recorder fell behind the disk and paused reading. */
  behind: number;
  duplicates: number;
  undecodable: number;
  writeErrors: number;
}

interface BookSeq {
  seq: number;
  /** seq of the last snapshot stored (hot-hot arbiters each publish one). */
  snapSeq: number;
  /**
   * Replica venues' books (docs/wire-format.md "Epochs"): the arbiter numbering stored, when a message of it
   * was last seen (µs), and when one of another (µs). Another epoch's messages are not stored; when ours has
   * been silent for EPOCH_SILENT_US while another speaks, the next snapshot of the other is, and its
   * numbering from then on (its seq is higher: arbiters number these books near the clock).
   */
  epoch?: string;
  epochAt: number;
  otherAt: number;
}

export class RecorderError extends Error {
  override name = 'RecorderError';
}

/** Check (and create) a recording directory; a clear error if it cannot be written. */
export function checkRecordingDir(dir: string): void {
  try {
    makeDir(dir);
    const probe = path.join(dir, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    throw new RecorderError(`cannot write to the recording directory ${dir}: ${(e as Error).message}`);
  }
}

export class Recorder {
  readonly counters: RecorderCounters = {
    received: 0,
    recorded: 0,
    gaps: 0,
    behind: 0,
    duplicates: 0,
    undecodable: 0,
    writeErrors: 0,
  };
  readonly storage: StorageOptions;
  private readonly log: Logger;
  private readonly writers = new Map<string, StreamWriter>();
  private readonly seqs = new Map<string, BookSeq>();
  private readonly subs: BusSubscriber[] = [];
  private loops: Promise<void>[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private waiting: (() => void) | undefined;
  private readonly maxPending: number;
  private lockFile = '';

  constructor(private readonly o: RecorderOptions) {
    this.storage = { ...DEFAULT_STORAGE, ...stripUndefined(o.storage ?? {}) };
    this.log = o.logger ?? silentLogger;
    this.maxPending = o.maxPendingBytes ?? 64 * 1024 * 1024;
  }

  async start(): Promise<void> {
    const dir = this.o.dir;
    checkRecordingDir(dir);
    this.lock(dir);
    recoverDir(dir, this.log);
    const t = this.o.transport;
    const hwm = { highWaterMark: this.o.highWaterMark };
    if (this.o.book !== false) {
      const s = await t.subscriber('book', ['book.'], hwm);
      this.subs.push(s);
      this.loops.push(this.loop(s, 'book'));
    }
    if (this.o.raw !== false) {
      const s = await t.subscriber('ingest', ['raw.'], hwm);
      this.subs.push(s);
      this.loops.push(this.loop(s, 'raw'));
    }
    const tick = Math.max(5, Math.min(50, this.storage.flushIntervalMs / 4)); // a block waits at most flushIntervalMs + tick
    this.timers.push(setInterval(() => this.flushDue(), tick));
    if (this.storage.fsync === 'interval')
      this.timers.push(setInterval(() => this.fsyncAll(), this.storage.fsyncIntervalMs));
    this.timers.push(setInterval(() => this.log.info(this.stats(), 'recorder stats'), 10_000));
    for (const x of this.timers) x.unref();
    this.log.info({ dir, storage: this.storage }, 'recorder started');
  }

  /** One recorder per directory: a second one would cut the first one's open segments as "torn". */
  private lock(dir: string): void {
    const f = path.join(dir, 'recorder.lock');
    try {
      const pid = Number(fs.readFileSync(f, 'utf8'));
      if (pid && pid !== process.pid && isAlive(pid))
        throw new RecorderError(`another recorder (pid ${pid}) is writing to ${dir}`);
    } catch (e) {
      if (e instanceof RecorderError) throw e;
    }
    fs.writeFileSync(f, String(process.pid));
    this.lockFile = f;
  }

  stats(): RecorderCounters & { pendingBytes: number; writtenRecords: number; files: number } {
    let pendingBytes = 0;
    let writtenRecords = 0;
    let writeErrors = 0;
    for (const w of this.writers.values()) {
      pendingBytes += w.pendingBytes;
      writtenRecords += w.writtenRecords;
      writeErrors += w.counters.writeErrors;
    }
    return { ...this.counters, writeErrors, pendingBytes, writtenRecords, files: this.writers.size };
  }

  private pendingBytes(): number {
    let n = 0;
    for (const w of this.writers.values()) n += w.pendingBytes;
    return n;
  }

  private writer(stream: Stream, venue: string, symbol: string): StreamWriter {
    const key = `${stream}.${venue}.${symbol}`;
    let w = this.writers.get(key);
    if (!w) {
      w = new StreamWriter(this.o.dir, stream, venue, symbol, this.storage, this.log, this.onWritten, this.onProgress);
      this.writers.set(key, w);
    }
    return w;
  }

  private readonly onWritten = (w: StreamWriter, b: { count: number; lastTime: number }): void => {
    this.log.debug(
      { stream: w.stream, symbol: w.symbol, records: b.count, lastTime: b.lastTime, written: w.writtenRecords },
      'block written',
    );
  };

  private readonly onProgress = (): void => {
    if (this.waiting && this.pendingBytes() <= this.maxPending / 2) {
      const r = this.waiting;
      this.waiting = undefined;
      r();
    }
  };

  private async loop(sub: BusSubscriber, stream: Stream): Promise<void> {
    try {
      for await (const m of sub) {
        this.counters.received++;
        const time = nowMicros();
        // topic: <stream>.<venue>.<symbol>
        const a = m.topic.indexOf('.');
        const b = m.topic.indexOf('.', a + 1);
        if (a < 0 || b < 0) continue;
        const venue = m.topic.slice(a + 1, b);
        const symbol = m.topic.slice(b + 1);
        const w = this.writer(stream, venue, symbol);
        if (stream === 'book') {
          // a heartbeat carries no book data (liveness is for live clients): not recorded
          if (isHeartbeat(m.payload)) {
            this.heardEpoch(m.topic, m.payload, time);
            continue;
          }
          // one parse serves the sequence check and the binary record (binrec.ts); other layouts: peek, store JSON
          const h = parseConsolidated(m.payload) !== 0 ? parsedHeader() : peekConsolidated(m.payload);
          if (!h) {
            this.counters.undecodable++;
            continue;
          }
          // hot-hot arbiters: another numbering is not stored (replica venues), nor a second copy of what is
          if (!this.followsEpoch(m.topic, m.payload, h.type === 'snapshot', time)) continue;
          if (!this.checkSequence(m.topic, h, w, time)) continue;
          w.appendParsed(time, m.payload, h.type === 'snapshot');
        } else w.append(KIND_MESSAGE, time, m.payload);
        this.o.sink?.record(stream, venue, symbol, time, m.payload);
        this.counters.recorded++;
        if (w.pendingBytes > 0 && this.pendingBytes() > this.maxPending) await this.fellBehind(stream);
      }
    } catch (e) {
      if (!this.stopped) this.log.error({ stream, err: (e as Error).message }, 'recorder receive loop failed');
    }
  }

  private bookSeq(topic: string): BookSeq {
    let s = this.seqs.get(topic);
    if (!s) this.seqs.set(topic, (s = { seq: -1, snapSeq: -1, epochAt: 0, otherAt: 0 }));
    return s;
  }

  /** Whether a book message is in the epoch stored (switching to another when ours fell silent). */
  private followsEpoch(topic: string, payload: Buffer, snapshot: boolean, time: number): boolean {
    const e = epochOfPayload(payload);
    const s = this.bookSeq(topic);
    if (e === s.epoch || s.seq < 0) {
      s.epoch = e;
      s.epochAt = time;
      return true;
    }
    s.otherAt = time;
    if (!snapshot || time - s.epochAt < EPOCH_SILENT_US) {
      this.counters.duplicates++;
      return false;
    }
    this.log.info(
      { topic, from: s.epoch, to: e },
      'the arbiter recorded fell silent; recording another from its snapshot',
    );
    s.epoch = e;
    s.epochAt = time;
    return true;
  }

  /** A heartbeat keeps its epoch alive (a quiet book publishes nothing else). */
  private heardEpoch(topic: string, payload: Buffer, time: number): void {
    const s = this.seqs.get(topic);
    if (s !== undefined && s.epoch !== undefined && epochOfPayload(payload) === s.epoch) s.epochAt = time;
  }

  /** The sequence rule of docs/wire-format.md: a delta that does not chain is a gap we write down. */
  /** Follow the stream's sequence (gap markers); false for a copy not worth storing (another arbiter's). */
  private checkSequence(topic: string, h: PeekedHeader, w: StreamWriter, time: number): boolean {
    const s = this.bookSeq(topic);
    if (h.type === 'snapshot') {
      // a snapshot behind what we have, or a second one at the seq of the last one stored, adds nothing
      if (h.seq < s.seq || h.seq === s.snapSeq) {
        this.counters.duplicates++;
        return false;
      }
      s.seq = h.seq;
      s.snapSeq = h.seq;
      return true;
    }
    if (s.seq < 0) {
      s.seq = h.seq; // joined mid-stream: the first delta starts our chain
      return true;
    }
    const verdict = consolidatedVerdict(s.seq, h);
    if (verdict === 'stale') {
      this.counters.duplicates++; // a second arbiter's copy
      return false;
    }
    if (verdict === 'gap') {
      this.counters.gaps++;
      const gap: GapMarker = { type: 'gap', fromSeq: s.seq, toSeq: h.prev, reason: 'sequence' };
      w.append(KIND_GAP, time, Buffer.from(JSON.stringify(gap)));
      this.o.sink?.gap('book', w.venue, w.symbol, time, gap);
      if (this.counters.gaps <= 10 || this.counters.gaps % 100 === 0)
        this.log.warn(
          { topic, had: s.seq, prev: h.prev, gaps: this.counters.gaps },
          'gap in the consolidated stream (recorder missed messages); gap marker written',
        );
    }
    s.seq = h.seq;
    return true;
  }

  private async fellBehind(stream: Stream): Promise<void> {
    this.counters.behind++;
    if (this.counters.behind <= 10 || this.counters.behind % 100 === 0)
      this.log.warn(
        { stream, pendingBytes: this.pendingBytes(), behind: this.counters.behind },
        'recorder falling behind the disk: pausing reads (the bus may drop messages for the recorder)',
      );
    for (const w of this.writers.values()) w.seal();
    if (this.pendingBytes() <= this.maxPending / 2) return;
    const t0 = Date.now();
    await new Promise<void>((r) => {
      this.waiting = r;
    });
    // Raw streams have no sequence of their own to check: mark the pause, the bus may have dropped in it.
    const pausedMs = Date.now() - t0;
    if (stream === 'raw' && pausedMs > 0) {
      const gap: GapMarker = { type: 'gap', reason: 'behind', pausedMs };
      const marker = Buffer.from(JSON.stringify(gap));
      for (const w of this.writers.values())
        if (w.stream === 'raw') {
          const time = nowMicros();
          w.append(KIND_GAP, time, marker);
          this.o.sink?.gap('raw', w.venue, w.symbol, time, gap);
        }
    }
  }

  private flushDue(): void {
    const now = Date.now();
    for (const w of this.writers.values()) w.flushIfDue(now);
  }

  private fsyncAll(): void {
    for (const w of this.writers.values())
      w.fsync().catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'fsync failed'));
  }

  /** Stop receiving, write everything buffered, seal every segment. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of this.subs) await s.close();
    this.waiting?.();
    await Promise.all(this.loops);
    for (const w of this.writers.values()) await w.close();
    if (this.lockFile) fs.rmSync(this.lockFile, { force: true });
    this.log.info(this.stats(), 'recorder stopped');
  }

  /** Wait until every record received so far is written (tests, benchmarks). */
  async flush(): Promise<void> {
    for (const w of this.writers.values()) {
      w.seal();
      await w.drain();
    }
  }
}

interface PeekedHeader {
  type: 'delta' | 'snapshot';
  seq: number;
  prev: number;
  first: number;
}

/** The header of the last parseConsolidated() that succeeded. */
function parsedHeader(): PeekedHeader {
  return parsed.type === 1
    ? { type: 'delta', seq: parsed.seq, prev: parsed.prev, first: parsed.first }
    : { type: 'snapshot', seq: parsed.seq, prev: -1, first: -1 };
}

const DELTA_PREFIX = Buffer.from('{"v":1,"type":"delta"');
const SNAPSHOT_PREFIX = Buffer.from('{"v":1,"type":"snapshot"');

/** type/seq/prev/first of a consolidated payload without parsing its levels (the arbiter's key order); JSON.parse otherwise. */
export function peekConsolidated(p: Buffer): PeekedHeader | undefined {
  const isDelta = p.length > DELTA_PREFIX.length && DELTA_PREFIX.compare(p, 0, DELTA_PREFIX.length) === 0;
  const isSnap =
    !isDelta && p.length > SNAPSHOT_PREFIX.length && SNAPSHOT_PREFIX.compare(p, 0, SNAPSHOT_PREFIX.length) === 0;
  if (isDelta || isSnap) {
    const head = p.toString('latin1', 0, Math.min(p.length, 256));
    const seq = intAfterKey(head, '"seq":');
    if (isSnap && seq !== undefined) return { type: 'snapshot', seq, prev: -1, first: -1 };
    const prev = intAfterKey(head, '"prev":');
    const first = intAfterKey(head, '"first":');
    if (seq !== undefined && prev !== undefined && first !== undefined) return { type: 'delta', seq, prev, first };
  }
  try {
    const m = decodeConsolidated(p);
    return m.type === 'delta'
      ? { type: 'delta', seq: m.seq, prev: m.prev, first: m.first }
      : { type: 'snapshot', seq: m.seq, prev: -1, first: -1 };
  } catch {
    return undefined;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
