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
 */
import { readFile, stat } from 'node:fs/promises';
import type { Level } from '../core/types.js';
import { findVenue } from '../venues/index.js';
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
    const changes = book.end();
    book.lastUpdateId = ev.last;
    this.seq++;
    const out = new BookEvent(this.symbol, eventTimeMs, ev.prev, ev.first, ev.last, this.seq, changes);
    out.captured = ev.frame;
    return out;
  }
}
