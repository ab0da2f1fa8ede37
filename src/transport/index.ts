/**
 * Transport entry point: the interface types, the in-process bus, the proxy and a factory. The ZeroMQ and
 * Kafka implementations are imported only when a transport of their kind is first used (LazyTransport):
 * whoever needs their classes imports ./zeromq.js or ./kafka.js.
 */
import { InprocBus, InprocTransport, type InprocTransportOptions } from './inproc.js';
import { LazyTransport } from './lazy.js';
import type { ZmqTransportOptions } from './zeromq.js';
import type { KafkaTransportOptions } from './kafka.js';
import type { ProxyOptions, RunningProxy } from './proxy.js';
import type { Transport, ZmqEndpoints } from './types.js';

export * from './types.js';
export {
  DEFAULT_HIGH_WATER_MARK,
  SnapshotServerError,
  SnapshotTimeoutError,
  encodeErrorReply,
  errorReplyMessage,
} from './common.js';
export type { ZmqTransportOptions } from './zeromq.js';
export type { KafkaTransportOptions } from './kafka.js';
export type { ProxyOptions, RunningProxy } from './proxy.js';
export { InprocBus, InprocTransport, InprocSubscriber, type InprocTransportOptions } from './inproc.js';
export { KafkaTopics, KafkaTopicMissingError, DEFAULT_TOPIC_PREFIX } from './kafka-topics.js';
export { LazyTransport } from './lazy.js';

export type TransportConfig =
  | ({ kind: 'zeromq'; endpoints?: Partial<ZmqEndpoints> } & ZmqTransportOptions)
  | ({ kind: 'inproc'; bus?: InprocBus } & InprocTransportOptions)
  | ({ kind: 'kafka' } & KafkaTransportOptions);

/**
 * Build a transport from configuration. Sockets are only opened when publisher()/subscriber()/... are
 * called; the ZeroMQ or Kafka client is loaded then too.
 */
export function createTransport(cfg: TransportConfig): Transport {
  if (cfg.kind === 'inproc') {
    const { kind: _kind, bus, ...opts } = cfg;
    return new InprocTransport(bus, opts);
  }
  if (cfg.kind === 'kafka') {
    const { kind, ...opts } = cfg;
    const load = async () => {
      const { KafkaTransport } = await import('./kafka.js');
      return new KafkaTransport(opts);
    };
    return new LazyTransport(kind, load, true);
  }
  const { kind, endpoints, ...opts } = cfg;
  return new LazyTransport(kind, async () => {
    const { ZmqTransport } = await import('./zeromq.js');
    return new ZmqTransport(endpoints, opts);
  });
}

/** Start the ZeroMQ ingest proxy (ROUTER -> XPUB) for many collectors (./proxy.ts); loads zeromq when called. */
export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  return (await import('./proxy.js')).startProxy(opts);
}
