/**
 * Reading recordings: records of one stream in a time range (index-guided, so a range read opens only
 * the segments and blocks it needs), the nearest consolidated snapshot before an instant, and book-at.
 * A damaged block is skipped with a warning; reading goes on with the next block (or segment).
 *
 * Records are read lazily: a StoredRecord is a view into its block's uncompressed payload, and the exact
 * bus payload of a binary record (format 02, binrec.ts) is only regenerated when `bytes` is asked for.
 * Rebuilding a book (book-at, replayBook) applies binary deltas straight into the book's arrays.
 */
import fs from 'node:fs';
import { BookReplica, type ReplicaVerdict } from '../core/replica.js';
import type { OrderBook } from '../core/book.js';
import { chainsOnto } from '../core/sequence.js';
import { decodeConsolidated, type ConsolidatedMessage } from '../wire/messages.js';
import { applyDeltaLevels, decodeBinary, deltaHead, readDeltaHead, regenerateJson } from './binrec.js';
import { fastDecodeDelta } from './fastdecode.js';
import {
  BLOCK_HEADER_BYTES,
  FLAG_CHECKPOINT,
  FLAG_SNAPSHOT,
  KIND_CHECKPOINT,
  KIND_BIN_DELTA,
  KIND_BIN_SNAPSHOT,
  KIND_GAP,
  KIND_MESSAGE,
  RecordWalker,
  SEGMENT_VERSIONS_READ,
  UnsupportedVersionError,
  blockBody,
  isBinaryKind,
  segmentVersion,
  type BlockMeta,
  type Rec,
  type Stream,
} from './format.js';
import { listSegments, readBlock, segmentBlocks, type SegmentBlocks, type SegmentFile } from './segment.js';
import type { OnWarning, Skipped } from './skips.js';

export interface ReadOptions {
  dir: string;
  venue: string;
  symbol: string;
  stream: Stream;
  /** Epoch µs, inclusive. */
  from?: number;
  /** Epoch µs, inclusive. */
  to?: number;
  /** Start at this block instead of searching for `from` (book-at / replay warm-up). */
  startAt?: { segment: number; block: number };
  /** Called for every stretch of the recording skipped as unreadable; `detail` is a Skipped (skips.ts). */
  onWarning?: OnWarning;
}

export interface Position {
  segment: number;
  block: number;
}

/** One stored record, read lazily from its block (see the file comment). */
export class StoredRecord implements Rec {
  /** 1 bus message (binary consolidated records too), 2 gap marker. */
  readonly kind: number;
  private cached: Buffer | undefined;
  constructor(
    readonly stream: Stream,
    /** The kind as stored: 1 JSON message, 2 gap marker, 3/4 binary consolidated delta/snapshot. */
    readonly storedKind: number,
    readonly time: number,
    readonly body: Buffer,
    readonly start: number,
    readonly end: number,
  ) {
    this.kind = isBinaryKind(storedKind) ? KIND_MESSAGE : storedKind;
  }

  /** The exact bus payload (or the gap marker's JSON). */
  get bytes(): Buffer {
    return (this.cached ??= isBinaryKind(this.storedKind)
      ? regenerateJson(this.consolidated())
      : this.body.subarray(this.start, this.end));
  }

  /** The consolidated message (book stream); throws on a payload that does not decode. */
  consolidated(): ConsolidatedMessage {
    if (isBinaryKind(this.storedKind)) return decodeBinary(this.storedKind, this.body, this.start, this.end, this.time);
    const b = this.bytes;
    return fastDecodeDelta(b) ?? decodeConsolidated(b);
  }
}

/** Refuse a segment of a format version this build does not read, by name (never read it as garbage). */
function checkVersion(fd: number, file: string): void {
  const head = Buffer.alloc(8);
  fs.readSync(fd, head, 0, 8, 0);
  const v = segmentVersion(head);
  if (v !== undefined && !SEGMENT_VERSIONS_READ.includes(v)) {
    const e = new UnsupportedVersionError(v);
    e.message = `${file}: ${e.message}`;
    throw e;
  }
}

/**
 * The damage of one segment as Skipped details, with the times the lost records lie between: the last
 * readable block before each stretch (or the segment's first time) and the first one after it (or the next
 * segment's first time). The tail of the newest segment, if unsealed, is the block being written: not damage.
 */
export function segmentSkips(
  seg: SegmentFile,
  sb: Pick<SegmentBlocks, 'blocks' | 'damage'>,
  newest: boolean,
  nextStart: number | undefined,
): Skipped[] {
  const out: Skipped[] = [];
  let bi = 0;
  for (const d of sb.damage) {
    if (d.tail && newest && !seg.sealed) continue;
    while (bi < sb.blocks.length && sb.blocks[bi].offset < d.from) bi++;
    out.push({
      file: seg.path,
      from: d.from,
      to: d.to,
      reason: d.reason,
      afterTime: bi > 0 ? sb.blocks[bi - 1].lastTime : seg.start,
      beforeTime: bi < sb.blocks.length ? sb.blocks[bi].firstTime : nextStart,
    });
  }
  return out;
}

/** Record walkers over the blocks of one stream that may hold records in [from, to]; skips reported on the way. */
function* bodies(o: ReadOptions): Generator<RecordWalker, void, undefined> {
  const segs = listSegments(o.dir, o.venue, o.symbol, o.stream);
  const from = o.from ?? -Infinity;
  const to = o.to ?? Infinity;
  const warn = o.onWarning ?? (() => {});
  let si = o.startAt?.segment ?? firstSegmentFor(segs, from);
  for (; si < segs.length; si++) {
    const seg = segs[si];
    if (seg.start > to) return;
    const nextStart = segs[si + 1]?.start;
    let fd: number;
    try {
      fd = fs.openSync(seg.path, 'r');
    } catch (e) {
      warn('segment unreadable: skipped', skipOfFile(seg, e, nextStart));
      continue;
    }
    try {
      checkVersion(fd, seg.path);
      const sb = segmentBlocks(seg);
      const { blocks } = sb;
      let bi = o.startAt && si === o.startAt.segment ? o.startAt.block : firstBlockFor(blocks, from);
      const startOffset = bi < blocks.length ? blocks[bi].offset : Infinity;
      // the stretches that may hold records in the range, reported as the read passes them
      const skips = segmentSkips(seg, sb, si === segs.length - 1, nextStart).filter(
        (k) =>
          (k.beforeTime ?? Infinity) >= from &&
          (k.afterTime ?? -Infinity) <= to &&
          (!(o.startAt && si === o.startAt.segment) || k.from! >= startOffset),
      );
      let ki = 0;
      const passed = (offset: number) => {
        while (ki < skips.length && skips[ki].from! < offset) warn('segment damaged: bytes skipped', skips[ki++]);
      };
      for (; bi < blocks.length; bi++) {
        const m = blocks[bi];
        passed(m.offset);
        if (m.firstTime > to) return;
        let body: RecordWalker;
        try {
          const b = blockBody(readBlock(fd, m));
          body = new RecordWalker(b.body, b.version, b.firstTime);
          body.check(b.count);
        } catch (e) {
          warn('corrupt block skipped', corruptBlock(seg, sb, bi, (e as Error).message, nextStart));
          continue;
        }
        yield body;
      }
      passed(Infinity);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** A segment that cannot be opened, as a Skipped. */
function skipOfFile(seg: SegmentFile, e: unknown, nextStart: number | undefined): Skipped {
  return { file: seg.path, reason: (e as Error).message, afterTime: seg.start, beforeTime: nextStart };
}

/** Block `bi` of a segment failed its checks on read, as a Skipped. */
function corruptBlock(
  seg: SegmentFile,
  sb: SegmentBlocks,
  bi: number,
  reason: string,
  nextStart: number | undefined,
): Skipped {
  const m = sb.blocks[bi];
  return {
    file: seg.path,
    from: m.offset,
    to: m.offset + BLOCK_HEADER_BYTES + m.clen,
    reason,
    // a count from the index is checked by its CRC; one from a block header that failed its CRC is not
    ...(sb.indexed ? { records: m.count - (m.flags & FLAG_CHECKPOINT ? 1 : 0) } : {}),
    afterTime: bi > 0 ? sb.blocks[bi - 1].lastTime : seg.start,
    beforeTime: bi + 1 < sb.blocks.length ? sb.blocks[bi + 1].firstTime : nextStart,
  };
}

/** Can block `m` be read (CRC, decompression, framing)? The error message if not. */
function blockProblem(fd: number, m: BlockMeta): string | undefined {
  try {
    const b = blockBody(readBlock(fd, m));
    new RecordWalker(b.body, b.version, b.firstTime).check(b.count);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * First and last receive time recorded in one stream (for progress and defaults), from the first and the
 * last segments that have a readable block; segments skipped on the way are reported.
 */
export function recordedRange(
  dir: string,
  venue: string,
  symbol: string,
  stream: Stream,
  onWarning?: OnWarning,
): { first: number; last: number } | undefined {
  const segs = listSegments(dir, venue, symbol, stream);
  const warn = onWarning ?? (() => {});
  const blocksOf = (si: number): BlockMeta[] => {
    const seg = segs[si];
    let sb: SegmentBlocks;
    try {
      sb = segmentBlocks(seg);
    } catch (e) {
      if (e instanceof UnsupportedVersionError) throw e;
      warn('segment unreadable: skipped', skipOfFile(seg, e, segs[si + 1]?.start));
      return [];
    }
    if (sb.blocks.length === 0)
      for (const k of segmentSkips(seg, sb, si === segs.length - 1, segs[si + 1]?.start))
        warn('segment damaged: bytes skipped', k);
    return sb.blocks;
  };
  let fi = 0;
  let first: BlockMeta[] = [];
  for (; fi < segs.length && first.length === 0; fi++) first = blocksOf(fi);
  if (first.length === 0) return undefined;
  let last: BlockMeta[] = [];
  for (let li = segs.length - 1; li >= fi && last.length === 0; li--) last = blocksOf(li);
  if (last.length === 0) last = first;
  return { first: first[0].firstTime, last: last[last.length - 1].lastTime };
}

/** Records of one stream with from <= time <= to, in file order (= receive order). */
export function* readRecords(o: ReadOptions): Generator<StoredRecord, void, undefined> {
  const from = o.from ?? -Infinity;
  const to = o.to ?? Infinity;
  for (const w of bodies(o))
    while (w.next()) {
      const time = w.time;
      if (time > to) return;
      if (time >= from && w.kind !== KIND_CHECKPOINT)
        yield new StoredRecord(o.stream, w.kind, time, w.body, w.start, w.end);
    }
}

/** Index of the last segment that starts at or before t (segments are contiguous in time). */
function firstSegmentFor(segs: readonly SegmentFile[], t: number): number {
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (segs[mid].start <= t) lo = mid;
    else hi = mid - 1;
  }
  return Math.max(0, lo);
}

/** First block whose lastTime >= t (binary search: blocks are in time order). */
function firstBlockFor(blocks: readonly BlockMeta[], t: number): number {
  let lo = 0;
  let hi = blocks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (blocks[mid].lastTime < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Position of the last readable block starting with a consolidated snapshot or a checkpoint at or before
 * t, if any. A candidate block that does not verify is reported and passed over for an earlier one (in
 * its segment or an earlier segment), as is a segment that cannot be opened.
 */
export function snapshotBefore(
  dir: string,
  venue: string,
  symbol: string,
  t: number,
  onWarning?: OnWarning,
): (Position & { time: number; checkpoint: boolean }) | undefined {
  const segs = listSegments(dir, venue, symbol, 'book');
  const warn = onWarning ?? (() => {});
  for (let si = segs.length - 1; si >= 0; si--) {
    const seg = segs[si];
    if (seg.start > t) continue;
    let fd: number;
    let sb: SegmentBlocks;
    try {
      fd = fs.openSync(seg.path, 'r');
    } catch (e) {
      warn('segment unreadable: skipped', skipOfFile(seg, e, segs[si + 1]?.start));
      continue;
    }
    try {
      checkVersion(fd, seg.path);
      sb = segmentBlocks(seg);
      const { blocks } = sb;
      // last block starting at or before t (binary search), then back to the nearest snapshot block
      let lo = 0;
      let hi = blocks.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (blocks[mid].firstTime <= t) lo = mid + 1;
        else hi = mid;
      }
      for (let bi = lo - 1; bi >= 0; bi--) {
        const b = blocks[bi];
        if (!(b.flags & (FLAG_SNAPSHOT | FLAG_CHECKPOINT) && b.firstTime <= t)) continue;
        const problem = blockProblem(fd, b);
        if (problem !== undefined) {
          warn('corrupt block skipped', corruptBlock(seg, sb, bi, problem, segs[si + 1]?.start));
          continue;
        }
        return { segment: si, block: bi, time: b.firstTime, checkpoint: (b.flags & FLAG_SNAPSHOT) === 0 };
      }
      // nothing to start from here: a damaged stretch before t may have held one
      for (const k of segmentSkips(seg, sb, si === segs.length - 1, segs[si + 1]?.start))
        if ((k.afterTime ?? -Infinity) <= t) warn('segment damaged: bytes skipped', k);
    } finally {
      fs.closeSync(fd);
    }
  }
  return undefined;
}

/** What one record did to a book being rebuilt: a replica verdict, or a recorder gap marker. */
export type BookVerdict = ReplicaVerdict | 'gap-marker' | 'skipped';

/**
 * Apply one stored consolidated record to a replica. A binary delta that chains is applied straight into
 * the book's arrays (BookReplica's rule for a synced replica, inlined: no message object, no level arrays);
 * everything else goes through BookReplica.onMessage.
 */
export function applyStored(
  replica: BookReplica,
  kind: number,
  body: Buffer,
  start: number,
  end: number,
  time: number,
): BookVerdict {
  if (kind === KIND_BIN_DELTA) {
    readDeltaHead(body, start);
    const h = deltaHead;
    const seq = replica.seq;
    if (replica.synced && chainsOnto(seq, h)) {
      applyDeltaLevels(replica.book);
      replica.seq = h.seq;
      return 'applied';
    }
    return replica.onMessage(decodeBinary(kind, body, start, end, time));
  }
  if (kind === KIND_BIN_SNAPSHOT) return replica.onMessage(decodeBinary(kind, body, start, end, time));
  if (kind === KIND_GAP) return 'gap-marker';
  if (kind !== KIND_MESSAGE) return 'skipped';
  const b = body.subarray(start, end);
  let m: ConsolidatedMessage;
  try {
    m = fastDecodeDelta(b) ?? decodeConsolidated(b);
  } catch {
    return 'skipped';
  }
  return replica.onMessage(m);
}

/** One step of a book rebuild (the same object every time: read it, do not keep it). */
export interface BookStep {
  /** Recorder receive time of the record, epoch µs. */
  time: number;
  /** What the record did: applied, reset (a snapshot), stale, gap, buffered, or a recorder 'gap-marker'. */
  verdict: BookVerdict;
  /** The replica being rebuilt: `book`, `seq`, `synced`. */
  replica: BookReplica;
}

/**
 * Apply the consolidated records of one book to `replica`, from block `startAt` (or the first block
 * holding `from`) up to `to` inclusive; yields every record at or after `from` (earlier ones are applied
 * silently: the warm-up of a replay that starts mid-recording).
 */
export function* applyRange(
  replica: BookReplica,
  o: Omit<ReadOptions, 'stream'> & { applyFrom?: number },
): Generator<BookStep, void, undefined> {
  const to = o.to ?? Infinity;
  const yieldFrom = o.applyFrom ?? -Infinity;
  const step: BookStep = { time: 0, verdict: 'skipped', replica };
  for (const w of bodies({ ...o, stream: 'book', from: o.startAt ? undefined : o.from }))
    while (w.next()) {
      const time = w.time;
      if (time > to) return;
      if (w.kind === KIND_CHECKPOINT) {
        // a starting point only: a replica already running has this book (and skipping it costs nothing)
        if (replica.seq < 0) replica.onMessage(decodeBinary(KIND_CHECKPOINT, w.body, w.start, w.end, time));
        continue;
      }
      const v = applyStored(replica, w.kind, w.body, w.start, w.end, time);
      if (time >= yieldFrom) {
        step.time = time;
        step.verdict = v;
        yield step;
      }
    }
}

export interface BookAt {
  venue: string;
  symbol: string;
  /** The instant asked for, epoch µs. */
  at: number;
  /** Consolidated seq of the book. */
  seq: number;
  /**
   * False if a gap since the snapshot could not be healed before `at`, or records since it were unreadable
   * (`skipped`): the book is then as of `seq`.
   */
  synced: boolean;
  book: OrderBook;
  /** Receive time of the snapshot (or recorder checkpoint) started from, and of the last message applied. */
  snapshotTime: number;
  lastTime: number;
  messagesApplied: number;
  /**
   * Stretches of the recording between the snapshot and `at` that could not be read: the book spans
   * them (records were lost there; `synced` is false unless the stream healed after them).
   */
  skipped: Skipped[];
}

/**
 * The consolidated book at instant `at` (recorder receive time): nearest snapshot at or before it plus
 * the messages after it, applied by the client's sequence rule. undefined when nothing was recorded
 * before `at`.
 */
export function bookAt(o: {
  dir: string;
  venue: string;
  symbol: string;
  at: number;
  onWarning?: ReadOptions['onWarning'];
}): BookAt | undefined {
  const start = snapshotBefore(o.dir, o.venue, o.symbol, o.at, o.onWarning);
  if (!start) return undefined;
  const skipped: Skipped[] = [];
  const onWarning: OnWarning = (msg, d) => {
    if (typeof d.file === 'string') skipped.push(d as Skipped);
    o.onWarning?.(msg, d);
  };
  const replica = new BookReplica();
  let lastTime = start.time;
  let applied = start.checkpoint ? 1 : 0; // the checkpoint loaded, as a snapshot counts itself
  for (const s of applyRange(replica, {
    dir: o.dir,
    venue: o.venue,
    symbol: o.symbol,
    to: o.at,
    startAt: start,
    onWarning,
  }))
    if (s.verdict === 'applied' || s.verdict === 'reset') {
      applied++;
      lastTime = s.time;
    }
  if (replica.seq < 0) return undefined;
  return {
    venue: o.venue,
    symbol: o.symbol,
    at: o.at,
    seq: replica.seq,
    // exact only if every record between the snapshot and `at` was read (no later snapshot can heal it)
    synced: replica.synced && skipped.length === 0,
    book: replica.book,
    snapshotTime: start.time,
    lastTime,
    messagesApplied: applied,
    skipped,
  };
}
