/**
 * Partitioning by book keeps a whole market balanced (issue 13): 2,000 Binance-like books placed with the
 * rule every bookwire producer uses (partitionOfKey: kafkajs' DefaultPartitioner, murmur2) on the raw
 * topic's key (`binance.BTCUSDT`), over 6, 12 and 24 partitions, then split among 2 and 3 arbiters with the
 * arbiter group's own assigner. Pure: no broker. The figures print as test diagnostics.
 *
 * The bound: with a hash that spreads keys uniformly, a partition's book count is binomial (n books,
 * p = 1/P), mean n/P, standard deviation sqrt(n p (1 - p)). A partition beyond 4 standard deviations has
 * a chance of about 3e-5, so for 24 partitions about 1 in 1,300 for the whole topic: staying within mean
 * +- 4 sd is what a uniform hash does, and a rule that clusters keys does not (checked below with one that
 * does). For 2,000 books that is max/mean <= 1.20 at 6 partitions, 1.30 at 12, 1.43 at 24.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssignerProtocol, type Cluster } from 'kafkajs';
import { followersFirstRoundRobin, partitionOfKey } from '../../src/transport/kafka.js';
import { KafkaTopics, TOPIC_LAYOUT } from '../../src/transport/kafka-topics.js';
import { binanceLikeSymbols } from '../binance-symbols.js';

const BOOKS = 2000;
const topics = new KafkaTopics();
const RAW = topics.kafkaTopic('raw');
const keys = binanceLikeSymbols(BOOKS).map((s) => topics.toKafka(`raw.binance.${s}`).key);

function booksPerPartition(partitions: number, rule = partitionOfKey): number[] {
  const n = new Array<number>(partitions).fill(0);
  for (const k of keys) n[rule(k, partitions)]++;
  return n;
}

/** Mean +- 4 standard deviations of a binomial count: n trials, probability p each. */
function binomialBand(n: number, p: number): { mean: number; lo: number; hi: number } {
  const mean = n * p;
  const sd = Math.sqrt(n * p * (1 - p));
  return { mean, lo: mean - 4 * sd, hi: mean + 4 * sd };
}

/** The raw partitions each of `instances` arbiters owns, from the assigner the arbiter group uses. */
async function assignment(partitions: number, instances: number): Promise<number[][]> {
  const cluster = {
    findTopicPartitionMetadata: () => Array.from({ length: partitions }, (_, partitionId) => ({ partitionId })),
  } as unknown as Cluster;
  const assigner = followersFirstRoundRobin({ cluster, groupId: 'g', logger: console as never });
  const members = Array.from({ length: instances }, (_, i) => ({ memberId: `a${i}`, memberMetadata: Buffer.alloc(0) }));
  const out = await assigner.assign({ members, topics: [RAW] });
  return members.map(({ memberId }) => {
    const a = out.find((x) => x.memberId === memberId);
    return a ? (AssignerProtocol.MemberAssignment.decode(a.memberAssignment)?.assignment[RAW] ?? []) : [];
  });
}

const ratio = (xs: number[], mean: number) => (Math.max(...xs) / mean).toFixed(3);

test('2,000 books over 6, 12 and 24 raw partitions stay within the binomial band', (t) => {
  assert.equal(new Set(keys).size, BOOKS);
  assert.ok(TOPIC_LAYOUT.raw === 6, 'the suggested layout this test speaks of');
  for (const partitions of [6, 12, 24]) {
    const n = booksPerPartition(partitions);
    const band = binomialBand(BOOKS, 1 / partitions);
    t.diagnostic(
      `${partitions} partitions: books ${n.join(' ')}; mean ${band.mean.toFixed(1)}, max/mean ${ratio(n, band.mean)} ` +
        `(bound ${(band.hi / band.mean).toFixed(3)}), min/mean ${(Math.min(...n) / band.mean).toFixed(3)}`,
    );
    assert.equal(
      n.reduce((a, b) => a + b, 0),
      BOOKS,
    );
    for (const [p, c] of n.entries()) {
      assert.ok(c <= band.hi, `partition ${p} of ${partitions}: ${c} books > ${band.hi.toFixed(1)}`);
      assert.ok(c >= band.lo, `partition ${p} of ${partitions}: ${c} books < ${band.lo.toFixed(1)}`);
    }
  }
});

test('the band catches a rule that clusters keys (the check can fail)', () => {
  // By key length: Binance symbols are mostly 14-17 characters here, so most books share a few partitions.
  const byLength = (key: string, partitions: number) => key.length % partitions;
  const n = booksPerPartition(12, byLength);
  const band = binomialBand(BOOKS, 1 / 12);
  assert.ok(Math.max(...n) > band.hi, `by-length max ${Math.max(...n)} within ${band.hi.toFixed(1)}`);
});

test('per arbiter: even when partitions are a multiple of the instances, uneven otherwise', async (t) => {
  for (const partitions of [6, 12, 24]) {
    const n = booksPerPartition(partitions);
    for (const instances of [2, 3, 4]) {
      const owned = await assignment(partitions, instances);
      assert.deepEqual(
        owned.flat().sort((a, b) => a - b),
        [...n.keys()],
        'every partition owned once',
      );
      const books = owned.map((ps) => ps.reduce((a, p) => a + n[p], 0));
      const mean = BOOKS / instances;
      t.diagnostic(
        `${partitions} partitions, ${instances} arbiters: partitions ${owned.map((ps) => ps.length).join('/')}, ` +
          `books ${books.join('/')}, max/mean ${ratio(books, mean)}`,
      );
      if (partitions % instances === 0) {
        // each owns partitions/instances partitions: its books are binomial (n, 1/instances)
        assert.ok(owned.every((ps) => ps.length === partitions / instances));
        const band = binomialBand(BOOKS, 1 / instances);
        for (const b of books) assert.ok(b >= band.lo && b <= band.hi, `${b} books outside ${band.lo}..${band.hi}`);
      } else {
        // some own one partition more: their share is (ceil(P/I) / (P/I)) of the mean, 6 over 4 -> 1.33
        const share = Math.ceil(partitions / instances) / (partitions / instances);
        assert.ok(Math.max(...books) / mean > 1 + (share - 1) / 2, `uneven split looked even: ${books.join('/')}`);
      }
    }
  }
});
