/**
 * Performance patches of kafkajs 2.2.4, applied before kafkajs loads (src/transport/kafka.ts imports this
 * module first). Each gives the same result as kafkajs, only cheaper; measured in docs/kafka.md ("Where
 * the 10k/s pipeline lost throughput"). BOOKWIRE_KAFKAJS_PATCH=0 turns them all off, a list (e.g.
 * `group,produce`) keeps only those (for measurements).
 *
 * 1. Grouping per partition. kafkajs groups a sendBatch's messages per partition with `[...current, message]` for
 * every message: quadratic in the records per partition (a 2000-record batch copies 2 million array
 * slots) and most of a busy producer's garbage. The replacement is linear and otherwise identical
 * (a message's own `partition` wins, else the producer's partitioner).
 * 2. Produce request encoding (requests/produce/v3/request.js, which v4-v7 wrap). kafkajs encodes every
 * record into its own zero-filled 512-byte Encoder, each varint through a fresh array and Buffer, the
 * timestamp delta through Long arithmetic, then copies the records into a growing buffer: 7-19 µs per
 * record (microbenchmark, docs/kafka.md), most of a collector's publishing cost; 2-5 µs patched. The replacement sizes the records first and writes them
 * into one buffer; the bytes are the same (test/transport/kafkajs-patches.test.ts compares them), and any
 * record outside the common shape (header arrays, odd types, huge timestamp deltas) goes through kafkajs'
 * own Record encoder.
 * 3. Record decoding (recordBatch/record/v0/decoder.js): offsets and timestamps as numbers when exact
 * instead of Long arithmetic per record; headers without an object copy per header.
 * 4. gzip (message/compression/gzip.js): batches up to SYNC_ZLIB_MAX_BYTES synchronously.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

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
const mode = process.env.BOOKWIRE_KAFKAJS_PATCH;
/** Unset or 1: every patch; 0: none; else those listed (`,` or `+` between) of group, produce, decode, gzip. */
type PatchName = 'group' | 'produce' | 'decode' | 'gzip';
const enabled = (name: PatchName): boolean =>
  mode === undefined || mode === '' || mode === '1' ? true : mode === '0' ? false : mode.split(/[,+]/).includes(name);

/**
 * True when the grouping patch is in effect: false if kafkajs was loaded before this module, or when
 * BOOKWIRE_KAFKAJS_PATCH leaves it out (to measure without it, bench/kafka.ts).
 */
export const kafkajsPatched: boolean =
  // too late once sendMessages.js is loaded: it holds the original
  patchModule('group', grouper, [user], () => linearGroupMessagesPerPartition) !== undefined;

/**
 * Replaces the exports of the kafkajs module at `path` with `make(its exports)`, unless patch `name` is
 * switched off or a module in `tooLateIf` is loaded already (it would keep the original). Returns the
 * original exports, or undefined when nothing was patched.
 */
function patchModule(
  name: PatchName,
  path: string,
  tooLateIf: string[],
  make: (original: unknown) => unknown,
): unknown {
  if (!enabled(name) || tooLateIf.some((p) => require.cache[p])) return undefined;
  require(path);
  const m = require.cache[path];
  if (!m) return undefined;
  const original: unknown = m.exports;
  m.exports = make(original);
  return original;
}

// ---- 2. produce request encoding --------------------------------------------------------------------

interface KEncoder {
  buf: Buffer;
  offset: number;
  size(): number;
  writeInt8(v: number): KEncoder;
  writeInt16(v: number): KEncoder;
  writeInt32(v: number): KEncoder;
  writeUInt32(v: number): KEncoder;
  writeInt64(v: unknown): KEncoder;
  writeString(v: string | null): KEncoder;
  writeBytes(v: Buffer): KEncoder;
  writeBuffer(v: Buffer): KEncoder;
  writeEncoder(v: KEncoder): KEncoder;
  writeArray(v: unknown[]): KEncoder;
  readonly buffer: Buffer;
}
type EncoderClass = new (initialSize?: number) => KEncoder;
interface ProduceMessage {
  key?: unknown;
  value?: unknown;
  headers?: unknown;
  timestamp?: unknown;
  [k: string]: unknown;
}
interface PartitionData {
  partition: number;
  messages: ProduceMessage[];
  firstSequence?: number;
  [k: string]: unknown;
}

const kjs = (p: string) => require(require.resolve(`kafkajs/src/protocol/${p}`)) as unknown;
const produceV3 = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');

/** Zigzag varint size of a signed 32-bit value (kafkajs' Encoder.sizeOfVarInt). */
function varIntSize(v: number): number {
  let u = ((v << 1) ^ (v >> 31)) >>> 0;
  let n = 1;
  while (u >= 0x80) {
    n++;
    u >>>= 7;
  }
  return n;
}

function writeVarInt(buf: Buffer, off: number, v: number): number {
  let u = ((v << 1) ^ (v >> 31)) >>> 0;
  while (u >= 0x80) {
    buf[off++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[off++] = u;
  return off;
}

/** Field sizes of one record in the common shape, or undefined (kafkajs' own encoder then). */
interface Sized {
  key: Buffer | string | null;
  keyLen: number;
  value: Buffer | string | null;
  valueLen: number;
  headers: [string, number, Buffer | string, number][];
  ts: number;
  body: number;
}
const SMALL = 2 ** 30;

function sizeRecord(m: ProduceMessage, offsetDelta: number, ts: number): Sized | undefined {
  if (!Number.isInteger(ts) || ts >= SMALL || ts < -SMALL) return undefined;
  const k = m.key;
  const key = k === undefined || k === null ? null : Buffer.isBuffer(k) ? k : typeof k === 'string' ? k : undefined;
  if (key === undefined) return undefined;
  const v = m.value;
  const value = v === undefined || v === null ? null : Buffer.isBuffer(v) ? v : typeof v === 'string' ? v : undefined;
  if (value === undefined) return undefined;
  const keyLen = key === null ? -1 : typeof key === 'string' ? Buffer.byteLength(key) : key.length;
  const valueLen = value === null ? -1 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  const headers: Sized['headers'] = [];
  let hSize = 0;
  const h = m.headers;
  if (h !== undefined) {
    if (h === null || typeof h !== 'object' || Array.isArray(h) || Buffer.isBuffer(h)) return undefined;
    for (const hk of Object.keys(h)) {
      const hv = (h as Record<string, unknown>)[hk];
      if (!(typeof hv === 'string' || Buffer.isBuffer(hv))) return undefined;
      const kl = Buffer.byteLength(hk);
      const vl = typeof hv === 'string' ? Buffer.byteLength(hv) : hv.length;
      headers.push([hk, kl, hv, vl]);
      hSize += varIntSize(kl) + kl + varIntSize(vl) + vl;
    }
  }
  const body =
    1 +
    varIntSize(ts) +
    varIntSize(offsetDelta) +
    varIntSize(keyLen) +
    Math.max(0, keyLen) +
    varIntSize(valueLen) +
    Math.max(0, valueLen) +
    varIntSize(headers.length) +
    hSize;
  return { key, keyLen, value, valueLen, headers, ts, body };
}

function writeField(buf: Buffer, off: number, x: Buffer | string | null, len: number): number {
  off = writeVarInt(buf, off, len);
  if (x === null) return off;
  if (typeof x === 'string') buf.write(x, off, len, 'utf8');
  else x.copy(buf, off);
  return off + len;
}

function writeRecord(buf: Buffer, off: number, r: Sized, offsetDelta: number): number {
  off = writeVarInt(buf, off, r.body);
  buf[off++] = 0; // attributes
  off = writeVarInt(buf, off, r.ts); // a varlong, the same bytes for |ts| < 2^30
  off = writeVarInt(buf, off, offsetDelta);
  off = writeField(buf, off, r.key, r.keyLen);
  off = writeField(buf, off, r.value, r.valueLen);
  off = writeVarInt(buf, off, r.headers.length);
  for (const [hk, kl, hv, vl] of r.headers) {
    off = writeField(buf, off, hk, kl);
    off = writeField(buf, off, hv, vl);
  }
  return off;
}

/** kafkajs' Produce v3 request with the records encoded in one pass (same bytes). */
function fastProduceV3(): unknown {
  const Encoder = kjs('encoder') as EncoderClass;
  const Long = kjs('../utils/long') as { fromInt(n: number): unknown; fromValue(n: number): unknown };
  const apiKey = (kjs('requests/apiKeys') as { Produce: number }).Produce;
  const { Types, lookupCodec, COMPRESSION_CODEC_MASK } = kjs('message/compression') as {
    Types: { None: number };
    lookupCodec(c: number): { compress(e: { buffer: Buffer }): Promise<Buffer> };
    COMPRESSION_CODEC_MASK: number;
  };
  const Record = kjs('recordBatch/record/v0') as (r: Record<string, unknown>) => KEncoder;
  const crc32C = kjs('recordBatch/crc32C') as (b: Buffer) => number;
  const MAGIC_BYTE = 2;
  const TRANSACTIONAL_MASK = 16;

  /** All records of a partition, back to back (what kafkajs' Encoders would hold, concatenated). */
  const encodeRecords = (messages: ProduceMessage[], now: number, firstTimestamp: number): Buffer => {
    const sized: (Sized | Buffer)[] = new Array<Sized | Buffer>(messages.length);
    let total = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      const ts = (((m.timestamp as number) || now) as number) - firstTimestamp;
      const r = sizeRecord(m, i, ts);
      if (r) {
        sized[i] = r;
        total += varIntSize(r.body) + r.body;
      } else {
        const b = Record({ ...m, offsetDelta: i, timestampDelta: ts }).buffer;
        sized[i] = b;
        total += b.length;
      }
    }
    const buf = Buffer.allocUnsafe(total);
    let off = 0;
    for (let i = 0; i < sized.length; i++) {
      const r = sized[i];
      if (Buffer.isBuffer(r)) off += r.copy(buf, off);
      else off = writeRecord(buf, off, r, i);
    }
    if (off !== total) throw new Error(`kafkajs patch: encoded ${off} record bytes, expected ${total}`);
    return buf;
  };

  const encodePartition =
    (compression: number) =>
    async (p: PartitionData & { transactionalId: string | null; producerId: unknown; producerEpoch: number }) => {
      const { partition, messages, transactionalId, firstSequence, producerId, producerEpoch } = p;
      const dateNow = Date.now();
      let firstTimestamp: number = dateNow;
      let maxTimestamp: number = dateNow;
      if (messages.some((m) => m.timestamp != null)) {
        // As kafkajs does it (a default, i.e. string, sort).
        const ts = messages
          .map((m) => m.timestamp)
          .filter((t) => t != null)
          .sort() as number[];
        firstTimestamp = ts[0];
        maxTimestamp = ts[ts.length - 1];
      }
      const records = encodeRecords(messages, dateNow, firstTimestamp);
      const codec = compression & COMPRESSION_CODEC_MASK;
      const batchBody = new Encoder(61 + records.length)
        .writeInt16(codec | (transactionalId ? TRANSACTIONAL_MASK : 0))
        .writeInt32(messages.length - 1)
        .writeInt64(firstTimestamp)
        .writeInt64(maxTimestamp)
        .writeInt64(producerId ?? Long.fromValue(-1))
        .writeInt16(producerEpoch ?? 0)
        .writeInt32(firstSequence ?? 0)
        .writeInt32(messages.length);
      if (compression === Types.None) batchBody.writeBuffer(records);
      else batchBody.writeBuffer(await lookupCodec(compression).compress({ buffer: records }));
      const body = batchBody.buffer;
      const batch = new Encoder(9 + body.length)
        .writeInt32(0) // partitionLeaderEpoch
        .writeInt8(MAGIC_BYTE)
        .writeUInt32(crc32C(body))
        .writeBuffer(body);
      const recordBatch = new Encoder(12 + batch.offset).writeInt64(Long.fromInt(0)).writeBytes(batch.buffer);
      return new Encoder(8 + recordBatch.offset)
        .writeInt32(partition)
        .writeInt32(recordBatch.size())
        .writeEncoder(recordBatch);
    };

  const encodeTopic =
    (compression: number) =>
    async (t: {
      topic: string;
      partitions: PartitionData[];
      transactionalId: string | null;
      producerId: unknown;
      producerEpoch: number;
    }) => {
      const enc = encodePartition(compression);
      const parts: KEncoder[] = [];
      for (const data of t.partitions)
        parts.push(
          await enc({
            ...data,
            transactionalId: t.transactionalId,
            producerId: t.producerId,
            producerEpoch: t.producerEpoch,
          }),
        );
      return new Encoder().writeString(t.topic).writeArray(parts);
    };

  return ({
    acks,
    timeout,
    transactionalId = null,
    producerId = Long.fromInt(-1),
    producerEpoch = 0,
    compression = Types.None,
    topicData,
  }: {
    acks: number;
    timeout: number;
    transactionalId?: string | null;
    producerId?: unknown;
    producerEpoch?: number;
    compression?: number;
    topicData: { topic: string; partitions: PartitionData[] }[];
  }) => ({
    apiKey,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const enc = encodeTopic(compression);
      const topics: KEncoder[] = [];
      for (const data of topicData) topics.push(await enc({ ...data, transactionalId, producerId, producerEpoch }));
      return new Encoder().writeString(transactionalId).writeInt16(acks).writeInt32(timeout).writeArray(topics);
    },
  });
}

/** kafkajs' own Produce v3 request module (for tests comparing the bytes). */
export function originalProduceV3(): unknown {
  return originalProduce ?? require(produceV3);
}
// too late once loaded: maybe held by v4-v7 already
const originalProduce = patchModule('produce', produceV3, [produceV3], () => fastProduceV3());

/**
 * True when the produce encoding patch is in effect: false if kafkajs sent a produce request before this
 * module loaded, or when BOOKWIRE_KAFKAJS_PATCH leaves it out.
 */
export const kafkajsProducePatched: boolean = originalProduce !== undefined;

/** The patched encoder, whatever the environment says (for tests). */
export const patchedProduceV3 = fastProduceV3;

// ---- 3. record decoding -----------------------------------------------------------------------------

interface KDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): { toString(): string };
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
}
interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}
type RecordDecoderFn = (decoder: KDecoder, batchContext?: BatchContext) => Record<string, unknown>;

const recordDecoderPath = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
const batchDecoderPath = require.resolve('kafkajs/src/protocol/recordBatch/v0/decoder.js');

/**
 * A varint of at most 4 bytes (|value| < 2^27) as a number, else undefined with the decoder untouched
 * (kafkajs' Long-based readVarLong then).
 */
function readSmallVarLong(d: KDecoder): number | undefined {
  const b = d.buffer;
  let o = d.offset;
  let u = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (o >= b.length) return undefined;
    const x = b[o++];
    u |= (x & 0x7f) << shift;
    if ((x & 0x80) === 0) {
      d.offset = o;
      return (u >>> 1) ^ -(u & 1);
    }
  }
  return undefined;
}

/** A batch's first offset and timestamp as numbers, once per batch, when exact. */
const bases = new WeakMap<object, { offset: number; timestamp: number }>();

function fastRecordDecoder(original: RecordDecoderFn, logAppendTime: number): RecordDecoderFn {
  return (decoder, batchContext = {} as BatchContext) => {
    const {
      firstOffset,
      firstTimestamp,
      magicByte,
      isControlBatch = false,
      timestampType,
      maxTimestamp,
    } = batchContext;
    let base = bases.get(batchContext);
    if (!base) {
      base = { offset: Number(firstOffset), timestamp: Number(firstTimestamp) };
      bases.set(batchContext, base);
    }
    const start = decoder.offset;
    const attributes = decoder.readInt8();
    const tsDelta = readSmallVarLong(decoder);
    const tsSum = tsDelta === undefined ? NaN : base.timestamp + tsDelta;
    if (!Number.isSafeInteger(tsSum) || !Number.isSafeInteger(base.offset + 2 ** 31)) {
      decoder.offset = start;
      return original(decoder, batchContext);
    }
    const timestamp = timestampType === logAppendTime && maxTimestamp ? maxTimestamp : String(tsSum);
    const offset = String(base.offset + decoder.readVarInt());
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const n = decoder.readVarInt();
    const headers: Record<string, Buffer | null | (Buffer | null)[]> = {};
    for (let i = 0; i < n; i++) {
      const hk = decoder.readVarIntString() as string;
      const hv = decoder.readVarIntBytes();
      const prev = Object.prototype.hasOwnProperty.call(headers, hk) ? headers[hk] : undefined;
      const v = prev === undefined ? hv : Array.isArray(prev) ? prev.concat([hv]) : [prev, hv];
      // defineProperty: a `__proto__` header stays a header, as with kafkajs' object spread.
      Object.defineProperty(headers, hk, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return {
      magicByte,
      attributes,
      timestamp,
      offset,
      key,
      value,
      headers,
      isControlRecord: isControlBatch,
      batchContext,
    };
  };
}

/** kafkajs' own record decoder (for tests comparing the results). */
export function originalRecordDecoder(): unknown {
  return originalDecoder ?? require(recordDecoderPath);
}

/** The patched record decoder, whatever the environment says (for tests). */
export function patchedRecordDecoder(): unknown {
  return decoderOver(originalRecordDecoder());
}

function decoderOver(original: unknown): unknown {
  const ts = kjs('timestampTypes') as { LOG_APPEND_TIME: number };
  return fastRecordDecoder(original as RecordDecoderFn, ts.LOG_APPEND_TIME);
}

// too late once a fetch was decoded: the batch decoder holds the original
const originalDecoder = patchModule('decode', recordDecoderPath, [recordDecoderPath, batchDecoderPath], decoderOver);

/**
 * True when the record decoding patch is in effect (the consumer's per-record Long arithmetic: offset
 * and timestamp as numbers when exact, headers without an object copy per header); false if kafkajs
 * decoded a fetch before this module loaded, or when BOOKWIRE_KAFKAJS_PATCH leaves it out.
 */
export const kafkajsDecodePatched: boolean = originalDecoder !== undefined;

// ---- 4. gzip ------------------------------------------------------------------------------------------

const gzipPath = require.resolve('kafkajs/src/protocol/message/compression/gzip.js');
/**
 * Batches up to this size (bytes in) are compressed and decompressed synchronously: zlib's async path
 * (a stream, the thread pool, 16 KB chunks) costs more CPU than the work itself at these sizes (a 60 KB
 * batch: gzip ~5.5 vs ~4 µs per record, gunzip ~1.3-2.4 vs ~0.3 µs; docs/kafka.md). Larger ones, which
 * would block the event loop for milliseconds, keep kafkajs' async path.
 */
export const SYNC_ZLIB_MAX_BYTES = 256 * 1024;

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

function syncGzip(original: Codec): Codec {
  return {
    async compress(encoder) {
      const b = encoder.buffer;
      return b.length <= SYNC_ZLIB_MAX_BYTES ? zlib.gzipSync(b) : original.compress(encoder);
    },
    async decompress(buffer) {
      // unzip, as kafkajs: gzip or zlib framing.
      return buffer.length <= SYNC_ZLIB_MAX_BYTES / 4 ? zlib.unzipSync(buffer) : original.decompress(buffer);
    },
  };
}

/** True when small gzip batches are (de)compressed synchronously; false when BOOKWIRE_KAFKAJS_PATCH leaves it out. */
export const kafkajsGzipPatched: boolean =
  // kafkajs requires it on every use: replacing the exports takes effect at any time
  patchModule('gzip', gzipPath, [], (original) => syncGzip(original as Codec)) !== undefined;
