/**
 * Exchange simulator (`bookwire sim`): Binance spot's wire protocol on one local port.
 *
 * REST:  GET /api/v3/depth?symbol=X&limit=N   GET /api/v3/exchangeInfo[?symbol=X|?symbols=[..]]
 *        GET /api/v3/ping   GET /api/v3/time   (+ empty /fapi/v1 and /dapi/v1 exchangeInfo for ccxt)
 *        test-only: GET /sim/truth?symbol=X&depth=N  GET /sim/stats  POST /sim/pause  POST /sim/resume
 *                   GET /sim/faults  POST /sim/faults?profile=NAME (body: FaultProfile JSON)
 * WS:    /ws/<stream>[/<stream>...] (raw), /stream?streams=a/b (combined), live SUBSCRIBE/UNSUBSCRIBE/
 *        LIST_SUBSCRIPTIONS/SET_PROPERTY/GET_PROPERTY. Streams: <symbol>@depth[@100ms|@1000ms]; all of them
 *        are sent at eventsPerSec (the 1000 ms stream is not slowed down or aggregated).
 * Faults: prefix any URL with /p/<profile>/ to use a named FaultProfile (else 'default').
 */
import { BinanceSimulator, type SimOptions } from './simulator.js';

export { BinanceSimulator } from './simulator.js';
export type { SimOptions, SimStats, TruthBookView } from './simulator.js';
export type { FaultProfile } from './faults.js';
export { parseCapture, loadCapture, type CaptureData } from './capture.js';
export { depthStreamSymbol } from './wsSession.js';

/** Start a simulator for the CLI: logs its URLs (and stats every printEvery seconds). The caller stops it. */
export async function runSimulator(opts: SimOptions & { printEvery?: number }): Promise<BinanceSimulator> {
  const sim = new BinanceSimulator(opts);
  await sim.start();
  const streams = sim.symbols.map((s) => `${s.toLowerCase()}@depth@100ms`).join('/');
  const log = opts.logger;
  const info = {
    rest: sim.restBase,
    ws: sim.wsBase,
    example: `${sim.wsBase}/stream?streams=${streams}`,
    symbols: sim.symbols,
    eventsPerSec: opts.eventsPerSec ?? 10,
    faultProfiles: Object.keys(opts.faults ?? {}),
  };
  if (log) log.info(info, 'binance simulator listening');
  else (await import('../log.js')).createLogger('sim').info(info, 'binance simulator listening');
  if (opts.printEvery && opts.printEvery > 0) sim.logStatsEvery(opts.printEvery);
  return sim;
}
