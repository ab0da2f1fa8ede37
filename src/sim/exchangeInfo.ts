/** GET /api/v3/exchangeInfo and /fapi/v1/exchangeInfo bodies, in Binance's shapes (enough for ccxt's fetchMarkets). */
import type { Feed } from './feed.js';
import { formatUnits } from './units.js';

const QUOTES = ['USDT', 'FDUSD', 'USDC', 'TUSD', 'BUSD', 'DAI', 'BTC', 'ETH', 'BNB', 'EUR', 'TRY', 'BRL', 'JPY'];

export function splitSymbol(symbol: string): [base: string, quote: string] {
  for (const q of QUOTES) {
    if (symbol.length > q.length && symbol.endsWith(q)) return [symbol.slice(0, -q.length), q];
  }
  return [symbol.slice(0, -3), symbol.slice(-3)];
}

export const RATE_LIMITS = [
  { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
  { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
  { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
  { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
];

const ORDER_TYPES = [
  'LIMIT',
  'LIMIT_MAKER',
  'MARKET',
  'STOP_LOSS',
  'STOP_LOSS_LIMIT',
  'TAKE_PROFIT',
  'TAKE_PROFIT_LIMIT',
];

export function symbolInfo(feed: Feed): Record<string, unknown> {
  const [baseAsset, quoteAsset] = splitSymbol(feed.symbol);
  const tick = formatUnits(feed.tickUnits);
  const step = formatUnits(feed.stepUnits);
  return {
    symbol: feed.symbol,
    status: 'TRADING',
    baseAsset,
    baseAssetPrecision: 8,
    quoteAsset,
    quotePrecision: 8,
    quoteAssetPrecision: 8,
    baseCommissionPrecision: 8,
    quoteCommissionPrecision: 8,
    orderTypes: ORDER_TYPES,
    icebergAllowed: true,
    ocoAllowed: true,
    otoAllowed: true,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: true,
    cancelReplaceAllowed: true,
    amendAllowed: true,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      { filterType: 'PRICE_FILTER', minPrice: tick, maxPrice: '1000000.00000000', tickSize: tick },
      { filterType: 'LOT_SIZE', minQty: step, maxQty: '9000000.00000000', stepSize: step },
      { filterType: 'ICEBERG_PARTS', limit: 10 },
      { filterType: 'MARKET_LOT_SIZE', minQty: '0.00000000', maxQty: '100000.00000000', stepSize: '0.00000000' },
      {
        filterType: 'TRAILING_DELTA',
        minTrailingAboveDelta: 10,
        maxTrailingAboveDelta: 2000,
        minTrailingBelowDelta: 10,
        maxTrailingBelowDelta: 2000,
      },
      {
        filterType: 'PERCENT_PRICE_BY_SIDE',
        bidMultiplierUp: '5',
        bidMultiplierDown: '0.2',
        askMultiplierUp: '5',
        askMultiplierDown: '0.2',
        avgPriceMins: 5,
      },
      {
        filterType: 'NOTIONAL',
        minNotional: '5.00000000',
        applyMinToMarket: true,
        maxNotional: '9000000.00000000',
        applyMaxToMarket: false,
        avgPriceMins: 5,
      },
      { filterType: 'MAX_NUM_ORDERS', maxNumOrders: 200 },
      { filterType: 'MAX_NUM_ALGO_ORDERS', maxNumAlgoOrders: 5 },
    ],
    permissions: [],
    permissionSets: [['SPOT']],
    defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
    allowedSelfTradePreventionModes: ['NONE', 'EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH', 'DECREMENT'],
  };
}

export function exchangeInfo(feeds: Iterable<Feed>): Record<string, unknown> {
  return {
    timezone: 'UTC',
    serverTime: Date.now(),
    rateLimits: RATE_LIMITS,
    exchangeFilters: [],
    symbols: [...feeds].map(symbolInfo),
  };
}

/** Futures exchangeInfo with no symbols: the simulator lists spot only, but ccxt's fetchMarkets asks for all. */
export function emptyDerivativesInfo(): Record<string, unknown> {
  return {
    timezone: 'UTC',
    serverTime: Date.now(),
    rateLimits: RATE_LIMITS,
    exchangeFilters: [],
    assets: [],
    symbols: [],
  };
}

export const USDM_RATE_LIMITS = [
  { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 },
  { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
  { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 300 },
];

/** Decimal places of an increment given in 1e-8 units (1000000 -> 2). */
function precision(units: number): number {
  let p = 8;
  while (p > 0 && units % 10 === 0) {
    units /= 10;
    p--;
  }
  return p;
}

/** One USD-M perpetual, as /fapi/v1/exchangeInfo lists it. */
export function usdmSymbolInfo(feed: Feed): Record<string, unknown> {
  const [baseAsset, quoteAsset] = splitSymbol(feed.symbol);
  const tick = formatUnits(feed.tickUnits);
  const step = formatUnits(feed.stepUnits);
  return {
    symbol: feed.symbol,
    pair: feed.symbol,
    contractType: 'PERPETUAL',
    deliveryDate: 4133404800000,
    onboardDate: 1569398400000,
    status: 'TRADING',
    maintMarginPercent: '2.5000',
    requiredMarginPercent: '5.0000',
    baseAsset,
    quoteAsset,
    marginAsset: quoteAsset,
    pricePrecision: precision(feed.tickUnits),
    quantityPrecision: precision(feed.stepUnits),
    baseAssetPrecision: 8,
    quotePrecision: 8,
    underlyingType: 'COIN',
    underlyingSubType: [],
    settlePlan: 0,
    triggerProtect: '0.0500',
    liquidationFee: '0.012500',
    marketTakeBound: '0.05',
    filters: [
      { filterType: 'PRICE_FILTER', minPrice: tick, maxPrice: '4529764.00000000', tickSize: tick },
      { filterType: 'LOT_SIZE', minQty: step, maxQty: '1000.00000000', stepSize: step },
      { filterType: 'MARKET_LOT_SIZE', minQty: step, maxQty: '120.00000000', stepSize: step },
      { filterType: 'MAX_NUM_ORDERS', limit: 200 },
      { filterType: 'MAX_NUM_ALGO_ORDERS', limit: 10 },
      { filterType: 'MIN_NOTIONAL', notional: '100' },
      { filterType: 'PERCENT_PRICE', multiplierUp: '1.0500', multiplierDown: '0.9500', multiplierDecimal: '4' },
    ],
    orderTypes: ['LIMIT', 'MARKET', 'STOP', 'STOP_MARKET', 'TAKE_PROFIT', 'TAKE_PROFIT_MARKET', 'TRAILING_STOP_MARKET'],
    timeInForce: ['GTC', 'IOC', 'FOK', 'GTX', 'GTD'],
  };
}

export function usdmExchangeInfo(feeds: Iterable<Feed>): Record<string, unknown> {
  return {
    timezone: 'UTC',
    serverTime: Date.now(),
    futuresType: 'U_MARGINED',
    rateLimits: USDM_RATE_LIMITS,
    exchangeFilters: [],
    assets: [],
    symbols: [...feeds].map(usdmSymbolInfo),
  };
}
