/**
 * Exchange simulator (`bookwire sim`): several venues' wire protocols on one local port.
 *
 * Design: one engine (simulator.ts + venue.ts: seeded order flow per (venue, symbol) or a capture replay,
 * the truth books, fan-out to sessions, per-connection faults in faults.ts and session.ts) and one small
 * module per venue in protocols/ implementing VenueProtocol (protocols/types.ts): URL routing, requests,
 * acks, pings, snapshots, event encoding, checksums, REST. Each module's header documents its venue.
 *   binance       Binance spot (the default; byte-compatible with the Binance-only simulator)
 *   binance-usdm  Binance USD-M futures: /public/ws, /public/stream, pu, one id space for all symbols, /fapi/v1
 *   okx           OKX v5 /ws/v5/public `books`, seqId/prevSeqId, keep-alives, reset, /api/v5/market/books
 *   bybit         Bybit v5 spot /v5/public/spot orderbook.{1,50,200,1000}.X, a u per depth, +1 per message, restart
 *   bybit-linear  Bybit v5 linear /v5/public/linear, same
 *   kraken        Kraken spot WebSocket v2 /v2 `book` (BTC/USD), depths 10-1000, CRC32 checksum, no ids, no REST
 *   coinbase      Coinbase Advanced Trade / `level2` (BTC-USD) full book + `heartbeats`, sequence_num per connection
 *   gemini        Gemini's current API / ?snapshot=-1, btcusd@depth@100ms, one id counter for all books (U = previous u)
 *   gemini-v2     Gemini market data v2 (archived) /v2/marketdata `l2` (BTCUSD), full book, no ids, no checksum
 *
 * Paths, one rule for websockets and REST:  [/<venue>][/p/<profile>]/<the venue's own path>
 *   /<venue>      first segment, a venue id: that venue (404 if it is not served). Without it: binance when
 *                 served, else the first venue of `venues` -- so every pre-venue URL keeps meaning Binance spot.
 *   /p/<profile>  then an optional fault profile (else 'default'), e.g. ws://127.0.0.1:9443/okx/p/flaky/ws/v5/public,
 *                 http://127.0.0.1:9443/binance-usdm/fapi/v1/depth?symbol=BTCUSDT, ws://127.0.0.1:9443/p/flaky/ws/btcusdt@depth.
 * Test-only (any venue prefix, or ?venue=<id>; default the default venue):
 *   GET /sim/truth?symbol=X&depth=N[&stream=D] (symbol in the venue's or Binance's spelling; lastUpdateId is
 *   the venue's last id: u, seqId; Bybit: that of orderbook.D, default 50, each depth having its own u)   POST /sim/reset?symbol=X (okx: maintenance reset, bybit*: service restart)
 *   GET /sim/stats   GET /sim/limits (per venue, per client IP: weight, 429s, 418s, refused connections)
 *   POST /sim/pause   POST /sim/resume   GET /sim/faults   POST /sim/faults?profile=NAME (body:
 *   FaultProfile JSON)   GET /sim/send-times?symbol=X (recordSendTimes)
 * Faults (every venue): drop, dup, delay/jitter, reorder, disconnect, stall, malformed, REST snapshot errors
 * and latency, and regroupRate (merge consecutive events into one message: Binance spot and USD-M, OKX; not
 * Bybit, whose u counts messages). Snapshots sent on the websocket (OKX, Bybit) are never dropped or corrupted.
 * Limits (limits.ts, default on): each venue's own per-IP limits as the venue enforces them (Binance: request
 * weight, 429/418, streams per connection, connection and message rates); SimOptions.limits configures them.
 * Capture replay (capture.ts): a recording of the first venue's own messages replaces one of its books.
 * Capture writing (captureWriter.ts, `bookwire capture`): one book of a live venue or a simulator, as a capture.
 */
import type { VenueId } from './protocols/types.js';
import { ExchangeSimulator, type SimOptions } from './simulator.js';

export { ExchangeSimulator, BinanceSimulator } from './simulator.js';
export type { SimOptions, SimStats, TruthBookView } from './simulator.js';
export type { FaultProfile } from './faults.js';
export type { SimLimitOptions, VenueLimits, IpUsage } from './limits.js';
export { parseCapture, loadCapture, CaptureError, type CaptureData } from './capture.js';
export { depthStreamSymbol } from './protocols/binance.js';
export { SIM_VENUES, isVenueId, type VenueId, type OkxSimOptions } from './protocols/types.js';

/** A websocket URL to try on one venue of a running simulator, for the startup log. */
function example(sim: ExchangeSimulator, venue: VenueId): string {
  const base = sim.venueWsBase(venue);
  const syms = sim.symbolsOf(venue);
  switch (venue) {
    case 'binance':
      return `${base}/stream?streams=${syms.map((s) => `${s.toLowerCase()}@depth@100ms`).join('/')}`;
    case 'binance-usdm':
      return `${base}/public/stream?streams=${syms.map((s) => `${s.toLowerCase()}@depth@100ms`).join('/')}`;
    case 'okx':
      return `${base}/ws/v5/public (op subscribe, channel books)`;
    case 'bybit':
      return `${base}/v5/public/spot (op subscribe, orderbook.50.<SYMBOL>)`;
    case 'coinbase':
      return `${base} (type subscribe, channel level2 and heartbeats, product_ids ${sim.booksOf(venue).join(',')})`;
    case 'kraken':
      return `${base}/v2 (method subscribe, channel book, symbol ${sim.booksOf(venue).join(',')})`;
    case 'gemini':
      return `${base}?snapshot=-1 (method SUBSCRIBE, params ${sim
        .booksOf(venue)
        .map((s) => `${s.toLowerCase()}@depth@100ms`)
        .join(',')})`;
    case 'gemini-v2':
      return `${base}/v2/marketdata (type subscribe, l2, symbols ${sim.booksOf(venue).join(',')})`;
    default:
      return `${base}/v5/public/linear (op subscribe, orderbook.50.<SYMBOL>)`;
  }
}

/** Start a simulator for the CLI: logs its URLs (and stats every printEvery seconds). The caller stops it. */
export async function runSimulator(opts: SimOptions & { printEvery?: number }): Promise<ExchangeSimulator> {
  const sim = new ExchangeSimulator(opts);
  await sim.start();
  const log = opts.logger;
  const info = {
    rest: sim.restBase,
    ws: sim.wsBase,
    venues: sim.venues,
    examples: Object.fromEntries(sim.venues.map((v) => [v, example(sim, v)])),
    symbols: sim.symbols,
    books: Object.fromEntries(sim.venues.map((v) => [v, sim.booksOf(v)])),
    eventsPerSec: opts.eventsPerSec ?? 10,
    faultProfiles: Object.keys(opts.faults ?? {}),
  };
  if (log) log.info(info, 'exchange simulator listening');
  else (await import('../log.js')).createLogger('sim').info(info, 'exchange simulator listening');
  if (opts.printEvery && opts.printEvery > 0) sim.logStatsEvery(opts.printEvery);
  return sim;
}
