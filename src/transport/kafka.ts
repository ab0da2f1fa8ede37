/**
 * The bus over Kafka (kafkajs). The only module, with kafka-topics.ts, that knows about Kafka.
 *
 *   publisher(channel)   one idempotent producer (acks=all); one request in flight, everything sent
 *                        meanwhile goes out in the next request, plus a linger (lingerMs) when idle, so
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
// First: patches kafkajs before it loads (see the module).
import { kafkajsPatched, kafkajsProducePatched } from './kafkajs-patches.js';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { MessageQueue, prefixMatcher } from './queue.js';
import type { ConnectionOptions } from 'node:tls';
import {
  CompressionTypes,
  Kafka,
  PartitionAssigners,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type LogEntry,
  type PartitionAssigner,
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
  GroupIngest,
  GroupIngestOptions,
  SnapshotClient,
  SnapshotServer,
  SubscribeOptions,
  Transport,
} from './types.js';
import { DEFAULT_HIGH_WATER_MARK, SnapshotServerError, SnapshotTimeoutError, errorMessageOf } from './common.js';
import {
  BOOK_OFFSET_HEADER,
  KafkaTopicMissingError,
  KafkaTopics,
  exactBookKeys,
  isSnapshotPayload,
  missingTopicMessage,
} from './kafka-topics.js';

export { KafkaTopicMissingError };

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
  /**
   * Producer linger (ms): a record waits up to this long for others before its request goes out (unless
   * `maxBatch` are queued or flush() is called). Default DEFAULT_LINGER_MS; env BOOKWIRE_KAFKA_LINGER_MS.
   */
  lingerMs?: number;
  /**
   * Arbiter groups: least time (ms) between the starts of two transactions of one raw partition, so each
   * takes more records. Default DEFAULT_TXN_LINGER_MS; env BOOKWIRE_KAFKA_TXN_LINGER_MS.
   */
  txnLingerMs?: number;
  /**
   * Compression of what collectors write (`raw`, `status`): 'gzip' or 'none'. Default
   * DEFAULT_RAW_COMPRESSION; env BOOKWIRE_KAFKA_RAW_COMPRESSION. Everything else is gzip.
   */
  rawCompression?: RawCompression;
  logger?: Logger;
}

interface Closable {
  close(): Promise<void>;
}

let defaultLogger: Logger | undefined;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Wait for `work` while keeping a consumer group's membership: kafkajs heartbeats only between batches or
 * when the batch handler calls heartbeat(), so a batch handler that waits longer than the session timeout
 * (6 s for arbiter groups) is taken for dead, its partitions move and the group rebalances. A heartbeat
 * goes every `everyMs` while `work` is pending; one that fails (the group is rebalancing: the batch is
 * over, as kafkajs expects) ends the wait with its error, and `work` runs on (its own failure is then
 * left to whoever else awaits it).
 */
export async function whileBeating<T>(work: Promise<T>, heartbeat: () => Promise<void>, everyMs = 1000): Promise<T> {
  let settled = false;
  const done = work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, everyMs)))]);
    clearTimeout(timer);
    if (settled) return work;
    await heartbeat();
  }
}
/**
 * Wait until `behind()` says the reading is done (undefined; else how far it has read, a sum of offsets),
 * checking every 10 ms. Fails with `error()` at `deadline`; with `stallMs`, the deadline moves on while the
 * reading progresses, so it fails only after stallMs without progress (and not before `deadline`).
 */
export async function readTo(
  behind: () => bigint | undefined,
  deadline: number,
  stallMs: number | undefined,
  error: () => Error,
): Promise<void> {
  let read: bigint | undefined;
  for (;;) {
    const at = behind();
    if (at === undefined) return;
    if (stallMs !== undefined && (read === undefined || at > read)) {
      read = at;
      deadline = Math.max(deadline, Date.now() + stallMs);
    }
    if (Date.now() >= deadline) throw error();
    await sleep(10);
  }
}

/** A raw partition's takeover fails when its reading of the snapshot or book topic makes no progress this long. */
const TAKEOVER_STALL_MS = 20_000;
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

/**
 * gzip, chosen by measurement (bench/kafka.ts, docs/kafka.md): about 5x fewer bytes at the batch sizes
 * seen under load, for a third of the producer's peak rate (still well above 10k records/s).
 */
export const PRODUCER_COMPRESSION = CompressionTypes.GZIP;

export type RawCompression = 'gzip' | 'none';
/** Compression of the collectors' records (docs/kafka.md, "Where the 10k/s pipeline lost throughput"). */
export const DEFAULT_RAW_COMPRESSION: RawCompression = 'gzip';

function rawCompressionOption(given: RawCompression | undefined): RawCompression {
  const v = given ?? (process.env.BOOKWIRE_KAFKA_RAW_COMPRESSION || DEFAULT_RAW_COMPRESSION);
  if (v !== 'gzip' && v !== 'none') throw new Error(`BOOKWIRE_KAFKA_RAW_COMPRESSION must be gzip or none, got ${v}`);
  return v;
}

/** Producer linger default (ms), chosen by measurement (bench/kafka.ts, docs/kafka.md "Producer linger"). */
export const DEFAULT_LINGER_MS = 20;
/**
 * Group arbiters: least ms between the starts of two transactions of a raw partition. 20 by measurement
 * (docs/kafka.md, "Transaction cadence"): fewer round trips and commit markers, and at 10k records/s
 * lower latency than starting the next transaction the moment the previous one ends.
 */
export const DEFAULT_TXN_LINGER_MS = 20;

function msOption(given: number | undefined, env: string, dflt: number): number {
  if (given !== undefined) return given;
  const e = process.env[env];
  if (e === undefined || e === '') return dflt;
  const v = Number(e);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${env} must be a number of milliseconds >= 0, got ${e}`);
  return v;
}

export { kafkajsPatched, kafkajsProducePatched };

const keyPartitioner = Partitioners.DefaultPartitioner();
const metadataOfCount = new Map<number, PartitionMetadata[]>();

/**
 * The partition of a record key in a topic of `count` partitions: kafkajs' DefaultPartitioner (murmur2, the
 * rule of Kafka's Java client), so the partition is what any Kafka producer would choose for that key. Every
 * bookwire producer places records with it (the key is the book, `binance.BTCUSDT`); exported so the
 * balance of books over partitions can be measured with the rule itself (test/transport/kafka-balance.test.ts).
 */
export function partitionOfKey(key: string, count: number): number {
  let partitionMetadata = metadataOfCount.get(count);
  if (!partitionMetadata) {
    partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [],
      isr: [],
    }));
    if (metadataOfCount.size < 1000) metadataOfCount.set(count, partitionMetadata);
  }
  return keyPartitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}

/**
 * Partition of each key, per topic: murmur2 and kafkajs' partitioner once per key rather than once per
 * record (a bus carries few books). A negative answer (partitions not known yet) is not kept.
 */
class PartitionCache<T> {
  private readonly byTopic = new Map<T, Map<string, number>>();

  get(topic: T, key: string, compute: () => number): number {
    let byKey = this.byTopic.get(topic);
    if (!byKey) this.byTopic.set(topic, (byKey = new Map()));
    let p = byKey.get(key);
    if (p !== undefined) return p;
    p = compute();
    if (p >= 0 && byKey.size < 100_000) byKey.set(key, p);
    return p;
  }
}

// ---------------------------------------------------------------------------------------------------

interface Outgoing {
  topic: string;
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
  /** Also copy into the snapshot topic once acknowledged. */
  snapshot: boolean;
  /** When it was queued (performance.now()), for the linger. */
  at: number;
}

/**
 * Queue + one in-flight sendBatch, after up to `lingerMs` for more records. The idempotent producer
 * retries retriable errors itself (brokers down, leader moves) without reordering; anything else is
 * logged and the same batch is retried after a backoff, so a send is only dropped at close() or past
 * maxQueued.
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

  constructor(
    private readonly t: KafkaTransport,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly onClosed: (c: Closable) => void,
    private readonly maxQueued = 1_000_000,
    private readonly maxBatch = 2000,
    private readonly lingerMs = 0,
    private readonly compression: CompressionTypes = PRODUCER_COMPRESSION,
  ) {}

  /** Ends the current linger early (a full batch, flush(), close()). */
  private lingerEnd?: () => void;

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
      at: performance.now(),
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
    if (this.lingerEnd && this.queue.length >= this.maxBatch) this.lingerEnd();
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(() => void this.pump());
    }
  }

  /** By the topic's partition map: new metadata is a new map, so its keys are placed afresh. */
  private readonly partitionCache = new PartitionCache<Map<number, string>>();
  private partitionOf(topic: string, key: string, parts: Map<number, string>): number {
    return this.partitionCache.get(parts, key, () => this.partitionOfUncached(key, parts));
  }

  private partitionOfUncached(key: string, parts: Map<number, string>): number {
    return partitionOfKey(key, parts.size);
  }

  private async pump(): Promise<void> {
    let backoff = 100;
    let limit = this.maxBatch;
    while (this.queue.length > 0) {
      // Linger: let a batch grow for up to lingerMs from its oldest record (records queued while a
      // request was in flight have waited already). Larger batches cost fewer requests and, on the test
      // broker, are what a consumer's fetch returns at once (one produced batch per partition per fetch).
      const wait =
        this.lingerMs > 0 && this.queue.length < this.maxBatch && this.waiters.length === 0
          ? this.queue[0].at + this.lingerMs - performance.now()
          : 0;
      if (wait >= 0.5) {
        await new Promise<void>((r) => {
          const timer = setTimeout(() => this.lingerEnd?.(), wait);
          this.lingerEnd = () => {
            clearTimeout(timer);
            this.lingerEnd = undefined;
            r();
          };
        });
        if (this.closed) break;
      }
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
    // Partitions of each topic once per batch (an await per record cost more than the rest of this loop).
    const partsOf = new Map<string, Map<number, string>>();
    for (const o of batch) {
      let parts = partsOf.get(o.topic);
      if (!parts) {
        parts = (await this.t.partitions(o.topic).catch((e: unknown) => {
          if (e instanceof KafkaTopicMissingError) {
            this.log.error({ topic: o.topic }, e.message);
            return NO_PARTITIONS;
          }
          throw e;
        })) as Map<number, string>;
        partsOf.set(o.topic, parts);
      }
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
      compression: this.compression,
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
          at: 0, // no linger: it waited for the ack already
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
      this.lingerEnd?.(); // flush() sends at once, as linger.ms does in Kafka's clients
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
    this.lingerEnd?.();
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

/** Header on every record a group arbiter writes in a transaction: its transactional.id. */
export const TXN_HEADER = 'bookwire-txn';
/** Header of the records a new owner writes to fence a previous one (never handed to readers). */
export const FENCE_HEADER = 'bookwire-fence';
/** Header `<partition>:<offset>`: the input offset a new owner of that raw partition resumes from. */
export const RESUME_HEADER = 'bookwire-raw-resume';

type RawMessage = KafkaMessage & {
  isControlRecord?: boolean;
  batchContext?: { producerId?: string; inTransaction?: boolean };
};
type KafkaBatch = EachBatchPayload['batch'] & { messagesWithinOffset?: RawMessage[] };

// kafkajs skips, before eachBatch, a fetch holding only transaction markers (control records);
// ReadCommitted needs them, so such batches are handed out (with no messages, markers kept).
{
  const proto = (
    createRequire(import.meta.url)('kafkajs/src/consumer/batch.js') as {
      prototype: { isEmpty(): boolean; messagesWithinOffset: RawMessage[] };
    }
  ).prototype;
  const isEmpty = proto.isEmpty;
  proto.isEmpty = function (this: typeof proto) {
    return isEmpty.call(this) && !this.messagesWithinOffset.some((m) => m.isControlRecord);
  };
}

interface Txn {
  state: 'open' | 'committed' | 'aborted';
}

/**
 * read_committed in the client, for one partition: records of a transaction are held until its
 * commit marker (aborted ones dropped), and nothing after an open transaction is handed out (like the
 * last stable offset). Kafka does this in the broker; the test broker does not (it returns open and
 * aborted records), so bookwire does it for both -- with Kafka it only ever sees finished transactions.
 * A transaction the broker never ends (its producer died; the test broker writes no abort marker when
 * the transactional.id is taken over) counts as aborted once a newer producer with the same
 * transactional.id (TXN_HEADER) writes to the partition: a new owner writes FENCE_HEADER records for that.
 */
export class ReadCommitted {
  private pending: { m: RawMessage; txn?: Txn }[] = [];
  private readonly open = new Map<string, Txn>();
  private readonly latestByTxid = new Map<string, string>();
  /** Producers superseded by a newer one with their transactional.id: whatever they write is aborted. */
  private readonly dead = new Set<string>();

  /** Feed fetched records in offset order; appends those now committed to `out`, in offset order. */
  push(records: readonly RawMessage[], out: RawMessage[]): void {
    for (const m of records) {
      const ctx = m.batchContext;
      const pid = String(ctx?.producerId ?? '-1');
      if (m.isControlRecord) {
        const t = this.open.get(pid);
        if (t) {
          // Control record key: int16 version, int16 type (0 abort, 1 commit).
          t.state = m.key && m.key.length >= 4 && m.key.readInt16BE(2) === 1 ? 'committed' : 'aborted';
          this.open.delete(pid);
        }
        continue;
      }
      if (!ctx?.inTransaction) {
        if (this.pending.length === 0) out.push(m);
        else this.pending.push({ m });
        continue;
      }
      if (this.dead.has(pid)) continue;
      let t = this.open.get(pid);
      if (!t) {
        this.open.set(pid, (t = { state: 'open' }));
        const txid = m.headers?.[TXN_HEADER]?.toString();
        const prev = txid === undefined ? undefined : this.latestByTxid.get(txid);
        if (txid !== undefined && prev !== pid) {
          if (prev !== undefined) {
            this.dead.add(prev);
            const old = this.open.get(prev);
            if (old) old.state = 'aborted';
            this.open.delete(prev);
          }
          this.latestByTxid.set(txid, pid);
        }
      }
      this.pending.push({ m, txn: t });
    }
    let i = 0;
    for (; i < this.pending.length; i++) {
      const e = this.pending[i];
      if (e.txn?.state === 'open') break;
      if (e.txn?.state !== 'aborted' && e.m.headers?.[FENCE_HEADER] === undefined) out.push(e.m);
    }
    if (i > 0) this.pending.splice(0, i);
  }

  /** Offset of the oldest record held back (inside an open transaction), if any. */
  firstHeld(): bigint | undefined {
    return this.pending.length > 0 ? BigInt(this.pending[0].m.offset) : undefined;
  }

  reset(): void {
    this.pending = [];
    this.open.clear();
  }
}

/**
 * A consumer whose start offsets are fixed before it is handed out, re-applied after every group
 * (re)join (a private group never commits, so a rejoin would otherwise jump to the end). A slow reader
 * is never dropped: past `highWaterMark` queued messages the fetch loop waits (Kafka keeps the data).
 */
class PositionedConsumer {
  readonly positions: Positions = new Map();
  private stopped = false;
  private readonly committed = new Map<string, ReadCommitted>();

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
          if (off !== undefined) {
            this.committed.get(`${topic}\0${p}`)?.reset();
            this.consumer.seek({ topic, partition: p, offset: off.toString() });
          }
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
        const id = `${batch.topic}\0${batch.partition}`;
        let rc = this.committed.get(id);
        if (!rc) this.committed.set(id, (rc = new ReadCommitted()));
        const ready: RawMessage[] = [];
        rc.push(withMarkers(batch), ready);
        if (ready.length > 0) await onBatch(batch.topic, batch.partition, ready);
        if (batch.messages.length > 0 || (batch as KafkaBatch).messagesWithinOffset?.length) {
          let m = this.positions.get(batch.topic);
          if (!m) this.positions.set(batch.topic, (m = new Map()));
          // Past transaction markers too, but not past what an open transaction holds back.
          m.set(batch.partition, rc.firstHeld() ?? BigInt(batch.lastOffset()) + 1n);
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

/** The batch's records as kafkajs filtered them (aborted ones gone), plus the transaction markers. */
function withMarkers(batch: KafkaBatch): RawMessage[] {
  const all = batch.messagesWithinOffset;
  if (!all || !all.some((m) => m.isControlRecord)) return batch.messages;
  const kept = new Set<KafkaMessage>(batch.messages);
  return all.filter((m) => m.isControlRecord || kept.has(m));
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

  /**
   * Resolves once everything in the topic at call time has been read (or rejects at the deadline). With
   * `stallMs`, the deadline moves on while reading progresses: it rejects only after stallMs without
   * progress (or at `deadline` plus that, whichever is later).
   */
  async caughtUp(deadline: number, stallMs?: number): Promise<void> {
    const topic = this.t.topics.snapshotTopic;
    const high = await this.t.offsets(topic);
    await readTo(
      () => {
        const pos = this.pc.positions.get(topic);
        let behind = false;
        let at = 0n;
        for (const [p, o] of high) {
          const x = pos?.get(p) ?? o.low;
          at += x;
          if (o.high > o.low && x < o.high) behind = true;
        }
        return behind ? at : undefined;
      },
      deadline,
      stallMs,
      () => new SnapshotTimeoutError(`reading Kafka topic ${topic} did not catch up in time`),
    );
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

interface TxnRecord {
  topic: string;
  key: string;
  value: Buffer;
  partition: number;
  headers?: Record<string, string>;
}

/** One raw partition this instance owns: its transactional producer and the sends waiting for a transaction. */
interface Owner {
  partition: number;
  txid: string;
  producer: Producer;
  queue: TxnRecord[];
  /** Transactions of this partition run one after another. */
  chain: Promise<void>;
  /** Next input offset to process (undefined: wherever the consumer is). */
  expect?: bigint;
  /** Seeked to `expect` and no batch processed since (do not seek again: the offset may be gone). */
  seeked: boolean;
  /** Resume offset written with the last transaction. */
  resume?: bigint;
  /** Next offset after the last message processed (its output is queued or committed). */
  processed?: bigint;
  /** A transaction is queued on `chain` and has not started yet. */
  kicked: boolean;
  /** When the group's offset was last committed (sendOffsets: 3 more round trips, so at most once a second). */
  offsetsAt: number;
  /** When the last transaction started (performance.now()), for txnLingerMs. */
  txnAt: number;
  dead: boolean;
}

/**
 * Consumer-group processing, exactly once with the output (docs/kafka.md, "Arbiter groups and
 * exactly-once"). The instances of `group` share the raw topic's partitions. Per owned partition p:
 *  - a transactional producer, transactional.id `<group>.<raw topic>.<p>`: taking p over fences the
 *    previous owner (Kafka aborts its open transaction; FENCE_HEADER records tell readers of the test
 *    broker, which does not);
 *  - state rebuilt from the committed output: each key's latest snapshot (snapshot topic) and the book
 *    topic after it, read committed, to its end; input resumes at the RESUME_HEADER of that output;
 *  - each fetched batch is processed synchronously by the handler; what it published, the snapshot copies
 *    and the input position (sendOffsets, and RESUME_HEADER on every record) commit in one transaction.
 *    One transaction per partition runs at a time and takes everything processed meanwhile (group
 *    commit). Sends made outside a batch (timers) go out within `txnIntervalMs`.
 */
export class KafkaGroupIngest implements GroupIngest, BusPublisher {
  readonly publisher: BusPublisher = this;
  readonly counters = { transactions: 0, failed: 0, notOwned: 0, rebuilt: 0 };
  private readonly owners = new Map<number, Owner>();
  private readonly owning = new Map<number, Promise<Owner>>();
  /** Raw partitions of the last assignment: a takeover that ends after its partition moved on gives it up. */
  private assigned = new Set<number>();
  private readonly partitions = new Map<string, PartitionMetadata[]>();
  private readonly rawTopic: string;
  private consumer?: Consumer;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private closing = false;

  constructor(
    private readonly t: KafkaTransport,
    private readonly kafka: Kafka,
    private readonly o: GroupIngestOptions,
    private readonly log: Logger,
    private readonly maxWaitTimeInMs: number,
    private readonly onClosed: (c: Closable) => void,
    private readonly txnIntervalMs = 20,
    private readonly txnLingerMs = 0,
  ) {
    this.rawTopic = t.topics.kafkaTopic('raw');
    const wanted = t.topics.topicsFor('ingest', o.prefixes);
    if (wanted.length !== 1 || wanted[0] !== this.rawTopic)
      throw new Error(`consumer-group processing reads the raw family only (prefixes ${o.prefixes.join(',')})`);
  }

  async start(): Promise<void> {
    const topics = this.t.topics;
    for (const f of ['raw', 'book', 'snapshot', 'stats', 'ctl']) {
      const topic = topics.kafkaTopic(f);
      const parts = await this.t.partitions(topic);
      this.partitions.set(
        topic,
        [...parts.keys()].map((partitionId) => ({
          partitionId,
          leader: 0,
          partitionErrorCode: 0,
          replicas: [],
          isr: [],
        })),
      );
    }
    await this.startConsumer();
    this.timer = setInterval(() => this.flushIdle(), this.txnIntervalMs);
  }

  private async startConsumer(): Promise<void> {
    const consumer = (this.consumer = this.kafka.consumer({
      groupId: this.o.group,
      maxWaitTimeInMs: this.maxWaitTimeInMs,
      metadataMaxAge: 2000,
      // A dead instance's partitions move after this long (Kafka's group.min.session.timeout.ms is 6 s).
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      allowAutoTopicCreation: false,
      partitionAssigners: [followersFirstRoundRobin],
      // A consumer that gives up leaves its partitions unprocessed: always restart (rejoin) instead.
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 8, restartOnFailure: async () => true },
    }));
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const mine = new Set(e.payload.memberAssignment[this.rawTopic] ?? []);
      this.assigned = mine;
      this.log.info({ group: this.o.group, partitions: [...mine] }, 'arbiter group: partitions assigned');
      // Back under a new member id: the group dropped this member (a process frozen past the session
      // timeout, a zombie) and another owned its partitions meanwhile, so nothing it holds is current, even
      // for a partition assigned to it again: rebuild from the committed output (seen in CI: a woken zombie
      // kept its old state of a partition it got back and its output stalled).
      const rejoined = this.memberId !== undefined && e.payload.memberId !== this.memberId;
      this.memberId = e.payload.memberId;
      for (const [p, ow] of this.owners) {
        if (!mine.has(p)) this.disown(ow, 'revoked');
        else if (rejoined) this.disown(ow, 'rejoined the group as a new member');
        else ow.seeked = false; // the consumer may restart p elsewhere: check its first batch again
      }
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.closing) return;
      this.log.warn(
        { err: errorMessageOf(e.payload.error), restart: e.payload.restart },
        'Kafka group consumer crashed',
      );
      // kafkajs does not restart after a non-retriable error (the test broker answers some SyncGroup
      // races with one): give the partitions up and join again with a new consumer.
      if (!e.payload.restart && consumer === this.consumer) {
        for (const ow of [...this.owners.values()]) this.disown(ow, 'group consumer restarted');
        setTimeout(() => {
          if (!this.closing)
            this.startConsumer().catch((err: unknown) =>
              this.log.error({ err: errorMessageOf(err) }, 'Kafka group consumer restart failed'),
            );
        }, 1000);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.rawTopic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** This consumer's member id in the group, from its last join. */
  private memberId: string | undefined;

  private readonly partitionCache = new PartitionCache<string>();
  /** -1 while the topic's partitions are not known yet. */
  private partitionOf(topic: string, key: string): number {
    return this.partitionCache.get(topic, key, () => {
      const partitionMetadata = this.partitions.get(topic);
      return partitionMetadata ? partitionOfKey(key, partitionMetadata.length) : -1;
    });
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.closing || !isRunning() || isStale()) return;
    const p = batch.partition;
    let ow: Owner;
    let beatFailed = false;
    const beat = () =>
      heartbeat().catch((e: unknown) => {
        beatFailed = true;
        throw e;
      });
    try {
      // A takeover catches up on the snapshot topic and reads the book topic: at a whole market, longer
      // than the session timeout, and without heartbeats the group took this member for dead, moved its
      // partitions and the next owner started over (a cold start of 2,000 books never finished).
      ow = await whileBeating(this.own(p), beat);
    } catch (e) {
      if (beatFailed) throw e; // the group is rebalancing: the batch is over; own() finishes on its own
      this.log.warn({ partition: p, err: errorMessageOf(e) }, 'taking over a raw partition failed; retrying');
      await sleep(500);
      this.consumer?.seek({ topic: batch.topic, partition: p, offset: batch.firstOffset() ?? batch.lastOffset() });
      return;
    }
    if (batch.messages.length === 0 || ow.dead) return;
    const first = BigInt(batch.messages[0].offset);
    if (ow.expect !== undefined && first > ow.expect && !ow.seeked) {
      // The consumer starts elsewhere (no committed offset, or an older one): go back to the resume point.
      ow.seeked = true;
      this.log.info(
        { partition: p, from: String(ow.expect), fetched: String(first) },
        'raw partition: resuming at the committed output',
      );
      this.consumer?.seek({ topic: batch.topic, partition: p, offset: String(ow.expect) });
      return;
    }
    const h = this.o.handler;
    for (const m of batch.messages) {
      const offset = BigInt(m.offset);
      if (ow.expect !== undefined && offset < ow.expect) continue; // processed before (its output is committed)
      const busTopic = this.t.topics.toBus(batch.topic, m.key ? m.key.toString('utf8') : '');
      if (busTopic === undefined) continue;
      h.onMessage({ topic: busTopic, payload: m.value ?? Buffer.alloc(0), partition: p, offset });
    }
    const next = BigInt(batch.lastOffset()) + 1n;
    ow.processed = next;
    ow.expect = next;
    ow.seeked = false;
    resolveOffset(batch.lastOffset());
    // Group commit: one transaction at a time per partition, taking everything processed meanwhile,
    // so the transaction cost (5 round trips) bounds latency, not throughput.
    this.kick(ow);
    if (ow.queue.length > 50_000) await whileBeating(ow.chain, beat); // transactions fall behind: slow the fetching down
    await heartbeat();
  }

  /** Queue a transaction of everything processed so far, unless one is queued already. */
  private kick(ow: Owner): void {
    if (ow.kicked || ow.dead) return;
    ow.kicked = true;
    ow.chain = ow.chain
      .then(async () => {
        // Fewer, larger transactions: each costs ~5 round trips and, for readers, a commit marker.
        const wait = ow.txnAt + this.txnLingerMs - performance.now();
        if (wait >= 1 && !this.closing) await sleep(wait);
        ow.kicked = false;
        if (ow.dead) return;
        ow.txnAt = performance.now();
        const held = ow.processed === undefined ? undefined : this.o.handler.retainFrom?.(ow.partition);
        const resume = held !== undefined && ow.processed !== undefined && held < ow.processed ? held : ow.processed;
        return this.transactionNow(ow, resume);
      })
      .catch((e: unknown) => {
        // Its output is not committed: drop the state; the next batch rebuilds it from the committed output.
        this.disown(ow, `transaction failed: ${errorMessageOf(e)}`);
        if (ow.processed !== undefined)
          this.consumer?.seek({ topic: this.rawTopic, partition: ow.partition, offset: String(ow.processed) });
      });
  }

  /** Take partition p over: fence its previous owner, rebuild the state of its keys, find the resume offset. */
  private own(p: number): Promise<Owner> {
    const have = this.owners.get(p);
    if (have) return Promise.resolve(have);
    let pending = this.owning.get(p);
    if (pending) return pending;
    pending = (async () => {
      const t0 = Date.now();
      const txid = `${this.o.group}.${this.rawTopic}.${p}`;
      const producer = this.kafka.producer({
        transactionalId: txid,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 30_000,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      // InitProducerId: from here on the previous owner's producer is fenced.
      await producer.connect();
      const ow: Owner = {
        partition: p,
        txid,
        producer,
        queue: [],
        chain: Promise.resolve(),
        seeked: false,
        kicked: false,
        offsetsAt: 0,
        txnAt: 0,
        dead: false,
      };
      try {
        // A record of ours (same transactional.id) in every partition the previous owner may have written:
        // readers then know its unfinished transaction is aborted (see ReadCommitted).
        for (const f of ['book', 'snapshot', 'stats', 'ctl']) {
          const topic = this.t.topics.kafkaTopic(f);
          for (const { partitionId } of this.partitions.get(topic) ?? [])
            ow.queue.push({ topic, key: '', value: Buffer.alloc(0), partition: partitionId });
        }
        await this.transactionNow(ow, undefined, { [FENCE_HEADER]: txid });
        const { history, resume } = await this.history(p);
        ow.expect = resume;
        ow.resume = resume;
        this.o.handler.onAssigned(p, history);
      } catch (e) {
        await producer.disconnect().catch(() => undefined);
        throw e;
      }
      this.owners.set(p, ow);
      this.counters.rebuilt++;
      this.log.info(
        { partition: p, txid, resumeAt: resume(ow), ms: Date.now() - t0 },
        'arbiter group: raw partition taken over, state rebuilt from the committed output',
      );
      // the group rebalanced meanwhile (whileBeating let the batch go) and p went elsewhere
      if (!this.assigned.has(p)) this.disown(ow, 'revoked during the takeover');
      return ow;
    })().finally(() => this.owning.delete(p));
    this.owning.set(p, pending);
    return pending;
  }

  /** Committed output of raw partition p's keys since their latest snapshot, and the input offset to resume at. */
  private async history(p: number): Promise<{ history: Map<string, Buffer[]>; resume?: bigint }> {
    const history = new Map<string, Buffer[]>();
    const table = await this.t.snapshotTable();
    // The batch handler heartbeats meanwhile (whileBeating): a takeover may take as long as reading takes,
    // and fails only when reading stops. With fixed deadlines, a whole market's takeover on a busy host
    // failed ("did not catch up in time", "did not finish in 20 s") and started its reading over.
    await table.caughtUp(Date.now() + TAKEOVER_STALL_MS, TAKEOVER_STALL_MS);
    const bookTopic = this.t.topics.kafkaTopic('book');
    const keyStart = new Map<string, bigint>();
    const from = new Map<number, bigint>();
    for (const [key, e] of table.latest) {
      if (e.bookPartition === undefined || e.bookOffset === undefined) continue;
      if (this.partitionOf(this.rawTopic, key) !== p) continue;
      keyStart.set(key, e.bookOffset);
      history.set(key, []);
      const f = from.get(e.bookPartition);
      if (f === undefined || e.bookOffset < f) from.set(e.bookPartition, e.bookOffset);
    }
    if (from.size === 0) return { history };
    const ends = await this.t.offsets(bookTopic);
    const start = new Map<number, bigint>();
    for (const [bp, o] of ends) start.set(bp, from.get(bp) ?? o.high);
    let resume: bigint | undefined;
    const pc = this.t.newPositionedConsumer(true);
    try {
      await pc.start([bookTopic], new Map([[bookTopic, start]]), (_topic, _bp, messages) => {
        for (const m of messages) {
          const key = m.key?.toString('utf8') ?? '';
          const ks = keyStart.get(key);
          if (ks === undefined || BigInt(m.offset) < ks || !m.value) continue;
          history.get(key)!.push(m.value);
          const r = m.headers?.[RESUME_HEADER]?.toString();
          const i = r ? r.indexOf(':') : -1;
          if (r && i > 0 && Number(r.slice(0, i)) === p) {
            const o = BigInt(r.slice(i + 1));
            if (resume === undefined || o > resume) resume = o;
          }
        }
      });
      await readTo(
        () => {
          const pos = pc.positions.get(bookTopic);
          if ([...from.keys()].every((bp) => (pos?.get(bp) ?? -1n) >= ends.get(bp)!.high)) return undefined;
          return [...from.keys()].reduce((a, bp) => a + (pos?.get(bp) ?? 0n), 0n);
        },
        Date.now() + TAKEOVER_STALL_MS,
        TAKEOVER_STALL_MS,
        () => new Error(`reading ${bookTopic} to its end stopped: no progress in ${TAKEOVER_STALL_MS / 1000} s`),
      );
    } finally {
      await pc.stop();
    }
    return { history, resume };
  }

  /** One transaction: the queued records (then the snapshot copies), and the input offset if given. */
  private async transactionNow(ow: Owner, resume: bigint | undefined, extra?: Record<string, string>): Promise<void> {
    if (ow.dead) throw new Error(`raw partition ${ow.partition} is no longer owned here`);
    const items = ow.queue.splice(0);
    if (resume !== undefined && resume === ow.resume && items.length === 0) return;
    if (items.length === 0 && resume === undefined) return;
    const r = resume ?? ow.resume;
    const headers: Record<string, string> = { [TXN_HEADER]: ow.txid, ...extra };
    if (r !== undefined) headers[RESUME_HEADER] = `${ow.partition}:${r}`;
    const tx = await ow.producer.transaction();
    try {
      if (items.length > 0) {
        const meta = await tx.sendBatch({
          acks: -1,
          compression: PRODUCER_COMPRESSION,
          topicMessages: byTopic(items, headers),
        });
        // Snapshot copies, in the same transaction: a reader sees both or neither.
        const copies: TxnRecord[] = [];
        const bookTopic = this.t.topics.kafkaTopic('book');
        const snapTopic = this.t.topics.snapshotTopic;
        for (const m of meta) {
          if (m.topicName !== bookTopic || m.baseOffset === undefined) continue;
          let i = 0;
          for (const it of items) {
            if (it.topic !== bookTopic || it.partition !== m.partition) continue;
            if (isSnapshotPayload(it.value))
              copies.push({
                topic: snapTopic,
                key: it.key,
                value: it.value,
                partition: this.partitionOf(snapTopic, it.key),
                headers: { [BOOK_OFFSET_HEADER]: `${m.partition}:${BigInt(m.baseOffset) + BigInt(i)}` },
              });
            i++;
          }
        }
        if (copies.length > 0)
          await tx.sendBatch({ acks: -1, compression: PRODUCER_COMPRESSION, topicMessages: byTopic(copies, headers) });
      }
      // The group's offset is informative (lag monitoring, tools); what a new owner resumes from is the
      // header, so the offset need not cost its round trips on every transaction.
      if (resume !== undefined && (this.closing || Date.now() - ow.offsetsAt >= 1000)) {
        ow.offsetsAt = Date.now();
        await tx.sendOffsets({
          consumerGroupId: this.o.group,
          topics: [{ topic: this.rawTopic, partitions: [{ partition: ow.partition, offset: String(resume) }] }],
        });
      }
      await tx.commit();
      if (r !== undefined) ow.resume = r;
      this.counters.transactions++;
    } catch (e) {
      this.counters.failed++;
      await tx.abort().catch(() => undefined);
      throw e;
    }
  }

  /** Timer-driven sends (snapshots, stats, snapshot requests) of partitions with no batch in progress. */
  private flushIdle(): void {
    for (const ow of this.owners.values()) {
      if (ow.queue.length > 0) this.kick(ow);
    }
  }

  private disown(ow: Owner, why: string): void {
    if (ow.dead) return;
    ow.dead = true;
    ow.queue = [];
    if (this.owners.get(ow.partition) === ow) this.owners.delete(ow.partition);
    this.log.warn({ partition: ow.partition, why }, 'arbiter group: raw partition given up');
    this.o.handler.onRevoked(ow.partition);
    void ow.chain.then(() => ow.producer.disconnect()).catch(() => undefined);
  }

  /** Bus topic -> Kafka topic, key, raw partition of its book and output partition: few topics, one lookup each. */
  private readonly routes = new Map<string, { topic: string; key: string; rawPartition: number; partition: number }>();

  private route(topic: string): { topic: string; key: string; rawPartition: number; partition: number } {
    let r = this.routes.get(topic);
    if (r !== undefined) return r;
    const k = this.t.topics.toKafka(topic);
    // The book a record belongs to decides its raw partition: `stats.v.S`, `book.v.S`, `ctl.snapshot.v.S`.
    const bookKey = k.key.split('.').slice(-2).join('.');
    r = {
      topic: k.topic,
      key: k.key,
      rawPartition: this.partitionOf(this.rawTopic, bookKey),
      partition: this.partitionOf(k.topic, k.key),
    };
    // -1: partition metadata not known yet; look again next time
    if (r.rawPartition >= 0 && r.partition >= 0 && this.routes.size < 100_000) this.routes.set(topic, r);
    return r;
  }

  send(topic: string, payload: Buffer | string): void {
    if (this.closed) return;
    const r = this.route(topic);
    const ow = this.owners.get(r.rawPartition);
    if (!ow) {
      if (this.counters.notOwned++ % 1000 === 0)
        this.log.debug({ topic, notOwned: this.counters.notOwned }, 'send for a book not owned here; dropped');
      return;
    }
    const value = typeof payload === 'string' ? Buffer.from(payload) : payload;
    ow.queue.push({ topic: r.topic, key: r.key, value, partition: r.partition });
  }

  /** Resolves when everything sent so far is committed (or its transaction failed). */
  async flush(): Promise<void> {
    await Promise.all(
      [...this.owners.values()].map((ow) => {
        this.kick(ow);
        return ow.chain;
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.consumer?.disconnect().catch(() => undefined),
      new Promise<void>((r) => (timer = setTimeout(r, 3000))),
    ]);
    clearTimeout(timer);
    for (const ow of this.owners.values()) await ow.producer.disconnect().catch(() => undefined);
    this.owners.clear();
    this.onClosed(this);
  }
}

/**
 * Round robin, with the leader's SyncGroup sent a little after the followers': the test broker fails a
 * follower's SyncGroup that arrives after the leader's (INVALID_REQUEST), which cost a rebalance each time.
 */
export const followersFirstRoundRobin: PartitionAssigner = (config) => {
  const rr = PartitionAssigners.roundRobin(config);
  return {
    ...rr,
    assign: async (group) => {
      const out = await rr.assign(group);
      if (group.members.length > 1) await sleep(250);
      return out;
    },
  };
};

function resume(ow: Owner): string | undefined {
  return ow.resume === undefined ? undefined : String(ow.resume);
}

function byTopic(
  items: TxnRecord[],
  headers: Record<string, string>,
): { topic: string; messages: { key: string; value: Buffer; partition: number; headers: Record<string, string> }[] }[] {
  const m = new Map<string, { key: string; value: Buffer; partition: number; headers: Record<string, string> }[]>();
  for (const r of items) {
    let l = m.get(r.topic);
    if (!l) m.set(r.topic, (l = []));
    l.push({
      key: r.key,
      value: r.value,
      partition: r.partition,
      headers: r.headers ? { ...headers, ...r.headers } : headers,
    });
  }
  return [...m].map(([topic, messages]) => ({ topic, messages }));
}

// ---------------------------------------------------------------------------------------------------

export class KafkaTransport implements Transport {
  readonly kind = 'kafka';
  readonly topics: KafkaTopics;
  readonly brokers: string[];
  readonly closeTimeoutMs: number;
  readonly lingerMs: number;
  readonly txnLingerMs: number;
  readonly rawCompression: RawCompression;
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
    this.lingerMs = msOption(opts.lingerMs, 'BOOKWIRE_KAFKA_LINGER_MS', DEFAULT_LINGER_MS);
    this.txnLingerMs = msOption(opts.txnLingerMs, 'BOOKWIRE_KAFKA_TXN_LINGER_MS', DEFAULT_TXN_LINGER_MS);
    this.rawCompression = rawCompressionOption(opts.rawCompression);
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
    const compression =
      channel === 'ingest' && this.rawCompression === 'none' ? CompressionTypes.None : PRODUCER_COMPRESSION;
    return this.track(
      new KafkaPublisher(this, producer, this.log, this.forget, undefined, undefined, this.lingerMs, compression),
    );
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

  /** Consumer-group processing with transactions (KafkaGroupIngest): arbiters sharing the books. */
  async groupIngest(o: GroupIngestOptions): Promise<KafkaGroupIngest> {
    const g = new KafkaGroupIngest(
      this,
      this.kafka,
      o,
      this.log,
      this.opts.maxWaitTimeInMs ?? 100,
      this.forget,
      undefined,
      this.txnLingerMs,
    );
    try {
      await g.start();
    } catch (e) {
      await g.close().catch(() => undefined);
      throw e;
    }
    return this.track(g);
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
