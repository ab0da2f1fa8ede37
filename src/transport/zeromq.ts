/**
 * The bus over ZeroMQ (zeromq v6). The only module, with proxy.ts, that imports zeromq.
 *
 * Who binds and who connects:
 *   publisher('ingest')  PUB connects to every ingest endpoint        (collectors)
 *   subscriber('ingest') SUB binds ingest[0], or connects to all of them with ingestMode 'connect'
 *                        (arbiter; 'connect' is for an XSUB/XPUB proxy in between, see proxy.ts)
 *   publisher('book')    PUB binds publish[0]                           (arbiter)
 *   subscriber('book')   SUB connects to every publish endpoint         (clients; hot-hot arbiters)
 *   snapshotServer       ROUTER binds snapshot[0]                       (arbiter)
 *   snapshotClient       DEALER connects to every snapshot endpoint     (clients)
 * Messages are two frames [topic, payload]; subscriptions are ZeroMQ's native topic-prefix filters.
 * Batching is opt-in (`coalesce`): a batch of several payloads of one topic travels as
 * [BATCH_TOPIC_PREFIX + topic, p1, p2, ...], a topic no conventional subscription (book., stats., ...)
 * matches; subscribers made here subscribe to both forms and hand out one payload at a time
 * (docs/wire-format.md, "Framing").
 *
 * TODO(curve): CURVE encryption/authentication of the TCP endpoints (later issue).
 */
import * as zmq from 'zeromq';
import { createLogger, type Logger } from '../log.js';
import {
  DEFAULT_ZMQ_ENDPOINTS,
  type BusMessage,
  type BusPublisher,
  type BusSubscriber,
  type Channel,
  type SnapshotClient,
  type SnapshotServer,
  type SubscribeOptions,
  type Transport,
  type ZmqEndpoints,
} from './types.js';
import {
  DEFAULT_HIGH_WATER_MARK,
  SnapshotServerError,
  SnapshotTimeoutError,
  encodeErrorReply,
  errorMessageOf,
  errorReplyMessage,
} from './common.js';

const DEFAULT_SNAPSHOT_TIMEOUT_MS = 2000;
/** A closed publisher keeps delivering what is already queued for this long, then the process may exit. */
const DEFAULT_PUBLISHER_LINGER_MS = 200;

export interface ZmqTransportOptions {
  /** PUB send high-water mark per subscriber; past it ZeroMQ drops for that subscriber. 0 = unbounded. */
  sendHighWaterMark?: number;
  /** Default SUB receive high-water mark (SubscribeOptions.highWaterMark overrides it). 0 = unbounded. */
  receiveHighWaterMark?: number;
  /** How the ingest SUB attaches: bind ingest[0] (default) or connect to every ingest endpoint (proxy backend). */
  ingestMode?: 'bind' | 'connect';
  /** Kernel send buffer of PUB sockets (bytes, ZMQ_SNDBUF); default: the OS's. */
  sendBufferSize?: number;
  /** How long (ms) a closed publisher may keep sending already-queued messages. */
  publisherLingerMs?: number;
  /**
   * Opt-in batching (default false: every message is exactly [topic, payload]). true: ingest publishers
   * (collectors) batch what they publish in one turn, book publishers (arbiters) what they publish while
   * the event loop is busy; a batch of two or more goes out as [BATCH_TOPIC_PREFIX + topic, p1, p2, ...]
   * (docs/wire-format.md, "Framing"). Subscribers read both forms whatever this says.
   */
  coalesce?: boolean;
  logger?: Logger;
}

interface Closable {
  close(): Promise<void>;
}

let defaultLogger: Logger | undefined;

/**
 * Topic-frame prefix of a batched message [BATCH_TOPIC_PREFIX + topic, p1, p2, ...]. No bookwire topic
 * family starts with it, so a conventional subscription (`book.`, `stats.`, `raw.`, `ctl.`, `status.`)
 * never receives a batch.
 */
export const BATCH_TOPIC_PREFIX = 'batch.';

/** The bus topic of a received topic frame: a batch's prefix removed. */
function topicOf(frame: Buffer): string {
  const t = frame.toString('utf8');
  return t.startsWith(BATCH_TOPIC_PREFIX) ? t.slice(BATCH_TOPIC_PREFIX.length) : t;
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/**
 * Bind `sock` to `endpoint` and return the endpoint actually bound (a `tcp://host:*` wildcard resolves to
 * the port the OS chose). Closes the socket and throws a readable Error if the bind fails.
 */
export async function bindEndpoint(sock: zmq.Socket, endpoint: string): Promise<string> {
  try {
    await sock.bind(endpoint);
  } catch (e) {
    sock.close();
    if (isErrno(e, 'EADDRINUSE')) {
      const err = new Error(
        `cannot bind ${endpoint}: address already in use (is another arbiter or proxy running there?)`,
        { cause: e },
      );
      (err as Error & { code: string }).code = 'EADDRINUSE';
      throw err;
    }
    throw new Error(`cannot bind ${endpoint}: ${errorMessageOf(e)}`, { cause: e });
  }
  return sock.lastEndpoint ?? endpoint;
}

function connectAll(sock: zmq.Socket, endpoints: readonly string[]): void {
  for (const ep of endpoints) {
    try {
      sock.connect(ep);
    } catch (e) {
      sock.close();
      throw new Error(`cannot connect to ${ep}: ${errorMessageOf(e)}`, { cause: e });
    }
  }
}

/** Receive until closed; a failed receive is logged and retried after a short pause, never fatal. */
async function receiveUntilClosed(
  sock: { receive(): Promise<Buffer[]> },
  closed: () => boolean,
  log: Logger,
  what: string,
  onFrames: (frames: Buffer[]) => void,
): Promise<void> {
  while (!closed()) {
    let frames: Buffer[];
    try {
      frames = await sock.receive();
    } catch (e) {
      if (closed()) return;
      log.error({ err: errorMessageOf(e) }, `${what} receive failed`);
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    onFrames(frames);
  }
}

function requireEndpoints(list: readonly string[], what: string): void {
  if (list.length === 0) throw new Error(`no ${what} endpoint configured`);
}

// ---------------------------------------------------------------------------------------------------

/**
 * PUB socket wrapper. send() hands the message to ZeroMQ synchronously: with sendTimeout 0 zeromq v6
 * never enters its "busy writing" state (the call is always its synchronous fast path) and a PUB never
 * blocks (it drops past the send HWM), so no JS-side queue is needed and flush() has nothing to wait for.
 * (Measured: ~400k msgs/s of 300 bytes handed over synchronously vs ~170k/s with an awaited send per message.)
 * Do not mutate a payload Buffer after send(): ZeroMQ sends buffers over 128 bytes zero-copy, later.
 * As with any PUB, messages sent before a subscriber's connection is up are not delivered to it.
 */
export class ZmqPublisher implements BusPublisher {
  /** Endpoint bound (book channel), or undefined for a connecting publisher. */
  readonly endpoint: string | undefined;
  /** Messages handed to ZeroMQ. */
  sent = 0;
  /** Send failures (should stay 0 for a PUB) and sends after close (ignored). */
  failed = 0;
  droppedAfterClose = 0;
  private closed = false;
  // Reused for every send: zeromq copies the frame list synchronously inside send().
  private readonly frame: Array<Buffer | string> = ['', ''];
  private readonly onSendError = (e: unknown): void => {
    if (this.closed) return;
    if (this.failed++ < 10 || this.failed % 10_000 === 0)
      this.log.warn({ err: errorMessageOf(e), failed: this.failed }, 'publish failed');
  };

  /**
   * Coalescing (opt-in): messages sent close together go out as one multipart per topic,
   * [BATCH_TOPIC_PREFIX + topic, p1, p2, ...]; a lone one as the conventional [topic, payload].
   */
  private readonly pending = new Map<string, Array<Buffer | string>>();
  private pendingCount = 0;
  private flushQueued = false;
  private readonly flushPending = (): void => {
    if (!this.flushQueued) return; // already flushed (cap reached or close) since it was scheduled
    this.flushQueued = false;
    this.pendingCount = 0;
    for (const [topic, payloads] of this.pending) {
      payloads.unshift(payloads.length === 1 ? topic : BATCH_TOPIC_PREFIX + topic);
      try {
        this.sock.send(payloads).then(undefined, this.onSendError);
      } catch (e) {
        this.onSendError(e);
      }
    }
    this.pending.clear();
  };

  constructor(
    private readonly sock: zmq.Publisher,
    endpoint: string | undefined,
    private readonly lingerMs: number,
    private readonly log: Logger,
    private readonly onClosed: (c: Closable) => void,
    private readonly coalesce: Coalesce = false,
  ) {
    this.endpoint = endpoint;
  }

  send(topic: string, payload: Buffer | string): void {
    if (this.closed) {
      this.droppedAfterClose++;
      return;
    }
    if (this.coalesce !== false) {
      // One send() costs ~25-70 µs here whatever its size (it wakes ZeroMQ's I/O thread), a frame a few µs:
      // sending what was published close together as one message [batch.topic, p1, p2, ...] cuts the cost of
      // every hop, and subscribers hand the payloads out one by one. No timer is involved, so nothing waits:
      //  'turn' (collectors): flush at the end of the current turn (a microtask), i.e. after every frame the
      //         websocket delivered in one TCP read;
      //  'idle' (arbiters): flush when the event loop has nothing else ready (setImmediate), i.e. after every
      //         message already queued on the ingest socket was handled, or at once past MAX_COALESCED.
      let q = this.pending.get(topic);
      if (q === undefined) this.pending.set(topic, (q = []));
      q.push(payload);
      this.sent++;
      if (!this.flushQueued) {
        this.flushQueued = true;
        if (this.coalesce === 'turn') queueMicrotask(this.flushPending);
        else setImmediate(this.flushPending);
      }
      if (++this.pendingCount >= MAX_COALESCED) this.flushPending();
      return;
    }
    const f = this.frame;
    f[0] = topic;
    f[1] = payload;
    try {
      this.sock.send(f).then(undefined, this.onSendError);
      this.sent++;
    } catch (e) {
      this.onSendError(e);
    }
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushQueued) this.flushPending();
    this.closed = true;
    this.sock.linger = this.lingerMs;
    this.sock.close();
    this.onClosed(this);
  }
}

/** How a publisher batches: per turn (microtask), when the loop is idle (setImmediate), or not at all. */
type Coalesce = 'turn' | 'idle' | false;
/** Past this many pending messages an 'idle' publisher sends at once: bounds what a backlog can delay. */
const MAX_COALESCED = 64;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const DONE_PROMISE = Promise.resolve(DONE);
const EMPTY = Buffer.alloc(0);

/**
 * SUB socket wrapper, an async iterable of {topic, payload}. Breaking out of a for-await loop does not
 * close it (iterate again to resume); close() ends every pending and future next() with done.
 */
export class ZmqSubscriber implements BusSubscriber {
  /** Endpoint bound (ingest channel in bind mode), or undefined for a connecting subscriber. */
  readonly endpoint: string | undefined;
  private closed = false;
  private inFlight = 0;
  private last: Promise<IteratorResult<BusMessage, undefined>> = DONE_PROMISE;
  private readonly iterator: AsyncIterator<BusMessage, undefined> = { next: () => this.next() };

  /** The rest of a batch [batch.topic, p1, p2, ...], handed out one payload at a time. */
  private batch: Buffer[] = [];
  private batchHead = 0;
  private batchTopic = '';

  private readonly onParts = (parts: Buffer[]): IteratorResult<BusMessage, undefined> => {
    this.inFlight--;
    const topic = topicOf(parts[0]);
    if (parts.length > 2) {
      this.batch = parts;
      this.batchHead = 2;
      this.batchTopic = topic;
    }
    return { done: false, value: { topic, payload: parts[1] ?? EMPTY } };
  };
  private fromBatch(): IteratorResult<BusMessage, undefined> {
    const payload = this.batch[this.batchHead++];
    if (this.batchHead >= this.batch.length) this.batch = [];
    return { done: false, value: { topic: this.batchTopic, payload } };
  }
  private readonly onError = (e: unknown): IteratorResult<BusMessage, undefined> => {
    this.inFlight--;
    if (this.closed) return DONE;
    throw e;
  };
  private readonly receiveOne = (): Promise<IteratorResult<BusMessage, undefined>> => {
    if (this.closed) {
      this.inFlight--;
      return DONE_PROMISE;
    }
    if (this.batchHead < this.batch.length) {
      this.inFlight--;
      return Promise.resolve(this.fromBatch());
    }
    try {
      return this.sock.receive().then(this.onParts, this.onError);
    } catch (e) {
      return Promise.reject(e).then(this.onParts, this.onError);
    }
  };

  constructor(
    private readonly sock: zmq.Subscriber,
    endpoint: string | undefined,
    private readonly onClosed: (c: Closable) => void,
  ) {
    this.endpoint = endpoint;
  }

  [Symbol.asyncIterator](): AsyncIterator<BusMessage, undefined> {
    return this.iterator;
  }

  /**
   * Push-style receive loop (BusSubscriber.consume): one awaited receive per multipart instead of a
   * promise and an iterator result per payload. Fewer allocations mean fewer young-generation GC pauses
   * (with the arbiter's head decoded from the bytes: -18 % allocated at 10k/s). Ends when closed.
   */
  async consume(handler: (topic: string, payload: Buffer) => void): Promise<void> {
    if (this.inFlight > 0 || this.batchHead < this.batch.length)
      throw new Error('consume(): this subscriber is already being iterated');
    while (!this.closed) {
      let parts: Buffer[];
      try {
        parts = await this.sock.receive();
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
      const topic = topicOf(parts[0]);
      if (parts.length < 2) handler(topic, EMPTY);
      for (let i = 1; i < parts.length; i++) handler(topic, parts[i]);
    }
  }

  /** Next message; concurrent calls are served in order (zeromq allows one pending receive). */
  next(): Promise<IteratorResult<BusMessage, undefined>> {
    if (this.closed) return DONE_PROMISE;
    this.inFlight++;
    const p = this.inFlight === 1 ? this.receiveOne() : this.last.then(this.receiveOne, this.receiveOne);
    this.last = p;
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sock.close(); // a pending receive rejects; onError turns that into done
    this.onClosed(this);
  }
}

// ---------------------------------------------------------------------------------------------------

type SnapshotHandler = (topic: string, payload: Buffer) => Promise<Buffer> | Buffer;

/**
 * ROUTER serving snapshot requests. Accepts [identity, reqId, topic, payload] (our DEALER client) and
 * [identity, topic, payload] (a plain DEALER); replies [identity, reqId, reply] or [identity, reply].
 * Requests run concurrently; a throwing handler yields an ErrorReply, never a dead loop.
 */
export class ZmqSnapshotServer implements SnapshotServer {
  readonly endpoint: string;
  served = 0;
  failed = 0;
  private closed = false;
  private readonly loopDone: Promise<void>;
  private readonly onSendError = (e: unknown): void => {
    if (!this.closed) this.log.warn({ err: errorMessageOf(e) }, 'snapshot reply send failed');
  };

  constructor(
    private readonly sock: zmq.Router,
    endpoint: string,
    private readonly handler: SnapshotHandler,
    private readonly log: Logger,
    private readonly onClosed: (c: Closable) => void,
  ) {
    this.endpoint = endpoint;
    this.loopDone = this.loop();
  }

  private loop(): Promise<void> {
    return receiveUntilClosed(
      this.sock,
      () => this.closed,
      this.log,
      'snapshot server',
      (frames) => void this.handle(frames),
    );
  }

  private async handle(frames: Buffer[]): Promise<void> {
    const identity = frames[0];
    const reqId = frames.length >= 4 ? frames[1] : undefined;
    const body = frames.length >= 4 ? frames.slice(2) : frames.slice(1);
    let reply: Buffer;
    if (body.length !== 2) {
      this.failed++;
      this.log.warn({ frames: frames.length }, 'malformed snapshot request');
      reply = encodeErrorReply(`malformed request: expected [topic, payload] frames, got ${body.length}`);
    } else {
      const topic = body[0].toString('utf8');
      try {
        reply = await this.handler(topic, body[1]);
        this.served++;
      } catch (e) {
        this.failed++;
        this.log.warn({ topic, err: errorMessageOf(e) }, 'snapshot handler failed');
        reply = encodeErrorReply(errorMessageOf(e));
      }
    }
    if (this.closed) return;
    const out = reqId ? [identity, reqId, reply] : [identity, reply];
    try {
      // sendTimeout 0: a ROUTER drops replies to vanished peers instead of blocking.
      this.sock.send(out).then(undefined, this.onSendError);
    } catch (e) {
      this.onSendError(e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
    await this.loopDone;
    this.onClosed(this);
  }
}

interface PendingRequest {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface OutgoingRequest {
  id: number;
  frames: [string, string, Buffer];
  deadline: number;
  timeoutMs: number;
}

/**
 * DEALER client. Each request carries a request-id frame and the reply is matched by it, so concurrent
 * requests and late replies to timed-out requests can never be mixed up. `immediate` keeps requests off
 * endpoints that are not connected (with several arbiters, any live one answers).
 */
export class ZmqSnapshotClient implements SnapshotClient {
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly outbox: OutgoingRequest[] = [];
  private pumping = false;
  private readonly loopDone: Promise<void>;

  constructor(
    private readonly sock: zmq.Dealer,
    private readonly endpoints: readonly string[],
    private readonly log: Logger,
    private readonly onClosed: (c: Closable) => void,
  ) {
    this.loopDone = this.receiveLoop();
  }

  request(topic: string, payload: Buffer, timeoutMs: number = DEFAULT_SNAPSHOT_TIMEOUT_MS): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('snapshot client is closed'));
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(this.timeoutError(topic, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.outbox.push({ id, frames: [String(id), topic, payload], deadline: Date.now() + timeoutMs, timeoutMs });
      void this.pump();
    });
  }

  private timeoutError(topic: string, timeoutMs: number): SnapshotTimeoutError {
    return new SnapshotTimeoutError(
      `snapshot request for ${topic} timed out after ${timeoutMs} ms (no reply from ${this.endpoints.join(', ')})`,
    );
  }

  /** Sends one request at a time (a DEALER with no connected peer blocks; zeromq allows one pending send). */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.outbox.length > 0 && !this.closed) {
        const req = this.outbox.shift()!;
        if (!this.pending.has(req.id)) continue; // timed out while queued
        const remaining = req.deadline - Date.now();
        if (remaining <= 0) continue; // its timer rejects it
        this.sock.sendTimeout = Math.ceil(remaining);
        try {
          await this.sock.send(req.frames);
        } catch (e) {
          if (this.closed) return;
          const p = this.pending.get(req.id);
          if (!p) continue;
          this.pending.delete(req.id);
          clearTimeout(p.timer);
          p.reject(
            isErrno(e, 'EAGAIN')
              ? this.timeoutError(req.frames[1], req.timeoutMs)
              : new Error(`snapshot request send failed: ${errorMessageOf(e)}`, { cause: e }),
          );
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private receiveLoop(): Promise<void> {
    return receiveUntilClosed(
      this.sock,
      () => this.closed,
      this.log,
      'snapshot client',
      (frames) => {
        const id = frames.length >= 2 ? Number(frames[0].toString('latin1')) : NaN;
        const p = this.pending.get(id);
        if (!p) {
          this.log.debug({ id }, 'late or unknown snapshot reply dropped');
          return;
        }
        this.pending.delete(id);
        clearTimeout(p.timer);
        const reply = frames[1];
        const err = errorReplyMessage(reply);
        if (err !== undefined) p.reject(new SnapshotServerError(`snapshot server error: ${err}`));
        else p.resolve(reply);
      },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('snapshot client closed'));
    }
    this.pending.clear();
    this.outbox.length = 0;
    this.sock.close();
    await this.loopDone;
    this.onClosed(this);
  }
}

// ---------------------------------------------------------------------------------------------------

export class ZmqTransport implements Transport {
  readonly kind = 'zeromq';
  readonly endpoints: ZmqEndpoints;
  private readonly sendHwm: number;
  private readonly receiveHwm: number;
  private readonly ingestMode: 'bind' | 'connect';
  private readonly lingerMs: number;
  private readonly sendBufferSize: number | undefined;
  private readonly coalesce: boolean;
  private readonly log: Logger;
  private readonly open = new Set<Closable>();
  private readonly bound: Partial<Record<keyof ZmqEndpoints, string>> = {};
  private readonly forget = (c: Closable): void => {
    this.open.delete(c);
  };

  constructor(endpoints: Partial<ZmqEndpoints> = DEFAULT_ZMQ_ENDPOINTS, opts: ZmqTransportOptions = {}) {
    this.endpoints = {
      ingest: [...(endpoints.ingest ?? DEFAULT_ZMQ_ENDPOINTS.ingest)],
      publish: [...(endpoints.publish ?? DEFAULT_ZMQ_ENDPOINTS.publish)],
      snapshot: [...(endpoints.snapshot ?? DEFAULT_ZMQ_ENDPOINTS.snapshot)],
    };
    this.sendHwm = opts.sendHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.sendBufferSize = opts.sendBufferSize;
    this.receiveHwm = opts.receiveHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.ingestMode = opts.ingestMode ?? 'bind';
    this.lingerMs = opts.publisherLingerMs ?? DEFAULT_PUBLISHER_LINGER_MS;
    this.coalesce = opts.coalesce === true;
    this.log = opts.logger ?? (defaultLogger ??= createLogger('transport'));
  }

  /**
   * The configured endpoints with every endpoint this transport bound replaced by the one actually bound
   * (wildcard ports resolved). Hand it to the connecting side: `new ZmqTransport(arbiter.boundEndpoints())`.
   */
  boundEndpoints(): ZmqEndpoints {
    const pick = (k: keyof ZmqEndpoints): string[] => {
      const b = this.bound[k];
      return b ? [b, ...this.endpoints[k].slice(1)] : [...this.endpoints[k]];
    };
    return { ingest: pick('ingest'), publish: pick('publish'), snapshot: pick('snapshot') };
  }

  private track<T extends Closable>(c: T): T {
    this.open.add(c);
    return c;
  }

  async publisher(channel: Channel): Promise<ZmqPublisher> {
    const sock = new zmq.Publisher({ sendHighWaterMark: this.sendHwm, sendTimeout: 0, linger: this.lingerMs });
    if (this.sendBufferSize) sock.sendBufferSize = this.sendBufferSize;
    let endpoint: string | undefined;
    if (channel === 'ingest') {
      requireEndpoints(this.endpoints.ingest, 'ingest');
      // Queue only for peers that are connected: an ingest endpoint whose arbiter or recorder is not
      // running must not pile up sendHighWaterMark messages in every collector's memory.
      sock.immediate = true;
      connectAll(sock, this.endpoints.ingest);
    } else {
      requireEndpoints(this.endpoints.publish, 'publish');
      endpoint = this.bound.publish = await bindEndpoint(sock, this.endpoints.publish[0]);
    }
    const coalesce: Coalesce = !this.coalesce ? false : channel === 'ingest' ? 'turn' : 'idle';
    return this.track(new ZmqPublisher(sock, endpoint, this.lingerMs, this.log, this.forget, coalesce));
  }

  async subscriber(channel: Channel, topicPrefixes: string[], opts: SubscribeOptions = {}): Promise<ZmqSubscriber> {
    const sock = new zmq.Subscriber({ receiveHighWaterMark: opts.highWaterMark ?? this.receiveHwm, linger: 0 });
    if (opts.receiveBufferSize) sock.receiveBufferSize = opts.receiveBufferSize;
    // Each prefix in both forms: the conventional [topic, payload] and a batch [batch.topic, p1, p2, ...].
    if (topicPrefixes.length === 0 || topicPrefixes.includes('')) sock.subscribe();
    else sock.subscribe(...topicPrefixes, ...topicPrefixes.map((p) => BATCH_TOPIC_PREFIX + p));
    let endpoint: string | undefined;
    if (channel === 'ingest') {
      requireEndpoints(this.endpoints.ingest, 'ingest');
      if (this.ingestMode === 'bind') endpoint = this.bound.ingest = await bindEndpoint(sock, this.endpoints.ingest[0]);
      else connectAll(sock, this.endpoints.ingest);
    } else {
      requireEndpoints(this.endpoints.publish, 'publish');
      connectAll(sock, this.endpoints.publish);
    }
    return this.track(new ZmqSubscriber(sock, endpoint, this.forget));
  }

  async snapshotServer(handler: SnapshotHandler): Promise<ZmqSnapshotServer> {
    requireEndpoints(this.endpoints.snapshot, 'snapshot');
    const sock = new zmq.Router({ sendTimeout: 0, linger: 0 });
    const endpoint = (this.bound.snapshot = await bindEndpoint(sock, this.endpoints.snapshot[0]));
    return this.track(new ZmqSnapshotServer(sock, endpoint, handler, this.log, this.forget));
  }

  async snapshotClient(): Promise<ZmqSnapshotClient> {
    requireEndpoints(this.endpoints.snapshot, 'snapshot');
    const sock = new zmq.Dealer({ immediate: true, linger: 0 });
    connectAll(sock, this.endpoints.snapshot);
    return this.track(new ZmqSnapshotClient(sock, this.endpoints.snapshot, this.log, this.forget));
  }

  async close(): Promise<void> {
    await Promise.all([...this.open].map((c) => c.close()));
    this.open.clear();
  }
}
