/**
 * The one transport interface. Everything outside src/transport talks to the bus through this;
 * nothing else imports zeromq (or, later, a Kafka client).
 *
 * Two logical channels:
 *  - 'ingest': many collectors publish raw.* / status.* ; arbiters subscribe.
 *  - 'book':   arbiters publish book.* / stats.* / ctl.* ; clients, recorders, collectors (ctl.) subscribe.
 * A ZeroMQ bus maps them to endpoints (who binds, who connects); a Kafka bus maps topic families to
 * Kafka topics keyed by venue:symbol. Snapshots are request/reply, keyed by topic.
 */

export interface BusMessage {
  topic: string;
  payload: Buffer;
  /**
   * Ingest channel over ZeroMQ: who sent it. With CURVE, the name the sender's key is allowed under
   * (authenticated: a collector's key allowed as `a` can only ever send as `a`); in plaintext, the routing
   * id the sender claimed (its collector id; unauthenticated, loopback only). Undefined where the bus
   * cannot tell (the book channel, in-process, Kafka, an anonymous sender). docs/security.md.
   */
  peer?: string;
}

/** What `consume` calls per message; `peer` as in BusMessage.peer. */
export type MessageHandler = (topic: string, payload: Buffer, peer?: string) => void;

export type Channel = 'ingest' | 'book';

export interface BusPublisher {
  /** Queue a message. Never blocks on slow subscribers (a PUB drops at its high-water mark). */
  send(topic: string, payload: Buffer | string): void;
  /** Resolves when everything queued so far has been handed to the bus. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface BusSubscriber extends AsyncIterable<BusMessage> {
  close(): Promise<void>;
  /**
   * Optional push-style fast path for hot consumers: calls `handler` for every message until close(),
   * then resolves. Same messages, same order as iterating, without a promise and an iterator result per
   * message. Use one style per subscriber, not both.
   */
  consume?(handler: MessageHandler): Promise<void>;
}

export interface SnapshotServer {
  close(): Promise<void>;
}

export interface SnapshotClient {
  /** Ask for the current snapshot of one book topic (e.g. book.binance.BTCUSDT); rejects on timeout. */
  request(topic: string, payload: Buffer, timeoutMs?: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** Receive queue bound (ZeroMQ receive high-water mark); messages past it are dropped by the bus. */
  highWaterMark?: number;
  /** Kernel receive buffer (bytes, ZeroMQ's ZMQ_RCVBUF); small values make a slow consumer hit the HWM sooner. */
  receiveBufferSize?: number;
}

/** An input message of a consumer-group processor, with its place in the input log. */
export interface GroupMessage extends BusMessage {
  partition: number;
  offset: bigint;
}

/** What a consumer-group processor (Transport.groupIngest) calls; every call is synchronous. */
export interface GroupIngestHandler {
  /**
   * This instance now owns the input partition `partition`. `history` holds, per key (`venue.symbol`)
   * of that partition, the committed output since its latest snapshot (that snapshot first): the state
   * to continue from. Called before any message of the partition.
   */
  onAssigned(partition: number, history: Map<string, Buffer[]>): void;
  /** The partition moved elsewhere (or its transaction failed): forget its state. */
  onRevoked(partition: number): void;
  /** Process one message; everything sent through the group's publisher meanwhile commits with it. */
  onMessage(m: GroupMessage): void;
  /** The oldest input offset of `partition` still needed (events held, not yet output); default: none. */
  retainFrom?(partition: number): bigint | undefined;
}

export interface GroupIngestOptions {
  /** Consumer group shared by the instances. */
  group: string;
  /** Bus topic prefixes to consume through the group (e.g. `raw.`). */
  prefixes: string[];
  handler: GroupIngestHandler;
}

export interface GroupIngest {
  /** Publishes into the transaction of the key's input partition (sends for keys not owned are dropped). */
  readonly publisher: BusPublisher;
  close(): Promise<void>;
}

export interface Transport {
  readonly kind: string;
  /** Consume through a consumer group, exactly once with the output (Kafka only; docs/kafka.md). */
  groupIngest?(o: GroupIngestOptions): Promise<GroupIngest>;
  publisher(channel: Channel): Promise<BusPublisher>;
  subscriber(channel: Channel, topicPrefixes: string[], opts?: SubscribeOptions): Promise<BusSubscriber>;
  /** Serve snapshot requests: handler gets (topic, request payload) and returns the reply payload. */
  snapshotServer(handler: (topic: string, payload: Buffer) => Promise<Buffer> | Buffer): Promise<SnapshotServer>;
  snapshotClient(): Promise<SnapshotClient>;
  /**
   * Totals of the bus's security and bound events so far, for metrics (names in docs/metrics.md): CURVE
   * handshakes refused, messages dropped as unbound, snapshot requests refused by a limit, sends dropped.
   * Absent where the bus has none (in-process, Kafka).
   */
  counters?(): Record<string, number>;
  /** Close every socket this transport opened. */
  close(): Promise<void>;
}

/** Endpoints of the ZeroMQ bus. Defaults bind on loopback. */
export interface ZmqEndpoints {
  /**
   * Arbiter (and recorder) binds a ROUTER here; collectors connect one DEALER to every ingest endpoint
   * listed (one per arbiter), each message tagged with the sender's identity (BusMessage.peer).
   */
  ingest: string[];
  /** Arbiter binds a PUB on the first; clients connect a SUB to all of them (hot-hot arbiters). */
  publish: string[];
  /** Arbiter binds a ROUTER on the first; clients' DEALERs try them in order. */
  snapshot: string[];
}

export const DEFAULT_ZMQ_ENDPOINTS: ZmqEndpoints = {
  ingest: ['tcp://127.0.0.1:5555'],
  publish: ['tcp://127.0.0.1:5556'],
  snapshot: ['tcp://127.0.0.1:5557'],
};
