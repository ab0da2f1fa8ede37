/** Transport entry point: the interface types, both implementations, the proxy and a factory. */
import { InprocBus, InprocTransport, type InprocTransportOptions } from './inproc.js';
import { ZmqTransport, type ZmqTransportOptions } from './zeromq.js';
import { KafkaTransport, type KafkaTransportOptions } from './kafka.js';
import type { Transport, ZmqEndpoints } from './types.js';

export * from './types.js';
export {
  DEFAULT_HIGH_WATER_MARK,
  SnapshotServerError,
  SnapshotTimeoutError,
  encodeErrorReply,
  errorReplyMessage,
} from './common.js';
export {
  BATCH_TOPIC_PREFIX,
  ZmqTransport,
  ZmqPublisher,
  ZmqSubscriber,
  ZmqSnapshotServer,
  ZmqSnapshotClient,
  type ZmqTransportOptions,
} from './zeromq.js';
export { InprocBus, InprocTransport, InprocSubscriber, type InprocTransportOptions } from './inproc.js';
export {
  KafkaTransport,
  KafkaPublisher,
  KafkaSubscriber,
  KafkaTopicMissingError,
  type KafkaTransportOptions,
} from './kafka.js';
export { KafkaTopics, DEFAULT_TOPIC_PREFIX } from './kafka-topics.js';
export { startProxy, type ProxyOptions, type RunningProxy } from './proxy.js';

export type TransportConfig =
  | ({ kind: 'zeromq'; endpoints?: Partial<ZmqEndpoints> } & ZmqTransportOptions)
  | ({ kind: 'inproc'; bus?: InprocBus } & InprocTransportOptions)
  | ({ kind: 'kafka' } & KafkaTransportOptions);

/** Build a transport from configuration. Sockets are only opened when publisher()/subscriber()/... are called. */
export function createTransport(cfg: TransportConfig): Transport {
  if (cfg.kind === 'inproc') {
    const { kind: _kind, bus, ...opts } = cfg;
    return new InprocTransport(bus, opts);
  }
  if (cfg.kind === 'kafka') {
    const { kind: _kind, ...opts } = cfg;
    return new KafkaTransport(opts);
  }
  const { kind: _kind, endpoints, ...opts } = cfg;
  return new ZmqTransport(endpoints, opts);
}
