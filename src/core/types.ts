/**
 * Normalized book events: what collectors publish (raw.*) and the arbiter consumes.
 * Pure data, no I/O. Times are epoch microseconds (see clock.ts).
 */
import type { IntegrityInfo } from './integrity.js';

/** One price level: [price, size]. size 0 deletes the level. */
export type Level = [price: number, size: number];

/** A diff (L2 delta) as received from one venue connection. */
export interface BookDelta {
  type: 'delta';
  venue: string;
  /** Venue symbol, upper case as the venue spells it (BTCUSDT). */
  symbol: string;
  /** Exchange sequence range covered by this event (Binance U and u). first <= last. */
  first: number;
  last: number;
  /** Exchange's "previous last" if the venue sends it (Binance futures pu); undefined for Binance spot. */
  prev?: number;
  /**
   * The venue restarted its sequence with this event: its ids go down (OKX maintenance: seqId < prevSeqId,
   * e.g. prevSeqId 15, seqId 3; the next event then has prevSeqId 3). Such an event has first = last = the
   * new id and prev = the old one (prev > last), so the interval rule alone would call it stale; it is
   * neither stale nor a gap. A book at exactly `prev` applies its levels and is then at `last`; any other book
   * resyncs. Absent (not false) on ordinary events. Venues that send a full book on restart (Bybit u = 1)
   * emit a snapshot with `reset` instead.
   */
  reset?: true;
  /** Exchange event time (ms since epoch, as the venue sends it). */
  exchTime: number;
  /** Local receive time at the collector, epoch microseconds. */
  recvTime: number;
  /** Collector id that received it. */
  collector: string;
  bids: Level[];
  asks: Level[];
  /** The original exchange message text, for recording. */
  raw?: string;
  /** The exact JSON text of bids/asks when a decoder had it at hand: encoders reuse it instead of formatting numbers again. */
  bidsJson?: string;
  asksJson?: string;
  /** The venue's check value and level spelling (OKX checksum), read from `raw` by the arbiter; never on the bus. */
  integrity?: IntegrityInfo;
  /**
   * A fingerprint of the levels as they came on the bus (wire/scan.ts levelsPrint), set by the arbiter's
   * decoder: copies of the same ids that print differently disagree (a corrupted copy). Never on the bus.
   */
  levelsPrint?: number;
}

/** A full book snapshot (REST) as fetched by one collector. seq is the venue's lastUpdateId. */
export interface BookSnapshot {
  type: 'snapshot';
  venue: string;
  symbol: string;
  seq: number;
  exchTime?: number;
  recvTime: number;
  collector: string;
  bids: Level[];
  asks: Level[];
  /**
   * The venue restarted its ids and this snapshot starts the new id space (Bybit: u = 1). A book adopts it
   * whatever its state; without the flag a synced book ignores snapshots. Absent on ordinary snapshots.
   */
  reset?: true;
  /**
   * A consolidated book's numbering (a peer arbiter's snapshot, or a Kafka group's committed output): its
   * consolidated seq is seq + offset. A core that has not numbered a venue reset of its own takes it; one
   * that numbers differently refuses the snapshot. Absent on exchange snapshots.
   */
  offset?: number;
  /**
   * Prices past which the book is not known, when the sender says so (a peer arbiter's book is only as deep
   * as the exchange snapshot it was built from); absent: the snapshot's own last levels.
   */
  exactTo?: { bid: number; ask: number };
  raw?: string;
  /** As BookDelta.integrity. */
  integrity?: IntegrityInfo;
}

export type CollectorEvent = BookDelta | BookSnapshot;

/** Book key used in topics and Kafka keys: `<venue>.<symbol>`. */
export function bookKey(venue: string, symbol: string): string {
  return `${venue}.${symbol}`;
}
