/**
 * In-process bus with the ZeroMQ transport's semantics, for unit tests and single-process embedding.
 * Several InprocTransport instances sharing one InprocBus talk to each other (collector, arbiter and
 * client in one process).
 *
 * - Channels and topic-prefix filtering as on ZeroMQ.
 * - Each subscriber has a bounded queue: past highWaterMark a message is dropped for that subscriber
 *   only, as a ZeroMQ PUB does for a slow peer (0 = unbounded).
 * - Delivery is asynchronous: send() only enqueues; a waiting consumer is woken through a promise, so a
 *   publisher never runs subscriber code synchronously.
 * - Subscribers see a message only if they existed when it was sent (no late-join replay).
 * - Payload Buffers are shared between subscribers, not copied: do not mutate them.
 */
import { MessageQueue, prefixMatcher } from './queue.js';
import type {
  BusMessage,
  BusPublisher,
  BusSubscriber,
  Channel,
  SnapshotClient,
  SnapshotServer,
  SubscribeOptions,
  Transport,
} from './types.js';
import {
  DEFAULT_HIGH_WATER_MARK,
  SnapshotServerError,
  SnapshotTimeoutError,
  errorMessageOf,
  errorReplyMessage,
} from './common.js';

type SnapshotHandler = (topic: string, payload: Buffer) => Promise<Buffer> | Buffer;

interface QueuedRequest {
  topic: string;
  payload: Buffer;
  dispatch(server: InprocSnapshotServer): void;
}

/** The shared hub. Create one and give it to every InprocTransport that should see the others. */
export class InprocBus {
  // Copy-on-write arrays: send() iterates them without allocating an iterator.
  private subs: Record<Channel, InprocSubscriber[]> = { ingest: [], book: [] };
  private servers: InprocSnapshotServer[] = [];
  private waiting: QueuedRequest[] = [];

  /** @internal */
  addSubscriber(channel: Channel, s: InprocSubscriber): void {
    this.subs[channel] = [...this.subs[channel], s];
  }

  /** @internal */
  removeSubscriber(channel: Channel, s: InprocSubscriber): void {
    this.subs[channel] = this.subs[channel].filter((x) => x !== s);
  }

  /** @internal */
  publish(channel: Channel, topic: string, payload: Buffer): void {
    const list = this.subs[channel];
    for (let i = 0; i < list.length; i++) list[i].offer(topic, payload);
  }

  /** @internal */
  addServer(s: InprocSnapshotServer): void {
    this.servers = [...this.servers, s];
    const waiting = this.waiting;
    this.waiting = [];
    for (const r of waiting) r.dispatch(s);
  }

  /** @internal */
  removeServer(s: InprocSnapshotServer): void {
    this.servers = this.servers.filter((x) => x !== s);
  }

  /** @internal Route a request to the first live server, or park it until one registers. */
  submit(r: QueuedRequest): void {
    const server = this.servers[0];
    if (server) r.dispatch(server);
    else this.waiting.push(r);
  }

  /** @internal */
  withdraw(r: QueuedRequest): void {
    const i = this.waiting.indexOf(r);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** Subscribers currently attached to a channel (for tests and diagnostics). */
  subscriberCount(channel: Channel): number {
    return this.subs[channel].length;
  }
}

interface Closable {
  close(): Promise<void>;
}

class InprocPublisher implements BusPublisher {
  private closed = false;
  droppedAfterClose = 0;

  constructor(
    private readonly bus: InprocBus,
    private readonly channel: Channel,
    private readonly onClosed: (c: Closable) => void,
  ) {}

  send(topic: string, payload: Buffer | string): void {
    if (this.closed) {
      this.droppedAfterClose++;
      return;
    }
    this.bus.publish(this.channel, topic, typeof payload === 'string' ? Buffer.from(payload) : payload);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClosed(this);
  }
}

export class InprocSubscriber implements BusSubscriber {
  /** Messages dropped because the queue was at its high-water mark. */
  dropped = 0;
  private closed = false;
  private readonly queue = new MessageQueue();
  private readonly matches: (topic: string) => boolean;
  private readonly iterator: AsyncIterator<BusMessage, undefined> = { next: () => this.queue.next() };

  constructor(
    private readonly bus: InprocBus,
    private readonly channel: Channel,
    prefixes: readonly string[],
    private readonly highWaterMark: number,
    private readonly onClosed: (c: Closable) => void,
  ) {
    this.matches = prefixMatcher(prefixes);
  }

  /** @internal Called by the bus for every message on this channel. */
  offer(topic: string, payload: Buffer): void {
    if (this.closed || !this.matches(topic)) return;
    // like a ZeroMQ SUB past its high-water mark: drop (a reader already waiting takes it at once)
    if (this.highWaterMark > 0 && this.queue.size >= this.highWaterMark) {
      this.dropped++;
      return;
    }
    this.queue.push({ topic, payload });
  }

  [Symbol.asyncIterator](): AsyncIterator<BusMessage, undefined> {
    return this.iterator;
  }

  next(): Promise<IteratorResult<BusMessage, undefined>> {
    return this.queue.next();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.removeSubscriber(this.channel, this);
    this.queue.close();
    this.onClosed(this);
  }
}

class InprocSnapshotServer implements SnapshotServer {
  closed = false;

  constructor(
    private readonly bus: InprocBus,
    readonly handler: SnapshotHandler,
    private readonly onClosed: (c: Closable) => void,
  ) {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.removeServer(this);
    this.onClosed(this);
  }
}

class InprocSnapshotClient implements SnapshotClient {
  private closed = false;
  private readonly inFlight = new Set<(e: Error) => void>();

  constructor(
    private readonly bus: InprocBus,
    private readonly onClosed: (c: Closable) => void,
  ) {}

  request(topic: string, payload: Buffer, timeoutMs = 2000): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('snapshot client is closed'));
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(abort);
        fn();
      };
      const abort = (e: Error): void => settle(() => reject(e));
      const req: QueuedRequest = {
        topic,
        payload,
        dispatch: (server) => {
          // Run the handler on a later tick, never inside the caller's stack.
          queueMicrotask(() => {
            void (async () => {
              try {
                const reply = await server.handler(topic, payload);
                const err = errorReplyMessage(reply);
                settle(() =>
                  err === undefined ? resolve(reply) : reject(new SnapshotServerError(`snapshot server error: ${err}`)),
                );
              } catch (e) {
                settle(() => reject(new SnapshotServerError(`snapshot server error: ${errorMessageOf(e)}`)));
              }
            })();
          });
        },
      };
      const timer = setTimeout(() => {
        this.bus.withdraw(req);
        abort(
          new SnapshotTimeoutError(
            `snapshot request for ${topic} timed out after ${timeoutMs} ms (no inproc snapshot server answered)`,
          ),
        );
      }, timeoutMs);
      this.inFlight.add(abort);
      this.bus.submit(req);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const abort of [...this.inFlight]) abort(new Error('snapshot client closed'));
    this.onClosed(this);
  }
}

export interface InprocTransportOptions {
  /** Default subscriber queue bound (SubscribeOptions.highWaterMark overrides it). 0 = unbounded. */
  receiveHighWaterMark?: number;
}

export class InprocTransport implements Transport {
  readonly kind = 'inproc';
  readonly bus: InprocBus;
  private readonly receiveHwm: number;
  private readonly open = new Set<Closable>();
  private readonly forget = (c: Closable): void => {
    this.open.delete(c);
  };

  constructor(bus: InprocBus = new InprocBus(), opts: InprocTransportOptions = {}) {
    this.bus = bus;
    this.receiveHwm = opts.receiveHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  }

  private track<T extends Closable>(c: T): T {
    this.open.add(c);
    return c;
  }

  async publisher(channel: Channel): Promise<BusPublisher> {
    return this.track(new InprocPublisher(this.bus, channel, this.forget));
  }

  async subscriber(channel: Channel, topicPrefixes: string[], opts: SubscribeOptions = {}): Promise<InprocSubscriber> {
    const s = new InprocSubscriber(
      this.bus,
      channel,
      [...topicPrefixes],
      opts.highWaterMark ?? this.receiveHwm,
      this.forget,
    );
    this.bus.addSubscriber(channel, s);
    return this.track(s);
  }

  async snapshotServer(handler: SnapshotHandler): Promise<SnapshotServer> {
    const s = new InprocSnapshotServer(this.bus, handler, this.forget);
    this.bus.addServer(s);
    return this.track(s);
  }

  async snapshotClient(): Promise<SnapshotClient> {
    return this.track(new InprocSnapshotClient(this.bus, this.forget));
  }

  async close(): Promise<void> {
    await Promise.all([...this.open].map((c) => c.close()));
    this.open.clear();
  }
}
