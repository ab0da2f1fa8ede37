/** The venue protocol modules by venue id. */
import { binanceSpot, binanceUsdm } from './binance.js';
import { bybitLinear, bybitSpot } from './bybit.js';
import { coinbase } from './coinbase.js';
import { gemini } from './gemini.js';
import { geminiV2 } from './gemini-v2.js';
import { kraken } from './kraken.js';
import { okx } from './okx.js';
import type { ProtocolFactory, VenueId } from './types.js';

export const PROTOCOLS: Record<VenueId, ProtocolFactory> = {
  binance: binanceSpot,
  'binance-usdm': binanceUsdm,
  okx,
  bybit: bybitSpot,
  'bybit-linear': bybitLinear,
  kraken,
  coinbase,
  gemini,
  'gemini-v2': geminiV2,
};

export { SIM_VENUES, isVenueId, type VenueId, type VenueProtocol, type OkxSimOptions } from './types.js';
