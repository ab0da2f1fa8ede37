/** Public API of the bookwire package. */
export { subscribe, type SubscribeOptions, type BookUpdate } from './client/subscribe.js';
export { subscribeVenue, type VenueSubscribeOptions, type VenueUpdate } from './client/venue.js';
export type { ClientCurveOptions } from './transport/keys.js';
export { OrderBook, type BookLevels } from './core/book.js';
export { BookReplica } from './core/replica.js';
export { BookArbiter, type ArbiterSink, type ArbiterOptions } from './core/arbiter.js';
export { rangeRule, type SequenceRule, type SeqVerdict } from './core/sequence.js';
export type { BookDelta, BookSnapshot, CollectorEvent, Level } from './core/types.js';
export { nowMicros } from './core/clock.js';
export * as wire from './wire/messages.js';
// The bus implementations load on first use; their classes: 'bookwire/zeromq' and 'bookwire/kafka'.
export {
  createTransport,
  InprocTransport,
  InprocBus,
  startProxy,
  type Transport,
  type TransportConfig,
} from './transport/index.js';
export { Collector, type CollectorOptions } from './collector/collector.js';
export { ArbiterService, type ArbiterServiceOptions } from './arbiter/service.js';
export { BinanceSimulator, ExchangeSimulator, type SimOptions } from './sim/index.js';
export { loadConfig } from './config/load.js';
export type { Config } from './config/schema.js';
export {
  replay,
  replaySync,
  replayBook,
  bookAt,
  exportParquet,
  Recorder,
  type ReplayOptions,
  type ReplayItem,
  type ReplaySpeed,
  type BookAt,
  type RecorderOptions,
} from './recorder/index.js';
