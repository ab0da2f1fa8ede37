/**
 * Reading recordings: records of one stream in a time range (index-guided, so a range read opens only
 * the segments and blocks it needs), the nearest consolidated snapshot before an instant, and book-at.
 * A damaged block is skipped with a warning; reading goes on with the next block (or segment).
 */
import fs from 'node:fs';
import { BookReplica } from '../core/replica.js';
import type { OrderBook } from '../core/book.js';
import { decodeConsolidated, type ConsolidatedMessage } from '../wire/messages.js';
import { fastDecodeDelta } from './fastdecode.js';
import { FLAG_SNAPSHOT, KIND_MESSAGE, decodeBlock, type BlockMeta, type Rec, type Stream } from './format.js';
import { listSegments, readBlock, segmentBlocks, type SegmentFile } from './segment.js';

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
  onWarning?: (msg: string, detail: Record<string, unknown>) => void;
}

export interface Position {
  segment: number;
  block: number;
}

/** Records of one stream with from <= time <= to, in file order (= receive order). */
export function* readRecords(o: ReadOptions): Generator<Rec & { stream: Stream }, void, undefined> {
  const segs = listSegments(o.dir, o.venue, o.symbol, o.stream);
  const from = o.from ?? -Infinity;
  const to = o.to ?? Infinity;
  const warn = o.onWarning ?? (() => {});
  let si = o.startAt?.segment ?? firstSegmentFor(segs, from);
  for (; si < segs.length; si++) {
    const seg = segs[si];
    if (seg.start > to) return;
    const { blocks, problem } = segmentBlocks(seg);
    if (problem && (seg.sealed || si < segs.length - 1))
      warn('segment damaged: rest of it skipped', { file: seg.path, problem });
    let bi = o.startAt && si === o.startAt.segment ? o.startAt.block : firstBlockFor(blocks, from);
    let fd: number;
    try {
      fd = fs.openSync(seg.path, 'r');
    } catch (e) {
      warn('segment unreadable: skipped', { file: seg.path, err: (e as Error).message });
      continue;
    }
    try {
      for (; bi < blocks.length; bi++) {
        const m = blocks[bi];
        if (m.firstTime > to) return;
        let recs: Rec[];
        try {
          recs = decodeBlock(readBlock(fd, m), false);
        } catch (e) {
          warn('corrupt block skipped', {
            file: seg.path,
            offset: m.offset,
            records: m.count,
            err: (e as Error).message,
          });
          continue;
        }
        for (const r of recs as (Rec & { stream: Stream })[]) {
          if (r.time < from) continue;
          if (r.time > to) return;
          r.stream = o.stream;
          yield r;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Index of the last segment that starts at or before t (segments are contiguous in time). */
function firstSegmentFor(segs: readonly SegmentFile[], t: number): number {
  let i = 0;
  while (i + 1 < segs.length && segs[i + 1].start <= t) i++;
  return i;
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

/** Position of the last block starting with a consolidated snapshot at or before t, if any. */
export function snapshotBefore(
  dir: string,
  venue: string,
  symbol: string,
  t: number,
): (Position & { time: number }) | undefined {
  const segs = listSegments(dir, venue, symbol, 'book');
  for (let si = segs.length - 1; si >= 0; si--) {
    if (segs[si].start > t) continue;
    const { blocks } = segmentBlocks(segs[si]);
    for (let bi = blocks.length - 1; bi >= 0; bi--) {
      const b = blocks[bi];
      if (b.flags & FLAG_SNAPSHOT && b.firstTime <= t) return { segment: si, block: bi, time: b.firstTime };
    }
  }
  return undefined;
}

export interface BookAt {
  venue: string;
  symbol: string;
  /** The instant asked for, epoch µs. */
  at: number;
  /** Consolidated seq of the book. */
  seq: number;
  /** False if a gap since the snapshot could not be healed before `at` (the book is then as of `seq`). */
  synced: boolean;
  book: OrderBook;
  /** Receive time of the snapshot started from, and of the last message applied. */
  snapshotTime: number;
  lastTime: number;
  messagesApplied: number;
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
  const start = snapshotBefore(o.dir, o.venue, o.symbol, o.at);
  if (!start) return undefined;
  const replica = new BookReplica();
  let lastTime = start.time;
  let applied = 0;
  for (const r of readRecords({
    dir: o.dir,
    venue: o.venue,
    symbol: o.symbol,
    stream: 'book',
    to: o.at,
    startAt: start,
    onWarning: o.onWarning,
  })) {
    if (r.kind !== KIND_MESSAGE) continue;
    let m: ConsolidatedMessage;
    try {
      m = fastDecodeDelta(r.bytes) ?? decodeConsolidated(r.bytes);
    } catch {
      continue;
    }
    const v = replica.onMessage(m);
    if (v === 'applied' || v === 'reset') {
      applied++;
      lastTime = r.time;
    }
  }
  if (replica.seq < 0) return undefined;
  return {
    venue: o.venue,
    symbol: o.symbol,
    at: o.at,
    seq: replica.seq,
    synced: replica.synced,
    book: replica.book,
    snapshotTime: start.time,
    lastTime,
    messagesApplied: applied,
  };
}
