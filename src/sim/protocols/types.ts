/**
 * What a venue protocol module implements: the venue's websocket and REST formats around the engine's
 * venue-neutral truth. A module owns no book and no timer; the engine (simulator.ts, venue.ts) generates
 * events, fans them out to sessions, applies the faults, and calls the module to route, answer and encode.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BookEvent, Feed, Frame } from '../feed.js';
import type { FaultProfile } from '../faults.js';
import type { IdScheme } from '../ids.js';
import type { IpLimits, VenueLimits } from '../limits.js';
import type { HttpTools } from '../rest.js';
import type { Session, Sub } from '../session.js';

export const SIM_VENUES = [
  'binance',
  'binance-usdm',
  'okx',
  'bybit',
  'bybit-linear',
  'kraken',
  'coinbase',
  'gemini',
  'gemini-v2',
] as const;
export type VenueId = (typeof SIM_VENUES)[number];

export function isVenueId(s: string): s is VenueId {
  return (SIM_VENUES as readonly string[]).includes(s);
}

/** OKX-specific simulator options. */
export interface OkxSimOptions {
  /** Compute the legacy CRC32 checksum (top 25 levels); default false: 0, as production sends since 2026-06. */
  checksum?: boolean;
  /** Send an empty update (prevSeqId == seqId) for a book unchanged this long, ms; default 60000. */
  keepAliveMs?: number;
}

/** The engine, as seen by one venue's protocol module. */
export interface VenueContext {
  readonly id: VenueId;
  readonly okx: OkxSimOptions;
  /** The book of a canonical symbol (BTCUSDT), if simulated. */
  feed(symbol: string): Feed | undefined;
  feeds(): readonly Feed[];
  /** Sessions subscribed to a symbol's book. */
  subscribers(symbol: string): Iterable<Session>;
  /** Generate one event of a symbol's book now (whether paused or not) and send it to its subscribers. */
  generate(symbol: string): BookEvent | undefined;
  /** Send an event to the symbol's subscribers (keep-alives). */
  publish(ev: BookEvent): void;
  profile(name: string | undefined): FaultProfile;
  http: HttpTools;
  /** The venue's per-IP limits (limits.ts), where it declares some. */
  readonly limits?: IpLimits;
}

/** A REST request, routed to the venue, its /<venue> and /p/<profile> prefixes removed. */
export interface HttpCall {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  profile: string | undefined;
  /** The client's IP (the socket's peer address): limits are per IP. */
  ip: string;
}

export interface VenueProtocol {
  readonly id: VenueId;
  /** How its update ids count (ids.ts). */
  readonly ids: IdScheme;
  /** Limited depths of its channels: each event carries a view per depth (truthBook.ts). */
  readonly depths: readonly number[];
  /** Whether a connection may merge consecutive updates into one message (false: ids are per message). */
  readonly regroup: boolean;
  /** Websocket-level pings the server sends, and how long it waits for the pong. */
  readonly ping?: { intervalMs: number; timeoutMs: number };
  /** The venue's documented limits, enforced per client IP (limits.ts); none: not enforced. */
  readonly limits?: VenueLimits;
  /** How many streams an accepted upgrade's route names (checked against limits.maxStreams). */
  routeStreams?(route: object): number;
  /**
   * A per-connection timer: tick(s) every tickMs for each open connection (Coinbase's heartbeats channel,
   * once a second per connection whatever its books do). The engine owns the timer.
   */
  readonly tickMs?: number;
  tick?(s: Session): void;
  /** Keep-alive period for unchanged books, ms (OKX), and the keep-alive message's event. */
  readonly keepAliveMs?: number;
  keepAlive?(feed: Feed): BookEvent;

  /** The venue's spelling of a canonical symbol (BTCUSDT -> BTC-USDT on OKX). */
  venueSymbol(symbol: string): string;
  /** The canonical symbol of a name in the venue's or the canonical spelling; undefined if not understood. */
  canonicalSymbol(name: string): string | undefined;

  /** Whether a websocket upgrade to `path` (venue-relative) is accepted; its value goes to open(). */
  upgrade(path: string, query: URLSearchParams): object | undefined;
  /** A new connection (after the upgrade). */
  open(s: Session, route: object): void;
  /** A text frame from the client. Never throws: bad requests get the venue's error frame. */
  message(s: Session, text: string): void;
  /** The frame of an event for one subscription (cache it on the event with ev.frame when shared). */
  encode(ev: BookEvent, sub: Sub, s: Session): Frame;
  /** Called once per generated event, before it is sent (checksums). */
  stamp?(ev: BookEvent, feed: Feed): void;

  /** Answer a REST request (the venue's 404 included). */
  http(call: HttpCall): void;

  /**
   * The book's last id as the venue's stream of depth `stream` sees it, where each depth keeps its own id
   * space (Bybit); `stream` undefined: the depth collectors use by default. Without it: book.lastUpdateId.
   */
  lastId?(feed: Feed, stream: number | undefined): number;

  /** Capture replay: the one depth a captured message was recorded at, where the venue serves several (Bybit). */
  captureDepth?(frame: string): number | undefined;

  /** Test-only POST /sim/reset: the venue's book reset (OKX maintenance, Bybit service restart). */
  reset?(symbol: string): Record<string, unknown>;
}

export type ProtocolFactory = (ctx: VenueContext) => VenueProtocol;
