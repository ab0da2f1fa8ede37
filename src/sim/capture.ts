/**
 * Capture replay. File format (NDJSON):
 *   line 1: a REST depth snapshot {"lastUpdateId":N,"bids":[["p","q"],...],"asks":[...]}
 *   then one depthUpdate per line, either the raw event or a combined-stream envelope {"stream","data"}.
 * Other lines (blank lines excepted) are ignored and counted, as are events for another symbol than the
 * first event's. Events that end at or before the snapshot (u <= lastUpdateId) are dropped, as a
 * Binance client would. Replay sends the events in file order at the simulator's eventsPerSec with E
 * re-stamped to the send time (so latency figures stay meaningful); U, u, s, b and a are sent as
 * captured. Truth = snapshot + replayed events. Binance spot only (the `binance` venue).
 */
import { readFile } from 'node:fs/promises';
import { BookEvent, type Feed } from './feed.js';
import { TruthBook } from './truthBook.js';
import { parseUnits } from './units.js';

interface CapturedEvent {
  U: number;
  u: number;
  bidsJson: string;
  asksJson: string;
  bids: [number, number][];
  asks: [number, number][];
}

export interface CaptureData {
  symbol: string;
  lastUpdateId: number;
  bids: [number, number][];
  asks: [number, number][];
  events: CapturedEvent[];
  /** Lines that were neither a snapshot nor a usable depthUpdate for the symbol. */
  ignored: number;
  /** Events dropped because they end at or before the snapshot. */
  stale: number;
  /** Places where an event does not chain to the previous one (U > previous u + 1). */
  gaps: number;
}

function parseLevels(x: unknown): [number, number][] | undefined {
  if (!Array.isArray(x)) return undefined;
  const out: [number, number][] = [];
  for (const l of x) {
    if (!Array.isArray(l) || l.length < 2) return undefined;
    const p = parseUnits(l[0]);
    const q = parseUnits(l[1]);
    if (!Number.isFinite(p) || !Number.isFinite(q)) return undefined;
    out.push([p, q]);
  }
  return out;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function parseCapture(text: string): CaptureData {
  const lines = text.split('\n');
  let snap: unknown;
  try {
    snap = JSON.parse(lines[0]);
  } catch {
    throw new Error('capture: line 1 is not JSON (expected a depth snapshot)');
  }
  if (!isObject(snap) || typeof snap.lastUpdateId !== 'number')
    throw new Error('capture: line 1 is not a depth snapshot {"lastUpdateId","bids","asks"}');
  const bids = parseLevels(snap.bids);
  const asks = parseLevels(snap.asks);
  if (!bids || !asks) throw new Error('capture: snapshot bids/asks are not [["price","qty"],...]');
  const data: CaptureData = {
    symbol: '',
    lastUpdateId: snap.lastUpdateId,
    bids,
    asks,
    events: [],
    ignored: 0,
    stale: 0,
    gaps: 0,
  };
  let prevU = snap.lastUpdateId;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      data.ignored++;
      continue;
    }
    if (isObject(o) && typeof o.stream === 'string' && isObject(o.data)) o = o.data;
    if (
      !isObject(o) ||
      o.e !== 'depthUpdate' ||
      typeof o.s !== 'string' ||
      !Number.isSafeInteger(o.U) ||
      !Number.isSafeInteger(o.u)
    ) {
      data.ignored++;
      continue;
    }
    const U = o.U as number;
    const u = o.u as number;
    const b = parseLevels(o.b);
    const a = parseLevels(o.a);
    if (data.symbol === '') data.symbol = o.s;
    if (o.s !== data.symbol || !b || !a || U > u) {
      data.ignored++;
      continue;
    }
    if (u <= prevU) {
      data.stale++;
      continue;
    }
    if (U > prevU + 1) data.gaps++;
    prevU = u;
    data.events.push({ U, u, bidsJson: JSON.stringify(o.b), asksJson: JSON.stringify(o.a), bids: b, asks: a });
  }
  if (data.symbol === '') throw new Error('capture: no depthUpdate events found');
  return data;
}

export async function loadCapture(path: string): Promise<CaptureData> {
  return parseCapture(await readFile(path, 'utf8'));
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
  readonly symbol: string;
  readonly tickUnits: number;
  readonly stepUnits: number;
  seq = 0;
  private nextIndex = 0;

  constructor(private readonly data: CaptureData) {
    this.symbol = data.symbol;
    for (const [p, q] of data.bids) this.book.bids.set(p, q);
    for (const [p, q] of data.asks) this.book.asks.set(p, q);
    this.book.lastUpdateId = data.lastUpdateId;
    const levels = [...data.bids, ...data.asks];
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
    const prev = this.book.lastUpdateId;
    this.book.begin([]);
    for (const [p, q] of ev.bids) this.book.set(true, p, q);
    for (const [p, q] of ev.asks) this.book.set(false, p, q);
    const changes = this.book.end();
    this.book.lastUpdateId = ev.u;
    this.seq++;
    const out = new BookEvent(this.symbol, eventTimeMs, prev, ev.U, ev.u, this.seq, changes);
    out.raw = { b: ev.bidsJson, a: ev.asksJson };
    return out;
  }
}
