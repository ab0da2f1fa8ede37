/**
 * The bus over Kafka (kafkajs). The only module, with kafka-topics.ts, that knows about Kafka.
 *
 *   publisher(channel)   one idempotent producer (acks=all); one request in flight, everything sent
 *                        meanwhile goes out in the next request (batching without a fixed linger), so
 *                        per-partition order is the send order and each record's offset is known.
 *   subscriber(ch, pfx)  a consumer of the families' Kafka topics, filtering keys by the prefixes. It
 *                        starts at the end of each partition (offsets fixed before subscriber() resolves),
 *                        or, for an exact book key (`book.binance.BTCUSDT`), at that book's latest
 *                        snapshot (from the snapshot topic's offset header): a late joiner's stream then
 *                        begins with a snapshot and chains gap-free. kafkajs has no group-less consumer:
 *                        each subscriber uses a private group that never commits (its own positions are
 *                        re-applied after any rejoin), unless `groupId` asks for a shared, committing one.
 *   snapshotServer       nothing to serve: the publisher copies every `book.*` snapshot the arbiter
 *                        publishes into the compacted snapshot topic, after its book copy is acknowledged,
 *                        with the book copy's partition:offset in a header.
 *   snapshotClient       reads the snapshot topic (kept as a table: latest record per key) and answers
 *                        with the latest snapshot of the asked book.
 * Brokers unreachable at start: every call retries with backoff, logging what it waits for, until
 * `connectTimeoutMs` (default: forever); a missing topic is an error naming it and how to create it.
 */
import { randomUUID } from 'node:crypto';
import { MessageQueue, prefixMatcher } from './queue.js';
import type { ConnectionOptions } from 'node:tls';
import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type LogEntry,
  type PartitionMetadata,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { createLogger, type Logger } from '../log.js';
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
import { DEFAULT_HIGH_WATER_MARK, SnapshotServerError, SnapshotTimeoutError, errorMessageOf } from './common.js';
import {
  BOOK_OFFSET_HEADER,
  KafkaTopics,
  exactBookKeys,
  isSnapshotPayload,
  missingTopicMessage,
} from './kafka-topics.js';

export interface KafkaTransportOptions {
  /** Bootstrap brokers, host:port. */
  brokers: string[];
  /** Kafka topics are `<topicPrefix>.<family>` (default `bookwire`). */
  topicPrefix?: string;
  clientId?: string;
  /** Passed to kafkajs unchanged. */
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
  /** Subscribers join this consumer group and commit offsets (resume after restart); default: private positions. */
  groupId?: string;
  /** Longest a fetch waits for data (ms). The test broker answers a waiting fetch only at its end: keep it small. */
  maxWaitTimeInMs?: number;
  /** Give up (reject) when the brokers stay unreachable this long (ms); 0 = keep retrying (default). */
  connectTimeoutMs?: number;
  /** close() waits this long (ms) for unacknowledged messages before dropping them. */
  closeTimeoutMs?: number;
  /** Subscribers of an exact book key start at its latest snapshot (default true). */
  startFromSnapshot?: boolean;
  logger?: Logger;
}

interface Closable {
  close(): Promise<void>;
}

let defaultLogger: Logger | undefined;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const NO_PARTITIONS = new Map<number, string>();

/** kafkajs log lines go to our logger, one level quieter (it logs every retry as an error). */
function kafkajsLogCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      // Connection errors repeat on every retry; our own 'unreachable' lines say it once per attempt.
      if (level <= KafkaLogLevel.ERROR && !/^(Connection error|Failed to connect)/.test(message))
        log.warn(rest, `kafkajs: ${message}`);
      else if (level <= KafkaLogLevel.ERROR) log.debug(rest, `kafkajs: ${message}`);
      else if (level === KafkaLogLevel.WARN) log.info(rest, `kafkajs: ${message}`);
      else log.debug(rest, `kafkajs: ${message}`);
    };
}

function isMissingTopic(e: unknown): boolean {
  const s = `${(e as { type?: string })?.type ?? ''} ${errorMessageOf(e)}`;
  return /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic/i.test(s);
}

function isUnreachable(e: unknown): boolean {
  const n = (e as { name?: string })?.name ?? '';
  return /Connection|BrokerNotFound|NumberOfRetriesExceeded|RequestTimeout|NonRetriable/.test(n) && !isMissingTopic(e);
}

/** Errors that retrying the same record cannot fix. */
function isRejectedRecord(e: unknown): boolean {
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) {
    const type = (c as { type?: string }).type ?? '';
    if (/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|INVALID_RECORD|CORRUPT_MESSAGE|INVALID_REQUIRED_ACKS/.test(type))
      return true;
    if (/too large|larger than/i.test(errorMessageOf(c))) return true;
  }
  return false;
}

export class KafkaTopicMissingError extends Error {
  override name = 'KafkaTopicMissingError';
}

// ---------------------------------------------------------------------------------------------------

interface Outgoing {
  topic: string;
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
  /** Also copy into the snapshot topic once acknowledged. */
  snapshot: boolean;
}

/**
 * Queue + one in-flight sendBatch. The idempotent producer retries retriable errors itself (brokers
 * down, leader moves) without reordering; anything else is logged and the same batch is retried after
 * a backoff, so a send is only dropped at close() or past maxQueued.
 */
export class KafkaPublisher implements BusPublisher {
  sent = 0;
  acked = 0;
  dropped = 0;
  droppedAfterClose = 0;
  failures = 0;
  /** Records the brokers refused for good (e.g. larger than message.max.bytes): logged and dropped. */
  rejected = 0;
  private queue: Outgoing[] = [];
  private pumping = false;
  private closed = false;
  /** upTo: messages to be acknowledged; copies: upTo was reached once, now also wait for the snapshot copies it caused. */
  private waiters: { upTo: number; copies: boolean; resolve: () => void }[] = [];
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(
    private readonly t: KafkaTransport,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly onClosed: (c: Closable) => void,
    private readonly maxQueued = 1_000_000,
    private readonly maxBatch = 2000,
  ) {}

  send(topic: string, payload: Buffer | string): void {
    if (this.closed) {
      this.droppedAfterClose++;
      return;
    }
    const value = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const k = this.t.topics.toKafka(topic);
    this.enqueue({
      topic: k.topic,
      key: k.key,
      value,
      snapshot: topic.startsWith('book.') && isSnapshotPayload(value),
    });
  }

  private enqueue(o: Outgoing): void {
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift();
      if (this.dropped++ % 10_000 === 0)
        this.log.error({ dropped: this.dropped }, 'Kafka publish queue full; dropping oldest');
    }
    this.queue.push(o);
    this.sent++;
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(() => void this.pump());
    }
  }

  private readonly partitionMetadata = new Map<Map<number, string>, PartitionMetadata[]>();
  private partitionOf(topic: string, key: string, parts: Map<number, string>): number {
    let partitionMetadata = this.partitionMetadata.get(parts);
    if (!partitionMetadata) {
      partitionMetadata = [...parts.keys()].map((partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [],
        isr: [],
      }));
      this.partitionMetadata.set(parts, partitionMetadata);
    }
    return this.partitioner({ topic, partitionMetadata, message: { key, value: null } });
  }

  private async pump(): Promise<void> {
    let backoff = 100;
    let limit = this.maxBatch;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, limit);
      try {
        await this.sendOnce(batch);
        this.queue.splice(0, batch.length);
        this.acked += batch.length;
        backoff = 100;
        limit = this.maxBatch;
        this.wake();
      } catch (e) {
        if (this.closed) break;
        if (isRejectedRecord(e)) {
          // A record the broker will never take (too large, invalid): halve the batch until it is
          // alone, then drop it, so one bad record cannot stall the publisher.
          if (batch.length === 1) {
            this.queue.shift();
            this.rejected++;
            this.log.error(
              { err: errorMessageOf(e), bytes: batch[0].value.length, topic: batch[0].topic, rejected: this.rejected },
              'Kafka rejected a record; dropped',
            );
            this.wake();
          } else limit = Math.max(1, batch.length >> 1);
          continue;
        }
        if (this.failures++ < 10 || this.failures % 100 === 0)
          this.log.warn(
            { err: errorMessageOf(e), failures: this.failures, queued: this.queue.length },
            'Kafka publish failed; retrying',
          );
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    this.pumping = false;
    this.wake();
  }

  private async sendOnce(batch: Outgoing[]): Promise<void> {
    // Partitions are chosen here (same murmur2 rule as Kafka's Java client) so each record's offset is
    // baseOffset + its index among the batch's records for that partition.
    const byTp = new Map<string, { topic: string; partition: number; items: Outgoing[] }>();
    for (const o of batch) {
      const parts = (await this.t.partitions(o.topic).catch((e: unknown) => {
        if (e instanceof KafkaTopicMissingError) {
          this.log.error({ topic: o.topic }, e.message);
          return NO_PARTITIONS;
        }
        throw e;
      })) as Map<number, string>;
      if (parts.size === 0) {
        this.dropped++;
        continue;
      }
      const partition = this.partitionOf(o.topic, o.key, parts);
      const id = `${o.topic}\0${partition}`;
      let g = byTp.get(id);
      if (!g) byTp.set(id, (g = { topic: o.topic, partition, items: [] }));
      g.items.push(o);
    }
    if (byTp.size === 0) return;
    const topicMessages = new Map<
      string,
      { key: string; value: Buffer; partition: number; headers?: Record<string, string> }[]
    >();
    for (const g of byTp.values()) {
      let l = topicMessages.get(g.topic);
      if (!l) topicMessages.set(g.topic, (l = []));
      for (const o of g.items) l.push({ key: o.key, value: o.value, partition: g.partition, headers: o.headers });
    }
    const meta = await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...topicMessages].map(([topic, messages]) => ({ topic, messages })),
    });
    const snapTopic = this.t.topics.snapshotTopic;
    for (const m of meta) {
      const g = byTp.get(`${m.topicName}\0${m.partition}`);
      if (!g || m.baseOffset === undefined) continue;
      const base = BigInt(m.baseOffset);
      g.items.forEach((o, i) => {
        if (!o.snapshot) return;
        // After the ack: a reader of the snapshot topic never sees a snapshot whose book copy is not there.
        this.queue.push({
          topic: snapTopic,
          key: o.key,
          value: o.value,
          headers: { [BOOK_OFFSET_HEADER]: `${m.partition}:${base + BigInt(i)}` },
          snapshot: false,
        });
        this.sent++;
      });
    }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const idle = this.queue.length === 0;
    this.waiters = this.waiters.filter((w) => {
      if (idle && !this.pumping) {
        w.resolve();
        return false;
      }
      if (this.acked + this.dropped + this.rejected >= w.upTo) {
        if (w.copies) {
          w.resolve();
          return false;
        }
        // Copies of the snapshots just acknowledged were queued after upTo was taken.
        w.copies = true;
        w.upTo = this.sent;
      }
      return true;
    });
  }

  /** Resolves when everything sent so far (and the snapshot copies it caused) is acknowledged by Kafka. */
  flush(): Promise<void> {
    if (this.queue.length === 0 && !this.pumping) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ upTo: this.sent, copies: false, resolve });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    const flushed = await Promise.race([
      this.flush().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.t.closeTimeoutMs))),
    ]);
    clearTimeout(timer);
    this.closed = true;
    if (!flushed)
      this.log.warn(
        { unacknowledged: this.queue.length },
        'closing the Kafka publisher with messages not acknowledged',
      );
    this.queue = [];
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    await this.producer.disconnect().catch(() => undefined);
    this.onClosed(this);
  }
}

// ---------------------------------------------------------------------------------------------------

/** Positions are tracked per Kafka topic and partition as the next offset to read. */
type Positions = Map<string, Map<number, bigint>>;

/**
 * A consumer whose start offsets are fixed before it is handed out, re-applied after every group
 * (re)join (a private group never commits, so a rejoin would otherwise jump to the end). A slow reader
 * is never dropped: past `highWaterMark` queued messages the fetch loop waits (Kafka keeps the data).
 */
class PositionedConsumer {
  readonly positions: Positions = new Map();
  private stopped = false;

  constructor(
    readonly consumer: Consumer,
    private readonly privateGroup: boolean,
    private readonly log: Logger,
  ) {}

  async start(
    topics: string[],
    start: Positions,
    onBatch: (
      topic: string,
      partition: number,
      messages: EachBatchPayload['batch']['messages'],
    ) => Promise<void> | void,
  ): Promise<void> {
    for (const [t, m] of start) this.positions.set(t, new Map(m));
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      if (!this.privateGroup) return;
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) {
        for (const p of parts) {
          const off = this.positions.get(topic)?.get(p);
          if (off !== undefined) this.consumer.seek({ topic, partition: p, offset: off.toString() });
        }
      }
    });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (!this.stopped)
        this.log.warn({ err: errorMessageOf(e.payload.error), restart: e.payload.restart }, 'Kafka consumer crashed');
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: false });
    await this.consumer.run({
      autoCommit: !this.privateGroup,
      eachBatch: async ({ batch }) => {
        if (this.stopped) return;
        await onBatch(batch.topic, batch.partition, batch.messages);
        const last = batch.messages[batch.messages.length - 1];
        if (last) {
          let m = this.positions.get(batch.topic);
          if (!m) this.positions.set(batch.topic, (m = new Map()));
          m.set(batch.partition, BigInt(last.offset) + 1n);
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // kafkajs' disconnect waits for the fetch loop, which can hang in a restart: bound it.
    let timer: NodeJS.Timeout | undefined;
    const t0 = Date.now();
    const ok = await Promise.race([
      this.consumer.disconnect().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 3000))),
    ]);
    clearTimeout(timer);
    this.log.info({ ok, ms: Date.now() - t0 }, 'Kafka consumer stopped');
    if (!ok) this.log.warn('Kafka consumer did not disconnect within 3 s');
  }
}

export class KafkaSubscriber implements BusSubscriber {
  private drained: (() => void)[] = [];
  private closed = false;
  private readonly queue = new MessageQueue(() => {
    if (this.drained.length > 0 && this.queue.size < this.highWaterMark / 2)
      for (const d of this.drained.splice(0)) d();
  });
  private readonly matches: (topic: string) => boolean;
  private readonly iterator: AsyncIterator<BusMessage, undefined> = { next: () => this.queue.next() };
  /** Messages outside the prefixes (other keys in the same partitions). */
  filtered = 0;

  constructor(
    private readonly t: KafkaTransport,
    private readonly pc: PositionedConsumer,
    prefixes: readonly string[],
    private readonly highWaterMark: number,
    private readonly onClosed: (c: Closable) => void,
  ) {
    this.matches = prefixMatcher(prefixes);
  }

  /** @internal */
  readonly onBatch = async (
    topic: string,
    _p: number,
    messages: EachBatchPayload['batch']['messages'],
  ): Promise<void> => {
    for (const m of messages) {
      const busTopic = this.t.topics.toBus(topic, m.key ? m.key.toString('utf8') : '');
      if (busTopic === undefined || !this.matches(busTopic)) {
        this.filtered++;
        continue;
      }
      this.queue.push({ topic: busTopic, payload: m.value ?? Buffer.alloc(0) });
    }
    // Backpressure instead of drops: Kafka keeps what we have not fetched yet.
    while (!this.closed && this.highWaterMark > 0 && this.queue.size >= this.highWaterMark)
      await new Promise<void>((r) => this.drained.push(r));
  };

  [Symbol.asyncIterator](): AsyncIterator<BusMessage, undefined> {
    return this.iterator;
  }

  next(): Promise<IteratorResult<BusMessage, undefined>> {
    return this.queue.next();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.drained.splice(0)) d();
    this.queue.close();
    await this.pc.stop();
    this.onClosed(this);
  }
}

// ---------------------------------------------------------------------------------------------------

interface TableEntry {
  value: Buffer;
  /** Where the same snapshot sits in the book topic. */
  bookPartition?: number;
  bookOffset?: bigint;
}

/** The snapshot topic read as a table: latest record per key, followed live. */
class SnapshotTable {
  readonly latest = new Map<string, TableEntry>();
  private constructor(
    private readonly t: KafkaTransport,
    private readonly pc: PositionedConsumer,
  ) {}

  static async open(t: KafkaTransport): Promise<SnapshotTable> {
    const topic = t.topics.snapshotTopic;
    const offsets = await t.offsets(topic);
    const start: Positions = new Map([[topic, new Map([...offsets].map(([p, o]) => [p, o.low]))]]);
    const pc = t.newPositionedConsumer(true);
    const table = new SnapshotTable(t, pc);
    await pc.start([topic], start, (_topic, _p, messages) => {
      for (const m of messages) {
        if (!m.key || !m.value) continue;
        const h = m.headers?.[BOOK_OFFSET_HEADER]?.toString();
        const [bp, bo] = h ? h.split(':') : [];
        table.latest.set(m.key.toString('utf8'), {
          value: m.value,
          bookPartition: bp !== undefined ? Number(bp) : undefined,
          bookOffset: bo !== undefined ? BigInt(bo) : undefined,
        });
      }
    });
    return table;
  }

  /** Resolves once everything in the topic at call time has been read (or rejects at the deadline). */
  async caughtUp(deadline: number): Promise<void> {
    const topic = this.t.topics.snapshotTopic;
    const high = await this.t.offsets(topic);
    for (;;) {
      const pos = this.pc.positions.get(topic);
      let behind = false;
      for (const [p, o] of high) if (o.high > o.low && (pos?.get(p) ?? o.low) < o.high) behind = true;
      if (!behind) return;
      if (Date.now() >= deadline)
        throw new SnapshotTimeoutError(`reading Kafka topic ${topic} did not catch up in time`);
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    await this.pc.stop();
  }
}

class KafkaSnapshotClient implements SnapshotClient {
  private closed = false;
  constructor(
    private readonly t: KafkaTransport,
    private readonly onClosed: (c: Closable) => void,
  ) {}

  async request(topic: string, _payload: Buffer, timeoutMs = 2000): Promise<Buffer> {
    if (this.closed) throw new Error('snapshot client is closed');
    const deadline = Date.now() + timeoutMs;
    const table = await this.t.snapshotTable();
    await table.caughtUp(deadline);
    const key = this.t.topics.toKafka(topic).key;
    const e = table.latest.get(key);
    if (!e)
      throw new SnapshotServerError(
        `snapshot server error: no snapshot of ${topic} in Kafka topic ${this.t.topics.snapshotTopic} yet (the arbiter writes one every snapshotIntervalMs)`,
      );
    return e.value;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClosed(this);
  }
}

// ---------------------------------------------------------------------------------------------------

export class KafkaTransport implements Transport {
  readonly kind = 'kafka';
  readonly topics: KafkaTopics;
  readonly brokers: string[];
  readonly closeTimeoutMs: number;
  private readonly kafka: Kafka;
  private readonly log: Logger;
  private readonly opts: KafkaTransportOptions;
  private readonly open = new Set<Closable>();
  private admin?: Promise<Admin>;
  private readonly partitionCache = new Map<string, Promise<Map<number, string>>>();
  private table?: Promise<SnapshotTable>;
  private closed = false;
  private readonly forget = (c: Closable): void => {
    this.open.delete(c);
  };

  constructor(opts: KafkaTransportOptions) {
    if (!opts.brokers || opts.brokers.length === 0)
      throw new Error('Kafka transport: no brokers configured (--brokers host:port,...)');
    this.opts = opts;
    this.brokers = [...opts.brokers];
    this.topics = new KafkaTopics(opts.topicPrefix);
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.log = opts.logger ?? (defaultLogger ??= createLogger('transport'));
    this.kafka = new Kafka({
      clientId: opts.clientId ?? 'bookwire',
      brokers: this.brokers,
      ssl: opts.ssl,
      sasl: opts.sasl,
      connectionTimeout: 3000,
      logCreator: kafkajsLogCreator(this.log.child({ component: 'kafkajs' })),
      logLevel: KafkaLogLevel.WARN,
      // Short internal retries: withReachability() does the long, logged backoff at start.
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
    });
  }

  /** Retry `fn` with backoff while the brokers are unreachable; other errors are thrown at once. */
  private async withReachability<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const limit = this.opts.connectTimeoutMs ?? 0;
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new Error('Kafka transport is closed');
      try {
        return await fn();
      } catch (e) {
        if (e instanceof KafkaTopicMissingError || isMissingTopic(e) || !isUnreachable(e)) throw e;
        const waited = Date.now() - t0;
        if (limit > 0 && waited + delay > limit)
          throw new Error(
            `cannot reach Kafka brokers ${this.brokers.join(',')} (${what}) after ${attempt} attempts over ${Math.round(waited / 100) / 10} s: ${errorMessageOf(e)}`,
            { cause: e },
          );
        this.log.warn(
          { brokers: this.brokers, attempt, retryInMs: delay, err: errorMessageOf(e) },
          `Kafka brokers unreachable (${what}); retrying`,
        );
        await sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private adminClient(): Promise<Admin> {
    this.admin ??= (async () => {
      const a = this.kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
      try {
        await this.withReachability('connect', () => a.connect());
      } catch (e) {
        this.admin = undefined;
        throw e;
      }
      return a;
    })();
    return this.admin;
  }

  /** Partition ids (-> leader, for logs) of a Kafka topic; rejects with KafkaTopicMissingError if absent. */
  partitions(topic: string): Promise<Map<number, string>> {
    let p = this.partitionCache.get(topic);
    if (!p) {
      p = (async () => {
        const admin = await this.adminClient();
        try {
          const md = await this.serialized(() =>
            this.withReachability(`metadata of ${topic}`, () => admin.fetchTopicMetadata({ topics: [topic] })),
          );
          const t = md.topics.find((x) => x.name === topic);
          if (!t || t.partitions.length === 0)
            throw new KafkaTopicMissingError(missingTopicMessage(topic, this.brokers));
          return new Map(t.partitions.map((x) => [x.partitionId, String(x.leader)]));
        } catch (e) {
          if (isMissingTopic(e)) throw new KafkaTopicMissingError(missingTopicMessage(topic, this.brokers));
          throw e;
        }
      })();
      this.partitionCache.set(topic, p);
      p.catch(() => this.partitionCache.delete(topic));
    }
    return p;
  }

  /** kafkajs' admin is not safe for concurrent offset lookups (it mixes up responses): one at a time. */
  private adminChain: Promise<unknown> = Promise.resolve();
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.adminChain.then(fn, fn);
    this.adminChain = run.catch(() => undefined);
    return run;
  }

  /** Low and high watermarks per partition. */
  async offsets(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    await this.partitions(topic);
    const admin = await this.adminClient();
    const o = await this.serialized(() =>
      this.withReachability(`offsets of ${topic}`, () => admin.fetchTopicOffsets(topic)),
    );
    return new Map(o.map((x) => [x.partition, { low: BigInt(x.low), high: BigInt(x.high) }]));
  }

  /** @internal */
  newPositionedConsumer(privateGroup: boolean): PositionedConsumer {
    const groupId = privateGroup ? `${this.topics.prefix}-private-${randomUUID()}` : this.opts.groupId!;
    const consumer = this.kafka.consumer({
      groupId,
      maxWaitTimeInMs: this.opts.maxWaitTimeInMs ?? 100,
      // After a broker comes back, kafkajs only fetches its partitions again once metadata is refreshed.
      metadataMaxAge: 2000,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 8 },
    });
    return new PositionedConsumer(consumer, privateGroup, this.log);
  }

  /** @internal The shared snapshot table (opened on first use). */
  snapshotTable(): Promise<SnapshotTable> {
    if (!this.table) {
      this.table = SnapshotTable.open(this);
      this.table.catch(() => (this.table = undefined));
    }
    return this.table;
  }

  private track<T extends Closable>(c: T): T {
    this.open.add(c);
    return c;
  }

  async publisher(channel: Channel): Promise<KafkaPublisher> {
    // Fail early, with the fix in the message, if a topic this channel writes is missing.
    const families = channel === 'ingest' ? ['raw', 'status'] : ['book', 'stats', 'ctl', 'snapshot'];
    for (const f of families) await this.partitions(this.topics.kafkaTopic(f));
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    await this.withReachability('producer connect', () => producer.connect());
    return this.track(new KafkaPublisher(this, producer, this.log, this.forget));
  }

  async subscriber(channel: Channel, topicPrefixes: string[], opts: SubscribeOptions = {}): Promise<KafkaSubscriber> {
    const topics = this.topics.topicsFor(channel, topicPrefixes);
    const start: Positions = new Map();
    const privateGroup = !this.opts.groupId;
    for (const topic of topics) {
      const o = await this.offsets(topic);
      start.set(topic, new Map([...o].map(([p, x]) => [p, x.high])));
    }
    const bookTopic = this.topics.kafkaTopic('book');
    const keys = exactBookKeys(topicPrefixes);
    if (privateGroup && (this.opts.startFromSnapshot ?? true) && keys.length > 0 && start.has(bookTopic)) {
      // A late joiner starts at its book's latest snapshot: the stream begins with it and chains on.
      const table = await this.snapshotTable();
      await table
        .caughtUp(Date.now() + 5000)
        .catch((e) => this.log.warn({ err: errorMessageOf(e) }, 'snapshot topic not read; starting at the end'));
      const pos = start.get(bookTopic)!;
      for (const k of keys) {
        const e = table.latest.get(k);
        if (e?.bookPartition === undefined || e.bookOffset === undefined) continue;
        const cur = pos.get(e.bookPartition);
        if (cur !== undefined && e.bookOffset < cur) pos.set(e.bookPartition, e.bookOffset);
      }
    }
    const pc = this.newPositionedConsumer(privateGroup);
    const sub = new KafkaSubscriber(
      this,
      pc,
      [...topicPrefixes],
      opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      this.forget,
    );
    try {
      await this.withReachability('consumer start', () => pc.start(topics, start, sub.onBatch));
    } catch (e) {
      await pc.stop();
      throw e;
    }
    return this.track(sub);
  }

  /** Nothing to serve on Kafka: book snapshots reach the snapshot topic through the publisher. */
  async snapshotServer(): Promise<SnapshotServer> {
    await this.partitions(this.topics.snapshotTopic);
    this.log.info({ topic: this.topics.snapshotTopic }, 'snapshots are served from the Kafka snapshot topic');
    return { close: async () => undefined };
  }

  async snapshotClient(): Promise<SnapshotClient> {
    await this.partitions(this.topics.snapshotTopic);
    return this.track(new KafkaSnapshotClient(this, this.forget));
  }

  async close(): Promise<void> {
    await Promise.all([...this.open].map((c) => c.close()));
    this.open.clear();
    this.closed = true;
    const table = this.table;
    this.table = undefined;
    if (table) await (await table.catch(() => undefined))?.close();
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.disconnect().catch(() => undefined);
  }
}
