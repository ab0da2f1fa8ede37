/**
 * Capture replay: a real recording becomes a simulation. A capture is an NDJSON file of one venue's own
 * messages as received, one websocket frame per line (docs/venues.md, "Captures"):
 *   REST venues (binance, binance-usdm): line 1 is the REST depth snapshot body, then the diff messages
 *     (raw, or in a combined-stream envelope {"stream","data"}).
 *   websocket-snapshot venues (okx, bybit, bybit-linear): the first book message is the venue's snapshot
 *     (OKX `action: snapshot`, Bybit `type: snapshot`), then its deltas; where the snapshot is the first diff
 *     after subscribing (gemini), the first diff of the capture.
 * Every line is parsed by the venue's own adapter (src/venues: one parser for the collector and the
 * simulator), so the simulator reads exactly what a collector would. Lines the adapter ignores or refuses
 * (acks, pongs, other channels, junk) and books of another symbol than the first are counted and skipped;
 * events that end at or before the book (the adapter's sequence rule says stale) are dropped as a client
 * would; events that do not chain are kept and counted as gaps (clients will see them too). A later snapshot
 * (a Bybit restart, u = 1) replaces the book. OKX keep-alives are skipped (the simulator sends its own).
 * Truth = snapshot + replayed events. Replay sends the events in file order at the simulator's eventsPerSec,
 * each as captured (the protocol module re-stamps the event time, so latency figures stay meaningful).
 * Replica venues (VenueAdapter.merge 'replica': kraken, coinbase, gemini-v2) have no per-book id: the first
 * snapshot (Kraken `type: snapshot`, Coinbase l2_data `snapshot`, Gemini v2's first l2_updates, the one with
 * `trades`) starts the book and every later update of its symbol applies, in file order; the replay numbers
 * them 1, 2, ... (the snapshot 0). Their protocol modules encode each event from the truth's changes (Kraken's
 * checksum recomputed on the truth in the capture's own spelling, Coinbase's sequence_num per connection), so
 * a replay is what the venue would have sent. A Kraken stream keeps `depth` levels per side and sends no
 * delete for a level pushed out of them: the truth is cut to the recorded depth (the subscribe ack's
 * result.depth) after every event, as a Kraken client does, which is the book Kraken's checksums are of.
 * Coinbase: a hole in sequence_num within one connection (not a new connection's 0) counts as a gap.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Level } from '../core/types.js';
import type { StringLevel } from '../core/book.js';
import { findVenue } from '../venues/index.js';
import type { VenueAdapter } from '../venues/types.js';
import { KRAKEN_DEPTHS } from '../venues/kraken.js';
import { BookEvent, type Feed } from './feed.js';
import type { VenueId } from './protocols/types.js';
import { TruthBook, type UnitLevel } from './truthBook.js';
import { SCALE } from './units.js';

/** A capture that cannot be replayed: its message is one line for the user (the CLI prints it without a stack). */
export class CaptureError extends Error {
  override readonly name = 'CaptureError';
}

export interface CapturedEvent {
  /** The venue's id before the event (Binance pu or U-1, OKX prevSeqId, Bybit u-1). */
  prev: number;
  /** First and last id covered (Binance U/u, OKX prevSeqId+1/seqId, Bybit u/u). */
  first: number;
  last: number;
  bids: UnitLevel[];
  asks: UnitLevel[];
  /** A full book sent mid-stream (Bybit restart): it replaces the truth. */
  replace: boolean;
  /** The venue's message as captured. */
  frame: string;
}

export interface CaptureData {
  venue: VenueId;
  /** The book's symbol as the venue spells it (BTCUSDT, BTC-USDT). */
  symbol: string;
  /** The snapshot's id (Binance lastUpdateId, OKX seqId, Bybit u). */
  lastUpdateId: number;
  bids: UnitLevel[];
  asks: UnitLevel[];
  /** The snapshot as captured (line 1, or the venue's snapshot frame). */
  snapshotFrame: string;
  events: CapturedEvent[];
  /** Lines that were neither the snapshot nor a usable book event for the symbol. */
  ignored: number;
  /** Events dropped because they end at or before the book (or come before a websocket snapshot). */
  stale: number;
  /** Places where an event does not chain onto the previous one. */
  gaps: number;
  /** Replica venues with a limited stream (Kraken): the levels per side the recorded stream kept. */
  keepLevels?: number;
  /** Decimals of the prices and sizes as the capture spells them (Kraken, whose checksum is over that text). */
  priceDecimals?: number;
  sizeDecimals?: number;
}

/** Decimals of a number as written ("65000.1" -> 1, "5" -> 0). */
const decimalsOf = (s: string) => {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
};

/** Widen `into` to the largest price and size decimals of the levels' text as the venue wrote it; true. */
function widen(into: { price: number; size: number }, text: { bids: StringLevel[]; asks: StringLevel[] }): true {
  for (const [p, q] of [...text.bids, ...text.asks]) {
    into.price = Math.max(into.price, decimalsOf(p));
    into.size = Math.max(into.size, decimalsOf(q));
  }
  return true;
}

/** A Kraken-style subscribe ack's depth ({"method":"subscribe","result":{"depth":10,...}}), else undefined. */
function ackDepth(line: string): number | undefined {
  if (!line.includes('"depth"') || !line.includes('"result"')) return undefined;
  try {
    const d = (JSON.parse(line) as { result?: { depth?: unknown } }).result?.depth;
    return typeof d === 'number' && Number.isSafeInteger(d) && d > 0 ? d : undefined;
  } catch {
    return undefined;
  }
}

/** Levels in 1e-8 units, or undefined when one is not exactly a multiple of 1e-8 (the truth's precision). */
function toUnits(levels: readonly Level[]): UnitLevel[] | undefined {
  const out: UnitLevel[] = [];
  for (const [p, q] of levels) {
    const pu = Math.round(p * SCALE);
    const qu = Math.round(q * SCALE);
    if (!Number.isSafeInteger(pu) || !Number.isSafeInteger(qu) || pu / SCALE !== p || qu / SCALE !== q || pu <= 0)
      return undefined;
    out.push([pu, qu]);
  }
  return out;
}

const PRECISION = 'a price or size finer than 1e-8 or too large for the simulator (at most 8 decimals, 90 million)';

/** Parse a capture of `venue` (default binance). Throws an Error with a one-line message when unusable. */
export function parseCapture(text: string, venue: VenueId = 'binance'): CaptureData {
  const adapter = findVenue(venue);
  if (adapter === undefined) throw new CaptureError(`capture: unknown venue ${venue}`);
  if (adapter.merge === 'replica') return parseReplicaCapture(text, venue, adapter);
  const rest = adapter.snapshotSource === 'rest';
  const lines = text.split('\n');
  let data: CaptureData | undefined;
  let start = 0;
  let ignored = 0;
  let early = 0;
  if (rest) {
    const first = lines[0] ?? '';
    const r = adapter.parseSnapshot?.(first, '', 'capture', 0);
    const snap = r?.snapshot;
    if (snap === undefined)
      throw new CaptureError(
        `capture: line 1 is not a ${adapter.name} REST depth snapshot (${r?.error ?? 'no REST snapshot'}); a ${venue} capture starts with the snapshot body`,
      );
    const bids = toUnits(snap.bids);
    const asks = toUnits(snap.asks);
    if (!bids || !asks) throw new CaptureError(`capture: the snapshot on line 1 has ${PRECISION}`);
    data = {
      venue,
      symbol: '',
      lastUpdateId: snap.seq,
      bids,
      asks,
      snapshotFrame: first,
      events: [],
      ignored: 0,
      stale: 0,
      gaps: 0,
    };
    start = 1;
  }
  let seq = data?.lastUpdateId ?? 0;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const r = adapter.parse(line, 'capture', 0);
    // a venue whose snapshot is the first diff after subscribing (Gemini): a capture starts at its subscribe
    if (data === undefined && r.delta !== undefined && adapter.snapshotFromFirstDelta !== undefined) {
      const s = adapter.snapshotFromFirstDelta(r.delta);
      if (s.snapshot !== undefined) {
        r.snapshot = s.snapshot;
        delete r.delta;
      }
    }
    const ev = r.delta ?? r.snapshot;
    if (ev === undefined) {
      ignored++;
      continue;
    }
    if (data === undefined) {
      // websocket-snapshot venue: the book starts at its first snapshot; events before it cannot be placed
      if (r.snapshot === undefined) {
        early++;
        continue;
      }
      const bids = toUnits(r.snapshot.bids);
      const asks = toUnits(r.snapshot.asks);
      if (!bids || !asks) throw new CaptureError(`capture: the snapshot on line ${i + 1} has ${PRECISION}`);
      data = {
        venue,
        symbol: r.snapshot.symbol,
        lastUpdateId: r.snapshot.seq,
        bids,
        asks,
        snapshotFrame: line,
        events: [],
        ignored: 0,
        stale: 0,
        gaps: 0,
      };
      seq = r.snapshot.seq;
      continue;
    }
    if (data.symbol === '') data.symbol = ev.symbol;
    const bids = toUnits(ev.bids);
    const asks = toUnits(ev.asks);
    if (ev.symbol !== data.symbol || !bids || !asks) {
      ignored++;
      continue;
    }
    if (r.snapshot !== undefined) {
      data.events.push({
        prev: seq,
        first: r.snapshot.seq,
        last: r.snapshot.seq,
        bids,
        asks,
        replace: true,
        frame: line,
      });
      seq = r.snapshot.seq;
      continue;
    }
    const d = r.delta!;
    const prev = d.prev ?? d.first - 1;
    if (d.reset === true) {
      if (prev !== seq) data.gaps++;
    } else if (prev === d.last && bids.length + asks.length === 0) {
      ignored++; // a keep-alive: the simulator sends its own
      continue;
    } else {
      const verdict = adapter.rule.check(seq, d);
      if (verdict === 'stale') {
        data.stale++;
        continue;
      }
      if (verdict === 'gap') data.gaps++;
    }
    data.events.push({ prev, first: d.first, last: d.last, bids, asks, replace: false, frame: line });
    seq = d.last;
  }
  if (data === undefined)
    throw new CaptureError(
      `capture: no ${adapter.name} book snapshot found (a ${venue} capture starts with the venue's snapshot message)`,
    );
  if (data.symbol === '') throw new CaptureError(`capture: no ${adapter.name} book events found after the snapshot`);
  data.ignored = ignored;
  data.stale += early;
  return data;
}

/**
 * A capture of a venue without per-book ids (merge 'replica'): the first snapshot of a book, then every
 * update of that book in file order (a later snapshot replaces it), numbered 1, 2, ...
 */
function parseReplicaCapture(text: string, venue: VenueId, adapter: VenueAdapter): CaptureData {
  let data: CaptureData | undefined;
  let ignored = 0;
  let early = 0;
  let depth: number | undefined;
  /** The decimals of the levels' text, where the adapter keeps it (Kraken's checksum is over that text). */
  const spelling = { price: 0, size: 0 };
  let spelled = false;
  /** Coinbase's per-connection counter: the last sequence_num seen, and its holes. */
  let connectionSeq: number | undefined;
  let holes = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const r = adapter.parse(line, 'capture', 0);
    if (r.connectionSeq !== undefined) {
      // 0 is a new connection (its own snapshot follows), anything else must follow on
      if (connectionSeq !== undefined && r.connectionSeq !== 0 && r.connectionSeq !== connectionSeq + 1) holes++;
      connectionSeq = r.connectionSeq;
    }
    const ev = r.delta ?? r.snapshot;
    if (ev === undefined) {
      if (data === undefined) depth = ackDepth(line) ?? depth;
      ignored++;
      continue;
    }
    const bids = toUnits(ev.bids);
    const asks = toUnits(ev.asks);
    if (data === undefined) {
      if (r.snapshot === undefined) {
        early++; // an update before any snapshot cannot be placed
        continue;
      }
      if (!bids || !asks) throw new CaptureError(`capture: the snapshot on line ${i + 1} has ${PRECISION}`);
      data = {
        venue,
        symbol: ev.symbol,
        lastUpdateId: 0,
        bids,
        asks,
        snapshotFrame: line,
        events: [],
        ignored: 0,
        stale: 0,
        gaps: 0,
      };
      if (ev.integrity !== undefined) spelled = widen(spelling, ev.integrity);
      continue;
    }
    if (ev.symbol !== data.symbol || !bids || !asks || bids.length + asks.length === 0) {
      ignored++;
      continue;
    }
    if (ev.integrity !== undefined) spelled = widen(spelling, ev.integrity);
    const n = data.events.length + 1;
    data.events.push({ prev: n - 1, first: n, last: n, bids, asks, replace: r.snapshot !== undefined, frame: line });
  }
  if (data === undefined)
    throw new CaptureError(
      `capture: no ${adapter.name} book snapshot found (a ${venue} capture starts with the venue's snapshot message)`,
    );
  data.ignored = ignored;
  data.stale = early;
  data.gaps = holes;
  if (adapter.bookDepth !== undefined) {
    // the stream's depth: the ack's, else the least the venue offers that holds the snapshot
    const widest = Math.max(data.bids.length, data.asks.length);
    data.keepLevels = depth ?? KRAKEN_DEPTHS.find((d) => d >= widest) ?? widest;
  }
  if (spelled) {
    data.priceDecimals = spelling.price;
    data.sizeDecimals = spelling.size;
  }
  return data;
}

/** Largest capture file read (the whole file is held in memory, parsed, as the replay's truth). */
export const MAX_CAPTURE_BYTES = 512 * 1024 * 1024;

export async function loadCapture(
  path: string,
  venue: VenueId = 'binance',
  maxBytes = MAX_CAPTURE_BYTES,
): Promise<CaptureData> {
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > maxBytes)
      throw new CaptureError(
        `capture: ${path} is ${size} bytes, more than a replay holds in memory (${maxBytes} bytes); cut it (head -n) into shorter captures`,
      );
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof CaptureError) throw e;
    throw new CaptureError(
      `capture: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return parseCapture(text, venue);
}

/** Largest power of ten (<= 1e8 units, i.e. 1.0) dividing every value: the implied tick / step. */
function impliedIncrement(values: number[]): number {
  let inc = 100_000_000;
  for (const v of values) {
    while (inc > 1 && v % inc !== 0) inc /= 10;
  }
  return inc;
}

export class CaptureFeed implements Feed {
  readonly book = new TruthBook();
  readonly tickUnits: number;
  readonly stepUnits: number;
  seq = 0;
  /** The capture's spelling of prices and sizes (Kraken): protocols spell the truth that way. */
  readonly priceDecimals: number | undefined;
  readonly sizeDecimals: number | undefined;
  private nextIndex = 0;

  constructor(
    private readonly data: CaptureData,
    /** Canonical symbol (the simulator's spelling). */
    readonly symbol: string,
    /** The protocol's limited depths (views, as a synthetic feed records them). */
    private readonly depths: readonly number[] = [],
    /** The one depth this capture was recorded at, where the venue has several (Bybit orderbook.50). */
    readonly depth?: number,
  ) {
    for (const [p, q] of data.bids) this.book.bids.set(p, q);
    for (const [p, q] of data.asks) this.book.asks.set(p, q);
    this.book.lastUpdateId = data.lastUpdateId;
    const levels = [...data.bids, ...data.asks, ...data.events.flatMap((e) => [...e.bids, ...e.asks])];
    this.tickUnits = impliedIncrement(levels.map((l) => l[0]));
    this.stepUnits = impliedIncrement(levels.map((l) => l[1]).filter((q) => q > 0));
    this.priceDecimals = data.priceDecimals;
    this.sizeDecimals = data.sizeDecimals;
  }

  get remaining(): number {
    return this.data.events.length - this.nextIndex;
  }

  next(eventTimeMs: number): BookEvent | undefined {
    const ev = this.data.events[this.nextIndex];
    if (ev === undefined) return undefined;
    this.nextIndex++;
    const book = this.book;
    book.begin(this.depths);
    if (ev.replace) {
      for (const p of [...book.bids.prices]) book.set(true, p, 0);
      for (const p of [...book.asks.prices]) book.set(false, p, 0);
    }
    for (const [p, q] of ev.bids) book.set(true, p, q);
    for (const [p, q] of ev.asks) book.set(false, p, q);
    const keep = this.data.keepLevels;
    if (keep !== undefined) {
      // a limited stream (Kraken) sends no delete for a level pushed out of its depth: its clients cut there
      while (book.bids.count > keep) book.set(true, book.bids.worst(), 0);
      while (book.asks.count > keep) book.set(false, book.asks.worst(), 0);
    }
    const changes = book.end();
    book.lastUpdateId = ev.last;
    this.seq++;
    const out = new BookEvent(this.symbol, eventTimeMs, ev.prev, ev.first, ev.last, this.seq, changes);
    out.captured = ev.frame;
    return out;
  }
}
