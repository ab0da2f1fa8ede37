/**
 * Segment files on disk: layout, the append-only writer of one (stream, venue, symbol), crash recovery
 * and block-level reading. Layout: <dir>/<venue>/<symbol>/<stream>/<firstTime µs, 16 digits>.seg, and a
 * .idx next to every sealed segment. A segment without .idx is the one being written, or one a crash
 * left behind: recovery verifies it block by block, cuts a torn tail, and seals it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chainsOnto } from '../core/sequence.js';
import type { Logger } from '../log.js';
import { decodeConsolidated } from '../wire/messages.js';
import { CheckpointBook } from './ckbook.js';
import {
  decodeBinary,
  encodeCheckpoint,
  encodeParsed,
  maxCheckpointBytes,
  maxBodyBytes,
  parsed,
  parseConsolidated,
  regenerateJson,
} from './binrec.js';
import {
  BLOCK_HEADER_BYTES,
  FLAG_CHECKPOINT,
  FLAG_SNAPSHOT,
  KIND_CHECKPOINT,
  blockBytes,
  blockCrcOk,
  compressAsync,
  compressSync,
  lenWidth,
  recordHeader2Max,
  writeRecordHeader2,
  decodeIndex,
  encodeIndex,
  parseBlockHeader,
  parseSegmentHeader,
  segmentHeader,
  UnsupportedVersionError,
  KIND_BIN_DELTA,
  KIND_BIN_SNAPSHOT,
  KIND_MESSAGE,
  type BlockMeta,
  type Codec,
  type Stream,
} from './format.js';
import { makeDir } from '../util/fs.js';
import { meta, salvageSegment, type Damage } from './salvage.js';

export type FsyncPolicy = 'none' | 'interval' | 'every-block';

export interface StorageOptions {
  codec: Codec;
  level: number;
  /** A block is sealed (compressed, written) at this many uncompressed bytes... */
  blockBytes: number;
  /** ...or this long after its first record: the most a process crash can lose. */
  flushIntervalMs: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Rotate to a new segment past this size or age. */
  segmentBytes: number;
  segmentMs: number;
  /**
   * How consolidated messages are stored: 'binary' (format 02, lossless, see binrec.ts; default) or
   * 'json' (the payload as received, as format 01 did).
   */
  encoding?: 'binary' | 'json';
  /**
   * Where a sealed block is compressed: 'main-thread' (default; synchronously, as it is sealed, then
   * written asynchronously) or 'thread-pool' (libuv's threads, off the receive loop). The thread pool
   * costs more CPU per block (the block crosses threads, the encoder's memory is faulted in afresh: ~60 %
   * more CPU for compression, docs/recording.md) but keeps the ~1 ms a block takes off the receive loop.
   */
  compressIn?: 'main-thread' | 'thread-pool';
  /**
   * Book stream, binary encoding: every this many records after a snapshot or checkpoint, also write a
   * checkpoint -- the book as a replica of the stream has it -- starting a new block, so book-at and a
   * replay `from` an instant apply at most this many messages (0: none).
   */
  checkpointEvents?: number;
}

export const DEFAULT_STORAGE: StorageOptions = {
  codec: 'brotli',
  level: 1,
  blockBytes: 256 * 1024,
  flushIntervalMs: 200,
  fsync: 'interval',
  fsyncIntervalMs: 1000,
  segmentBytes: 64 * 1024 * 1024,
  segmentMs: 3600_000,
  encoding: 'binary',
  checkpointEvents: 2500,
  compressIn: 'main-thread',
};

/**
 * A book's folder. The symbol is percent-encoded: Kraken spells BTC/USD, and a '/' would make two folders
 * (every other venue's symbols, letters, digits, '-' and '_', are left as they are).
 */
export function streamDir(dir: string, venue: string, symbol: string, stream: Stream): string {
  return path.join(dir, venue, encodeURIComponent(symbol), stream);
}

function symbolOfDir(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name; // not ours to decode: shown as it is
  }
}

const pad16 = (t: number) => String(Math.max(0, Math.floor(t))).padStart(16, '0');

export interface SegmentFile {
  path: string;
  /** First record time, from the file name. */
  start: number;
  sealed: boolean;
}

/** Segments of one stream, oldest first. */
export function listSegments(dir: string, venue: string, symbol: string, stream: Stream): SegmentFile[] {
  const d = streamDir(dir, venue, symbol, stream);
  let names: string[];
  try {
    names = fs.readdirSync(d);
  } catch {
    return [];
  }
  const set = new Set(names);
  // same start time: "<t>.seg" was created before "<t>-1.seg", "<t>-2.seg"...
  const suffix = (n: string) => Number(/-(\d+)\.seg$/.exec(n)?.[1] ?? 0);
  return names
    .filter((n) => /^\d{16}(-\d+)?\.seg$/.test(n))
    .sort((a, b) =>
      a.slice(0, 16) < b.slice(0, 16) ? -1 : a.slice(0, 16) > b.slice(0, 16) ? 1 : suffix(a) - suffix(b),
    )
    .map((n) => ({
      path: path.join(d, n),
      start: Number(n.slice(0, 16)),
      sealed: set.has(n.replace(/\.seg$/, '.idx')),
    }));
}

/** Every (venue, symbol) with a recording of `stream` under dir. */
export function listBooks(dir: string): { venue: string; symbol: string }[] {
  const out: { venue: string; symbol: string }[] = [];
  const sub = (d: string) => {
    try {
      return fs
        .readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return [];
    }
  };
  for (const venue of sub(dir))
    for (const name of sub(path.join(dir, venue))) out.push({ venue, symbol: symbolOfDir(name) });
  return out;
}

export interface ScanResult {
  blocks: BlockMeta[];
  /** Bytes after the last good block (a torn or corrupt tail). */
  validEnd: number;
  size: number;
  headerOk: boolean;
  problem?: string;
}

/**
 * Read block headers of a segment. verify=true also reads and CRC-checks every block (recovery);
 * otherwise only headers are read (fast, for unsealed segments on replay). Stops at the first bad block.
 */
export function scanSegment(file: string, verify: boolean): ScanResult {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 4096));
    fs.readSync(fd, head, 0, head.length, 0);
    const sh = parseSegmentHeader(head);
    if (!sh) return { blocks: [], validEnd: 0, size, headerOk: false, problem: 'bad or torn segment header' };
    const blocks: BlockMeta[] = [];
    let off = sh.length;
    const hb = Buffer.alloc(BLOCK_HEADER_BYTES);
    let problem: string | undefined;
    while (off < size) {
      if (off + BLOCK_HEADER_BYTES > size) {
        problem = 'torn block header';
        break;
      }
      fs.readSync(fd, hb, 0, BLOCK_HEADER_BYTES, off);
      const m = parseBlockHeader(hb, off);
      if (!m) {
        problem = 'bad block header';
        break;
      }
      const end = off + BLOCK_HEADER_BYTES + m.clen;
      if (end > size) {
        problem = 'torn block';
        break;
      }
      if (verify) {
        const b = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + m.clen);
        fs.readSync(fd, b, 0, b.length, off);
        if (!blockCrcOk(b)) {
          problem = 'block checksum mismatch';
          break;
        }
      }
      blocks.push(meta(m));
      off = end;
    }
    return { blocks, validEnd: off, size, headerOk: true, problem };
  } finally {
    fs.closeSync(fd);
  }
}

export function idxPath(seg: string): string {
  return seg.replace(/\.seg$/, '.idx');
}

export interface SegmentBlocks {
  blocks: BlockMeta[];
  /** Byte ranges that yield no block, in file order (salvage.ts); empty for a whole segment. */
  damage: Damage[];
  /** The first damage's reason, if any. */
  problem?: string;
  /** The block list is the segment's index (its counts and times are checked by the index CRC). */
  indexed: boolean;
}

/**
 * Block list of a segment: from its index when sealed and the index matches the file (a valid segment
 * header, and the file ends where the last block does), else by walking the block headers past any
 * damage (salvage.ts). Bytes between indexed blocks (left by recovery around a corrupt block) are damage.
 */
export function segmentBlocks(seg: SegmentFile): SegmentBlocks {
  if (seg.sealed) {
    const idx = indexIfItMatches(seg.path);
    if (idx) {
      const damage: Damage[] = [];
      let end = idx.headerLength;
      for (const b of idx.blocks) {
        if (b.offset > end) damage.push({ from: end, to: b.offset, reason: 'damaged stretch left out of the index' });
        end = b.offset + BLOCK_HEADER_BYTES + b.clen;
      }
      return { blocks: idx.blocks, damage, problem: damage[0]?.reason, indexed: true };
    }
  }
  const s = salvageSegment(seg.path);
  return { blocks: s.blocks, damage: s.damage, problem: s.damage[0]?.reason, indexed: false };
}

/** A sealed segment's index, if it decodes and matches the file (else undefined: the file is salvaged instead). */
function indexIfItMatches(file: string): { blocks: BlockMeta[]; headerLength: number } | undefined {
  let blocks: BlockMeta[] | undefined;
  try {
    blocks = decodeIndex(fs.readFileSync(idxPath(file)));
  } catch {
    return undefined;
  }
  if (!blocks) return undefined;
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 4096));
    fs.readSync(fd, head, 0, head.length, 0);
    const sh = parseSegmentHeader(head);
    if (!sh) return undefined;
    // blocks in order, inside the file, and the file ends where the last one does (a sealed segment does)
    let end = sh.length;
    for (const b of blocks) {
      if (!(b.offset >= end)) return undefined;
      end = b.offset + BLOCK_HEADER_BYTES + b.clen;
    }
    return end === size ? { blocks, headerLength: sh.length } : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

export function readBlock(fd: number, m: BlockMeta): Buffer {
  const b = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + m.clen);
  const n = fs.readSync(fd, b, 0, b.length, m.offset);
  return n === b.length ? b : b.subarray(0, n);
}

export interface RecoveryResult {
  file: string;
  blocks: number;
  records: number;
  /** Bytes cut off the end (a torn or corrupt tail). */
  cutBytes: number;
  problem?: string;
  removed: boolean;
  /** Damaged stretches before the last good block: kept in the file, left out of the index (readers report them). */
  holes: Damage[];
}

/**
 * Make an unsealed segment whole: verify every block, truncate after the last good one, write its index.
 * Good blocks after a damaged stretch are kept (salvage.ts): only the tail after the last one is cut. A
 * segment with no complete block is removed.
 */
export function recoverSegment(file: string): RecoveryResult {
  const s = salvageSegment(file, true);
  // a checkpoint block starts with one checkpoint record (not a received message)
  const records = s.blocks.reduce((a, b) => a + b.count - (b.flags & FLAG_CHECKPOINT ? 1 : 0), 0);
  const last = s.blocks[s.blocks.length - 1];
  if (!last) {
    fs.rmSync(file, { force: true });
    return { file, blocks: 0, records: 0, cutBytes: s.size, problem: s.damage[0]?.reason, removed: true, holes: [] };
  }
  const validEnd = last.offset + BLOCK_HEADER_BYTES + last.clen;
  if (validEnd < s.size) fs.truncateSync(file, validEnd);
  writeIndex(file, s.blocks);
  const holes = s.damage.filter((d) => d.to <= validEnd);
  return {
    file,
    blocks: s.blocks.length,
    records,
    cutBytes: s.size - validEnd,
    problem: s.damage.find((d) => d.from >= validEnd)?.reason,
    removed: false,
    holes,
  };
}

function writeIndex(seg: string, blocks: readonly BlockMeta[]): void {
  const tmp = idxPath(seg) + '.tmp';
  fs.writeFileSync(tmp, encodeIndex(blocks));
  fs.renameSync(tmp, idxPath(seg));
}

/** Recover every unsealed segment under dir (call before writing into it). */
export function recoverDir(dir: string, log: Logger): RecoveryResult[] {
  const out: RecoveryResult[] = [];
  for (const { venue, symbol } of listBooks(dir))
    for (const stream of ['book', 'raw'] as const)
      for (const seg of listSegments(dir, venue, symbol, stream)) {
        if (seg.sealed) continue;
        let r: RecoveryResult;
        try {
          r = recoverSegment(seg.path);
        } catch (e) {
          if (!(e instanceof UnsupportedVersionError)) throw e;
          log.warn({ file: seg.path, err: e.message }, 'segment of an unknown format version left alone');
          continue;
        }
        out.push(r);
        if (r.cutBytes > 0 || r.removed)
          log.warn(
            {
              file: r.file,
              cutBytes: r.cutBytes,
              keptBlocks: r.blocks,
              keptRecords: r.records,
              problem: r.problem,
              removed: r.removed,
            },
            'torn or corrupt segment tail cut',
          );
        else log.info({ file: r.file, blocks: r.blocks, records: r.records }, 'unsealed segment verified and sealed');
        for (const h of r.holes)
          log.warn(
            { file: r.file, from: h.from, to: h.to, problem: h.reason },
            'damaged stretch kept out of the index (the blocks after it were kept)',
          );
      }
  return out;
}

// ---------------------------------------------------------------------------------------------------

interface OpenBlock {
  /** Records framed in place (no per-record buffers, one CRC call per record). */
  buf: Buffer;
  bytes: number;
  count: number;
  firstTime: number;
  lastTime: number;
  flags: number;
  openedAt: number;
  /** Checkpoint records in the block (not received messages: not counted as records). */
  checkpoints: number;
}

interface QueuedBlock {
  /** The records, uncompressed: set until compressed (compressIn 'thread-pool'), else undefined. */
  body: Buffer | undefined;
  /** The compressed payload, when the block was compressed as it was sealed (compressIn 'main-thread'). */
  compressed: Buffer | undefined;
  ulen: number;
  count: number;
  checkpoints: number;
  firstTime: number;
  lastTime: number;
  flags: number;
}

export interface WriterCounters {
  records: number;
  blocks: number;
  bytesIn: number;
  bytesOut: number;
  writeErrors: number;
  segments: number;
}

/**
 * Append-only writer of one (stream, venue, symbol). append() only buffers (cheap, synchronous); blocks
 * are compressed on the libuv thread pool and written in order by one async pump, so neither compression
 * nor a slow disk runs on the receive path. A failed write drops that block, logs, closes the segment;
 * the next block opens a new one.
 */
export class StreamWriter {
  readonly counters: WriterCounters = { records: 0, blocks: 0, bytesIn: 0, bytesOut: 0, writeErrors: 0, segments: 0 };
  /** Uncompressed bytes buffered or queued, not yet on disk. */
  pendingBytes = 0;
  /** Records durably handed to the OS (written), in order; for tests and progress reports. */
  writtenRecords = 0;
  private block: OpenBlock | undefined;
  /** The last block's buffer, once its records are compressed: reused (no fresh 256 KiB per block). */
  private spare: Buffer | undefined;
  private readonly queue: QueuedBlock[] = [];
  private pumping: Promise<void> | undefined;
  private fd: number | undefined;
  private segPath = '';
  private segBytes = 0;
  private segOpenedAt = 0;
  private segBlocks: BlockMeta[] = [];
  private lastFsync = 0;
  private dirty = false;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly stream: Stream,
    readonly venue: string,
    readonly symbol: string,
    private opts: StorageOptions,
    private readonly log: Logger,
    private readonly onWritten?: (w: StreamWriter, b: { count: number; lastTime: number }) => void,
    /** After every block, written or dropped, once pendingBytes is updated. */
    private readonly onProgress?: () => void,
  ) {
    if (stream === 'book' && (opts.checkpointEvents ?? 0) > 0 && opts.encoding !== 'json')
      this.ck = new CheckpointBook();
  }

  /** Buffer one record. A consolidated snapshot starts a new block, so the index can point at it. */
  append(kind: number, time: number, bytes: Buffer, isSnapshot = false): void {
    if (this.closed) return;
    const width = lenWidth(bytes.length);
    const b = this.open(time, recordHeader2Max(width) + bytes.length, isSnapshot ? FLAG_SNAPSHOT : 0);
    const p0 = b.bytes;
    const p = writeRecordHeader2(b.buf, p0, kind, bytes.length, width, time, b.count === 0 ? b.firstTime : b.lastTime);
    bytes.copy(b.buf, p);
    this.added(b, p + bytes.length - p0, time, bytes.length);
  }

  /**
   * Buffer one consolidated message (book stream): in binary form when it parses exactly (binrec.ts),
   * else as received (a snapshot, binary or not, starts a new block).
   */
  appendConsolidated(time: number, payload: Buffer, isSnapshot?: boolean): void {
    const t = parseConsolidated(payload);
    this.appendParsed(time, payload, isSnapshot ?? (t === 0 ? isSnapshotPayload(payload) : t === 2));
  }

  /** appendConsolidated after the caller ran parseConsolidated(payload) itself (the recorder, to check sequence). */
  appendParsed(time: number, payload: Buffer, isSnapshot?: boolean): void {
    if (this.closed) return;
    const t = parsed.type;
    if (t === 0 || this.opts.encoding === 'json') {
      this.appendJson(time, payload, isSnapshot ?? t === 2);
      return;
    }
    const max = maxBodyBytes(payload.length);
    const width = lenWidth(max);
    const b = this.open(time, recordHeader2Max(width) + max, t === 2 ? FLAG_SNAPSHOT : 0);
    const p = b.bytes;
    const buf = b.buf;
    const kind = t === 1 ? KIND_BIN_DELTA : KIND_BIN_SNAPSHOT;
    const prevTime = b.count === 0 ? b.firstTime : b.lastTime;
    const start = writeRecordHeader2(buf, p, kind, 0, width, time, prevTime);
    const end = encodeParsed(payload, buf, start, time);
    if (end < 0) {
      this.appendJson(time, payload, t === 2);
      return;
    }
    writeRecordHeader2(buf, p, kind, end - start, width, time, prevTime); // the length, now known (same width)
    // A sampled self-check of the codec against the payload: a mismatch (a bug) must never cost data.
    if ((++this.binCount & 1023) === 1 && !this.selfCheck(kind, buf, start, end, time, payload)) {
      this.appendJson(time, payload, t === 2);
      return;
    }
    this.added(b, end - p, time, payload.length);
    const r = this.ck;
    if (!r || (kind === KIND_BIN_DELTA && !r.synced)) return; // out of sync: wait for a snapshot (book-at does too)
    const seq = r.seq;
    if (kind === KIND_BIN_DELTA && chainsOnto(seq, parsed))
      r.applyParsedDelta(); // BookReplica's rule for a delta that chains, without building the message
    else r.onMessage(decodeBinary(kind, buf, start, end, time));
    this.afterTracked(time, t === 2);
  }

  /** A consolidated message stored as received (the codec declined it). */
  private appendJson(time: number, payload: Buffer, isSnapshot: boolean): void {
    this.append(KIND_MESSAGE, time, payload, isSnapshot);
    const r = this.ck;
    if (!r || (!isSnapshot && !r.synced)) return;
    try {
      r.onMessage(decodeConsolidated(payload));
    } catch {
      return;
    }
    this.afterTracked(time, isSnapshot);
  }

  /** Checkpoint state of the book stream: the book as a replica of the stream has it (ckbook.ts). */
  private readonly ck: CheckpointBook | undefined;
  private sinceCheckpoint = 0;

  private afterTracked(time: number, isSnapshot: boolean): void {
    if (isSnapshot) {
      this.sinceCheckpoint = 0;
      return;
    }
    if (++this.sinceCheckpoint < (this.opts.checkpointEvents ?? 0) || !this.ck!.synced) return;
    this.sinceCheckpoint = 0;
    this.writeCheckpoint(time);
  }

  private writeCheckpoint(time: number): void {
    const r = this.ck!;
    const { bids, asks } = r.snapshot();
    const max = maxCheckpointBytes(bids.length + asks.length);
    const width = lenWidth(max);
    const b = this.open(time, recordHeader2Max(width) + max, FLAG_CHECKPOINT);
    const p = b.bytes;
    const prevTime = b.count === 0 ? b.firstTime : b.lastTime;
    const start = writeRecordHeader2(b.buf, p, KIND_CHECKPOINT, 0, width, time, prevTime);
    const end = encodeCheckpoint(bids, asks, r.seq, this.venue, this.symbol, b.buf, start);
    if (end < 0) return; // a value outside the codec's range: no checkpoint this time
    writeRecordHeader2(b.buf, p, KIND_CHECKPOINT, end - start, width, time, prevTime);
    b.checkpoints++;
    this.added(b, end - p, time, 0, true);
  }

  private binCount = 0;

  private selfCheck(kind: number, buf: Buffer, start: number, end: number, time: number, payload: Buffer): boolean {
    let same = false;
    try {
      same = regenerateJson(decodeBinary(kind, buf, start, end, time)).equals(payload);
    } catch {
      /* same stays false */
    }
    if (!same) {
      this.opts = { ...this.opts, encoding: 'json' };
      this.log.error(
        { stream: this.stream, symbol: this.symbol, payload: payload.toString('latin1', 0, 300) },
        'binary record does not regenerate its payload (a bug): storing JSON from now on',
      );
    }
    return same;
  }

  /** The open block, with room for `need` more bytes (a snapshot seals the current one first). */
  private open(time: number, need: number, flags: number): OpenBlock {
    if (flags !== 0 && this.block && this.block.count > 0) this.seal();
    let b = this.block;
    if (b && b.count === 0) {
      // opened for a record that then went in another form (binary -> JSON fallback): start it afresh
      b.flags = flags;
      b.firstTime = b.lastTime = time;
    }
    if (!b) {
      const spare = this.spare;
      this.spare = undefined;
      b = this.block = {
        buf: spare && spare.length >= need ? spare : Buffer.allocUnsafe(Math.max(this.opts.blockBytes + 4096, need)),
        bytes: 0,
        count: 0,
        firstTime: time,
        lastTime: time,
        flags,
        openedAt: Date.now(),
        checkpoints: 0,
      };
    }
    if (b.bytes + need > b.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(b.buf.length * 2, b.bytes + need));
      b.buf.copy(bigger, 0, 0, b.bytes);
      b.buf = bigger;
    }
    return b;
  }

  private added(b: OpenBlock, bytes: number, time: number, payloadBytes: number, checkpoint = false): void {
    b.bytes += bytes;
    b.count++;
    b.lastTime = time;
    this.pendingBytes += bytes;
    if (!checkpoint) this.counters.records++;
    this.counters.bytesIn += payloadBytes;
    if (b.bytes >= this.opts.blockBytes) this.seal();
  }

  /** Seal the open block if it is older than the flush interval (called by the recorder's timer). */
  flushIfDue(now = Date.now()): void {
    if (this.block && now - this.block.openedAt >= this.opts.flushIntervalMs) this.seal();
  }

  /** Seal the open block now and queue it for writing. */
  seal(): void {
    const b = this.block;
    if (!b || b.count === 0) return;
    this.block = undefined;
    const body = b.buf.subarray(0, b.bytes);
    let compressed: Buffer | undefined;
    if (this.opts.compressIn !== 'thread-pool' && this.opts.codec !== 'none') {
      try {
        compressed = compressSync(body, this.opts);
        this.spare = b.buf; // compressed into a new buffer: the block's buffer is free for the next block
      } catch {
        compressed = undefined; // (never seen) the pump compresses it, and reports a failure
      }
    }
    this.queue.push({
      body: compressed ? undefined : body,
      compressed,
      ulen: b.bytes,
      count: b.count,
      checkpoints: b.checkpoints,
      firstTime: b.firstTime,
      lastTime: b.lastTime,
      flags: b.flags,
    });
    this.pumping ??= this.pump();
  }

  /** Resolves when everything sealed so far is written. */
  async drain(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const q = this.queue.shift()!;
        try {
          const c = q.compressed ?? (await compressAsync(q.body!, this.opts));
          const blk = blockBytes(this.opts.codec, q.flags, c, q.ulen, q.count, q.firstTime, q.lastTime);
          await this.writeBlock(blk, q);
          this.onWritten?.(this, q);
        } catch (e) {
          this.counters.writeErrors++;
          if (this.counters.writeErrors <= 10 || this.counters.writeErrors % 100 === 0)
            this.log.error(
              {
                dir: streamDir(this.dir, this.venue, this.symbol, this.stream),
                err: (e as Error).message,
                records: q.count,
                writeErrors: this.counters.writeErrors,
              },
              'recording write failed; block dropped',
            );
          this.closeSegment(false);
        } finally {
          this.pendingBytes -= q.ulen;
          this.onProgress?.();
        }
      }
    } finally {
      this.pumping = undefined;
    }
  }

  private async writeBlock(blk: Buffer, q: QueuedBlock): Promise<void> {
    const now = Date.now();
    if (
      this.fd !== undefined &&
      (this.segBytes >= this.opts.segmentBytes || now - this.segOpenedAt >= this.opts.segmentMs)
    )
      this.closeSegment(true);
    if (this.fd === undefined) this.openSegment(q.firstTime);
    const fd = this.fd!;
    const off = this.segBytes;
    await writeAllAsync(fd, blk, off);
    this.segBytes += blk.length;
    this.segBlocks.push({
      offset: off,
      clen: blk.length - BLOCK_HEADER_BYTES,
      count: q.count,
      firstTime: q.firstTime,
      lastTime: q.lastTime,
      flags: q.flags,
    });
    this.counters.blocks++;
    this.counters.bytesOut += blk.length;
    this.writtenRecords += q.count - q.checkpoints;
    this.dirty = true;
    if (
      this.opts.fsync === 'every-block' ||
      (this.opts.fsync === 'interval' && now - this.lastFsync >= this.opts.fsyncIntervalMs)
    )
      await this.fsync();
  }

  /** fsync the open segment if anything was written since the last one (the recorder's interval timer). */
  async fsync(): Promise<void> {
    if (this.fd === undefined || !this.dirty) return;
    this.dirty = false;
    this.lastFsync = Date.now();
    const fd = this.fd;
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
  }

  private openSegment(firstTime: number): void {
    const d = streamDir(this.dir, this.venue, this.symbol, this.stream);
    makeDir(d);
    let name = `${pad16(firstTime)}.seg`;
    for (let i = 1; fs.existsSync(path.join(d, name)); i++) name = `${pad16(firstTime)}-${i}.seg`;
    this.segPath = path.join(d, name);
    const fd = fs.openSync(this.segPath, 'wx');
    const h = segmentHeader({
      stream: this.stream,
      venue: this.venue,
      symbol: this.symbol,
      codec: this.opts.codec,
      created: new Date().toISOString(),
    });
    try {
      writeAll(fd, h, 0);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(this.segPath, { force: true });
      throw e;
    }
    this.fd = fd;
    this.segBytes = h.length;
    this.segOpenedAt = Date.now();
    this.segBlocks = [];
    this.counters.segments++;
    this.log.debug({ file: this.segPath }, 'segment opened');
  }

  /** Close the current segment; with its blocks intact, write its index (sealed). */
  private closeSegment(writeIdx: boolean): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      if (this.opts.fsync !== 'none') fs.fsyncSync(fd);
      fs.closeSync(fd);
      if (writeIdx) writeIndex(this.segPath, this.segBlocks);
      else recoverSegment(this.segPath); // after a failed write: cut what the failure left, seal the rest
    } catch (e) {
      this.log.error(
        { file: this.segPath, err: (e as Error).message },
        'closing segment failed (recovered on next start)',
      );
    }
  }

  /** Seal the open block, write everything, seal the segment. */
  async close(): Promise<void> {
    this.seal();
    await this.drain();
    this.closed = true;
    this.closeSegment(true);
  }
}

const SNAPSHOT_PREFIX = Buffer.from('{"v":1,"type":"snapshot"');

/** Is a consolidated payload the codec declined a snapshot? (the arbiter's layout by prefix, else JSON) */
function isSnapshotPayload(p: Buffer): boolean {
  if (p.length > SNAPSHOT_PREFIX.length && SNAPSHOT_PREFIX.compare(p, 0, SNAPSHOT_PREFIX.length) === 0) return true;
  if (p.length > 20 && p.toString('latin1', 0, 21) === '{"v":1,"type":"delta"') return false;
  try {
    return decodeConsolidated(p).type === 'snapshot';
  } catch {
    return false;
  }
}

function writeAllAsync(fd: number, buf: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number) => {
      if (done >= buf.length) return resolve();
      fs.write(fd, buf, done, buf.length - done, position + done, (e, n) => (e ? reject(e) : step(done + n)));
    };
    step(0);
  });
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, position + done);
}
