/**
 * What a venue adapter says (pure, no I/O): how to connect, how to parse a frame, how a book is
 * (re)synchronised, its integrity rule, and its symbols. The collector, the arbiter, the simulator and the
 * CLI are written against this interface; nothing outside src/venues/ knows a venue's wire format.
 * docs/adding-a-venue.md walks through writing one.
 */
import type { BookIntegrity } from '../core/integrity.js';
import type { SequenceRule } from '../core/sequence.js';
import type { BookDelta, BookSnapshot } from '../core/types.js';

/** spot, or a perpetual/dated future settled in `settle` (the unified symbol then has `:SETTLE`). */
export type Market = 'spot' | 'perp' | 'future';

/** One frame from the venue, parsed. Never thrown: exchange input is hostile until checked. */
export interface ParsedFrame {
  delta?: BookDelta;
  /** A full book the venue sent on the websocket (OKX, Bybit: on subscribe, or after a reset). */
  snapshot?: BookSnapshot;
  /** Why a well-formed frame was skipped (subscribe ack, pong, trade...). */
  ignored?: string;
  /**
   * The venue's counter of this connection's messages, where it numbers them across all its channels and
   * books (Coinbase Advanced Trade `sequence_num`): set on every frame that carries one, ignored or not. The
   * collector checks it runs on by one per connection; a skip means some message of that connection was
   * lost, so every book it carries is resynced (docs/adding-a-venue.md).
   */
  connectionSeq?: number;
  /**
   * The venue answered the unsubscribe that starts a resync of this book (venue spelling): every message of
   * the old subscription is in, so on a venue with snapshotFromFirstDelta the book's next delta on this
   * socket is the new subscription's snapshot.
   */
  unsubscribed?: string;
  error?: string;
}

export interface ParsedSnapshot {
  snapshot?: BookSnapshot;
  error?: string;
}

/** A REST snapshot request: where, and what it costs against the venue's request-weight budget. */
export interface SnapshotRequestSpec {
  url: string;
  weight: number;
}

/** Per-connection stream options a venue may honour (Binance spot: raw vs combined streams, 100ms vs 1000ms). */
export interface StreamOptions {
  mode?: 'combined' | 'raw';
  speed?: string;
}

export interface VenueAdapter {
  /** Lower-case id used in topics and config: binance, binance-usdm, okx, bybit, bybit-linear. */
  readonly id: string;
  /** Human name for logs and docs. */
  readonly name: string;
  readonly markets: readonly Market[];
  /** How book events chain (interval cover for every sequenced venue). */
  readonly rule: SequenceRule;
  /**
   * The venue's book checksum, if it has one (OKX's legacy CRC32): how to read it from a message's text and
   * verify it on a book. The arbiter then keeps level strings for this venue's books and verifies every event
   * that carries one; absent for venues without (the book keeps numbers only).
   */
  readonly integrity?: BookIntegrity;
  /**
   * How copies of one book from several connections merge (docs/venues.md). 'sequence' (the default): by
   * the venue's per-book update ids, which every connection shares (interval cover, core/sequence.ts).
   * 'replica': the venue has no such id (Kraken, Coinbase, Gemini v2): each feed's book is rebuilt and
   * verified on its own and the arbiter serves from a healthy one (core/replicaArbiter.ts). A replica
   * venue's parse leaves first/last at 0 and prev unset; the collector numbers each book's messages per
   * connection (a snapshot starts a new count), so the arbiter still sees loss on the bus.
   */
  readonly merge?: 'sequence' | 'replica';
  /**
   * Levels per side the venue's stream keeps and a client must truncate its book to after every message
   * (Kraken: the subscribed depth; no delete is sent for a level pushed out of range). Absent: no limit.
   */
  readonly bookDepth?: number;
  /**
   * Plausibility window: how many ids past the book's seq an event may end before the arbiter refuses it as
   * an error of its feed (docs/config.md, arbiter.seqWindow). Wide enough for the venue's id rate over a
   * quiet spell: ids per book (spot) grow slowly; Binance USD-M's ids are shared by every symbol.
   */
  readonly seqWindow: number;
  /** Where a (re)sync snapshot comes from: a REST call the collector makes, or the venue's websocket. */
  readonly snapshotSource: 'rest' | 'websocket';
  /** Public production endpoints (a simulator or testnet replaces them by config). */
  readonly defaultWsUrl: string;
  readonly defaultRestUrl: string;
  /** Books one connection may carry before the collector opens another. */
  readonly maxBooksPerConnection: number;
  /** An application-level heartbeat the client must send (text frame) and how often, if the venue wants one. */
  readonly ping?: { intervalMs: number; text: string };
  /**
   * The venue's REST request-weight limit per IP (Binance: fixed windows aligned to the clock) and the
   * answer header that reports the weight used in the current window. Absent: the venue limits REST another
   * way, and the collector's own budget (restWeightPerMinute) applies alone.
   */
  readonly restLimit?: { weight: number; windowMs: number; usedWeightHeader: string };
  /**
   * New websocket connections one IP may open per window (Binance spot: 300 per 5 minutes, OKX: 3 a second,
   * Bybit: 500 per 5 minutes). The collector opens its connections (and reopens them) within it.
   */
  readonly connectionLimit?: { connections: number; windowMs: number };
  /**
   * The venue's limits on subscribing over one connection. `argsPerRequest`: books one subscribe frame may
   * name (Bybit spot: 10), which subscribeMessages and resyncMessages keep to. `requests` per `windowMs`:
   * subscribe/unsubscribe frames one connection may send (OKX: 480 an hour), counted from the connection's
   * open; the collector sends its subscriptions and resyncs within it. Absent: none documented.
   */
  readonly subscribeLimit?: { argsPerRequest?: number; requests?: number; windowMs?: number };
  /** Weight of one symbol-check request (symbolCheckUrl, symbolsCheckUrl), default 1. */
  readonly symbolCheckWeight?: number;
  /** Default REST snapshot depth (levels per side), where snapshotSource is 'rest'. */
  readonly defaultSnapshotLimit: number;

  /** The venue's spelling of a symbol given either spelling (BTCUSDT or BTC/USDT); undefined if not understood. */
  venueSymbol(input: string): string | undefined;
  /** The unified spelling BASE/QUOTE or BASE/QUOTE:SETTLE of a venue symbol; undefined if not understood. */
  unifiedSymbol(venueSymbol: string): string | undefined;

  /** The websocket URL of one connection carrying `symbols` (venue spelling), from a base such as defaultWsUrl. */
  wsUrl(base: string, symbols: readonly string[], options?: StreamOptions): string;
  /** Text frames to send once the connection is open (empty when the URL already names the streams). */
  subscribeMessages(symbols: readonly string[]): string[];
  /** Text frames that make the venue send a fresh snapshot of one book (websocket-snapshot venues). */
  resyncMessages?(symbol: string): string[];
  /**
   * The venue sends a book's snapshot on subscribe as an ordinary diff with nothing to mark it (Gemini
   * `?snapshot=-1`): the first diff of the book on a socket after subscribing. Present: parse returns it as a
   * delta, and the collector takes the first delta of each book on a new socket, and on a socket after a
   * resync's unsubscribe was answered (ParsedFrame.unsubscribed), as the snapshot this returns.
   */
  snapshotFromFirstDelta?(delta: BookDelta): ParsedSnapshot;

  /** Parse one text frame. Keeps the original text in delta.raw / snapshot.raw. Never throws. */
  parse(text: string, collector: string, recvTime: number): ParsedFrame;

  /** REST snapshot request for one book (snapshotSource 'rest', or venues offering both). */
  snapshotRequest?(restBase: string, symbol: string, limit: number): SnapshotRequestSpec;
  /** Parse a REST snapshot body. Rejects crossed books and malformed fields. Never throws. */
  parseSnapshot?(text: string, symbol: string, collector: string, recvTime: number): ParsedSnapshot;
  /** A REST URL whose answer says whether the venue lists `symbol` (404/400 or no mention: it does not). */
  symbolCheckUrl?(restBase: string, symbol: string): string;
  /** One URL checking several symbols at once (same reading as symbolCheckUrl; a 400 means one is unknown). */
  symbolsCheckUrl?(restBase: string, symbols: readonly string[]): string;
}
