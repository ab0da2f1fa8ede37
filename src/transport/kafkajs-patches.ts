/**
 * Performance patch of kafkajs 2.2.4, applied before kafkajs loads (src/transport/kafka.ts imports this
 * module first). kafkajs groups a sendBatch's messages per partition with `[...current, message]` for
 * every message: quadratic in the records per partition (a 2000-record batch copies 2 million array
 * slots) and most of a busy producer's garbage. The replacement is linear and otherwise identical
 * (a message's own `partition` wins, else the producer's partitioner). Measured in docs/kafka.md
 * ("Where the 10k/s pipeline lost throughput").
 */
import { createRequire } from 'node:module';

type Grouper = (o: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { partition?: number | null }[];
  partitioner: (o: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}) => Record<number, unknown[]>;

const linearGroupMessagesPerPartition: Grouper = ({ topic, partitionMetadata, messages, partitioner }) => {
  const result: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = message.partition ?? partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
};

const require = createRequire(import.meta.url);
const grouper = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
const user = require.resolve('kafkajs/src/producer/sendMessages.js');

/**
 * True when the patch is in effect: false if kafkajs was loaded before this module, or with
 * BOOKWIRE_KAFKAJS_PATCH=0 (to measure without it, bench/kafka.ts).
 */
export const kafkajsPatched: boolean = (() => {
  if (process.env.BOOKWIRE_KAFKAJS_PATCH === '0') return false;
  if (require.cache[user]) return false; // too late: sendMessages.js holds the original already
  require(grouper);
  const m = require.cache[grouper];
  if (!m) return false;
  m.exports = linearGroupMessagesPerPartition;
  return true;
})();
