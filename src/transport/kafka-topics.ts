/**
 * How bus topics map onto Kafka (pure, no kafkajs): the family -- the first segment of a bus topic
 * (raw, status, book, stats, ctl) -- selects the Kafka topic `<prefix>.<family>`, and the rest of the
 * bus topic is the record key (`binance.BTCUSDT`), so every book's messages share one partition and
 * keep their order. Book snapshots are also kept, keyed the same way, in the compacted `<prefix>.snapshot`.
 */
import type { Channel } from './types.js';

export const DEFAULT_TOPIC_PREFIX = 'bookwire';

/** Families each channel carries when a subscriber asks for everything (no prefix, or ''). */
export const CHANNEL_FAMILIES: Record<Channel, readonly string[]> = {
  ingest: ['raw', 'status'],
  book: ['book', 'stats', 'ctl'],
};

/** Suggested partitions for each topic (docs/kafka.md, the test broker's -t flags). */
export const TOPIC_LAYOUT: Record<string, number> = { raw: 6, status: 1, book: 6, stats: 1, ctl: 1, snapshot: 6 };

/** Header on snapshot-topic records: `<partition>:<offset>` of the same snapshot in the book topic. */
export const BOOK_OFFSET_HEADER = 'bookwire-book-offset';

export class KafkaTopics {
  constructor(readonly prefix: string = DEFAULT_TOPIC_PREFIX) {}

  kafkaTopic(family: string): string {
    return `${this.prefix}.${family}`;
  }

  get snapshotTopic(): string {
    return this.kafkaTopic('snapshot');
  }

  /** Bus topic -> Kafka topic and key. A topic without a dot is a family with an empty key. */
  toKafka(busTopic: string): Readonly<{ topic: string; key: string }> {
    // called per published message: a bus carries few topics, so each is split once
    let r = this.byBusTopic.get(busTopic);
    if (r !== undefined) return r;
    const i = busTopic.indexOf('.');
    r =
      i < 0
        ? { topic: this.kafkaTopic(busTopic), key: '' }
        : { topic: this.kafkaTopic(busTopic.slice(0, i)), key: busTopic.slice(i + 1) };
    if (this.byBusTopic.size < 100_000) this.byBusTopic.set(busTopic, r);
    return r;
  }

  private readonly byBusTopic = new Map<string, { topic: string; key: string }>();

  /** Kafka topic and key -> bus topic, or undefined for a Kafka topic outside our prefix. */
  toBus(kafkaTopic: string, key: string): string | undefined {
    if (!kafkaTopic.startsWith(this.prefix + '.')) return undefined;
    const family = kafkaTopic.slice(this.prefix.length + 1);
    return key === '' ? family : `${family}.${key}`;
  }

  /**
   * The Kafka topics a subscription to these bus-topic prefixes must read. A prefix inside one family
   * (`book.binance.`) reads that family's topic; a prefix shorter than a family name (`st`) reads every
   * family of the channel it could match; no prefix (or '') reads every family of the channel.
   */
  topicsFor(channel: Channel, prefixes: readonly string[]): string[] {
    const all = prefixes.length === 0 || prefixes.includes('');
    const families = new Set<string>();
    for (const p of all ? [''] : prefixes) {
      const dot = p.indexOf('.');
      if (dot >= 0) families.add(p.slice(0, dot));
      else for (const f of CHANNEL_FAMILIES[channel]) if (f.startsWith(p)) families.add(f);
    }
    return [...families].map((f) => this.kafkaTopic(f));
  }
}

/** Cheap test for a consolidated snapshot payload: encode() writes `v` then `type` first. */
const SNAPSHOT_PREFIX = Buffer.from('{"v":1,"type":"snapshot"');
export function isSnapshotPayload(payload: Buffer): boolean {
  return payload.length >= SNAPSHOT_PREFIX.length && SNAPSHOT_PREFIX.compare(payload, 0, SNAPSHOT_PREFIX.length) === 0;
}

/** The `book.<venue>.<symbol>` keys a list of prefixes names exactly (candidates for a snapshot start). */
export function exactBookKeys(prefixes: readonly string[]): string[] {
  return prefixes.filter((p) => /^book\.[^.]+\.[^.]+$/.test(p)).map((p) => p.slice('book.'.length));
}

/** A bookwire topic is not on the brokers (they do not create topics): the message says what to create. */
export class KafkaTopicMissingError extends Error {
  override name = 'KafkaTopicMissingError';
}

/** Explains how to create a missing topic, for the test broker and for Apache Kafka. */
export function missingTopicMessage(topic: string, brokers: readonly string[]): string {
  const family = topic.slice(topic.lastIndexOf('.') + 1);
  const parts = TOPIC_LAYOUT[family] ?? 1;
  const compact = family === 'snapshot' ? ' --config cleanup.policy=compact' : '';
  return (
    `Kafka topic "${topic}" does not exist on ${brokers.join(',')}. Create it, e.g. ` +
    `kafka-topics.sh --bootstrap-server ${brokers[0] ?? 'HOST:9092'} --create --topic ${topic} --partitions ${parts} ` +
    `--replication-factor 3${compact} (test broker: -t ${topic}:${parts}:3 or the control command "create ${topic} ${parts} 3"); ` +
    `see docs/kafka.md`
  );
}
