/** The bus-topic <-> Kafka topic/key mapping (pure; no broker needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KafkaTopics,
  exactBookKeys,
  isSnapshotPayload,
  missingTopicMessage,
} from '../../src/transport/kafka-topics.js';
import { encode } from '../../src/wire/messages.js';

test('family selects the Kafka topic, the rest is the key, and back', () => {
  const k = new KafkaTopics('bw');
  assert.deepEqual(k.toKafka('raw.binance.BTCUSDT'), { topic: 'bw.raw', key: 'binance.BTCUSDT' });
  assert.deepEqual(k.toKafka('ctl.snapshot.binance.BTCUSDT'), { topic: 'bw.ctl', key: 'snapshot.binance.BTCUSDT' });
  assert.deepEqual(k.toKafka('status.a'), { topic: 'bw.status', key: 'a' });
  assert.equal(k.toBus('bw.ctl', 'snapshot.binance.BTCUSDT'), 'ctl.snapshot.binance.BTCUSDT');
  assert.equal(k.toBus('other.raw', 'x'), undefined);
  assert.equal(k.snapshotTopic, 'bw.snapshot');
});

test('subscriptions read only the families their prefixes can match', () => {
  const k = new KafkaTopics('bookwire');
  assert.deepEqual(k.topicsFor('ingest', ['raw.', 'status.']), ['bookwire.raw', 'bookwire.status']);
  assert.deepEqual(k.topicsFor('book', []), ['bookwire.book', 'bookwire.stats', 'bookwire.ctl']);
  assert.deepEqual(k.topicsFor('book', ['']), ['bookwire.book', 'bookwire.stats', 'bookwire.ctl']);
  assert.deepEqual(k.topicsFor('book', ['st']), ['bookwire.stats']);
  assert.deepEqual(k.topicsFor('book', ['book.binance.BTCUSDT', 'book.kraken.']), ['bookwire.book']);
});

test('exact book keys, snapshot payloads, and the missing-topic message', () => {
  assert.deepEqual(exactBookKeys(['book.binance.BTCUSDT', 'book.binance.', 'stats.binance.BTCUSDT', 'book.']), [
    'binance.BTCUSDT',
  ]);
  const snap = encode({
    v: 1,
    type: 'snapshot',
    venue: 'binance',
    symbol: 'X',
    seq: 1,
    bids: [],
    asks: [],
    exchTime: 0,
    pubTime: 0,
    reason: 'periodic',
  });
  assert.equal(isSnapshotPayload(snap), true);
  assert.equal(isSnapshotPayload(Buffer.from('{"v":1,"type":"delta"}')), false);
  const m = missingTopicMessage('bookwire.snapshot', ['h:9092']);
  assert.match(m, /"bookwire\.snapshot" does not exist on h:9092/);
  assert.match(m, /--create --topic bookwire\.snapshot --partitions 6 .*cleanup\.policy=compact/);
});
